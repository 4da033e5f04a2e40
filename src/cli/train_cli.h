// Options and driver shared by `pare train` and `pare distill` (train.cc, distill.cc).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "train/trainer.h"

namespace pare::cli {

struct TrainCli {
  std::string data, val_data, output, checkpoint, split = "train", val_split_name = "test", loss = "ce";
  double val_fraction = 0;
  int64_t limit = 0, val_limit = 0, image_h = 0, image_w = 0, image_c = 0;
  std::vector<float> mean, std_;
  std::vector<int64_t> sample_shape;
  bool resume = false, quiet = false;
  double step_every_epochs = 0;
  double warmup_epochs = 0;
  train::TrainOptions opts;
};

// Adds the data, optimizer, schedule, checkpoint and output options to `cmd`.
void add_train_options(CLI::App* cmd, TrainCli& t);

// Loads data (and the checkpoint when resuming), trains `model` (or the checkpoint) with
// a progress line and per-epoch summaries, and writes the output model. Returns the exit code.
int run_training(std::unique_ptr<ir::Model> model, TrainCli& t);

// Teacher logits for distillation (pare distill, pare prune --teacher): the teacher runs in
// the inference Session (fast kernels); its logits are cached per sample for the whole run
// when augmentation is off (the inputs then never change).
// The teacher as the trainer calls it: an inference Session returning its logits and, for
// each `hints` entry TEACHER_VALUE:STUDENT_VALUE (which this records in t.opts.hints), the
// teacher's feature tensor.
Result<train::TeacherFn> make_teacher(std::unique_ptr<ir::Model> teacher, TrainCli& t, const std::vector<std::string>& hints = {});

}  // namespace pare::cli
