// The recipe table of pare tune: one row per kind of compression, each building a candidate
// through the library (passes, compress/quant, compress/distill + train) and writing the pare
// command lines that reproduce it. Adding a kind (e.g. pruning) is one more row: a stage-1
// (float → float) recipe whose variants are chained from the mildest to the most aggressive.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>

#include "compress/distill/shrink.h"
#include "compress/prune/prune.h"
#include "onnx/onnx.h"
#include "passes/pass.h"
#include "train/trainer.h"
#include "tune/internal.h"

namespace pare::tune {
namespace q = compress::quant;
using nlohmann::json;

namespace {

std::string num(double v) {
  std::string s = fmt::format("{:.6g}", v);
  return s;
}

// --scale/--mean/--std of the data options, for any command reading a data set.
std::string data_flags(const TuneOptions& o) {
  std::string s;
  if (o.data.scale != 1.0f / 255.0f) s += " --scale " + num(o.data.scale);
  auto list = [](const std::vector<float>& v) {
    std::string r;
    for (size_t i = 0; i < v.size(); ++i) r += (i ? "," : "") + num(v[i]);
    return r;
  };
  if (!o.data.mean.empty()) s += " --mean " + list(o.data.mean);
  if (!o.data.std.empty()) s += " --std " + list(o.data.std);
  return s;
}

// Teacher-prefix initialization of a student from shrink_model: each student parameter takes
// the leading block of the teacher's same-named one (the first channels of every layer, and of
// its inputs), so the chain stays consistent (a Gemm after Flatten of [C, H, W] keeps the first
// channels' features too) and the student starts as a channel-pruned teacher rather than from
// noise; distillation then recovers the rest. Parameters that do not match stay as they are.
Status init_from_teacher(ir::Model& student, const ir::Model& teacher) {
  std::map<std::string, const Tensor*> t;
  for (ir::Value* v : teacher.graph->initializers()) t[v->name()] = &*v->initializer();
  for (ir::Value* v : student.graph->initializers()) {
    auto it = t.find(v->name());
    if (it == t.end()) continue;
    const Tensor& src = *it->second;
    const Tensor& cur = *v->initializer();
    if (src.dtype() != DataType::kFloat32 || cur.dtype() != DataType::kFloat32 || src.rank() != cur.rank()) continue;
    bool fits = true;
    for (int64_t d = 0; d < cur.rank(); ++d) fits = fits && cur.dim(d) <= src.dim(d);
    if (!fits) continue;
    PARE_ASSIGN_OR_RETURN(Tensor dst, Tensor::create(DataType::kFloat32, cur.shape()));
    std::vector<int64_t> idx(cur.rank(), 0);
    for (int64_t i = 0; i < cur.numel(); ++i) {
      int64_t off = 0;
      for (int64_t d = 0; d < cur.rank(); ++d) off = off * src.dim(d) + idx[d];
      dst.data<float>()[i] = src.data<float>()[off];
      for (int64_t d = cur.rank() - 1; d >= 0; --d) {
        if (++idx[d] < cur.dim(d)) break;
        idx[d] = 0;
      }
    }
    v->set_initializer(dst);
  }
  return ok_status();
}

std::string student_init_path(const TuneOptions& o, double width) {
  return o.outdir + "/cache/student_w" + num(width) + "_init.onnx";
}

Status optimize_in_place(ir::Model& m) {
  PARE_RETURN_IF_ERROR(passes::run_passes(m, passes::lowering_pipeline()));
  return passes::run_passes(m, passes::optimization_pipeline(passes::kDefaultOptLevel, /*portable=*/true));
}

Result<std::unique_ptr<ir::Model>> quantize(const ir::Model& parent, const q::QuantizeOptions& qo, RecipeContext& ctx,
                                            bool calibrate) {
  PARE_ASSIGN_OR_RETURN(auto m, clone(parent));
  std::optional<q::CalibrationSource> calib;
  if (calibrate) {
    if (!ctx.calib_x) return invalid_input("static quantization needs calibration data");
    calib = tensor_calibration(*ctx.calib_x, ctx.input_name);
  }
  PARE_ASSIGN_OR_RETURN(auto report, q::quantize_model(*m, qo, calib ? &*calib : nullptr));
  int converted = 0;
  for (const auto& l : report.layers) converted += l.quantized;
  if (converted == 0) return unsupported("no layer of the model can be quantized in this mode");
  return m;
}

std::string quantize_command(const std::string& in, const std::string& out, const std::string& flags) {
  return "pare quantize " + shell_quote(in) + " -o " + shell_quote(out) + flags;
}

std::string calib_flags(const RecipeContext& ctx) {
  std::string s = " --calib-data " + shell_quote(ctx.calib_spec);
  if (!ctx.calib_split.empty()) s += " --split " + ctx.calib_split;
  return s + " --calib-size " + std::to_string(ctx.o.calib_size) + data_flags(ctx.o);
}

Recipe baseline() {
  Recipe r;
  r.kind = "fp32";
  r.stage = 0;
  r.available = [](const TuneOptions&) { return true; };
  r.variants = [](const TuneOptions&) { return std::vector<json>{json::object()}; };
  r.label = [](const json&) { return std::string(); };
  r.apply = [](const ir::Model& parent, const json&, RecipeContext&) -> Result<std::unique_ptr<ir::Model>> {
    PARE_ASSIGN_OR_RETURN(auto m, clone(parent));
    PARE_RETURN_IF_ERROR(optimize_in_place(*m));
    return m;
  };
  r.commands = [](const std::string& in, const std::string& out, const json&, const RecipeContext&) {
    return std::vector<std::string>{"pare optimize " + shell_quote(in) + " -o " + shell_quote(out)};
  };
  return r;
}

// Trains `m` for o.distill_epochs epochs on the training data against the teacher's cached
// logits (α·T²·KL + (1 − α)·CE, AdamW, cosine), stopping at the deadline; `what` names it in
// the progress lines.
Status train_with_teacher(ir::Model& m, RecipeContext& ctx, const std::string& what) {
  const TuneOptions& o = ctx.o;
  PARE_ASSIGN_OR_RETURN(const eval::Dataset* data, ctx.train());
  PARE_ASSIGN_OR_RETURN(const Tensor* logits, ctx.teacher_logits());
  train::TrainOptions to;
  to.epochs = o.distill_epochs;
  to.batch = 64;
  to.seed = o.seed;
  to.num_threads = o.threads;
  to.optimizer.kind = "adamw";
  to.optimizer.weight_decay = 1e-4f;
  to.schedule.kind = "cosine";
  to.schedule.lr = o.lr;
  to.temperature = o.temperature;
  to.alpha = o.alpha;
  const int64_t k = logits->dim(1);
  to.teacher = [logits, k](const Tensor& x, const std::vector<int64_t>& idx) -> Result<std::vector<Tensor>> {
    PARE_ASSIGN_OR_RETURN(Tensor z, Tensor::create(DataType::kFloat32, {static_cast<int64_t>(idx.size()), k}));
    for (size_t i = 0; i < idx.size(); ++i)
      std::memcpy(z.data<float>() + i * k, logits->data<float>() + idx[i] * k, k * sizeof(float));
    return std::vector<Tensor>{z};
  };
  std::atomic<bool> stop{false};
  to.stop = &stop;
  const auto deadline = ctx.deadline;
  int64_t epoch = 0;
  to.on_step = [&stop, &epoch, deadline](const train::StepProgress& sp) {
    epoch = sp.epoch;
    if (Clock::now() > deadline) stop = true;
  };
  to.on_epoch = [&o, what](const train::EpochReport& e) {
    if (o.log)
      o.log(fmt::format("tune: {} epoch {}/{}: loss {:.4f}, train accuracy {:.2f}%, {:.0f} img/s", what, e.epoch, o.distill_epochs, e.loss,
                        100 * e.accuracy, e.images_per_second));
  };
  PARE_ASSIGN_OR_RETURN(auto tr, train::train_model(m, *data, nullptr, to));
  if (tr.interrupted) return resource_exhausted("the time budget ran out while training (epoch {} of {})", epoch, o.distill_epochs);
  return ok_status();
}

// Students of the teacher at decreasing widths (distill/shrink.h), trained with the teacher's
// logits, then optimized like the baseline.
Recipe distill() {
  Recipe r;
  r.kind = "distill";
  r.stage = 1;
  r.cost = 3;
  r.chain = true;
  r.available = [](const TuneOptions& o) { return !o.train_data.empty() && !o.widths.empty(); };
  r.variants = [](const TuneOptions& o) {
    std::vector<double> w = o.widths;
    std::sort(w.rbegin(), w.rend());
    std::vector<json> v;
    for (double x : w) v.push_back({{"width", x}});
    return v;
  };
  r.label = [](const json& p) { return "w" + num(p["width"].get<double>()); };
  r.apply = [](const ir::Model&, const json& p, RecipeContext& ctx) -> Result<std::unique_ptr<ir::Model>> {
    const TuneOptions& o = ctx.o;
    PARE_ASSIGN_OR_RETURN(auto student, distill::shrink_model(ctx.original, p["width"].get<double>(), o.seed));
    if (o.teacher_init) {
      PARE_RETURN_IF_ERROR(init_from_teacher(*student, ctx.original));
      PARE_RETURN_IF_ERROR(onnx::save_model(*student, student_init_path(o, p["width"].get<double>())));
    }
    PARE_RETURN_IF_ERROR(train_with_teacher(*student, ctx, "distill-w" + num(p["width"].get<double>())));
    PARE_RETURN_IF_ERROR(optimize_in_place(*student));
    return student;
  };
  r.commands = [](const std::string&, const std::string& out, const json& p, const RecipeContext& ctx) {
    const TuneOptions& o = ctx.o;
    const std::string raw = out.substr(0, out.size() - 5) + "_trained.onnx";
    const std::string student = o.teacher_init ? " --student " + shell_quote(student_init_path(o, p["width"].get<double>()))
                                               : " --shrink " + num(p["width"].get<double>());
    std::string d = "pare distill --teacher " + shell_quote(o.model) + student +
                    " --temperature " + num(o.temperature) + " --alpha " + num(o.alpha) + " --data " + shell_quote(o.train_data) +
                    (o.train_limit > 0 ? " --limit " + std::to_string(o.train_limit) : "") + data_flags(o) + " --epochs " +
                    std::to_string(o.distill_epochs) + " --batch 64 --optimizer adamw --schedule cosine --weight-decay 0.0001 --lr " +
                    num(o.lr) + " --seed " + std::to_string(o.seed) + (o.threads > 0 ? " --threads " + std::to_string(o.threads) : "") +
                    " -q -o " + shell_quote(raw);
    return std::vector<std::string>{d, "pare optimize " + shell_quote(raw) + " -o " + shell_quote(out)};
  };
  return r;
}

// Structured channel pruning of the original model (compress/prune) at decreasing FLOPs
// fractions, channel counts rounded to 16 (oneDNN's block), then fine-tuned by distillation
// from the original like the students; the result is a smaller dense model.
Recipe prune_channel() {
  Recipe r;
  r.kind = "prune-channel";
  r.stage = 1;
  r.cost = 2;
  r.chain = true;
  r.available = [](const TuneOptions& o) { return !o.train_data.empty() && !o.prune_flops.empty(); };
  r.variants = [](const TuneOptions& o) {
    std::vector<double> f = o.prune_flops;
    std::sort(f.rbegin(), f.rend());
    std::vector<json> v;
    for (double x : f) v.push_back({{"target_flops", x}});
    return v;
  };
  r.label = [](const json& p) { return "f" + num(p["target_flops"].get<double>()); };
  r.apply = [](const ir::Model&, const json& p, RecipeContext& ctx) -> Result<std::unique_ptr<ir::Model>> {
    PARE_ASSIGN_OR_RETURN(auto m, clone(ctx.original));
    prune::Options po;
    po.method = prune::Method::kChannel;
    po.target_flops = p["target_flops"].get<double>();
    po.round_to = 16;
    PARE_ASSIGN_OR_RETURN(auto pr, prune::prune_model(*m, po));
    if (pr.report.flops_after >= pr.report.flops_before) return unsupported("no channel group of this model can be pruned");
    PARE_RETURN_IF_ERROR(train_with_teacher(*m, ctx, "prune-channel-f" + num(p["target_flops"].get<double>())));
    PARE_RETURN_IF_ERROR(optimize_in_place(*m));
    return m;
  };
  r.commands = [](const std::string&, const std::string& out, const json& p, const RecipeContext& ctx) {
    const TuneOptions& o = ctx.o;
    const std::string raw = out.substr(0, out.size() - 5) + "_pruned.onnx";
    std::string c = "pare prune " + shell_quote(o.model) + " --method channel --target-flops " + num(p["target_flops"].get<double>()) +
                    " --round-to 16 --finetune-epochs " + std::to_string(o.distill_epochs) + " --teacher " + shell_quote(o.model) +
                    " --temperature " + num(o.temperature) + " --alpha " + num(o.alpha) + " --data " + shell_quote(o.train_data) +
                    (o.train_limit > 0 ? " --limit " + std::to_string(o.train_limit) : "") + data_flags(o) +
                    " --batch 64 --optimizer adamw --schedule cosine --weight-decay 0.0001 --lr " + num(o.lr) + " --seed " +
                    std::to_string(o.seed) + (o.threads > 0 ? " --threads " + std::to_string(o.threads) : "") + " -o " + shell_quote(raw);
    return std::vector<std::string>{c, "pare optimize " + shell_quote(raw) + " -o " + shell_quote(out)};
  };
  return r;
}

Recipe half(const std::string& kind, q::Mode mode) {
  Recipe r;
  r.kind = kind;
  r.available = [](const TuneOptions&) { return true; };
  r.variants = [](const TuneOptions&) { return std::vector<json>{json::object()}; };
  r.label = [](const json&) { return std::string(); };
  r.apply = [mode](const ir::Model& parent, const json&, RecipeContext& ctx) -> Result<std::unique_ptr<ir::Model>> {
    q::QuantizeOptions qo;
    qo.mode = mode;
    return quantize(parent, qo, ctx, false);
  };
  r.commands = [mode](const std::string& in, const std::string& out, const json&, const RecipeContext&) {
    return std::vector<std::string>{quantize_command(in, out, mode == q::Mode::kFloat16 ? " --mode fp16" : " --mode bf16")};
  };
  return r;
}

Recipe dynamic_int8() {
  Recipe r = half("dynamic-int8", q::Mode::kDynamic);
  r.apply = [](const ir::Model& parent, const json&, RecipeContext& ctx) -> Result<std::unique_ptr<ir::Model>> {
    q::QuantizeOptions qo;
    qo.mode = q::Mode::kDynamic;
    return quantize(parent, qo, ctx, false);
  };
  r.commands = [](const std::string& in, const std::string& out, const json&, const RecipeContext&) {
    return std::vector<std::string>{quantize_command(in, out, " --mode dynamic")};
  };
  return r;
}

// Weight-only MatMul/Gemm: int8 per channel, then int4 in groups of 32, then of 128 (each
// tried only when the previous kept the accuracy).
Recipe weight_only() {
  Recipe r;
  r.kind = "weight-only";
  r.chain = true;
  r.available = [](const TuneOptions&) { return true; };
  r.variants = [](const TuneOptions&) {
    return std::vector<json>{{{"bits", 8}, {"group_size", 0}}, {{"bits", 4}, {"group_size", 32}}, {{"bits", 4}, {"group_size", 128}}};
  };
  r.label = [](const json& p) {
    return "int" + std::to_string(p["bits"].get<int>()) + (p["group_size"].get<int>() ? "-g" + std::to_string(p["group_size"].get<int>()) : "");
  };
  r.apply = [](const ir::Model& parent, const json& p, RecipeContext& ctx) -> Result<std::unique_ptr<ir::Model>> {
    q::QuantizeOptions qo;
    qo.mode = q::Mode::kWeightOnly;
    qo.bits = p["bits"].get<int>();
    qo.group_size = p["group_size"].get<int>();
    return quantize(parent, qo, ctx, false);
  };
  r.commands = [](const std::string& in, const std::string& out, const json& p, const RecipeContext&) {
    return std::vector<std::string>{quantize_command(
        in, out, fmt::format(" --mode weight-only --bits {} --group-size {}", p["bits"].get<int>(), p["group_size"].get<int>()))};
  };
  return r;
}

// Static int8 (uint8 activations) with each calibration method: siblings, not a chain (a
// method that clips less can succeed where another failed).
Recipe static_int8() {
  Recipe r;
  r.kind = "static-int8";
  r.cost = 1;
  r.available = [](const TuneOptions&) { return true; };
  r.variants = [](const TuneOptions&) {
    return std::vector<json>{{{"calib_method", "minmax"}}, {{"calib_method", "percentile"}}, {{"calib_method", "entropy"}}, {{"calib_method", "mse"}}};
  };
  r.label = [](const json& p) { return p["calib_method"].get<std::string>(); };
  r.apply = [](const ir::Model& parent, const json& p, RecipeContext& ctx) -> Result<std::unique_ptr<ir::Model>> {
    q::QuantizeOptions qo;
    qo.mode = q::Mode::kStatic;
    PARE_ASSIGN_OR_RETURN(qo.calib_method, q::parse_calib_method(p["calib_method"].get<std::string>()));
    return quantize(parent, qo, ctx, true);
  };
  r.commands = [](const std::string& in, const std::string& out, const json& p, const RecipeContext& ctx) {
    return std::vector<std::string>{
        quantize_command(in, out, " --mode static" + calib_flags(ctx) + " --calib-method " + p["calib_method"].get<std::string>())};
  };
  return r;
}

}  // namespace

// Cost order: the cheapest first. Unstructured (magnitude, N:M) pruning is not a row: it
// changes neither the dense file size nor, for convolutions, the latency (docs/pruning.md).
const std::vector<Recipe>& recipe_table() {
  static const std::vector<Recipe> table = {baseline(),          dynamic_int8(),
                                            weight_only(),       half("fp16", q::Mode::kFloat16),
                                            half("bf16", q::Mode::kBFloat16), static_int8(),
                                            prune_channel(),     distill()};
  return table;
}

const Recipe* find_recipe(const std::string& kind) {
  for (const auto& r : recipe_table())
    if (r.kind == kind) return &r;
  return nullptr;
}

std::vector<std::string> recipe_kinds() {
  std::vector<std::string> k;
  for (const auto& r : recipe_table()) k.push_back(r.kind);
  return k;
}

}  // namespace pare::tune
