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
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace pare::train {

enum class LossKind { kCrossEntropy, kMse };

struct TrainGraphOptions {
  LossKind loss = LossKind::kCrossEntropy;
  float temperature = 0;  // > 0: add the distillation term on log_softmax(z/T) (input kSoftTarget)
};

// Names of the training graph's extra inputs and outputs.
inline constexpr const char* kTarget = "pare_train/target";
inline constexpr const char* kSoftTarget = "pare_train/soft_target";
inline constexpr const char* kMseScale = "pare_train/mse_scale";
inline constexpr const char* kLoss = "pare_train/loss";

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
};

// A deep copy of a model (through its ONNX serialization).
Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& m);

// The float initializers that training updates: every float32 initializer a node reads,
// except BatchNormalization's running mean and variance.
std::vector<std::string> trainable_params(const ir::Model& m);

// Builds the training graph. Errors: no data input or output, logits not rank 2, a node on
// the path to the loss whose op has no gradient (named, with its op), at Session creation.
Result<TrainingGraph> build_training_graph(const ir::Model& inference, const TrainGraphOptions& options);

}  // namespace pare::train
