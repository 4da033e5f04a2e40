// pare check MODEL — validates with ONNX's checker, strict shape inference, and pare's own
// loader and planner (every op has a kernel for its opset).
#include <iostream>

#include "cli/cli.h"
#include "onnx/onnx.h"

namespace pare::cli {

void add_check(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("check", "Validate a model: exit 0, or print one error line and exit non-zero");
  auto path = std::make_shared<std::string>();
  cmd->add_option("MODEL", *path, "ONNX model file")->required();
  cmd->callback([path, &rc] {
    Status st = onnx::check_model_file(*path);
    if (st.ok()) {
      auto s = runtime::Session::load(*path);
      st = s.status();
    }
    if (!st.ok()) {
      rc = report(st);
      return;
    }
    std::cout << *path << ": ok\n";
  });
}

}  // namespace pare::cli
