// pare optimize MODEL -o OUT [--opt-level N] [--pare-ops] [--sparse-initializers [--min-sparsity S]]
// — saves the optimized graph as ONNX.
// By default only the rewrites into standard ONNX ops run (constant folding, CSE, Conv+BN,
// MatMul+Add → Gemm, …), so the result runs in any ONNX runtime. The fusions and layouts
// that need pare's own ops (com.pare.FusedConv, blocked layouts) are not expressible in
// standard ONNX; --pare-ops keeps them (the file then runs in pare only).
#include <iostream>

#include "cli/cli.h"
#include "onnx/onnx.h"
#include "passes/pass.h"

namespace pare::cli {

void add_optimize(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("optimize", "Apply graph optimizations and save the result as ONNX");
  struct Opts {
    std::string in, out;
    int level = passes::kDefaultOptLevel;
    bool external = false, pare_ops = false, sparse = false;
    double min_sparsity = 0.5;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->in, "input ONNX model")->required();
  cmd->add_option("-o,--output", o->out, "output ONNX file")->required();
  cmd->add_option("-O,--opt-level", o->level,
                  "0 none, 1 clean-ups (identity, constants, CSE, dead code), 2 fusions, 3 layouts (with --pare-ops)")
      ->default_val(passes::kDefaultOptLevel)
      ->check(CLI::Range(0, passes::kMaxOptLevel));
  cmd->add_flag("--pare-ops", o->pare_ops,
                "also apply the fusions that use pare's own ops (com.pare.FusedConv, blocked layouts); the "
                "output then runs in pare only");
  cmd->add_flag("--external-data", o->external, "store initializers in OUT.data");
  cmd->add_flag("--sparse-initializers", o->sparse,
                "store sparse floating-point weights as ONNX sparse_initializer (values + int64 indices): those of at "
                "least 64 elements with at least --min-sparsity zeros, when smaller than dense (above 2/3 zeros for "
                "float32); any ONNX runtime loads them (docs/sparse.md)");
  cmd->add_option("--min-sparsity", o->min_sparsity, "with --sparse-initializers: the least fraction of zeros, in [0, 1]")
      ->default_val(0.5)
      ->check(CLI::Range(0.0, 1.0));
  cmd->callback([o, &rc] {
    auto m = onnx::load_model(o->in);
    if (!m.ok()) {
      rc = report(m.status());
      return;
    }
    const size_t before = (*m)->graph->num_nodes();
    Status st = passes::run_passes(**m, passes::lowering_pipeline());
    if (st.ok()) st = passes::run_passes(**m, passes::optimization_pipeline(o->level, !o->pare_ops));
    for (const auto& op : (*m)->opsets) {
      if (st.ok() && op.domain == "com.pare" && !o->pare_ops) {
        st = unsupported("the optimized graph uses pare's internal ops (com.pare), which other runtimes lack");
      }
    }
    onnx::SaveOptions so{o->external, 1024, o->sparse, o->min_sparsity};
    int sparse_count = 0;
    for (const ir::Value* v : (*m)->graph->initializers()) sparse_count += onnx::stores_as_sparse(*v->initializer(), so);
    if (st.ok()) st = onnx::save_model(**m, o->out, so);
    if (!st.ok()) {
      rc = report(st);
      return;
    }
    std::cout << fmt::format("{}: {} nodes -> {} nodes, wrote {}", o->in, before, (*m)->graph->num_nodes(), o->out);
    if (o->sparse) std::cout << fmt::format(" ({} sparse initializers)", sparse_count);
    std::cout << "\n";
  });
}

}  // namespace pare::cli
