// Pruning (issue #6): remove the weights that matter least, then (optionally, in the CLI)
// recover accuracy by fine-tuning with the masks kept fixed.
//
//   magnitude  unstructured: zero the fraction S of weights with the smallest |w| (global over
//              the selected layers, or per layer), or every |w| < ε (--threshold).
//   nm         N:M semi-structured: in every run of M consecutive weights along the input
//              dimension keep the N largest |w|. Input dimension: MatMul W[K, N] and Gemm
//              W[K, N] (transB 0) along K = axis 0; Gemm W[N, K] (transB 1) along axis 1;
//              Conv W[Cout, Cin/g, kh, kw] along Cin/g for each output channel and kernel
//              position (the runs are W[o, i0..i0+M-1, y, x]).
//   channel    structured: remove whole Conv output channels / Gemm (MatMul) output features
//              ranked by the L1 or L2 norm of their weights or |γ| of the BatchNormalization
//              that follows; the consumers are rewired (channel.cc) so the result is a smaller
//              dense model.
//
// Biases and normalization parameters are never pruned by the unstructured methods unless
// asked (include_biases). Nothing here runs the model; accuracy is measured by the caller.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace pare::prune {

enum class Method { kMagnitude, kNM, kChannel };
enum class Scope { kGlobal, kLayer };
enum class Criterion { kL1, kL2, kBatchNorm };

struct Options {
  Method method = Method::kMagnitude;
  // Layer selection: nodes whose op type is listed, whose name matches one of `include`
  // (ECMAScript regexes, searched; empty: all) and none of `exclude`.
  std::vector<std::string> op_types = {"Conv", "Gemm", "MatMul"};
  std::vector<std::string> include, exclude;
  bool include_biases = false;  // magnitude: also prune the bias input of the selected layers

  // magnitude: exactly one of sparsity ∈ [0, 1) or threshold ≥ 0.
  std::optional<double> sparsity;
  std::optional<double> threshold;
  Scope scope = Scope::kGlobal;

  // nm: keep n of every m (1 ≤ n < m).
  int64_t n = 2, m = 4;

  // channel: exactly one of target_flops ∈ (0, 1] (fraction of the Conv/Gemm/MatMul FLOPs to
  // keep) or channels_fraction ∈ [0, 1) (fraction of each prunable group's channels removed).
  Criterion criterion = Criterion::kL1;
  std::optional<double> target_flops;
  std::optional<double> channels_fraction;
  int64_t round_to = 1;  // kept channel counts are multiples of this (when the layer has more)
  bool strict = false;   // a group that reaches an op pare cannot rewire is an error, not a skip
};

// Per compute layer (Conv, Gemm, MatMul with a constant weight). FLOPs are 2·MACs at batch 1.
struct LayerStats {
  std::string node, op, weight;
  int64_t params_before = 0, params_after = 0;    // weight + bias elements
  int64_t nonzero_before = 0, nonzero_after = 0;  // of those
  int64_t flops_before = 0, flops_after = 0;
  int64_t channels_before = 0, channels_after = 0;  // output channels / features
  std::vector<int64_t> removed_channels;            // channel method: original indices removed
  bool pruned = false;
};

struct Report {
  std::string method;
  std::vector<LayerStats> layers;
  std::vector<std::string> notes;  // layers or channel groups skipped, and why
  int64_t params_before = 0, params_after = 0, nonzero_before = 0, nonzero_after = 0;
  int64_t flops_before = 0, flops_after = 0;
  double accuracy_before = -1, accuracy_after = -1;  // set by the caller when measured
  int64_t bytes_before = -1, bytes_after = -1;       // file sizes, set by the caller
  double finetune_seconds = -1;
};

// Masks of the unstructured methods: per pruned initializer, 1 keeps the weight, 0 holds it at 0.
using Masks = std::map<std::string, std::vector<uint8_t>>;

struct PruneResult {
  Report report;
  Masks masks;
};

// Prunes `model` in place. Errors (typed, naming the node or tensor): options out of range,
// an already-quantized or non-float model, no layer selected, N:M with M not dividing an
// explicitly included layer's input dimension, a FLOPs target that cannot be reached, and in
// strict mode a channel group that reaches an op that cannot be rewired.
Result<PruneResult> prune_model(ir::Model& model, const Options& options);

// Statistics of the compute layers of a model (shapes inferred at batch 1).
Result<std::vector<LayerStats>> layer_stats(const ir::Model& model);

// Fills a report's layers and totals from the stats before and after (matched by node name).
void merge_stats(Report& report, const std::vector<LayerStats>& before, const std::vector<LayerStats>& after);

// The report as JSON, and as a printed table (one line per layer, then totals).
std::string report_json(const Report& report);
std::string report_table(const Report& report);

// Masks held fixed during fine-tuning: zeroes the masked entries of `params` (named `names`).
void apply_masks(const Masks& masks, const std::vector<std::string>& names, std::vector<Tensor>& params);

// Gradual magnitude pruning during fine-tuning (Zhu & Gupta 2017): the sparsity at step t
// rises as s_t = s·(1 − (1 − t/T)³) for t ≤ T = end_fraction·total, masks recomputed every
// `every` steps from the current weights (global or per layer as in `options`), then held.
class GradualSchedule {
 public:
  GradualSchedule(Options options, std::vector<std::string> weights, double end_fraction = 0.75, int64_t every = 0)
      : o_(std::move(options)), weights_(std::move(weights)), end_fraction_(end_fraction), every_(every) {}
  // Called after each optimizer step (step is 1-based, of `total`).
  Status on_step(const std::vector<std::string>& names, std::vector<Tensor>& params, int64_t step, int64_t total);
  double sparsity_at(int64_t step, int64_t total) const;
  const Masks& masks() const { return masks_; }

 private:
  Options o_;
  std::vector<std::string> weights_;
  double end_fraction_;
  int64_t every_;
  Masks masks_;
};

// Initializer names of the weights the unstructured methods would prune under `options`
// (after validation), with the layers skipped and why.
Result<std::vector<std::string>> selected_weights(const ir::Model& model, const Options& options, std::vector<std::string>* notes);

}  // namespace pare::prune
