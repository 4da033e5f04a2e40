// Optimizers over parameter tensors (updated in place) and learning-rate schedules.
//   SGD:    v ← μ·v + g + λ·p;  p ← p − lr·(g + λ·p + μ·v) (Nesterov) or p ← p − lr·v
//   AdamW:  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − lr·(m̂/(√v̂ + ε) + λ·p)
// Weight decay λ applies to tensors of rank ≥ 2 (weights), not to biases and norm scales.
// Gradient clipping rescales all gradients when their global L2 norm exceeds clip_norm.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace pare::train {

struct OptimizerOptions {
  std::string kind = "sgd";  // sgd | adamw
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float clip_norm = 0.0f;  // > 0: clip the global gradient norm
};

class Optimizer {
 public:
  static Result<Optimizer> create(const OptimizerOptions& o, const std::vector<Tensor>& params);
  // One update; returns the gradient norm before clipping.
  Result<double> step(std::vector<Tensor>& params, std::vector<Tensor>& grads, float lr);
  // State tensors by name ("m/3", "v/3", "step") for checkpoints, and restoring them.
  std::map<std::string, Tensor> state() const;
  Status restore(const std::map<std::string, Tensor>& state);
  const OptimizerOptions& options() const { return o_; }

 private:
  OptimizerOptions o_;
  std::vector<std::vector<float>> m_, v_;
  int64_t t_ = 0;
};

struct ScheduleOptions {
  std::string kind = "constant";  // constant | step | cosine
  float lr = 0.01f;
  int64_t warmup_steps = 0;       // linear warm-up from lr/warmup to lr
  int64_t step_every = 0;         // step: multiply by gamma every step_every steps
  float gamma = 0.1f;
  float min_lr = 0.0f;            // cosine: final value
};

// Learning rate at `step` (0-based) of `total` steps.
Result<float> learning_rate(const ScheduleOptions& s, int64_t step, int64_t total);

}  // namespace pare::train
