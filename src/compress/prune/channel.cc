// Structured channel pruning: removes whole output channels of Conv (features of Gemm/MatMul)
// and rewires every consumer, so the result is a smaller dense model.
//
// Analysis (one walk in topological order) gives each value whose axis 1 carries prunable
// channels a ChannelMap: a list of segments, each either a channel group or fixed channels,
// and `inner`, the elements per channel after Flatten ([N, C, H, W] → [N, C·H·W]). A group is
// the set of channels that must be pruned with one index set: a source layer's output
// channels, united across residual Add/Mul (both operands carry the same channels). Channels
// flow unchanged through BatchNormalization, activations, pooling, Dropout, depthwise Conv
// (group = C: channel c reads only input channel c) and elementwise ops with per-channel
// constants; Concat on axis 1 joins segments; Flatten multiplies `inner`. Consumers (Conv
// input channels, Gemm/MatMul input features) take the kept indices. A group whose channels
// reach anything else (a graph output, Reshape, Softmax, a grouped Conv, …) is frozen: kept
// whole (a note names the node), or an error in strict mode.
//
// Rewrite: each recorded edit slices one initializer along one axis with the kept indices of
// a value's map (an initializer shared with another node is copied first).
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "compress/prune/internal.h"
#include "passes/pass.h"
#include "train/training_graph.h"

namespace pare::prune::internal {
namespace {

struct Segment {
  int group;  // < 0: fixed channels
  int64_t length;
};

struct ChannelMap {
  std::vector<Segment> segs;
  int64_t inner = 1;
  int64_t channels() const {
    int64_t c = 0;
    for (const auto& s : segs) c += s.length;
    return c;
  }
};

enum class Freeze { kNone, kOutput, kUnrewirable };

struct Group {
  int parent;
  int64_t channels;
  std::vector<ir::Node*> sources;
  Freeze frozen = Freeze::kNone;
  std::string reason;
};

// Slice input `input` of `node` along `axis` with the kept indices of `map_of`'s map.
struct Edit {
  ir::Node* node;
  int input;
  int axis;
  const ir::Value* map_of;
};

struct ComputeLayer {
  ir::Node* node;
  const ir::Value* in = nullptr;   // tracked input (or null)
  const ir::Value* out = nullptr;  // tracked output (or null)
  bool depthwise = false;
  double macs = 0;  // at batch 1, unpruned
};

const std::set<std::string> kPassThrough = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu", "Softplus", "Softsign",
    "Gelu", "Mish", "Identity", "Dropout", "Clip", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Sin", "Cos", "Reciprocal",
    "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ThresholdedRelu", "Shrink"};
const std::set<std::string> kBinary = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu"};

class Analysis {
 public:
  Analysis(ir::Graph& g, const Selector& sel, std::map<std::string, std::vector<int64_t>> shapes)
      : g_(g), sel_(sel), shapes_(std::move(shapes)) {}

  Status run() {
    PARE_ASSIGN_OR_RETURN(order_, g_.topological_order());
    for (ir::Node* n : order_) visit(n);
    for (ir::Value* o : g_.outputs()) {
      if (const ChannelMap* m = map(o)) freeze(*m, Freeze::kOutput, fmt::format("its channels reach the graph output '{}'", o->name()));
    }
    for (const auto& [v, m] : maps_) {
      for (const ir::Use& u : v->uses()) {
        if (u.node->owner() != &g_) freeze(m, Freeze::kUnrewirable, fmt::format("its channels are used inside a subgraph of {}", u.node->owner()->name()));
      }
    }
    return ok_status();
  }

  int find(int a) {
    while (groups_[a].parent != a) a = groups_[a].parent = groups_[groups_[a].parent].parent;
    return a;
  }
  std::vector<Group>& groups() { return groups_; }
  const std::vector<Edit>& edits() const { return edits_; }
  const std::vector<ComputeLayer>& layers() const { return layers_; }
  const ChannelMap* map(const ir::Value* v) const {
    auto it = maps_.find(v);
    return it == maps_.end() ? nullptr : &it->second;
  }

 private:
  std::optional<std::vector<int64_t>> shape(const ir::Value* v) const {
    auto it = shapes_.find(v->name());
    if (it == shapes_.end()) return std::nullopt;
    return it->second;
  }
  void freeze(const ChannelMap& m, Freeze kind, const std::string& reason) {
    for (const auto& s : m.segs) {
      if (s.group < 0) continue;
      Group& gr = groups_[find(s.group)];
      if (gr.frozen == Freeze::kNone || (gr.frozen == Freeze::kOutput && kind == Freeze::kUnrewirable)) {
        gr.frozen = kind;
        gr.reason = reason;
      }
    }
  }
  void block(ir::Node* n, const std::string& why = "") {
    for (ir::Value* v : n->inputs()) {
      if (const ChannelMap* m = map(v)) {
        freeze(*m, Freeze::kUnrewirable, fmt::format("its channels reach {}, which pruning cannot rewire{}", n->describe(), why));
      }
    }
  }
  void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    Group& ga = groups_[a];
    Group& gb = groups_[b];
    gb.parent = a;
    ga.sources.insert(ga.sources.end(), gb.sources.begin(), gb.sources.end());
    if (gb.frozen == Freeze::kUnrewirable || (gb.frozen == Freeze::kOutput && ga.frozen == Freeze::kNone)) {
      ga.frozen = gb.frozen;
      ga.reason = gb.reason;
    }
  }
  int new_group(ir::Node* src, int64_t c) {
    groups_.push_back({static_cast<int>(groups_.size()), c, {src}, Freeze::kNone, ""});
    return static_cast<int>(groups_.size()) - 1;
  }
  double macs_of(ir::Node* n, int64_t per_out) const {
    auto s = shape(n->output(0));
    if (!s) return 0;
    double e = 1;
    for (int64_t d : *s) {
      if (d < 0) return 0;
      e *= static_cast<double>(d);
    }
    return e * static_cast<double>(per_out);
  }

  void visit(ir::Node* n) {
    const std::string& op = n->op_type();
    ir::Value* x = n->input(0);
    const ChannelMap* in = map(x);
    Layer l;
    if (as_layer(n, &l)) return visit_layer(n, l, in);
    if (!n->domain().empty() && n->domain() != "ai.onnx") return block(n);
    if (op == "BatchNormalization") {
      for (int i = 1; i <= 4; ++i) {
        if (!n->input(i) || !n->input(i)->initializer() || n->input(i)->initializer()->rank() != 1) return block(n, " (non-constant parameters)");
      }
      if (in) {
        if (in->inner != 1) return block(n);
        for (int i = 1; i <= 4; ++i) edits_.push_back({n, i, 0, x});
        maps_[n->output(0)] = *in;
      }
      return;
    }
    if (kPassThrough.count(op)) {
      if (in) maps_[n->output(0)] = *in;
      return;
    }
    if (op == "Resize" || op == "Upsample") {
      if (!in) return;
      if (n->input(3)) return block(n, " (sizes input)");
      maps_[n->output(0)] = *in;
      return;
    }
    if (kBinary.count(op)) return visit_binary(n);
    if (op == "Concat") return visit_concat(n);
    if (op == "Flatten") {
      if (!in) return;
      auto s = shape(x);
      const int64_t axis = n->attr_int("axis", 1);
      if (!s || axis != 1) return block(n, " (only axis 1 with a known input shape)");
      int64_t inner = in->inner;
      for (size_t i = 2; i < s->size(); ++i) {
        if ((*s)[i] < 0) return block(n, " (unknown spatial extent)");
        inner *= (*s)[i];
      }
      ChannelMap m = *in;
      m.inner = inner;
      maps_[n->output(0)] = m;
      return;
    }
    block(n);
  }

  void visit_layer(ir::Node* n, const Layer& l, const ChannelMap* in) {
    const std::string& op = n->op_type();
    const Tensor& w = *l.weight->initializer();
    ComputeLayer cl{n};
    cl.in = in ? n->input(0) : nullptr;
    if (op == "Conv") {
      const int64_t group = n->attr_int("group", 1);
      const bool depthwise = group > 1 && w.dim(1) == 1 && w.dim(0) == group;
      cl.macs = macs_of(n, w.numel() / w.dim(0));
      if (n->input(2) && !l.bias) {
        if (in) block(n, " (non-constant bias)");
        layers_.push_back(cl);
        return;
      }
      if (depthwise) {
        cl.depthwise = true;
        if (in && in->inner == 1) {
          edits_.push_back({n, 1, 0, n->input(0)});
          if (l.bias) edits_.push_back({n, 2, 0, n->input(0)});
          maps_[n->output(0)] = *in;
          cl.out = n->output(0);
        } else if (in) {
          block(n);
        }
        layers_.push_back(cl);
        return;
      }
      if (in) {
        if (group != 1 || in->inner != 1) {
          block(n, fmt::format(" (grouped Conv, group {})", group));
          cl.in = nullptr;
        } else {
          edits_.push_back({n, 1, 1, n->input(0)});
        }
      }
      if (group == 1 && sel_.selected(*n)) {
        maps_[n->output(0)] = ChannelMap{{{new_group(n, w.dim(0)), w.dim(0)}}, 1};
        edits_.push_back({n, 1, 0, n->output(0)});
        if (l.bias) edits_.push_back({n, 2, 0, n->output(0)});
        cl.out = n->output(0);
      }
      layers_.push_back(cl);
      return;
    }
    // Gemm / MatMul with a 2-D constant weight.
    const bool tb = op == "Gemm" && n->attr_int("transB", 0) != 0;
    const int64_t k = tb ? w.dim(1) : w.dim(0), nout = tb ? w.dim(0) : w.dim(1);
    cl.macs = macs_of(n, k);
    auto xs = shape(n->input(0));
    const bool rank2 = xs && xs->size() == 2;
    const bool trans_a = op == "Gemm" && n->attr_int("transA", 0) != 0;
    if (in) {
      if (trans_a || !rank2) {
        block(n, trans_a ? " (transA)" : " (input is not 2-D)");
        cl.in = nullptr;
      } else {
        edits_.push_back({n, 1, tb ? 1 : 0, n->input(0)});
      }
    }
    bool can_source = !trans_a && rank2 && sel_.selected(*n);
    ir::Value* c = op == "Gemm" ? n->input(2) : nullptr;
    int c_axis = -1;
    if (c) {
      if (!c->initializer()) {
        can_source = false;
      } else {
        const Tensor& ct = *c->initializer();
        if (ct.numel() == nout && nout > 1 && (ct.rank() == 1 || (ct.rank() == 2 && ct.dim(0) == 1))) {
          c_axis = static_cast<int>(ct.rank()) - 1;
        } else if (ct.numel() != 1) {
          can_source = false;  // a full [M, N] bias
        }
      }
    }
    if (can_source) {
      maps_[n->output(0)] = ChannelMap{{{new_group(n, nout), nout}}, 1};
      edits_.push_back({n, 1, tb ? 0 : 1, n->output(0)});
      if (c_axis >= 0) edits_.push_back({n, 2, c_axis, n->output(0)});
      cl.out = n->output(0);
    }
    layers_.push_back(cl);
  }

  void visit_binary(ir::Node* n) {
    std::vector<const ChannelMap*> tracked;
    for (ir::Value* v : n->inputs()) {
      if (const ChannelMap* m = map(v)) tracked.push_back(m);
    }
    if (tracked.empty()) return;
    auto os = shape(n->output(0));
    if (!os || os->size() < 2) return block(n, " (unknown output rank)");
    const int64_t R = static_cast<int64_t>(os->size()), C = tracked[0]->channels();
    for (const ChannelMap* m : tracked) {
      bool same = m->inner == tracked[0]->inner && m->segs.size() == tracked[0]->segs.size();
      for (size_t i = 0; same && i < m->segs.size(); ++i) same = m->segs[i].length == tracked[0]->segs[i].length;
      if (!same) return block(n, " (operands with different channel layouts)");
    }
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      ir::Value* v = n->input(i);
      if (!v || map(v)) {
        if (v) {
          auto s = shape(v);
          if (!s || static_cast<int64_t>(s->size()) != R) return block(n, " (an operand broadcasts over the channel axis)");
        }
        continue;
      }
      std::vector<int64_t> s;
      if (v->initializer()) {
        s = v->initializer()->shape();
      } else if (auto vs = shape(v)) {
        s = *vs;
      } else {
        return block(n, fmt::format(" (operand '{}' of unknown shape)", v->name()));
      }
      const int64_t ax = 1 - (R - static_cast<int64_t>(s.size()));
      if (ax < 0 || s[ax] == 1) continue;
      if (tracked[0]->inner == 1 && v->initializer() && s[ax] == C) {
        edits_.push_back({n, static_cast<int>(i), static_cast<int>(ax), n->output(0)});
        continue;
      }
      return block(n, fmt::format(" (operand '{}' carries channels that are not pruned with it)", v->name()));
    }
    for (const ChannelMap* m : tracked) {
      for (size_t i = 0; i < m->segs.size(); ++i) {
        const int a = tracked[0]->segs[i].group, b = m->segs[i].group;
        if ((a < 0) != (b < 0)) {
          freeze(*m, Freeze::kUnrewirable, fmt::format("{} combines its channels with fixed ones", n->describe()));
          freeze(*tracked[0], Freeze::kUnrewirable, fmt::format("{} combines its channels with fixed ones", n->describe()));
        } else if (a >= 0) {
          unite(a, b);
        }
      }
    }
    maps_[n->output(0)] = *tracked[0];
  }

  void visit_concat(ir::Node* n) {
    bool any = false;
    for (ir::Value* v : n->inputs()) any |= map(v) != nullptr;
    if (!any) return;
    auto os = shape(n->output(0));
    int64_t axis = n->attr_int("axis", 0);
    if (!os) return block(n, " (unknown rank)");
    if (axis < 0) axis += static_cast<int64_t>(os->size());
    if (axis != 1) return block(n, " (not along the channel axis)");
    ChannelMap out;
    for (ir::Value* v : n->inputs()) {
      if (const ChannelMap* m = map(v)) {
        if (m->inner != 1) return block(n);
        out.segs.insert(out.segs.end(), m->segs.begin(), m->segs.end());
      } else {
        auto s = v->initializer() ? std::optional<std::vector<int64_t>>(v->initializer()->shape()) : shape(v);
        if (!s || s->size() < 2 || (*s)[1] < 0) return block(n, fmt::format(" (input '{}' of unknown channel count)", v->name()));
        out.segs.push_back({-1, (*s)[1]});
      }
    }
    maps_[n->output(0)] = out;
  }

  ir::Graph& g_;
  const Selector& sel_;
  std::map<std::string, std::vector<int64_t>> shapes_;
  std::vector<ir::Node*> order_;
  std::map<const ir::Value*, ChannelMap> maps_;
  std::vector<Group> groups_;
  std::vector<Edit> edits_;
  std::vector<ComputeLayer> layers_;
};

// Static shapes of every value at batch 1 (unknown extents -1), by value name.
Result<std::map<std::string, std::vector<int64_t>>> batch1_shapes(const ir::Model& model) {
  PARE_ASSIGN_OR_RETURN(auto m, train::clone_model(model));
  for (ir::Value* in : m->graph->inputs()) {
    if (in->initializer() || !in->type().shape) continue;
    for (auto& d : *in->type().shape) {
      if (!d.known()) d = ir::Dim::of(1);
    }
  }
  PARE_RETURN_IF_ERROR(passes::infer_shapes(*m).status());
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& v : m->graph->values()) {
    const auto& t = v->type();
    if (t.kind != ir::TypeInfo::Kind::kTensor || !t.shape) continue;
    std::vector<int64_t> s;
    for (const auto& d : *t.shape) s.push_back(d.known() ? d.value : -1);
    out[v->name()] = s;
  }
  return out;
}

// Per-channel importance of a source layer's output channels (normalized to mean 1).
std::vector<double> weight_norms(ir::Node* n, bool l2) {
  const Tensor& w = *n->input(1)->initializer();
  const bool cols = n->op_type() != "Conv" && !(n->op_type() == "Gemm" && n->attr_int("transB", 0) != 0);
  const int64_t c = cols ? w.dim(1) : w.dim(0), per = w.numel() / c;
  std::vector<double> s(static_cast<size_t>(c), 0.0);
  const float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int64_t ch = cols ? i % c : i / per;
    s[ch] += l2 ? static_cast<double>(p[i]) * p[i] : std::abs(p[i]);
  }
  double mean = 0;
  for (double& v : s) mean += (v = l2 ? std::sqrt(v) : v);
  mean /= static_cast<double>(c);
  if (mean > 0) {
    for (double& v : s) v /= mean;
  }
  return s;
}

Status slice_input(ir::Graph& g, ir::Node* n, int idx, int axis, const std::vector<int64_t>& keep) {
  ir::Value* v = n->input(idx);
  if (!v || !v->initializer()) return internal_error("{}: input {} is not a constant", n->describe(), idx);
  const Tensor& t = *v->initializer();
  if (axis >= t.rank()) return internal_error("{}: cannot slice '{}' on axis {}", n->describe(), v->name(), axis);
  if (static_cast<int64_t>(keep.size()) == t.dim(axis)) return ok_status();
  if (!keep.empty() && keep.back() >= t.dim(axis)) {
    return internal_error("{}: channel {} is outside '{}' {}", n->describe(), keep.back(), v->name(), shape_to_string(t.shape()));
  }
  Shape s = t.shape();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t old = s[axis];
  s[axis] = static_cast<int64_t>(keep.size());
  PARE_ASSIGN_OR_RETURN(Tensor nt, Tensor::create(DataType::kFloat32, s));
  const float* src = t.data<float>();
  float* dst = nt.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t j = 0; j < keep.size(); ++j) std::copy_n(src + (o * old + keep[j]) * inner, inner, dst + (o * s[axis] + j) * inner);
  }
  std::vector<ir::Dim> dims;
  for (int64_t d : s) dims.push_back(ir::Dim::of(d));
  if (v->uses().size() > 1 || v->is_graph_input()) {
    ir::Value* nv = g.add_initializer(g.unique_name(v->name() + "_pruned"), std::move(nt));
    nv->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
    n->set_input(idx, nv);
  } else {
    v->set_initializer(std::move(nt));
    v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
  }
  return ok_status();
}

}  // namespace

Status prune_channels(ir::Model& model, const Options& o, std::map<std::string, std::vector<int64_t>>& removed, std::vector<std::string>& notes) {
  ir::Graph& g = *model.graph;
  PARE_ASSIGN_OR_RETURN(auto sel, Selector::create(o));
  PARE_ASSIGN_OR_RETURN(auto shapes, batch1_shapes(model));
  Analysis a(g, sel, shapes);
  PARE_RETURN_IF_ERROR(a.run());
  auto& groups = a.groups();
  std::vector<int> roots;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (a.find(static_cast<int>(i)) == static_cast<int>(i)) roots.push_back(static_cast<int>(i));
  }
  if (groups.empty()) return invalid_input("no Conv/Gemm/MatMul with a constant float weight matches --op-types/--include/--exclude");
  std::vector<int> prunable;
  for (int r : roots) {
    Group& gr = groups[r];
    const std::string who = gr.sources.empty() ? "?" : gr.sources[0]->describe();
    const std::string more = gr.sources.size() > 1 ? fmt::format(" (and {} layers pruned with it)", gr.sources.size() - 1) : "";
    if (gr.frozen == Freeze::kUnrewirable && o.strict) return unsupported("cannot prune the output channels of {}{}: {}", who, more, gr.reason);
    if (gr.frozen != Freeze::kNone) {
      notes.push_back(fmt::format("output channels of {}{} kept: {}", who, more, gr.reason));
    } else if (gr.channels > 1) {
      prunable.push_back(r);
    }
  }
  if (prunable.empty()) {
    std::string why;
    for (const auto& nt : notes) why += "; " + nt;
    return unsupported("no channel group can be pruned{}", why);
  }

  // Importance per prunable group: Σ over its sources of the normalized weight norms, or |γ|
  // of the BatchNormalization nodes that read its channels.
  std::map<int, std::vector<double>> score;
  if (o.criterion == Criterion::kBatchNorm) {
    for (const auto& up : g.nodes()) {
      ir::Node* n = up.get();
      const ChannelMap* m = n->op_type() == "BatchNormalization" ? a.map(n->input(0)) : nullptr;
      if (!m || !n->input(1)->initializer()) continue;
      const float* gamma = n->input(1)->initializer()->data<float>();
      int64_t off = 0;
      for (const auto& s : m->segs) {
        if (s.group >= 0) {
          auto& v = score[a.find(s.group)];
          v.resize(static_cast<size_t>(s.length), 0.0);
          for (int64_t c = 0; c < s.length; ++c) v[c] += std::abs(gamma[off + c]);
        }
        off += s.length;
      }
    }
  }
  for (int r : prunable) {
    if (score.count(r)) continue;
    if (o.criterion == Criterion::kBatchNorm) {
      notes.push_back(fmt::format("{}: no BatchNormalization follows; ranked by L1 norm", groups[r].sources[0]->describe()));
    }
    std::vector<double> s(static_cast<size_t>(groups[r].channels), 0.0);
    for (ir::Node* src : groups[r].sources) {
      auto w = weight_norms(src, o.criterion == Criterion::kL2);
      for (size_t c = 0; c < s.size() && c < w.size(); ++c) s[c] += w[c];
    }
    score[r] = std::move(s);
  }

  // Channels kept by a group at prune ratio p (the same ratio for every prunable group).
  std::map<int, int64_t> kept;
  auto set_ratio = [&](double p) {
    for (int r : prunable) {
      const int64_t c = groups[r].channels;
      int64_t k = std::max<int64_t>(1, c - static_cast<int64_t>(std::floor(p * static_cast<double>(c) + 1e-9)));
      if (o.round_to > 1 && c > o.round_to) k = std::min(c, (k + o.round_to - 1) / o.round_to * o.round_to);
      kept[r] = k;
    }
  };
  auto kept_count = [&](const ir::Value* v) -> double {
    const ChannelMap* m = a.map(v);
    double k = 0;
    for (const auto& s : m->segs) {
      auto it = s.group >= 0 ? kept.find(a.find(s.group)) : kept.end();
      k += static_cast<double>(it == kept.end() ? s.length : it->second);
    }
    return k / static_cast<double>(m->channels());
  };
  auto macs = [&]() {
    double total = 0;
    for (const auto& l : a.layers()) {
      const double ro = l.out ? kept_count(l.out) : 1.0;
      const double ri = l.in && !l.depthwise ? kept_count(l.in) : 1.0;
      total += l.macs * ro * ri;
    }
    return total;
  };
  double ratio = o.channels_fraction.value_or(0);
  if (o.target_flops) {
    set_ratio(0);
    const double full = macs(), goal = *o.target_flops * full;
    set_ratio(0.999);
    if (macs() > goal * (1 + 1e-9)) {
      return unsupported("--target-flops {} cannot be reached: with every prunable group cut to 1 channel {:.1f}% of the FLOPs remain ({} groups "
                         "fixed; see --strict for why)",
                         *o.target_flops, 100 * macs() / full, roots.size() - prunable.size());
    }
    double lo = 0, hi = 0.999;
    for (int it = 0; it < 40; ++it) {
      const double mid = (lo + hi) / 2;
      set_ratio(mid);
      (macs() <= goal * (1 + 1e-9) ? hi : lo) = mid;
    }
    ratio = hi;
    set_ratio(ratio);
    // Spend what the rounding left under the target: add round_to channels at a time to the
    // group where they cost the fewest FLOPs per channel, while the total stays within it.
    for (;;) {
      const double cur = macs();
      int best = -1;
      int64_t best_step = 0;
      double best_cost = 0;
      for (int r : prunable) {
        const int64_t step = std::min(o.round_to, groups[r].channels - kept[r]);
        if (step <= 0) continue;
        kept[r] += step;
        const double m = macs();
        kept[r] -= step;
        const double cost = (m - cur) / static_cast<double>(step);
        if (m <= goal * (1 + 1e-9) && (best < 0 || cost < best_cost)) {
          best = r;
          best_step = step;
          best_cost = cost;
        }
      }
      if (best < 0) break;
      kept[best] += best_step;
    }
  } else {
    set_ratio(ratio);
  }

  // Kept indices per group: its `kept` highest scores, in index order.
  std::map<int, std::vector<int64_t>> keep;
  for (int r : prunable) {
    const auto& s = score[r];
    std::vector<int64_t> idx(s.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
    idx.resize(static_cast<size_t>(kept[r]));
    std::sort(idx.begin(), idx.end());
    std::vector<int64_t> gone;
    for (int64_t c = 0, j = 0; c < static_cast<int64_t>(s.size()); ++c) {
      if (j < static_cast<int64_t>(idx.size()) && idx[j] == c) {
        ++j;
      } else {
        gone.push_back(c);
      }
    }
    for (ir::Node* src : groups[r].sources) removed[src->name()] = gone;
    keep[r] = std::move(idx);
  }
  auto kept_indices = [&](const ir::Value* v) {
    const ChannelMap* m = a.map(v);
    std::vector<int64_t> out;
    int64_t off = 0;
    for (const auto& s : m->segs) {
      auto it = s.group >= 0 ? keep.find(a.find(s.group)) : keep.end();
      for (int64_t j = 0; j < s.length; ++j) {
        if (it != keep.end() && !std::binary_search(it->second.begin(), it->second.end(), j)) continue;
        for (int64_t e = 0; e < m->inner; ++e) out.push_back((off + j) * m->inner + e);
      }
      off += s.length;
    }
    return out;
  };

  // Rewrite.
  for (const Edit& e : a.edits()) PARE_RETURN_IF_ERROR(slice_input(g, e.node, e.input, e.axis, kept_indices(e.map_of)));
  for (const auto& l : a.layers()) {
    if (l.depthwise && l.out) l.node->attributes()["group"] = ir::Attribute::of(l.node->input(1)->initializer()->dim(0));
  }
  std::set<const ir::Value*> io(g.outputs().begin(), g.outputs().end());
  for (const auto& v : g.values()) {
    if (!v->is_graph_input() && !io.count(v.get()) && !v->initializer()) v->type() = ir::TypeInfo();
  }
  g.remove_dead_values();
  PARE_RETURN_IF_ERROR(g.verify());
  // The graph outputs must keep their shapes (a broken rewiring shows here, not at run time).
  PARE_ASSIGN_OR_RETURN(auto after, batch1_shapes(model));
  for (const ir::Value* out : g.outputs()) {
    auto b = shapes.find(out->name()), c = after.find(out->name());
    if (b != shapes.end() && (c == after.end() || c->second != b->second)) {
      return internal_error("channel pruning changed the shape of output '{}' (a rewiring bug)", out->name());
    }
  }
  return ok_status();
}

}  // namespace pare::prune::internal
