// pare compare A.onnx B.onnx --data SPEC — two models side by side: accuracy, agreement,
// SQNR of B against A, latency (alternating rounds) and size.
#include <iostream>

#include "cli/cli.h"
#include "tune/tune.h"

namespace pare::cli {

void add_compare(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("compare", "Compare two models on the same data: accuracy, agreement, latency and size side by side");
  struct Opts {
    std::string a, b, data;
    tune::CompareOptions c;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("A", o->a, "first ONNX model (the reference for agreement and SQNR)")->required();
  cmd->add_option("B", o->b, "second ONNX model")->required();
  cmd->add_option("--data", o->data, "an IDX folder or .npz with x and y (accuracy), an .npz/.npy of samples, or random:N")->required();
  cmd->add_option("--split", o->c.data.split, "split of an IDX folder: test or train")->default_val("test");
  cmd->add_option("--scale", o->c.data.scale, "factor applied to integer pixels (default 1/255)");
  cmd->add_option("--mean", o->c.data.mean, "per-channel mean subtracted after scaling")->delimiter(',');
  cmd->add_option("--std", o->c.data.std, "per-channel std divided by after the mean")->delimiter(',');
  cmd->add_option("--limit", o->c.limit, "use the first N samples (0: all)")->default_val(0);
  cmd->add_option("-t,--threads", o->c.threads, "threads (0: all cores)")->default_val(0);
  cmd->add_option("-b,--batch", o->c.batch, "batch of the latency runs")->default_val(1);
  cmd->add_option("--rounds", o->c.rounds, "alternating latency rounds (A then B)")->default_val(10)->check(CLI::PositiveNumber);
  cmd->add_option("--iters", o->c.iters_per_round, "timed runs per model per round")->default_val(20)->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o, &rc] {
    auto r = tune::compare_models(o->a, o->b, o->data, o->c);
    if (!r.ok()) {
      rc = report(r.status());
      return;
    }
    const auto& j = *r;
    if (o->json) {
      std::cout << j.dump() << "\n";
      return;
    }
    auto acc = [](const nlohmann::json& s) { return s["accuracy"].is_null() ? std::string("-") : fmt::format("{:.2f}%", 100 * s["accuracy"].get<double>()); };
    std::cout << fmt::format("{:<18} {:>14} {:>14}\n", "", "A", "B")
              << fmt::format("{:<18} {:>14} {:>14}\n", "model", j["a"]["model"].get<std::string>().substr(0, 14), j["b"]["model"].get<std::string>().substr(0, 14))
              << fmt::format("{:<18} {:>14} {:>14}   ({} samples)\n", "accuracy", acc(j["a"]), acc(j["b"]), j["samples"].get<int64_t>())
              << fmt::format("{:<18} {:>14.3f} {:>14.3f}   ({} runs each, batch {}, alternating)\n", "latency p50 ms", j["a"]["latency_p50_ms"].get<double>(),
                             j["b"]["latency_p50_ms"].get<double>(), j["runs_each"].get<int64_t>(), j["batch"].get<int64_t>())
              << fmt::format("{:<18} {:>14.3f} {:>14.3f}\n", "latency p99 ms", j["a"]["latency_p99_ms"].get<double>(), j["b"]["latency_p99_ms"].get<double>())
              << fmt::format("{:<18} {:>14} {:>14}\n", "size bytes", j["a"]["size_bytes"].get<int64_t>(), j["b"]["size_bytes"].get<int64_t>())
              << fmt::format("agreement (top-1 of B = top-1 of A) {:.2f}%, SQNR of B vs A {:.1f} dB, cosine {:.5f}\n",
                             100 * j["agreement"].get<double>(), j["sqnr_db"].get<double>(), j["cosine"].get<double>())
              << fmt::format("B is {:.2f}x faster (p50) and {:.2f}x smaller than A\n", j["speedup"].get<double>(), j["size_ratio"].get<double>());
  });
}

}  // namespace pare::cli
