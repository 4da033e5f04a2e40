// `pare prune MODEL -o OUT --method magnitude|nm|channel ...`: prunes an ONNX model
// (compress/prune), optionally fine-tunes it with the pruning masks held fixed (the options of
// `pare train`, and --teacher for distillation), and reports per-layer sparsity, parameters,
// FLOPs and accuracy before/after.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/train_cli.h"
#include "compress/prune/prune.h"
#include "onnx/onnx.h"
#include "train/data.h"
#include "train/training_graph.h"

namespace pare::cli {
namespace {

struct PruneArgs {
  std::string model, method = "magnitude", scope = "global", criterion = "l1", nm = "2:4", report, eval_data, teacher;
  std::string prune_schedule = "oneshot";
  double sparsity = -1, threshold = -1, target_flops = -1, channels_fraction = -1;
  int64_t eval_limit = 0, finetune_epochs = 0;
  prune::Options o;
  TrainCli t;
};

int64_t file_size(const std::string& p) {
  std::error_code ec;
  auto s = std::filesystem::file_size(p, ec);
  return ec ? -1 : static_cast<int64_t>(s);
}

Status parse_nm(const std::string& s, prune::Options& o) {
  const auto colon = s.find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument(s);
    size_t a = 0, b = 0;
    o.n = std::stoll(s.substr(0, colon), &a);
    o.m = std::stoll(s.substr(colon + 1), &b);
    if (a != colon || b != s.size() - colon - 1) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    return invalid_input("--nm: expected N:M (e.g. 2:4), got '{}'", s);
  }
  return ok_status();
}

Result<double> accuracy(const ir::Model& m, const eval::Dataset& d, int threads) {
  PARE_ASSIGN_OR_RETURN(auto r, train::evaluate(m, d, threads));
  return r.first;
}

int run(PruneArgs& a) {
  prune::Options& o = a.o;
  o.method = a.method == "nm" ? prune::Method::kNM : a.method == "channel" ? prune::Method::kChannel : prune::Method::kMagnitude;
  o.scope = a.scope == "layer" ? prune::Scope::kLayer : prune::Scope::kGlobal;
  o.criterion = a.criterion == "l2" ? prune::Criterion::kL2 : a.criterion == "bn" ? prune::Criterion::kBatchNorm : prune::Criterion::kL1;
  // -1 marks "not given" (a value the user gave is validated by the library, negative included).
  if (a.sparsity != -1) o.sparsity = a.sparsity;
  if (a.threshold != -1) o.threshold = a.threshold;
  if (a.target_flops != -1) o.target_flops = a.target_flops;
  if (a.channels_fraction != -1) o.channels_fraction = a.channels_fraction;
  if (Status st = parse_nm(a.nm, o); !st.ok()) return report(st);
  const bool finetune = a.finetune_epochs > 0;
  if (finetune && a.t.data.empty()) return report(invalid_input("--finetune-epochs needs --data SPEC"));
  if (!finetune && !a.teacher.empty()) return report(invalid_input("--teacher needs --finetune-epochs N"));
  const bool gradual = a.prune_schedule == "gradual";
  if (gradual && (o.method != prune::Method::kMagnitude || !o.sparsity || !finetune)) {
    return report(invalid_input("--prune-schedule gradual needs --method magnitude --sparsity S and --finetune-epochs N"));
  }
  auto loaded = onnx::load_model(a.model);
  if (!loaded.ok()) return report(loaded.status());
  std::unique_ptr<ir::Model> model = std::move(*loaded);
  const int threads = a.t.opts.num_threads;

  std::optional<eval::Dataset> eval_set;
  prune::Report rep;
  rep.bytes_before = file_size(a.model);
  if (!a.eval_data.empty()) {
    train::DataOptions d;
    d.split = "test";
    d.limit = a.eval_limit;
    d.mean = a.t.mean;
    d.std = a.t.std_;
    d.image_height = d.image_width = a.t.image_h;
    d.image_channels = a.t.image_c;
    d.sample_shape = a.t.sample_shape;
    auto ds = train::load_data(a.eval_data, d);
    if (!ds.ok()) return report(ds.status());
    eval_set = std::move(*ds);
  }

  // Prune (one-shot), or select the weights the gradual schedule prunes while fine-tuning.
  std::shared_ptr<prune::GradualSchedule> schedule;
  prune::Masks masks;
  std::vector<prune::LayerStats> before;
  if (gradual) {
    std::vector<std::string> notes;
    auto names = prune::selected_weights(*model, o, &notes);
    if (!names.ok()) return report(names.status());
    auto b = prune::layer_stats(*model);
    if (!b.ok()) return report(b.status());
    before = std::move(*b);
    rep.method = "magnitude (gradual)";
    rep.notes = notes;
    schedule = std::make_shared<prune::GradualSchedule>(o, *names);
  } else {
    auto b = prune::layer_stats(*model);
    if (!b.ok()) return report(b.status());
    before = std::move(*b);
    auto res = prune::prune_model(*model, o);
    if (!res.ok()) return report(res.status());
    rep = std::move(res->report);
    rep.bytes_before = file_size(a.model);
    masks = std::move(res->masks);
  }
  if (eval_set) {
    auto orig = onnx::load_model(a.model);
    if (!orig.ok()) return report(orig.status());
    auto acc = accuracy(**orig, *eval_set, threads);
    if (!acc.ok()) return report(acc.status());
    rep.accuracy_before = *acc;
  }

  if (finetune) {
    a.t.opts.epochs = a.finetune_epochs;
    if (!a.teacher.empty()) {
      auto tm = onnx::load_model(a.teacher);
      if (!tm.ok()) return report(tm.status());
      auto tf = make_teacher(std::move(*tm), a.t);
      if (!tf.ok()) return report(tf.status());
      a.t.opts.teacher = std::move(*tf);
    }
    if (schedule) {
      a.t.opts.after_step = [schedule](const std::vector<std::string>& names, std::vector<Tensor>& params, int64_t step, int64_t total) {
        return schedule->on_step(names, params, step, total);
      };
    } else if (!masks.empty()) {
      auto mk = std::make_shared<prune::Masks>(std::move(masks));
      a.t.opts.after_step = [mk](const std::vector<std::string>& names, std::vector<Tensor>& params, int64_t, int64_t) {
        prune::apply_masks(*mk, names, params);
        return ok_status();
      };
    }
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = run_training(std::move(model), a.t);
    if (rc != 0) return rc;
    rep.finetune_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto tuned = onnx::load_model(a.t.output);
    if (!tuned.ok()) return report(tuned.status());
    model = std::move(*tuned);
  } else {
    Status st = onnx::save_model(*model, a.t.output);
    if (!st.ok()) return report(st);
  }
  rep.bytes_after = file_size(a.t.output);

  // Statistics of the final model (after fine-tuning the nonzeros must be unchanged).
  auto after = prune::layer_stats(*model);
  if (!after.ok()) return report(after.status());
  std::map<std::string, std::pair<std::vector<int64_t>, bool>> kept;
  for (const auto& l : rep.layers) kept[l.node] = {l.removed_channels, l.pruned};
  prune::merge_stats(rep, before, *after);
  for (auto& l : rep.layers) {
    auto it = kept.find(l.node);
    if (it != kept.end()) std::tie(l.removed_channels, l.pruned) = it->second;
    if (gradual) l.pruned = l.nonzero_after < l.nonzero_before;
  }
  if (eval_set) {
    auto acc = accuracy(*model, *eval_set, threads);
    if (!acc.ok()) return report(acc.status());
    rep.accuracy_after = *acc;
  }
  std::printf("%s", prune::report_table(rep).c_str());
  if (!a.report.empty()) {
    std::ofstream f(a.report);
    f << prune::report_json(rep);
    if (!f) return report(io_error("cannot write the report '{}'", a.report));
  }
  if (!finetune) std::printf("wrote %s\n", a.t.output.c_str());
  return 0;
}

}  // namespace

void add_prune(CLI::App& app, int& rc) {
  auto args = std::make_shared<PruneArgs>();
  CLI::App* cmd = app.add_subcommand(
      "prune",
      "Prune an ONNX model: zero the least important weights (magnitude, N:M) or remove whole channels\n"
      "(channel: a smaller dense model), optionally fine-tune with the masks held fixed, and report\n"
      "per-layer sparsity, parameters, FLOPs and accuracy before/after. Biases and normalization\n"
      "parameters are never pruned unless --include-biases.");
  cmd->add_option("model", args->model, "ONNX model to prune (float32 weights; not already quantized)")->required();
  cmd->add_option("--method", args->method,
                  "magnitude: unstructured, smallest |w| zeroed; nm: N:M along the input dimension; channel: remove Conv\n"
                  "output channels / Gemm output features and rewire consumers (default magnitude)")
      ->check(CLI::IsMember({"magnitude", "nm", "channel"}));
  cmd->add_option("--sparsity", args->sparsity, "magnitude: fraction of the selected weights zeroed, in [0, 1)");
  cmd->add_option("--threshold", args->threshold, "magnitude: zero every selected weight with |w| < EPS (instead of --sparsity)");
  cmd->add_option("--scope", args->scope, "magnitude: global (one threshold over all selected layers, default) or layer (S in each layer)")
      ->check(CLI::IsMember({"global", "layer"}));
  cmd->add_option("--nm", args->nm, "nm: pattern N:M, keep the N largest |w| of every M consecutive weights along the input dimension (default 2:4)");
  cmd->add_option("--op-types", args->o.op_types, "op types pruned (default Conv,Gemm,MatMul)")->delimiter(',');
  cmd->add_option("--include", args->o.include, "prune only nodes whose name matches one of these regexes (repeatable)");
  cmd->add_option("--exclude", args->o.exclude, "never prune nodes whose name matches one of these regexes (repeatable)");
  cmd->add_flag("--include-biases", args->o.include_biases, "magnitude: also prune the bias of the selected layers");
  cmd->add_option("--criterion", args->criterion,
                  "channel: rank channels by l1 (default) or l2 norm of their weights, or bn (|gamma| of the BatchNormalization after them)")
      ->check(CLI::IsMember({"l1", "l2", "bn"}));
  cmd->add_option("--target-flops", args->target_flops, "channel: keep this fraction of the Conv/Gemm/MatMul FLOPs, in (0, 1] (e.g. 0.5)");
  cmd->add_option("--channels-fraction", args->channels_fraction, "channel: remove this fraction of every prunable layer's channels, in [0, 1)");
  cmd->add_option("--round-to", args->o.round_to, "channel: keep channel counts that are multiples of this (default 1)");
  cmd->add_flag("--strict", args->o.strict,
                "channel: fail (naming the node) when a layer's channels reach an op that cannot be rewired, instead of keeping that layer whole");
  cmd->add_option("--finetune-epochs", args->finetune_epochs, "fine-tune for N epochs after pruning (needs --data; masks held fixed)");
  cmd->add_option("--prune-schedule", args->prune_schedule,
                  "oneshot (default): prune, then fine-tune; gradual: magnitude sparsity raised during fine-tuning as S(1-(1-t/T)^3) over the\n"
                  "first 75% of the steps, masks recomputed every T/20 steps (named so because --schedule is the learning-rate schedule)")
      ->check(CLI::IsMember({"oneshot", "gradual"}));
  cmd->add_option("--teacher", args->teacher, "fine-tune by distillation from this ONNX model (e.g. the unpruned MODEL)");
  cmd->add_option("--temperature", args->t.opts.temperature, "distillation temperature T (default 4)");
  cmd->add_option("--alpha", args->t.opts.alpha, "weight of the distillation term (default 0.7)")->default_val(0.7);
  cmd->add_option("--eval-data", args->eval_data, "measure accuracy before and after on this data (IDX folders: the t10k-* files)");
  cmd->add_option("--eval-limit", args->eval_limit, "use only the first N evaluation samples");
  cmd->add_option("--report", args->report, "write the report as JSON here (per-layer sparsity, params, FLOPs, channels, accuracy)");
  add_train_options(cmd, args->t);
  // Fine-tuning takes the options of `pare train`; its data is optional here and its epochs are --finetune-epochs.
  cmd->get_option("--data")->required(false)->description("fine-tuning data: IDX folder, .npz (x, y), image folder or .csv (as pare train)");
  cmd->remove_option(cmd->get_option("--epochs"));
  cmd->callback([args, &rc] { rc = run(*args); });
}

}  // namespace pare::cli
