// The training loop: an inference ONNX model's initializers trained on a labelled data set
// through its training graph (training_graph.h), executed by the runtime Session. Used by
// `pare train` and `pare distill` (and by fine-tuning in compression).
//
// Checkpoints are ordinary inference ONNX models with metadata (pare.train.epoch: epochs
// completed) and the optimizer state as extra initializers named pare_train_state/*, which
// resume() strips again. Determinism: with the same seed and one thread, shuffling,
// augmentation and dropout masks depend only on (seed, epoch), so a resumed run matches.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/dataset.h"
#include "ir/graph.h"
#include "train/data.h"
#include "train/optimizer.h"
#include "train/training_graph.h"

namespace pare::train {

// The teacher on the batch x (rows `indices` of the training set): its logits [n, K], then
// one feature tensor [n, …] per TrainOptions::hints entry, in order.
using TeacherFn = std::function<Result<std::vector<Tensor>>(const Tensor& x, const std::vector<int64_t>& indices)>;

// Intermediate-feature (hint) loss between a teacher value and a student value (FitNets):
// weight·mean((P(f_student) − f_teacher)²), P a learned 1×1 projection that exists only
// during training. The teacher function supplies f_teacher.
struct HintPair {
  std::string teacher, student;
};

struct StepProgress {
  int64_t epoch = 0, epochs = 0, batch = 0, batches = 0;
  double loss = 0, accuracy = 0, images_per_second = 0;
  float lr = 0;
};

struct EpochReport {
  int64_t epoch = 0;  // 1-based
  double loss = 0, accuracy = 0, val_accuracy = -1, val_loss = -1;
  // Distillation: the teacher's accuracy on this epoch's training batches (its logits' argmax
  // against the labels; -1 without a teacher). An untrained or mismatched teacher shows at once.
  double teacher_accuracy = -1;
  double images_per_second = 0, seconds = 0;
  float lr = 0;
};

struct TrainOptions {
  int64_t epochs = 1, batch = 64;
  uint64_t seed = 0;
  int num_threads = 0;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  LossKind loss = LossKind::kCrossEntropy;
  float label_smoothing = 0;
  AugmentOptions augment;
  // Distillation: loss = α·T²·KL(softmax(z_t/T) ‖ softmax(z/T)) + (1 − α)·CE(y, z).
  TeacherFn teacher;
  float temperature = 4, alpha = 0;
  std::vector<HintPair> hints;  // need `teacher`
  float hint_weight = 1;
  std::string checkpoint;  // written after every epoch and on interruption ("" : none)
  bool resume = false;     // continue after the epochs recorded in the model (a checkpoint)
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT) to save and stop
  std::function<void(const StepProgress&)> on_step;
  // Called after every optimizer step with the trained parameters (names, values updated in
  // place; step 1-based of total): pruning re-applies its masks here so zeroed weights stay zero.
  std::function<Status(const std::vector<std::string>& names, std::vector<Tensor>& params, int64_t step, int64_t total)> after_step;
  std::function<void(const EpochReport&)> on_epoch;
};

struct TrainResult {
  std::vector<EpochReport> epochs;
  bool interrupted = false;
  int64_t epochs_done = 0;
};

// Trains `model` (an inference model; its initializers are updated in place). `val` may be
// null. With o.resume, starts after the epochs recorded in the model's metadata (a
// checkpoint) and restores the optimizer state; otherwise from epoch 0.
Result<TrainResult> train_model(ir::Model& model, const eval::Dataset& train, const eval::Dataset* val, const TrainOptions& o);

// Epochs completed according to a checkpoint's metadata (0 for a fresh model).
int64_t completed_epochs(const ir::Model& model);

// Checks data against the model: sample shape vs the input's static shape, labels within
// [0, classes). `classes` ≤ 0: taken from the model's output shape.
Status validate_data(const ir::Model& model, const eval::Dataset& data, const std::string& what);

// Top-1 accuracy and mean cross-entropy of the model on a data set (inference Session).
Result<std::pair<double, double>> evaluate(const ir::Model& model, const eval::Dataset& data, int num_threads);

}  // namespace pare::train
