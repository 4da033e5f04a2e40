#include "cli/cli.h"

#include <iostream>

namespace pare::cli {

int report(const Status& st) {
  std::cerr << "pare: " << st.to_string() << "\n";
  switch (st.code()) {
    case StatusCode::kInvalidModel: return 3;
    case StatusCode::kUnsupported: return 4;
    case StatusCode::kInvalidInput: return 5;
    case StatusCode::kIo: return 6;
    case StatusCode::kResourceExhausted: return 7;
    default: return 1;
  }
}

void add_opt_level_option(CLI::App* cmd, int& level) {
  cmd->add_option("-O,--opt-level", level,
                  "graph optimizations: 0 none, 1 clean-ups (constant folding, CSE, dead code), 2 fusions "
                  "(Conv+BN, Conv+residual+activation, MatMul+Add), 3 also blocked channel layouts between "
                  "convolutions (default)")
      ->default_val(3)
      ->check(CLI::Range(0, 3));
}

}  // namespace pare::cli

int main(int argc, char** argv) {
  CLI::App app{"pare: compress, optimize, verify, benchmark and serve ONNX models on this machine.\n"
               "Exit codes: 0 ok, 2 usage, 3 invalid model, 4 unsupported, 5 invalid input, 6 i/o, 7 resource limit."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pare 0.1.0");
  int rc = 0;
  pare::cli::add_check(app, rc);
  pare::cli::add_inspect(app, rc);
  pare::cli::add_run(app, rc);
  pare::cli::add_convert(app, rc);
  pare::cli::add_eval(app, rc);
  pare::cli::add_ops(app, rc);
  pare::cli::add_bench(app, rc);
  pare::cli::add_optimize(app, rc);
  pare::cli::add_generate(app, rc);
  pare::cli::add_chat(app, rc);
  pare::cli::add_train(app, rc);
  pare::cli::add_distill(app, rc);
  pare::cli::add_quantize(app, rc);
  pare::cli::add_prune(app, rc);
  pare::cli::add_serve(app, rc);
  pare::cli::add_tune(app, rc), pare::cli::add_report(app, rc), pare::cli::add_compare(app, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}
