// `pare distill --teacher T.onnx (--student S.onnx | --shrink W) --data SPEC -o OUT.onnx`:
// knowledge distillation, loss = α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(y, z_s).
// Teacher logits come from the inference Session (fast kernels), cached for the whole run
// when augmentation is off (the inputs then never change) and no hint loss asks for the
// teacher's features. `--hint T:S` adds a FitNets hint loss between the teacher's value T
// and the student's value S (through a learned 1×1 projection; train/trainer.h).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

#include "cli/cli.h"
#include "cli/train_cli.h"
#include "compress/distill/shrink.h"
#include "onnx/onnx.h"
#include "runtime/session.h"

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
    // Hints: split TEACHER:STUDENT at the first ':' after which the teacher has such a value,
    // and make the teacher's value a graph output so that the Session returns it.
    ir::Graph& tgraph = *(*teacher)->graph;
    if (tgraph.outputs().empty()) {
      rc = report(invalid_model("the teacher has no output"));
      return;
    }
    std::vector<std::string> teacher_outputs{tgraph.outputs()[0]->name()};
    args->t.opts.hints.clear();
    for (const std::string& h : args->hints) {
      size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == h.size()) {
        rc = report(invalid_input("--hint '{}': expected TEACHER_VALUE:STUDENT_VALUE", h));
        return;
      }
      auto feature = [&](size_t at) -> ir::Value* {
        ir::Value* v = tgraph.find_local_value(h.substr(0, at));
        return v && !v->initializer() && (v->producer() || std::count(tgraph.inputs().begin(), tgraph.inputs().end(), v)) ? v : nullptr;
      };
      size_t at = colon;
      while (at != std::string::npos && at + 1 < h.size() && !feature(at)) at = h.find(':', at + 1);
      if (at == std::string::npos || at + 1 >= h.size()) {
        rc = report(invalid_input("--hint '{}': the teacher model has no value named '{}'", h, h.substr(0, colon)));
        return;
      }
      ir::Value* v = feature(at);
      if (std::find(tgraph.outputs().begin(), tgraph.outputs().end(), v) == tgraph.outputs().end()) tgraph.outputs().push_back(v);
      teacher_outputs.push_back(v->name());
      args->t.opts.hints.push_back({v->name(), h.substr(at + 1)});
    }
    runtime::SessionOptions so;
    so.num_threads = args->t.opts.num_threads;
    auto ts = runtime::Session::create(std::move(*teacher), so);
    if (!ts.ok()) {
      rc = report(ts.status());
      return;
    }
    std::shared_ptr<runtime::Session> session(std::move(*ts));
    const bool cache = args->t.opts.augment.crop_padding <= 0 && !args->t.opts.augment.horizontal_flip && args->hints.empty();
    auto cached = std::make_shared<std::map<int64_t, std::vector<float>>>();
    const std::string in = session->inputs()[0].name;
    args->t.opts.teacher = [session, cache, cached, in, teacher_outputs](const Tensor& x,
                                                                          const std::vector<int64_t>& idx) -> Result<std::vector<Tensor>> {
      const int64_t n = x.dim(0);
      bool all = cache;
      for (size_t i = 0; all && i < idx.size(); ++i) all = cached->count(idx[i]) != 0;
      if (all && n > 0) {
        const int64_t k = static_cast<int64_t>(cached->at(idx[0]).size());
        PARE_ASSIGN_OR_RETURN(Tensor z, Tensor::create(DataType::kFloat32, {n, k}));
        for (int64_t i = 0; i < n; ++i) std::copy_n(cached->at(idx[i]).data(), k, z.data<float>() + i * k);
        return std::vector<Tensor>{z};
      }
      PARE_ASSIGN_OR_RETURN(auto out, session->run({{in, RunValue(x)}}, teacher_outputs));
      Tensor z = out[0].tensor;
      if (z.rank() != 2 || z.dim(0) != n || z.dtype() != DataType::kFloat32) return invalid_model("teacher output {} is not float logits [{}, K]", z.type_string(), n);
      if (cache) {
        for (int64_t i = 0; i < n; ++i) (*cached)[idx[i]].assign(z.data<float>() + i * z.dim(1), z.data<float>() + (i + 1) * z.dim(1));
      }
      std::vector<Tensor> result{z};
      for (size_t i = 1; i < out.size(); ++i) result.push_back(out[i].tensor);
      return result;
    };
    rc = run_training(std::move(student), args->t);
  });
}

}  // namespace pare::cli
