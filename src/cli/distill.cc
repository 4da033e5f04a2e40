// `pare distill --teacher T.onnx (--student S.onnx | --shrink W) --data SPEC -o OUT.onnx`:
// knowledge distillation, loss = α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(y, z_s).
// Teacher logits (and hint features): make_teacher (train.cc). `--hint T:S` adds a FitNets
// hint loss between the teacher's value T and the student's value S (through a learned 1×1
// projection; train/trainer.h).
#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "cli/train_cli.h"
#include "compress/distill/shrink.h"
#include "onnx/onnx.h"

namespace pare::cli {
namespace {

struct DistillArgs {
  std::string teacher, student, save_student;
  std::vector<std::string> hints;
  double shrink = 0;
  TrainCli t;
};

}  // namespace

void add_distill(CLI::App& app, int& rc) {
  auto args = std::make_shared<DistillArgs>();
  CLI::App* cmd = app.add_subcommand(
      "distill",
      "Knowledge distillation: train a student on labelled data and a teacher's softened outputs,\n"
      "loss = alpha*T^2*KL(softmax(z_t/T) || softmax(z_s/T)) + (1-alpha)*CE(y, z_s). The student is an ONNX model\n"
      "(--student) or derived from the teacher (--shrink W: Conv/Gemm widths scaled by W, fresh weights).\n"
      "All options of `pare train` apply (data, optimizer, schedule, checkpoints, --resume).");
  cmd->add_option("--teacher", args->teacher, "teacher ONNX model (its first output: logits)")->required();
  auto* st = cmd->add_option("--student", args->student, "student ONNX model to train");
  auto* sh = cmd->add_option("--shrink", args->shrink, "derive the student from the teacher, widths × W (e.g. 0.5)");
  st->excludes(sh);
  cmd->add_option("--temperature", args->t.opts.temperature, "softening temperature T (default 4)");
  cmd->add_option("--alpha", args->t.opts.alpha, "weight α of the distillation term (default 0.7; 0 trains on labels only)")->default_val(0.7);
  cmd->add_option("--hint", args->hints,
                  "TEACHER_VALUE:STUDENT_VALUE: add the hint (FitNets) loss hint_weight*mean((P(student) - teacher)^2) between\n"
                  "two intermediate tensors of equal rank and spatial size; P is a learned 1x1 projection (Conv, or Gemm for\n"
                  "[N, C] features) to the teacher's channels, used in training only. Repeatable. Turns off the logits cache.");
  cmd->add_option("--hint-weight", args->t.opts.hint_weight, "weight of the hint loss (default 1)");
  cmd->add_option("--save-student", args->save_student, "also write the untrained student (after --shrink) here");
  add_train_options(cmd, args->t);
  cmd->callback([args, &rc] {
    if (args->student.empty() == (args->shrink <= 0)) {
      rc = report(invalid_input("give exactly one of --student S.onnx or --shrink W"));
      return;
    }
    auto teacher = onnx::load_model(args->teacher);
    if (!teacher.ok()) {
      rc = report(teacher.status());
      return;
    }
    std::unique_ptr<ir::Model> student;
    if (!args->student.empty()) {
      auto s = onnx::load_model(args->student);
      if (!s.ok()) {
        rc = report(s.status());
        return;
      }
      student = std::move(*s);
    } else {
      auto s = distill::shrink_model(**teacher, args->shrink, args->t.opts.seed);
      if (!s.ok()) {
        rc = report(s.status());
        return;
      }
      student = std::move(*s);
      if (!args->save_student.empty()) {
        Status ss = onnx::save_model(*student, args->save_student);
        if (!ss.ok()) {
          rc = report(ss);
          return;
        }
      }
    }
    std::printf("teacher %lld parameters, student %lld parameters (%.1f%%)\n",
                static_cast<long long>(distill::parameter_count(**teacher)), static_cast<long long>(distill::parameter_count(*student)),
                100.0 * distill::parameter_count(*student) / std::max<int64_t>(1, distill::parameter_count(**teacher)));
    auto teach = make_teacher(std::move(*teacher), args->t, args->hints);
    if (!teach.ok()) {
      rc = report(teach.status());
      return;
    }
    args->t.opts.teacher = std::move(*teach);
    rc = run_training(std::move(student), args->t);
  });
}

}  // namespace pare::cli
