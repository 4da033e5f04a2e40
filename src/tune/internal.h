// Internals of pare tune shared by its files: data sets, measurement, the recipe table.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compress/quant/quantize.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "runtime/session.h"
#include "tune/tune.h"

namespace pare::tune {

using Clock = std::chrono::steady_clock;

// Samples (x) and, when labelled, their labels (y int64 [N]; undefined otherwise).
struct EvalSet {
  Tensor x, y;
  bool labelled() const { return y.defined(); }
  int64_t size() const { return x.defined() ? x.dim(0) : 0; }
};

// Loads a data SPEC: an IDX folder or .npz with x and y (labelled), an .npz with only x or an
// .npy (unlabelled), or "random:N" (N standard-normal samples shaped like the model input).
Result<EvalSet> load_eval_set(const std::string& spec, const eval::DatasetOptions& o, int64_t limit,
                              const runtime::IoInfo& input, uint64_t seed);

// The first `n` rows of a tensor (a copy).
Result<Tensor> take_rows(const Tensor& t, int64_t begin, int64_t n);

// Checks that samples x fit the model input (rank, static dims; [N, F] inputs take the
// samples flattened) and returns the batch the model needs (its fixed first dim) or `batch`.
Result<int64_t> check_input(const runtime::IoInfo& in, const Shape& x_shape, int64_t batch);

// Scores of the first output for every sample, float32 [N, K]. Stops with ResourceExhausted
// after `deadline`.
Result<Tensor> run_scores(runtime::Session& s, const EvalSet& data, int64_t batch, Clock::time_point deadline);

// Quality of `scores` against labels (when present) and the reference scores: accuracy,
// agreement (top-1 equal to the reference's), SQNR (dB, capped at 150) and mean cosine.
nlohmann::json quality(const Tensor& scores, const Tensor& ref, const EvalSet& data);

// Latency (pare bench method): a session at `threads`, inputs of `batch` rows taken from the
// data, 2 warm-up runs, then up to `iters` timed runs (at most ~3 s): p50/p99 in ms.
// Peak memory: the session's arena peak plus the model's initializer bytes.
Result<nlohmann::json> measure_model(const std::string& path, const EvalSet& data, const Tensor& ref,
                                     const TuneOptions& o, Clock::time_point deadline);

// A calibration source over the rows of x (batches of 32 rows for the first model input).
compress::quant::CalibrationSource tensor_calibration(const Tensor& x, const std::string& input);

// Everything a recipe may use while building a candidate.
struct RecipeContext {
  const TuneOptions& o;
  const ir::Model& original;          // the model given to tune (the distillation teacher)
  std::string input_name;
  const Tensor* calib_x = nullptr;    // calibration rows
  std::string calib_spec;             // what to pass as --calib-data in commands
  std::string calib_split;            // --split for an IDX calibration folder ("" : none)
  // Training data and the teacher's logits for it (loaded on first use).
  std::function<Result<const eval::Dataset*>()> train;
  std::function<Result<const Tensor*>()> teacher_logits;
  Clock::time_point deadline;
};

// A row of the recipe table. stage 0: the baseline; 1: structural, float → float (distill,
// prune), expanded further; 2: numeric (quantization), terminal. `chain`: each variant is
// tried only when the previous one met the quality constraint. `cost` orders the queue.
struct Recipe {
  std::string kind;
  int stage = 2;
  int cost = 0;
  bool chain = false;
  std::function<bool(const TuneOptions&)> available;
  std::function<std::vector<nlohmann::json>(const TuneOptions&)> variants;
  // Variant's short name for ids ("w0.5", "minmax").
  std::function<std::string(const nlohmann::json&)> label;
  std::function<Result<std::unique_ptr<ir::Model>>(const ir::Model& parent, const nlohmann::json& params, RecipeContext& ctx)> apply;
  // The pare command line(s) making `out` from `in` (`model` is the original model's path).
  std::function<std::vector<std::string>(const std::string& in, const std::string& out, const nlohmann::json& params,
                                         const RecipeContext& ctx)> commands;
};

const std::vector<Recipe>& recipe_table();
const Recipe* find_recipe(const std::string& kind);

// Output SQNR (dB) per quantizable layer of `model` when only that layer is static-int8
// quantized (minmax), over `x`. Stops at `deadline` with what it has.
Result<nlohmann::json> layer_sensitivity(const ir::Model& model, const Tensor& calib_x, const Tensor& x,
                                         const std::string& input, Clock::time_point deadline);

// Deep copy of a model.
Result<std::unique_ptr<ir::Model>> clone(const ir::Model& m);

// Shell quoting for command lines in the report.
std::string shell_quote(const std::string& s);

}  // namespace pare::tune
