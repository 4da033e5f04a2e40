// The training graph of an inference ONNX model (autodiff over the IR, DESIGN.md §3):
//
//   inference model ─┬─ trainable float initializers → graph inputs (fed each step)
//                    ├─ BatchNormalization → com.pare.BatchNormTrain (batch statistics out)
//                    ├─ Dropout → com.pare.DropoutTrain (seed input per node and step)
//                    ├─ loss on the first output (logits [N, K]) against fed targets
//                    └─ ai.onnx.preview.training.Gradient over the parameters, lowered by
//                       passes/lower_gradient.cc into backward nodes from ops/grad.
//
// Losses, with the per-sample weights folded into the fed targets by the trainer:
//   soft cross-entropy   L = −Σ t ⊙ log_softmax(z)  (+ −Σ s ⊙ log_softmax(z/T) for distillation)
//   mse                  L = k·Σ (z − t)²           (k fed: 1/(N·K))
//   hint (FitNets)       + k_i·Σ (P_i(f_i) − h_i)²  for each hint: f_i a student feature, P_i a
//                        learned 1×1 projection (Conv for rank ≥ 3, Gemm for rank 2) to the
//                        teacher's channels, h_i the teacher's feature (fed), k_i fed
//                        (weight/numel(h_i)). P_i exists only in the training graph.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace pare::train {

enum class LossKind { kCrossEntropy, kMse };

// A hint: the student value `student` is projected to the teacher feature's per-sample shape.
struct HintSpec {
  std::string student;                 // a value of the student (inference) model
  std::vector<int64_t> teacher_shape;  // the teacher feature's per-sample shape, [C] or [C, spatial…]
};

struct TrainGraphOptions {
  LossKind loss = LossKind::kCrossEntropy;
  float temperature = 0;  // > 0: add the distillation term on log_softmax(z/T) (input kSoftTarget)
  std::vector<HintSpec> hints;
  uint64_t seed = 0;      // initialization of the hint projections
};

// Names of the training graph's extra inputs and outputs.
inline constexpr const char* kTarget = "pare_train/target";
inline constexpr const char* kSoftTarget = "pare_train/soft_target";
inline constexpr const char* kMseScale = "pare_train/mse_scale";
inline constexpr const char* kLoss = "pare_train/loss";

struct HintInputs {
  std::string target, scale;  // fed: the teacher feature [N, teacher_shape…] and k_i (scalar)
};

struct BatchNormStats {
  std::string running_mean, running_var;  // initializer names in the inference model
  std::string batch_mean, batch_var;      // outputs of the training graph
  float momentum = 0.9f;                  // ONNX: running = momentum·running + (1 − momentum)·batch
};

struct TrainingGraph {
  std::unique_ptr<ir::Model> model;
  std::string input;                   // the data input
  std::string logits;                  // the logits output
  std::vector<std::string> params;     // trainable initializers (now inputs), in order
  std::vector<std::string> grads;      // their gradients (outputs), same order
  std::vector<BatchNormStats> batchnorms;
  std::vector<std::string> dropout_seeds;  // int64 scalar inputs, one per Dropout
  // Hint projections: trainable inputs of the training graph that are not in the inference
  // model (their gradients follow `grads`, in `hint_grads`), with their initial values.
  std::vector<std::string> hint_params, hint_grads;
  std::vector<Tensor> hint_init;
  std::vector<HintInputs> hints;  // per HintSpec, in order
};

// A deep copy of a model (through its ONNX serialization).
Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& m);

// The float initializers that training updates: every float32 initializer a node reads,
// except BatchNormalization's running mean and variance.
std::vector<std::string> trainable_params(const ir::Model& m);

// Builds the training graph. Errors: no data input or output, logits not rank 2, a node on
// the path to the loss whose op has no gradient (named, with its op), at Session creation;
// a hint naming no student value, or whose student feature's rank or spatial size (shape
// after dim 1) differs from the teacher's.
Result<TrainingGraph> build_training_graph(const ir::Model& inference, const TrainGraphOptions& options);

}  // namespace pare::train
