// pare convert MODEL -o OUT [--external-data] — re-saves a model (optionally moving large
// initializers to OUT.data).
#include <iostream>

#include "cli/cli.h"
#include "onnx/onnx.h"

namespace pare::cli {

void add_convert(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("convert", "Re-save a model as ONNX, optionally with external data");
  struct Opts {
    std::string in, out;
    bool external = false;
    size_t threshold = 1024;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->in, "input ONNX model")->required();
  cmd->add_option("-o,--output", o->out, "output ONNX file")->required();
  cmd->add_flag("--external-data", o->external, "store initializers in OUT.data beside OUT (needed over 2 GB)");
  cmd->add_option("--external-threshold", o->threshold, "smallest initializer (bytes) moved to external data")
      ->default_val(1024);
  cmd->callback([o, &rc] {
    auto m = onnx::load_model(o->in);
    if (!m.ok()) {
      rc = report(m.status());
      return;
    }
    Status st = onnx::save_model(**m, o->out, {o->external, o->threshold});
    if (!st.ok()) {
      rc = report(st);
      return;
    }
    std::cout << "wrote " << o->out << (o->external ? " (+ " + o->out + ".data)" : "") << "\n";
  });
}

}  // namespace pare::cli
