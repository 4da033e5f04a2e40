// pare eval MODEL --data SPEC [--json] — accuracy of a classifier on a labelled data set.
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/cli.h"
#include "cli/progress.h"
#include "eval/evaluate.h"

namespace pare::cli {

void add_eval(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("eval", "Accuracy, throughput and latency of a classifier on a labelled data set");
  struct Opts {
    std::string model, data;
    eval::DatasetOptions ds;
    int64_t batch = 64;
    int opt_level = 3;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->model, "ONNX classifier (first input: images; first output: [N, classes] logits)")->required();
  cmd->add_option("--data", o->data,
                  "a folder of IDX files (MNIST/Fashion-MNIST names, .gz or not) or an .npz with arrays x and y")
      ->required();
  cmd->add_option("--split", o->ds.split, "test (t10k-* files) or train (train-*)")->default_val("test");
  cmd->add_option("--scale", o->ds.scale, "factor applied to integer pixels (default 1/255: pixels in [0,1])");
  cmd->add_option("--mean", o->ds.mean, "per-channel mean subtracted after scaling (one value or one per channel)");
  cmd->add_option("--std", o->ds.std, "per-channel std divided by after the mean")->delimiter(',');
  cmd->get_option("--mean")->delimiter(',');
  cmd->add_option("--limit", o->ds.limit, "evaluate only the first N samples (0: all)")->default_val(0);
  cmd->add_option("-b,--batch", o->batch, "batch size (a model with a fixed batch dimension uses its own)")->default_val(64);
  cmd->add_option("-t,--threads", o->threads, "threads (0: all cores)")->default_val(0);
  add_opt_level_option(cmd, o->opt_level);
  cmd->add_flag("--json", o->json, "print one JSON object: accuracy, count, images_per_s, latency_ms");
  cmd->callback([o, &rc] {
    auto data = eval::load_dataset(o->data, o->ds);
    if (!data.ok()) {
      rc = report(data.status());
      return;
    }
    runtime::SessionOptions so;
    so.num_threads = o->threads;
    so.opt_level = o->opt_level;
    auto s = runtime::Session::load(o->model, so);
    if (!s.ok()) {
      rc = report(s.status());
      return;
    }
    ProgressBar bar("eval", !o->json);
    eval::EvalOptions eo;
    eo.batch_size = o->batch;
    eo.progress = [&bar](int64_t done, int64_t total) { bar.update(done, total); };
    auto r = eval::evaluate_classifier(**s, *data, eo);
    bar.finish();
    if (!r.ok()) {
      rc = report(r.status());
      return;
    }
    if (o->json) {
      nlohmann::json j = {{"accuracy", r->accuracy},
                          {"count", r->count},
                          {"images_per_s", r->images_per_s},
                          {"batch_size", r->batch_size},
                          {"latency_ms", {{"p50", r->latency_ms_p50}, {"p90", r->latency_ms_p90}, {"p99", r->latency_ms_p99}}}};
      std::cout << j.dump() << "\n";
    } else {
      std::cout << fmt::format("accuracy     {:.2f}% ({} samples)\n", 100 * r->accuracy, r->count)
                << fmt::format("throughput   {:.0f} images/s\n", r->images_per_s)
                << fmt::format("latency      p50 {:.2f} ms  p90 {:.2f} ms  p99 {:.2f} ms per batch of {}\n",
                               r->latency_ms_p50, r->latency_ms_p90, r->latency_ms_p99, r->batch_size);
    }
  });
}

}  // namespace pare::cli
