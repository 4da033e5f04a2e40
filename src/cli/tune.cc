// pare tune MODEL --eval-data SPEC -o OUTDIR — search compression recipes under accuracy /
// latency / size constraints and report the trade-off (docs/tuning.md).
#include <iostream>

#include "cli/cli.h"
#include "tune/tune.h"

namespace pare::cli {

void add_tune(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand(
      "tune",
      "Try compression recipes (fp32 optimized, fp16/bf16, int8 dynamic, int8 static x calibration methods, weight-only\n"
      "int8/int4, distilled students with --train-data, and students quantized), measure each on this machine (quality,\n"
      "latency p50/p99, size, peak memory) and pick the best within the constraints. Writes OUTDIR/best.onnx,\n"
      "OUTDIR/candidates/*.onnx (Pareto-optimal), report.json and report.html. A rerun with the same settings resumes\n"
      "from OUTDIR/cache. Exit code 1 when no candidate meets the constraints (best_effort.onnx is written instead).");
  auto o = std::make_shared<tune::TuneOptions>();
  auto objective = std::make_shared<std::string>("latency");
  auto no_sens = std::make_shared<bool>(false);
  cmd->add_option("MODEL", o->model, "float32 ONNX classifier (first input: samples; first output: [N, K] scores)")->required();
  cmd->add_option("--eval-data", o->eval_data,
                  "evaluation data: an IDX folder or .npz with x and y (quality = top-1 accuracy), an .npz with only x or "
                  "an .npy of samples, or random:N (N standard-normal samples); without labels quality = output SQNR "
                  "(dB) against the original model")->required();
  cmd->add_option("--calib-data", o->calib_data, "calibration samples, same forms (default: --eval-data; IDX folders: their train split)");
  cmd->add_option("--train-data", o->train_data, "labelled training data (as pare train --data): enables distilled students");
  cmd->add_option("--max-accuracy-drop", o->max_accuracy_drop, "quality constraint with labels: accuracy drop in points vs the original (negative: none)")
      ->default_val(1.0);
  cmd->add_option("--min-sqnr", o->min_sqnr_db, "quality constraint without labels: output SQNR in dB vs the original")->default_val(20.0);
  cmd->add_option("--max-latency-ms", o->max_latency_ms, "latency constraint: p50 in ms at --batch/--threads (0: none)")->default_val(0);
  cmd->add_option("--max-size-mb", o->max_size_mb, "size constraint: MB on disk (0: none)")->default_val(0);
  cmd->add_option("--objective", *objective, "what the best model minimizes among those meeting the constraints: latency, size or accuracy "
                  "(maximized)")->default_val("latency");
  cmd->add_option("--budget-minutes", o->budget_minutes, "wall-clock budget of the search; candidates that do not fit are skipped")->default_val(30);
  cmd->add_option("-t,--threads", o->threads, "threads for measuring and training (0: all cores)")->default_val(0);
  cmd->add_option("-b,--batch", o->batch, "batch of the latency measurement (a fixed batch dimension wins)")->default_val(1);
  cmd->add_option("--latency-iters", o->latency_iters, "timed runs per candidate (fewer when one run is slow: ~3 s per model)")->default_val(50);
  cmd->add_option("--eval-limit", o->eval_limit, "use the first N eval samples (0: all)")->default_val(0);
  cmd->add_option("--calib-size", o->calib_size, "calibration rows")->default_val(256);
  cmd->add_option("--train-limit", o->train_limit, "use the first N training samples for distillation (0: all)")->default_val(0);
  cmd->add_option("--widths", o->widths, "student widths, tried from the largest; each only if the previous kept the quality")
      ->delimiter(',')->default_str("0.5,0.35,0.25");
  cmd->add_option("--prune-flops", o->prune_flops,
                  "channel pruning (with --train-data): fractions of the FLOPs kept, tried from the largest; each only if the\n"
                  "previous kept the quality; fine-tuned by distillation like the students ('' to skip pruning)")
      ->delimiter(',')->default_str("0.5,0.35");
  cmd->add_option("--distill-epochs", o->distill_epochs, "epochs per student (and per pruned model's fine-tuning)")->default_val(2);
  cmd->add_option("--lr", o->lr, "students' peak learning rate (AdamW, cosine)")->default_val(0.004);
  cmd->add_option("--temperature", o->temperature, "distillation temperature")->default_val(2.0);
  cmd->add_option("--alpha", o->alpha, "weight of the distillation term")->default_val(0.5);
  auto fresh_students = std::make_shared<bool>(false);
  cmd->add_flag("--fresh-students", *fresh_students, "students start from fresh weights (as pare distill --shrink) instead of the "
                "teacher's leading channels");
  cmd->add_option("--seed", o->seed, "seed of students, training and random data")->default_val(1);
  cmd->add_option("--recipes", o->recipes, "recipe kinds to try (comma-separated; default all): fp32 is always measured; "
                  "dynamic-int8, weight-only, fp16, bf16, static-int8, distill")->delimiter(',');
  cmd->add_flag("--no-sensitivity", *no_sens, "skip the per-layer sensitivity measurement");
  cmd->add_flag("--fresh", o->fresh, "ignore the cache in OUTDIR");
  cmd->add_option("--split", o->data.split, "split of an IDX --eval-data folder: test or train")->default_val("test");
  cmd->add_option("--scale", o->data.scale, "factor applied to integer pixels (default 1/255)");
  cmd->add_option("--mean", o->data.mean, "per-channel mean subtracted after scaling")->delimiter(',');
  cmd->add_option("--std", o->data.std, "per-channel std divided by after the mean")->delimiter(',');
  cmd->add_option("-o,--output", o->outdir, "output folder")->required();
  cmd->callback([o, objective, no_sens, fresh_students, &rc] {
    o->teacher_init = !*fresh_students;
    auto obj = tune::parse_objective(*objective);
    if (!obj.ok()) {
      rc = report(obj.status());
      return;
    }
    o->objective = *obj;
    o->sensitivity = !*no_sens;
    o->log = [](const std::string& s) { std::cerr << s << std::endl; };
    auto r = tune::run_tune(*o);
    if (!r.ok()) {
      rc = report(r.status());
      return;
    }
    std::cout << tune::summary_table(*r);
    std::cout << "report: " << o->outdir << "/report.html\n";
    if (!(*r)["met"].get<bool>()) {
      std::cerr << "pare: no candidate meets the constraints; the closest is written to " << o->outdir << "/best_effort.onnx\n";
      rc = 1;
      return;
    }
    std::cout << "best: " << o->outdir << "/best.onnx\n";
  });
}

}  // namespace pare::cli
