// pare tune: choosing the compression by experiment. Candidates are built from a table of
// recipes (recipes.cc) through the library APIs (quantize, distill/train, optimize), each is
// measured on this machine (quality on the eval data, latency p50/p99, size on disk, peak
// memory), and the best model within the constraints is picked by the objective.
//
// Search (search.cc): a candidate is (parent, recipe, parameters). The baseline (the model
// optimized in fp32) is the root; structural recipes (distillation, later pruning) make float
// children of it, numeric recipes (quantization) make terminal children of any float model.
// Variants of a "chained" recipe (student widths 0.5 → 0.35 → 0.25) are each the child of the
// previous one. A candidate is expanded only when it meets the quality constraint, so a more
// aggressive variant whose cheaper parent already broke it is never built ("pruned").
// Cheap candidates come first (recipe cost class, then creation order). Every measured
// candidate is cached in OUTDIR/cache (its model and a JSON record), so a rerun resumes.
//
// Quality: top-1 accuracy when the eval data has labels, else the output SQNR (dB) of the
// first output against the original model. Both are always recorded with agreement (top-1 of
// the candidate equals top-1 of the original) and cosine similarity.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/dataset.h"

namespace pare::tune {

enum class Objective { kLatency, kSize, kAccuracy };
Result<Objective> parse_objective(const std::string& s);
const char* objective_name(Objective o);

struct TuneOptions {
  std::string model;           // float32 ONNX classifier (first output: [N, K] scores)
  std::string eval_data;       // IDX folder / .npz (x, y) / .npz or .npy without labels / random:N
  std::string calib_data;      // as eval_data; default: eval_data (IDX folders: the train split)
  std::string train_data;      // labelled, for distillation ("" : no distilled students)
  std::string outdir;
  eval::DatasetOptions data;   // scale / mean / std of every data set; split of eval data
  int64_t eval_limit = 0;      // first N eval samples (0: all)
  int64_t calib_size = 256;    // calibration rows
  int64_t train_limit = 0;     // first N training samples (0: all)
  // Constraints (≤ 0: none). Quality: accuracy drop in points (labelled) or minimum SQNR in dB.
  double max_accuracy_drop = 1.0;
  double min_sqnr_db = 20.0;
  double max_latency_ms = 0;
  double max_size_mb = 0;
  Objective objective = Objective::kLatency;
  double budget_minutes = 30;
  int threads = 0;
  int64_t batch = 1;           // latency batch (pare bench: generated inputs of this batch)
  int latency_iters = 50;      // timed runs (fewer when one run is slow: at most ~3 s per model)
  // Distillation (with train_data): widths tried from the largest, each the parent of the next.
  std::vector<double> widths = {0.5, 0.35, 0.25};
  // Channel pruning (with train_data): FLOPs fractions kept, from the largest, each tried only
  // if the previous kept the quality; fine-tuned like the students.
  std::vector<double> prune_flops = {0.5, 0.35};
  int64_t distill_epochs = 2;
  float lr = 0.004f, temperature = 2.0f, alpha = 0.5f;
  // Students start from the teacher's leading channels (OUTDIR/cache/student_w*_init.onnx)
  // instead of fresh weights (false: as pare distill --shrink).
  bool teacher_init = true;
  uint64_t seed = 1;
  std::vector<std::string> recipes;  // recipe kinds to use (empty: all); see recipe_kinds()
  bool sensitivity = true;           // per-layer static-int8 SQNR of the baseline
  bool fresh = false;                // ignore the cache in OUTDIR
  std::function<void(const std::string&)> log;  // progress lines
};

// Kinds of the recipe table, in cost order (for --recipes and the docs).
std::vector<std::string> recipe_kinds();

// Runs the search and writes OUTDIR/{report.json, report.html, best.onnx, candidates/*.onnx}.
// Returns the report (also when no candidate meets the constraints: report["met"] is false).
// Errors: unreadable model or data, eval data not matching the model, a budget that does
// not fit even the baseline.
Result<nlohmann::json> run_tune(const TuneOptions& options);

// Pareto fronts: a measured candidate is on the front when no other has quality ≥, latency ≤
// and size ≤ with at least one strict. Fills "pareto" (all three), "front_latency" and
// "front_size" (the two plotted planes) of every measured candidate.
void mark_pareto(nlohmann::json& candidates);

// Index of the best candidate meeting every constraint by the objective, or −1.
int pick_best(const nlohmann::json& candidates, Objective objective);
// Index of the candidate closest to meeting the constraints (sum of relative violations), or −1.
int pick_best_effort(const nlohmann::json& candidates);

// The self-contained HTML page (inline SVG, no scripts or network) for a report.
std::string render_html(const nlohmann::json& report);
// Re-renders OUTDIR/report.html from OUTDIR/report.json.
Status rerender(const std::string& outdir);
// The summary table printed at the end of a run (and by `pare report`).
std::string summary_table(const nlohmann::json& report);

// `pare compare`: two models on the same data, side by side. Latency is measured in
// alternating rounds (A, B, A, B, …) so both see the same machine load.
struct CompareOptions {
  eval::DatasetOptions data;
  int64_t limit = 0;     // first N samples (0: all)
  int threads = 0;
  int64_t batch = 1;     // latency batch
  int rounds = 10, iters_per_round = 20;
};
// {a: {...}, b: {...}, agreement, sqnr_db, cosine, speedup (a p50 / b p50), size_ratio (a / b)}
Result<nlohmann::json> compare_models(const std::string& a, const std::string& b, const std::string& data_spec,
                                      const CompareOptions& options);

}  // namespace pare::tune
