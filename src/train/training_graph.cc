#include "train/training_graph.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

#include "onnx/onnx.h"
#include "ops/grad/gradient.h"
#include "passes/pass.h"

namespace pare::train {

Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& m) {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/pare_clone_XXXXXX";
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  const int fd = mkstemp(buf.data());
  if (fd < 0) return io_error("cannot create a temporary file in {}", path);
  close(fd);
  path = buf.data();
  Status st = onnx::save_model(m, path);
  Result<std::unique_ptr<ir::Model>> out = st.ok() ? onnx::load_model(path) : Result<std::unique_ptr<ir::Model>>(st);
  std::remove(path.c_str());
  if (out.ok()) (*out)->base_dir = m.base_dir;
  return out;
}

std::vector<std::string> trainable_params(const ir::Model& m) {
  const ir::Graph& g = *m.graph;
  std::set<const ir::Value*> running;
  for (const auto& n : g.nodes()) {
    if (n->op_type() == "BatchNormalization" && n->domain().empty()) {
      running.insert(n->input(3));
      running.insert(n->input(4));
    }
  }
  std::vector<std::string> out;
  for (ir::Value* v : g.initializers()) {
    if (v->initializer()->dtype() != DataType::kFloat32 || running.count(v) || v->uses().empty()) continue;
    // Float constants that feed shape-like inputs are not parameters (e.g. Resize scales).
    bool shape_like = false;
    for (const ir::Use& u : v->uses()) {
      const std::string& op = u.node->op_type();
      shape_like |= (op == "Resize" || op == "Upsample") && u.input_index > 0;
      shape_like |= op == "Dropout" && u.input_index > 0;
    }
    if (!shape_like) out.push_back(v->name());
  }
  return out;
}

namespace {

ir::Value* add1(ir::Graph& g, const std::string& op, const std::vector<ir::Value*>& ins, const std::string& name,
                std::map<std::string, ir::Attribute> attrs = {}, const std::string& domain = "") {
  ir::Value* out = g.add_value(g.unique_name(name));
  ir::Node* n = g.add_node(op, ins, {out}, domain, g.unique_name(name));
  for (auto& [k, a] : attrs) n->attributes()[k] = std::move(a);
  return out;
}

ir::Value* typed_input(ir::Graph& g, const std::string& name, DataType dt, std::optional<std::vector<ir::Dim>> shape) {
  ir::Value* v = g.add_value(name);
  v->type() = ir::TypeInfo::tensor(dt, std::move(shape));
  g.add_input(v);
  return v;
}

Status rewrite_training_ops(ir::Graph& g, TrainingGraph& tg) {
  std::vector<ir::Node*> bns, drops, pools;
  for (const auto& n : g.nodes()) {
    if (!n->domain().empty() && n->domain() != "ai.onnx") continue;
    if (n->op_type() == "BatchNormalization") bns.push_back(n.get());
    if (n->op_type() == "Dropout") drops.push_back(n.get());
    if (n->op_type() == "MaxPool" && n->attr_ints("kernel_shape").size() == 2 && n->attr_int("storage_order", 0) == 0 &&
        n->attr_ints("dilations", {1, 1}) == std::vector<int64_t>{1, 1} && (!n->output(1) || n->output(1)->uses().empty())) {
      pools.push_back(n.get());
    }
  }
  for (ir::Node* n : bns) {
    if (!n->input(3) || !n->input(3)->initializer() || !n->input(4) || !n->input(4)->initializer()) {
      return unsupported("{}: training needs running mean and variance as initializers", n->describe());
    }
    const std::string base = "pare_train/bn/" + (n->name().empty() ? n->output(0)->name() : n->name());
    ir::Value* y = n->output(0);
    ir::Value* mean = g.add_value(g.unique_name(base + "/mean"));
    ir::Value* var = g.add_value(g.unique_name(base + "/var"));
    ir::Value* ny = g.add_value(g.unique_name(base + "/y"));
    ir::Node* t = g.add_node("BatchNormTrain", {n->input(0), n->input(1), n->input(2)}, {ny, mean, var}, ops::kPareDomain, base);
    t->attributes()["epsilon"] = ops::attr_float(n->attr_float("epsilon", 1e-5f));
    tg.batchnorms.push_back({n->input(3)->name(), n->input(4)->name(), mean->name(), var->name(), n->attr_float("momentum", 0.9f)});
    g.replace_all_uses(y, ny);
    for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
    for (size_t i = 1; i < n->outputs().size(); ++i) {
      if (n->output(i) && !n->output(i)->uses().empty()) return unsupported("{}: its optional outputs are used", n->describe());
    }
    PARE_RETURN_IF_ERROR(g.erase_node(n));
    g.outputs().push_back(mean);
    g.outputs().push_back(var);
  }
  for (ir::Node* n : pools) {
    const std::string base = "pare_train/maxpool/" + (n->name().empty() ? n->output(0)->name() : n->name());
    ir::Value* ny = g.add_value(g.unique_name(base + "/y"));
    ir::Value* arg = g.add_value(g.unique_name(base + "/argmax"));
    ir::Node* t = g.add_node("MaxPoolTrain", {n->input(0)}, {ny, arg}, ops::kPareDomain, base);
    for (const char* k : {"kernel_shape", "strides", "pads", "auto_pad", "ceil_mode"}) {
      if (const ir::Attribute* a = n->attr(k)) {
        ir::Attribute c;
        c.type = a->type, c.i = a->i, c.s = a->s, c.ints = a->ints;
        t->attributes()[k] = std::move(c);
      }
    }
    g.replace_all_uses(n->output(0), ny);
    for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
    PARE_RETURN_IF_ERROR(g.erase_node(n));
  }
  for (ir::Node* n : drops) {
    float ratio = n->attr_float("ratio", 0.5f);
    if (ir::Value* r = n->input(1)) {
      if (!r->initializer()) return unsupported("{}: training needs a constant dropout ratio", n->describe());
      if (r->initializer()->dtype() != DataType::kFloat32 || r->initializer()->numel() != 1) {
        return unsupported("{}: dropout ratio must be one float", n->describe());
      }
      ratio = r->initializer()->data<float>()[0];
    }
    const std::string base = "pare_train/dropout/" + (n->name().empty() ? n->output(0)->name() : n->name());
    ir::Value* seed = typed_input(g, g.unique_name(base + "/seed"), DataType::kInt64, std::vector<ir::Dim>{});
    tg.dropout_seeds.push_back(seed->name());
    ir::Value* ny = g.add_value(g.unique_name(base + "/y"));
    ir::Value* mask = g.add_value(g.unique_name(base + "/mask"));
    ir::Node* t = g.add_node("DropoutTrain", {n->input(0), seed}, {ny, mask}, ops::kPareDomain, base);
    t->attributes()["ratio"] = ops::attr_float(ratio);
    g.replace_all_uses(n->output(0), ny);
    for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
    PARE_RETURN_IF_ERROR(g.erase_node(n));
  }
  return ok_status();
}

// "[N, 3, 7, 7]" (−1: unknown).
std::string batch_shape(const std::vector<int64_t>& per_sample) {
  std::string s = "[N";
  for (int64_t d : per_sample) s += d < 0 ? ", ?" : ", " + std::to_string(d);
  return s + "]";
}

// Adds Σ_i k_i·Σ (P_i(f_i) − h_i)² to `loss` (see training_graph.h); P_i's weights become
// inputs of the graph, listed in tg.hint_params with initial values U(±1/√C_student).
Result<ir::Value*> add_hint_losses(ir::Graph& g, const TrainGraphOptions& options, const std::vector<ir::Value*>& features,
                                   const std::vector<ir::TypeInfo>& types, ir::Value* loss, TrainingGraph& tg) {
  for (size_t i = 0; i < features.size(); ++i) {
    const HintSpec& h = options.hints[i];
    const std::vector<int64_t>& ts = h.teacher_shape;
    const std::string base = "pare_train/hint" + std::to_string(i);
    const ir::TypeInfo& type = types[i];
    std::vector<int64_t> ss;  // the student feature's per-sample shape
    if (type.shape) {
      for (size_t d = 1; d < type.shape->size(); ++d) ss.push_back((*type.shape)[d].known() ? (*type.shape)[d].value : -1);
    }
    if (!type.shape || ss.size() != ts.size() || !std::equal(ss.begin() + 1, ss.end(), ts.begin() + 1) || ss[0] <= 0) {
      return invalid_input("hint '{}': the student feature {} must have a known channel count and the rank and spatial size of the teacher's {}",
                           h.student, type.shape ? batch_shape(ss) : std::string("of unknown shape"), batch_shape(ts));
    }
    const int64_t cs = ss[0], ct = ts[0];
    Shape wshape{ct, cs};
    for (size_t d = 1; d < ts.size(); ++d) wshape.push_back(1);
    std::mt19937_64 rng(options.seed * 1000003 + i + 1);
    std::uniform_real_distribution<float> u(-1.0f / std::sqrt(static_cast<float>(cs)), 1.0f / std::sqrt(static_cast<float>(cs)));
    auto param = [&](const std::string& name, const Shape& shape) {
      Tensor t = Tensor::create(DataType::kFloat32, shape).value();
      for (int64_t j = 0; j < t.numel(); ++j) t.data<float>()[j] = u(rng);
      std::vector<ir::Dim> dims;
      for (int64_t d : shape) dims.push_back(ir::Dim::of(d));
      ir::Value* v = typed_input(g, g.unique_name(name), DataType::kFloat32, dims);
      tg.hint_params.push_back(v->name());
      tg.hint_init.push_back(std::move(t));
      return v;
    };
    ir::Value* w = param(base + "/proj.weight", wshape);
    ir::Value* b = param(base + "/proj.bias", Shape{ct});
    ir::Value* proj = nullptr;
    if (ts.size() == 1) {
      std::map<std::string, ir::Attribute> a;
      a["transB"] = ops::attr_int(1);
      proj = add1(g, "Gemm", {features[i], w, b}, base + "/proj", std::move(a));
    } else {
      proj = add1(g, "Conv", {features[i], w, b}, base + "/proj");
    }
    std::vector<ir::Dim> tdims{ir::Dim::sym("batch")};
    for (int64_t d : ts) tdims.push_back(ir::Dim::of(d));
    ir::Value* target = typed_input(g, g.unique_name(base + "/target"), DataType::kFloat32, tdims);
    ir::Value* scale = typed_input(g, g.unique_name(base + "/scale"), DataType::kFloat32, std::vector<ir::Dim>{});
    tg.hints.push_back({target->name(), scale->name()});
    ir::Value* d = add1(g, "Sub", {proj, target}, base + "/diff");
    ir::Value* s = add1(g, "ReduceSum", {add1(g, "Mul", {d, d}, base + "/sq")}, base + "/sum");
    s->producer()->attributes()["keepdims"] = ops::attr_int(0);
    loss = add1(g, "Add", {loss, add1(g, "Mul", {s, scale}, base + "/term")}, base + "/loss");
  }
  return loss;
}

}  // namespace

Result<TrainingGraph> build_training_graph(const ir::Model& inference, const TrainGraphOptions& options) {
  TrainingGraph tg;
  PARE_ASSIGN_OR_RETURN(tg.model, clone_model(inference));
  ir::Model& m = *tg.model;
  ir::Graph& g = *m.graph;
  ir::Value* x = nullptr;
  for (ir::Value* v : g.inputs()) {
    if (!v->initializer()) {
      x = v;
      break;
    }
  }
  if (!x) return invalid_model("the model has no data input (every input is an initializer)");
  if (g.outputs().empty()) return invalid_model("the model has no output");
  tg.input = x->name();
  if (x->type().shape && !x->type().shape->empty()) (*x->type().shape)[0] = ir::Dim::sym("batch");
  ir::Value* logits = g.outputs()[0];
  tg.logits = logits->name();
  g.outputs().resize(1);
  if (m.opset("") < 7) return unsupported("opset {} is too old to train (need ≥ 7)", m.opset(""));
  bool has_pare = false, has_training = false;
  for (const auto& o : m.opsets) {
    has_pare |= o.domain == ops::kPareDomain;
    has_training |= o.domain == "ai.onnx.preview.training";
  }
  if (!has_pare) m.opsets.push_back({ops::kPareDomain, 1});
  if (!has_training) m.opsets.push_back({"ai.onnx.preview.training", 1});

  tg.params = trainable_params(m);
  if (tg.params.empty()) return invalid_model("the model has no float initializers to train");
  // Hint features are taken through an Identity inserted now, so that they survive the
  // training rewrites (which replace BatchNormalization/MaxPool/Dropout outputs).
  std::vector<ir::Value*> hint_features;
  for (size_t i = 0; i < options.hints.size(); ++i) {
    const std::string& name = options.hints[i].student;
    ir::Value* v = g.find_local_value(name);
    if (!v || v->initializer() || (!v->producer() && v != x)) return invalid_input("hint: the student model has no feature value named '{}'", name);
    if (options.hints[i].teacher_shape.empty()) return invalid_input("hint '{}': the teacher feature has no channel dimension", name);
    hint_features.push_back(add1(g, "Identity", {v}, "pare_train/hint" + std::to_string(i) + "/feature"));
  }
  // Their shapes come from the inference graph (the training kernels' shape rules may leave
  // spatial sizes open).
  std::vector<ir::TypeInfo> hint_types;
  if (!hint_features.empty()) {
    PARE_RETURN_IF_ERROR(passes::infer_shapes(m).status());
    for (ir::Value* f : hint_features) hint_types.push_back(f->type());
  }
  PARE_RETURN_IF_ERROR(rewrite_training_ops(g, tg));
  for (const std::string& p : tg.params) {
    ir::Value* v = g.find_local_value(p);
    std::vector<ir::Dim> dims;
    for (int64_t d : v->initializer()->shape()) dims.push_back(ir::Dim::of(d));
    v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
    v->clear_initializer();
    g.add_input(v);
  }
  PARE_RETURN_IF_ERROR(passes::infer_shapes(m).status());
  if (logits->type().shape && logits->type().shape->size() != 2) {
    return invalid_model("output '{}' must be logits [batch, classes], got {}", logits->name(), logits->type().to_string());
  }
  const std::optional<std::vector<ir::Dim>> zk = std::vector<ir::Dim>{ir::Dim::sym("batch"), ir::Dim::sym("classes")};
  ir::Value* loss = nullptr;
  if (options.loss == LossKind::kMse) {
    ir::Value* t = typed_input(g, kTarget, DataType::kFloat32, zk);
    ir::Value* k = typed_input(g, kMseScale, DataType::kFloat32, std::vector<ir::Dim>{});
    ir::Value* d = add1(g, "Sub", {logits, t}, "pare_train/diff");
    ir::Value* s = add1(g, "ReduceSum", {add1(g, "Mul", {d, d}, "pare_train/sq")}, "pare_train/sum", {});
    s->producer()->attributes()["keepdims"] = ops::attr_int(0);
    loss = add1(g, "Mul", {s, k}, "pare_train/mse");
  } else {
    auto logsm = [&](ir::Value* z, const std::string& name) {
      std::map<std::string, ir::Attribute> a;
      a["axis"] = ops::attr_int(1);
      return add1(g, "LogSoftmax", {z}, name, std::move(a));
    };
    auto weighted_sum = [&](ir::Value* ls, ir::Value* t, const std::string& name) {
      ir::Value* s = add1(g, "ReduceSum", {add1(g, "Mul", {ls, t}, name + "/prod")}, name);
      s->producer()->attributes()["keepdims"] = ops::attr_int(0);
      return s;
    };
    ir::Value* t = typed_input(g, kTarget, DataType::kFloat32, zk);
    ir::Value* total = weighted_sum(logsm(logits, "pare_train/log_softmax"), t, "pare_train/ce");
    if (options.temperature > 0) {
      ir::Value* st = typed_input(g, kSoftTarget, DataType::kFloat32, zk);
      ir::Value* temp = g.add_initializer(g.unique_name("pare_train/temperature"), Tensor::scalar<float>(options.temperature));
      ir::Value* zt = add1(g, "Div", {logits, temp}, "pare_train/z_over_t");
      total = add1(g, "Add", {total, weighted_sum(logsm(zt, "pare_train/log_softmax_t"), st, "pare_train/kd")}, "pare_train/sum");
    }
    loss = add1(g, "Neg", {total}, "pare_train/neg");
  }
  PARE_ASSIGN_OR_RETURN(loss, add_hint_losses(g, options, hint_features, hint_types, loss, tg));
  g.rename_value(loss, kLoss);
  g.outputs().insert(g.outputs().begin(), loss);
  g.outputs().insert(g.outputs().begin() + 1, logits);
  PARE_RETURN_IF_ERROR(passes::infer_shapes(m).status());
  std::vector<ir::Value*> grads;
  for (const std::string& p : tg.params) {
    grads.push_back(g.add_value(g.unique_name("pare_train/grad/" + p)));
    tg.grads.push_back(grads.back()->name());
  }
  for (const std::string& p : tg.hint_params) {
    grads.push_back(g.add_value(g.unique_name("pare_train/grad/" + p)));
    tg.hint_grads.push_back(grads.back()->name());
  }
  ir::Node* gn = g.add_node("Gradient", {}, grads, "ai.onnx.preview.training", "pare_train/gradient");
  ir::Attribute xs;
  xs.type = ir::AttrType::kStrings;
  xs.strings = tg.params;
  xs.strings.insert(xs.strings.end(), tg.hint_params.begin(), tg.hint_params.end());
  gn->attributes()["xs"] = std::move(xs);
  gn->attributes()["y"] = ops::attr_string(kLoss);
  for (ir::Value* v : grads) g.outputs().push_back(v);
  return tg;
}

}  // namespace pare::train
