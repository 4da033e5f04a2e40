#include "compress/distill/shrink.h"

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "train/training_graph.h"

namespace pare::distill {
namespace {

// Axis-1 width of a value: (teacher, student).
struct Width {
  int64_t from = 0, to = 0;
  bool scaled() const { return from != to; }
};

int64_t scaled(int64_t c, double w) { return std::max<int64_t>(1, std::llround(static_cast<double>(c) * w)); }

void fill_uniform(Tensor& t, double bound, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(static_cast<float>(-bound), static_cast<float>(bound));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
}

Tensor filled(const Shape& s, float v) {
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
  return t;
}

bool is_const(const ir::Value* v) { return v && v->initializer(); }

}  // namespace

int64_t parameter_count(const ir::Model& m) {
  int64_t n = 0;
  for (ir::Value* v : m.graph->initializers()) {
    if (v->initializer()->dtype() == DataType::kFloat32) n += v->initializer()->numel();
  }
  return n;
}

Result<std::unique_ptr<ir::Model>> shrink_model(const ir::Model& teacher, double width, uint64_t seed) {
  if (!(width > 0 && width <= 4)) return invalid_input("--shrink width must be in (0, 4], got {}", width);
  PARE_ASSIGN_OR_RETURN(auto model, train::clone_model(teacher));
  ir::Graph& g = *model->graph;
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  // Values from which a graph output is reachable through no parameterized layer: the layer
  // producing them is the classifier, whose output width stays.
  std::set<const ir::Value*> keep_width(g.outputs().begin(), g.outputs().end());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    ir::Node* n = *it;
    const std::string& op = n->op_type();
    if (op == "Conv" || op == "Gemm" || op == "MatMul") continue;
    bool out_kept = false;
    for (ir::Value* o : n->outputs()) out_kept |= o && keep_width.count(o);
    if (out_kept && n->input(0)) keep_width.insert(n->input(0));
  }
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 11);
  std::map<const ir::Value*, Width> w;
  for (ir::Value* v : g.inputs()) {
    if (!v->initializer() && v->type().shape && v->type().shape->size() >= 2) {
      const auto& d = (*v->type().shape)[1];
      w[v] = {d.known() ? d.value : -1, d.known() ? d.value : -1};
    }
  }
  auto width_of = [&](const ir::Value* v) -> Width {
    auto it = w.find(v);
    return it == w.end() ? Width{} : it->second;
  };
  std::set<ir::Value*> reinit_done;
  for (ir::Node* n : order) {
    const std::string& op = n->op_type();
    const Width in = width_of(n->input(0));
    if (op == "Conv") {
      ir::Value* wv = n->input(1);
      if (!is_const(wv)) return unsupported("{}: --shrink needs constant weights", n->describe());
      const Tensor& wt = *wv->initializer();
      const int64_t m = wt.dim(0), group = n->attr_int("group", 1);
      const int64_t cin_t = wt.dim(1) * group;
      const int64_t cin_s = in.to > 0 ? (in.from == cin_t ? in.to : -1) : cin_t;
      if (cin_s < 0) return unsupported("{}: input channel count is not tracked", n->describe());
      const int64_t m_s = keep_width.count(n->output(0)) ? m : scaled(m, width);
      int64_t group_s = group;
      if (group > 1) {
        if (group == cin_t && group == m) {
          group_s = cin_s;  // depthwise stays depthwise
          if (m_s != cin_s) return unsupported("{}: a depthwise conv's output width must follow its input", n->describe());
        } else if (cin_s % group || m_s % group) {
          return unsupported("{}: widths {}→{} are not divisible by group {}", n->describe(), cin_s, m_s, group);
        }
      }
      if (group_s != group) n->attributes()["group"].i = group_s;
      Shape ws = wt.shape();
      ws[0] = m_s;
      ws[1] = cin_s / group_s;
      Tensor nw = Tensor::create(DataType::kFloat32, ws).value();
      int64_t fan_in = 1;
      for (size_t i = 1; i < ws.size(); ++i) fan_in *= ws[i];
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      fill_uniform(nw, bound, rng);
      wv->set_initializer(nw);
      wv->type() = ir::TypeInfo();
      if (ir::Value* b = n->input(2)) {
        if (!is_const(b)) return unsupported("{}: --shrink needs a constant bias", n->describe());
        Tensor nb = Tensor::create(DataType::kFloat32, {m_s}).value();
        fill_uniform(nb, bound, rng);
        b->set_initializer(nb);
        b->type() = ir::TypeInfo();
      }
      w[n->output(0)] = {m, m_s};
    } else if (op == "Gemm" || op == "MatMul") {
      ir::Value* wv = n->input(1);
      if (!is_const(wv) || wv->initializer()->rank() != 2) {
        if (in.scaled()) return unsupported("{}: --shrink needs 2-D constant weights here", n->describe());
        continue;
      }
      const bool tb = op == "Gemm" && n->attr_int("transB", 0) != 0;
      if (op == "Gemm" && n->attr_int("transA", 0) != 0) return unsupported("{}: transA is not supported by --shrink", n->describe());
      const Tensor& wt = *wv->initializer();
      const int64_t kin = tb ? wt.dim(1) : wt.dim(0), kout = tb ? wt.dim(0) : wt.dim(1);
      int64_t kin_s = kin;
      if (in.scaled()) {
        if (kin % in.from) return unsupported("{}: {} input features are not a multiple of {} channels", n->describe(), kin, in.from);
        kin_s = kin / in.from * in.to;
      }
      const int64_t kout_s = keep_width.count(n->output(0)) ? kout : scaled(kout, width);
      Tensor nw = Tensor::create(DataType::kFloat32, tb ? Shape{kout_s, kin_s} : Shape{kin_s, kout_s}).value();
      const double bound = 1.0 / std::sqrt(static_cast<double>(kin_s));
      fill_uniform(nw, bound, rng);
      wv->set_initializer(nw);
      wv->type() = ir::TypeInfo();
      if (ir::Value* b = op == "Gemm" ? n->input(2) : nullptr) {
        if (!is_const(b)) return unsupported("{}: --shrink needs a constant bias", n->describe());
        Shape bs = b->initializer()->shape();
        if (!bs.empty() && bs.back() == kout) bs.back() = kout_s;
        Tensor nb = Tensor::create(DataType::kFloat32, bs).value();
        fill_uniform(nb, bound, rng);
        b->set_initializer(nb);
        b->type() = ir::TypeInfo();
      }
      w[n->output(0)] = {kout, kout_s};
    } else if (op == "BatchNormalization" || op == "InstanceNormalization") {
      const int64_t c = in.to;
      for (size_t i = 1; i < n->inputs().size(); ++i) {
        ir::Value* p = n->input(i);
        if (!is_const(p)) return unsupported("{}: --shrink needs constant parameters", n->describe());
        p->set_initializer(filled({c}, i == 1 || i == 4 ? 1.0f : 0.0f));
        p->type() = ir::TypeInfo();
      }
      w[n->output(0)] = in;
    } else if (op == "Flatten" || op == "Reshape") {
      if (op == "Reshape") {
        const ir::Value* s = n->input(1);
        if (!is_const(s)) return unsupported("{}: --shrink needs a constant shape", n->describe());
        PARE_ASSIGN_OR_RETURN(auto dims, s->initializer()->to_int64_vector("shape"));
        const bool flat = dims.size() == 2 && dims[1] == -1;
        if (in.scaled() && !flat) return unsupported("{}: only Reshape(x, [N, -1]) of scaled channels is supported", n->describe());
      } else if (n->attr_int("axis", 1) != 1 && in.scaled()) {
        return unsupported("{}: only Flatten(axis=1) of scaled channels is supported", n->describe());
      }
      w[n->output(0)] = in;  // features scale like the channels
    } else if (op == "Concat" || op == "Split") {
      if (in.scaled()) return unsupported("{}: {} of scaled tensors is not supported by --shrink", n->describe(), op);
    } else {
      // Elementwise, activations, pooling, dropout, softmax: the width follows input 0; a
      // constant operand of per-channel shape cannot follow.
      for (size_t i = 1; i < n->inputs().size(); ++i) {
        const ir::Value* v = n->input(i);
        if (in.scaled() && is_const(v) && v->initializer()->numel() > 1 && v->initializer()->dtype() == DataType::kFloat32) {
          return unsupported("{}: a constant operand cannot follow the scaled width", n->describe());
        }
        const Width other = width_of(v);
        if (in.scaled() && other.from > 0 && other.to != in.to) return unsupported("{}: operands of different scaled widths", n->describe());
      }
      for (ir::Value* o : n->outputs()) {
        if (o) w[o] = in;
      }
    }
  }
  // Static types of intermediate values changed: drop them (re-inferred at load).
  for (const auto& v : g.values()) {
    if (!v->initializer() && !v->is_graph_input()) {
      bool is_output = false;
      for (ir::Value* o : g.outputs()) is_output |= o == v.get();
      if (!is_output) v->type() = ir::TypeInfo();
    }
  }
  for (ir::Value* v : g.initializers()) {
    std::vector<ir::Dim> dims;
    for (int64_t d : v->initializer()->shape()) dims.push_back(ir::Dim::of(d));
    v->type() = ir::TypeInfo::tensor(v->initializer()->dtype(), dims);
  }
  model->producer_name = "pare distill --shrink";
  return model;
}

}  // namespace pare::distill
