// Keeps activations in oneDNN's blocked channel layout between consecutive convolutions:
//   FusedConv → Relu → FusedConv → MaxPool …   (each oneDNN op reordering NCHW ⇄ nChw16c)
//   ⇒ FusedConv[out blocked] → Relu → FusedConv[in, out blocked] → BlockedPool …
// with one LayoutToBlocked where plain data enters the blocked region and one LayoutToPlain
// where it leaves (ops/fused/blocked.h: [N, ⌈C/b⌉, spatial…, b], b = 16 with AVX-512, else 8).
//
// Valid because every op left in the region computes each channel independently: FusedConv
// and BlockedPool are layout-aware; elementwise ops are indifferent to where a channel is
// stored, as long as their operands share one layout (binary ops need equal channel counts
// on both blocked operands, or a scalar constant). The padding channels (C..⌈C/b⌉·b) may
// take any finite value (Sigmoid(0) = 0.5): convolution weights are zero there and
// LayoutToPlain drops them, so ops that could make them NaN/Inf (Div, Log, …) stay outside.
#include <set>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

constexpr const char* kPare = "com.pare";

int64_t block_size() { return __builtin_cpu_supports("avx512f") ? 16 : 8; }

bool is_pare(const ir::Node& n, const char* op) { return n.domain() == kPare && n.op_type() == op; }

const std::set<std::string> kUnary = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Clip",
                                      "Elu", "Selu", "Identity", "Neg", "Abs", "Erf", "Gelu"};

bool is_float(const ir::Value* v) {
  return v && v->type().kind == ir::TypeInfo::Kind::kTensor && v->type().dtype == DataType::kFloat32;
}

bool is_scalar_constant(const ir::Value* v) {
  const Tensor* t = constant_value(v);
  return t && t->numel() == 1;
}

class Converter {
 public:
  Converter(ir::Graph& g, int64_t block) : g_(g), block_(block) {}

  Result<bool> run() {
    PARE_ASSIGN_OR_RETURN(auto order, g_.topological_order());
    for (ir::Node* n : order) {
      if (is_pare(*n, "FusedConv")) {
        PARE_RETURN_IF_ERROR(convert_conv(n));
      } else if (ir::Node* p = n; is_pool(*p) && blocked_.count(p->input(0))) {
        convert_pool(p);
      } else if (elementwise_ok(*n)) {
        aware_.insert(n);
        blocked_[n->output(0)] = channels_of_inputs(*n);
      }
    }
    if (blocked_.empty()) return false;
    PARE_RETURN_IF_ERROR(leave_region());
    for (auto& [v, c] : blocked_) v->type().shape.reset();  // re-inferred after this pass
    return true;
  }

 private:
  // A value in blocked layout (inserting LayoutToBlocked for plain ones, once per value).
  ir::Value* blocked_version(ir::Value* v, int64_t channels) {
    if (blocked_.count(v)) return v;
    if (auto it = to_blocked_.find(v); it != to_blocked_.end()) return it->second;
    ir::Value* b = g_.add_value(g_.unique_name(v->name() + "/blocked"));
    ir::Node* n = g_.add_node("LayoutToBlocked", {v}, {b}, kPare, b->name());
    n->attributes()["block"] = ir::Attribute::of(block_);
    b->type() = ir::TypeInfo::tensor(v->type().dtype);
    to_blocked_[v] = b;
    created_.insert(n);
    (void)channels;
    return b;
  }

  Status convert_conv(ir::Node* n) {
    if (n->attr_int("input_block", 0) || n->attr_int("output_block", 0) || !is_float(n->input(0))) return ok_status();
    const Tensor* w = constant_value(n->input(1));
    if (!w || w->rank() < 3 || w->rank() > 5) return ok_status();
    const int64_t cin = w->dim(1) * n->attr_int("group", 1), cout = w->dim(0);
    ir::Value* x = n->input(0);
    // Few input channels (an image's 3): oneDNN reads plain data directly, blocking would
    // multiply the first layer's work by b/C.
    if (blocked_.count(x) || cin >= block_ / 2) {
      n->set_input(0, blocked_version(x, cin));
      n->attributes()["input_block"] = ir::Attribute::of(block_);
    }
    if (ir::Value* z = n->input(3)) n->set_input(3, blocked_version(z, cout));
    n->attributes()["output_block"] = ir::Attribute::of(block_);
    aware_.insert(n);
    blocked_[n->output(0)] = cout;
    return ok_status();
  }

  static bool is_pool(const ir::Node& n) {
    if (is_op(n, "MaxPool")) {
      if (n.output(1) && (!n.output(1)->uses().empty() || is_graph_output(n.output(1)))) return false;
      return n.attr_ints("dilations").empty() || n.attr_ints("dilations") == std::vector<int64_t>(n.attr_ints("dilations").size(), 1);
    }
    return is_op(n, "AveragePool") || is_op(n, "GlobalAveragePool") || is_op(n, "GlobalMaxPool");
  }

  void convert_pool(ir::Node* n) {
    const int64_t c = blocked_[n->input(0)];
    n->attributes()["pool"] = ir::Attribute::of(n->op_type());
    n->set_op(kPare, "BlockedPool");
    n->attributes()["block"] = ir::Attribute::of(block_);
    n->attributes()["channels"] = ir::Attribute::of(c);
    n->remove_trailing_inputs(1);
    aware_.insert(n);
    blocked_[n->output(0)] = c;
  }

  bool is_blocked(const ir::Value* v) const { return blocked_.count(const_cast<ir::Value*>(v)) != 0; }
  int64_t channels(const ir::Value* v) const { return blocked_.at(const_cast<ir::Value*>(v)); }

  // Elementwise ops that may run on blocked operands (see the header comment).
  bool elementwise_ok(const ir::Node& n) const {
    if (!(n.domain().empty() || n.domain() == "ai.onnx") || n.outputs().size() != 1 || !is_float(n.output(0))) return false;
    const ir::Value* x = n.input(0);
    if (kUnary.count(n.op_type())) {
      if (!is_blocked(x)) return false;
      for (size_t i = 1; i < n.inputs().size(); ++i) {
        if (n.input(i) && !is_scalar_constant(n.input(i))) return false;
      }
      return true;
    }
    if (n.op_type() != "Add" && n.op_type() != "Sub" && n.op_type() != "Mul" && n.op_type() != "Div") return false;
    if (n.inputs().size() != 2 || !n.input(0) || !n.input(1)) return false;
    const ir::Value* y = n.input(1);
    if (n.op_type() == "Div") {
      const Tensor* d = constant_value(y);
      return is_blocked(x) && d && d->numel() == 1 && d->dtype() == DataType::kFloat32 && d->data<float>()[0] != 0;
    }
    const bool bx = is_blocked(x), by = is_blocked(y);
    if (bx && by) return channels(x) == channels(y) && same_rank(x, y);
    return (bx && is_scalar_constant(y)) || (by && is_scalar_constant(x));
  }

  static bool same_rank(const ir::Value* a, const ir::Value* b) {
    return a->type().shape && b->type().shape && a->type().shape->size() == b->type().shape->size();
  }

  int64_t channels_of_inputs(const ir::Node& n) const {
    for (const ir::Value* v : n.inputs()) {
      if (auto it = blocked_.find(const_cast<ir::Value*>(v)); it != blocked_.end()) return it->second;
    }
    return 0;
  }

  // Every consumer outside the region (and graph outputs) gets the plain value back.
  Status leave_region() {
    for (auto& [v, channels] : blocked_) {
      std::vector<ir::Use> outside;
      for (const ir::Use& u : v->uses()) {
        if (!aware_.count(u.node) && !created_.count(u.node)) outside.push_back(u);
      }
      const bool output = is_graph_output(v);
      if (outside.empty() && !output) continue;
      const std::string name = v->name();
      ir::Value* plain = g_.add_value(g_.unique_name(name + "/plain"));
      plain->type() = v->type();
      if (output) {
        g_.rename_value(v, g_.unique_name(name + "/blocked"));
        g_.rename_value(plain, name);
        for (ir::Value*& o : g_.outputs()) {
          if (o == v) o = plain;
        }
      }
      ir::Node* n = g_.add_node("LayoutToPlain", {v}, {plain}, kPare, plain->name());
      n->attributes()["channels"] = ir::Attribute::of(channels);
      for (const ir::Use& u : outside) u.node->set_input(static_cast<size_t>(u.input_index), plain);
    }
    return ok_status();
  }

  ir::Graph& g_;
  int64_t block_;
  std::map<ir::Value*, int64_t> blocked_;  // value in blocked layout → its plain channel count
  std::map<ir::Value*, ir::Value*> to_blocked_;
  std::set<const ir::Node*> aware_, created_;
};

}  // namespace

Result<bool> convert_layout_blocked(ir::Model& model) {
  Converter c(*model.graph, block_size());
  PARE_ASSIGN_OR_RETURN(bool changed, c.run());
  if (changed && model.opset(kPare) < 0) model.opsets.push_back({kPare, 1});
  return changed;
}

}  // namespace pare::passes
