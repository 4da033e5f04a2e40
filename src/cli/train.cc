// `pare train MODEL --data SPEC ... -o OUT.onnx`: trains the initializers of an ONNX model
// (its first output taken as logits) with pare's own autodiff (src/train/).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include <unistd.h>

#include "cli/cli.h"
#include "cli/train_cli.h"
#include "onnx/onnx.h"
#include "runtime/session.h"

namespace pare::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

struct TrainArgs {
  std::string model;
  TrainCli t;
};

}  // namespace

void add_train_options(CLI::App* cmd, TrainCli& t) {
  auto& o = t.opts;
  cmd->add_option("--data", t.data, "training data: IDX folder (train-* files), .npz (x, y), image folder (class subfolders) or .csv (label, features…)")
      ->required();
  cmd->add_option("--val-data", t.val_data, "validation data, same forms (IDX folders: the t10k-* files)");
  cmd->add_option("--val-split", t.val_fraction, "hold out this fraction of the training data for validation (when no --val-data)");
  cmd->add_option("--epochs", o.epochs, "epochs to train (default 1)")->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--batch", o.batch, "batch size (default 64)")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--lr", o.schedule.lr, "peak learning rate (default 0.01)");
  cmd->add_option("--optimizer", o.optimizer.kind, "sgd (default) or adamw")->check(CLI::IsMember({"sgd", "adamw"}));
  cmd->add_option("--momentum", o.optimizer.momentum, "SGD momentum (default 0.9)");
  cmd->add_flag("--nesterov", o.optimizer.nesterov, "Nesterov momentum for SGD");
  cmd->add_option("--weight-decay", o.optimizer.weight_decay, "weight decay on weights of rank ≥ 2 (AdamW: decoupled; default 0)");
  cmd->add_option("--beta1", o.optimizer.beta1, "AdamW β1 (default 0.9)");
  cmd->add_option("--beta2", o.optimizer.beta2, "AdamW β2 (default 0.999)");
  cmd->add_option("--clip-norm", o.optimizer.clip_norm, "clip the global gradient L2 norm to this value (0: off)");
  cmd->add_option("--schedule", o.schedule.kind, "learning-rate schedule: constant (default), step, cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}));
  cmd->add_option("--warmup", t.warmup_epochs, "linear warm-up over this many epochs (fractions allowed; default 0)");
  cmd->add_option("--step-every", t.step_every_epochs, "step schedule: multiply the rate by --gamma every this many epochs");
  cmd->add_option("--gamma", o.schedule.gamma, "step schedule factor (default 0.1)");
  cmd->add_option("--min-lr", o.schedule.min_lr, "cosine schedule: final learning rate (default 0)");
  cmd->add_option("--loss", t.loss, "ce: softmax cross-entropy (default), mse: squared error against one-hot labels")->check(CLI::IsMember({"ce", "mse"}));
  cmd->add_option("--label-smoothing", o.label_smoothing, "cross-entropy label smoothing ε (default 0)");
  cmd->add_option("--augment-crop", o.augment.crop_padding, "random crop after zero padding by this many pixels (0: off)");
  cmd->add_flag("--augment-flip", o.augment.horizontal_flip, "random horizontal flips");
  cmd->add_option("--mean", t.mean, "per-channel mean subtracted after scaling pixels to [0,1]")->delimiter(',');
  cmd->add_option("--std", t.std_, "per-channel std divided by after the mean")->delimiter(',');
  cmd->add_option("--limit", t.limit, "use only the first N training samples");
  cmd->add_option("--val-limit", t.val_limit, "use only the first N validation samples");
  cmd->add_option("--image-size", t.image_h, "image folders: resize to this height and width");
  cmd->add_option("--image-channels", t.image_c, "image folders: 1 (gray) or 3 (RGB); default from the first image");
  cmd->add_option("--sample-shape", t.sample_shape, "reshape each sample (e.g. 1,28,28 for CSV rows)")->delimiter(',');
  cmd->add_option("--seed", o.seed, "seed of shuffling, augmentation and dropout (default 0); deterministic with --threads 1");
  cmd->add_option("--threads", o.num_threads, "threads (default: all cores)");
  cmd->add_option("--checkpoint", t.checkpoint, "checkpoint file written after each epoch and on Ctrl-C (default OUT.ckpt.onnx)");
  cmd->add_flag("--resume", t.resume, "continue from the checkpoint (its epoch count, weights and optimizer state)");
  cmd->add_flag("-q,--quiet", t.quiet, "no progress line");
  cmd->add_option("-o,--output", t.output, "output ONNX model (an ordinary inference model)")->required();
}

int run_training(std::unique_ptr<ir::Model> model, TrainCli& t) {
  auto& o = t.opts;
  if (t.checkpoint.empty()) t.checkpoint = t.output + ".ckpt.onnx";
  o.checkpoint = t.checkpoint;
  o.loss = t.loss == "mse" ? train::LossKind::kMse : train::LossKind::kCrossEntropy;
  train::DataOptions d;
  d.split = t.split;
  d.limit = t.limit;
  d.mean = t.mean;
  d.std = t.std_;
  d.image_height = d.image_width = t.image_h;
  d.image_channels = t.image_c;
  d.sample_shape = t.sample_shape;
  auto data = train::load_data(t.data, d);
  if (!data.ok()) return report(data.status());
  std::optional<eval::Dataset> val;
  if (!t.val_data.empty()) {
    train::DataOptions vd = d;
    vd.split = t.val_split_name;
    vd.limit = t.val_limit;
    auto v = train::load_data(t.val_data, vd);
    if (!v.ok()) return report(v.status());
    val = std::move(*v);
  } else if (t.val_fraction > 0) {
    auto v = train::split_validation(*data, t.val_fraction, o.seed);
    if (!v.ok()) return report(v.status());
    val = std::move(*v);
  }
  if (t.resume) {
    if (!std::filesystem::exists(t.checkpoint)) return report(io_error("--resume: no checkpoint '{}'", t.checkpoint));
    auto ck = onnx::load_model(t.checkpoint);
    if (!ck.ok()) return report(ck.status());
    model = std::move(*ck);
    o.resume = true;
    std::cerr << "resuming from '" << t.checkpoint << "' after " << train::completed_epochs(*model) << " epochs\n";
  }
  const int64_t steps = (data->size() + o.batch - 1) / o.batch;
  o.schedule.warmup_steps = static_cast<int64_t>(t.warmup_epochs * steps);
  o.schedule.step_every = static_cast<int64_t>(t.step_every_epochs * steps);
  if (o.schedule.kind == "step" && o.schedule.step_every <= 0) return report(invalid_input("--schedule step needs --step-every"));
  const bool bar = !t.quiet && (isatty(2) || (std::getenv("PARE_PROGRESS") && std::string(std::getenv("PARE_PROGRESS")) == "1"));
  o.stop = &g_stop;
  o.on_step = [&](const train::StepProgress& p) {
    if (!bar || (p.batch % 10 != 0 && p.batch != p.batches)) return;
    const int width = 24, fill = static_cast<int>(width * p.batch / p.batches);
    std::fprintf(stderr, "\repoch %lld/%lld [%s%s] %lld/%lld  loss %.4f  acc %.2f%%  %.0f img/s  lr %.3g ",
                 static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), std::string(fill, '#').c_str(),
                 std::string(width - fill, '.').c_str(), static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss,
                 100 * p.accuracy, p.images_per_second, p.lr);
  };
  o.on_epoch = [&](const train::EpochReport& r) {
    if (bar) std::fprintf(stderr, "\n");
    std::printf("epoch %lld/%lld  loss %.4f  train acc %.2f%%", static_cast<long long>(r.epoch), static_cast<long long>(o.epochs), r.loss,
                100 * r.accuracy);
    if (r.teacher_accuracy >= 0) std::printf("  teacher train acc %.2f%%", 100 * r.teacher_accuracy);
    if (r.val_accuracy >= 0) std::printf("  val acc %.2f%%  val loss %.4f", 100 * r.val_accuracy, r.val_loss);
    std::printf("  %.0f img/s  %.1fs  lr %.3g\n", r.images_per_second, r.seconds, r.lr);
    std::fflush(stdout);
  };
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  auto res = train::train_model(*model, *data, val ? &*val : nullptr, o);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (!res.ok()) return report(res.status());
  if (res->interrupted) {
    std::fprintf(stderr, "\ninterrupted: checkpoint saved to '%s' after %lld epochs; continue with --resume\n", t.checkpoint.c_str(),
                 static_cast<long long>(res->epochs_done));
    return 130;
  }
  Status st = onnx::save_model(*model, t.output);
  if (!st.ok()) return report(st);
  std::printf("wrote %s\n", t.output.c_str());
  return 0;
}

Result<train::TeacherFn> make_teacher(std::unique_ptr<ir::Model> teacher, TrainCli& t, const std::vector<std::string>& hints) {
  // Hints: split TEACHER:STUDENT at the first ':' after which the teacher has such a value,
  // and make the teacher's value a graph output so that the Session returns it.
  ir::Graph& tgraph = *teacher->graph;
  if (tgraph.outputs().empty()) return invalid_model("the teacher has no output");
  std::vector<std::string> teacher_outputs{tgraph.outputs()[0]->name()};
  t.opts.hints.clear();
  for (const std::string& h : hints) {
    size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == h.size()) {
      return invalid_input("--hint '{}': expected TEACHER_VALUE:STUDENT_VALUE", h);
    }
    auto feature = [&](size_t at) -> ir::Value* {
      ir::Value* v = tgraph.find_local_value(h.substr(0, at));
      return v && !v->initializer() && (v->producer() || std::count(tgraph.inputs().begin(), tgraph.inputs().end(), v)) ? v : nullptr;
    };
    size_t at = colon;
    while (at != std::string::npos && at + 1 < h.size() && !feature(at)) at = h.find(':', at + 1);
    if (at == std::string::npos || at + 1 >= h.size()) {
      return invalid_input("--hint '{}': the teacher model has no value named '{}'", h, h.substr(0, colon));
    }
    ir::Value* v = feature(at);
    if (std::find(tgraph.outputs().begin(), tgraph.outputs().end(), v) == tgraph.outputs().end()) tgraph.outputs().push_back(v);
    teacher_outputs.push_back(v->name());
    t.opts.hints.push_back({v->name(), h.substr(at + 1)});
  }
  runtime::SessionOptions so;
  so.num_threads = t.opts.num_threads;
  PARE_ASSIGN_OR_RETURN(auto ts, runtime::Session::create(std::move(teacher), so));
  std::shared_ptr<runtime::Session> session(std::move(ts));
  // Logits are cached for the run when augmentation is off (the inputs never change) and no
  // hint asks for the teacher's features.
  const bool cache = t.opts.augment.crop_padding <= 0 && !t.opts.augment.horizontal_flip && hints.empty();
  auto cached = std::make_shared<std::map<int64_t, std::vector<float>>>();
  const std::string in = session->inputs()[0].name;
  return train::TeacherFn([session, cache, cached, in, teacher_outputs](const Tensor& x,
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
  });
}

void add_train(CLI::App& app, int& rc) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train",
                                     "Train the initializers of an ONNX model on labelled data (its first output is taken as logits).\n"
                                     "Prints loss/accuracy/throughput per epoch, checkpoints every epoch (Ctrl-C saves one; --resume\n"
                                     "continues), and writes an ordinary inference ONNX model.");
  cmd->add_option("model", args->model, "ONNX model to train")->required();
  add_train_options(cmd, args->t);
  cmd->callback([args, &rc] {
    auto m = onnx::load_model(args->model);
    if (!m.ok()) {
      rc = report(m.status());
      return;
    }
    rc = run_training(std::move(*m), args->t);
  });
}

}  // namespace pare::cli
