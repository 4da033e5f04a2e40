// Static shape and type inference over the whole model (subgraphs included), in topological
// order: nodes whose inputs are all constant and small are evaluated with their reference
// kernel (so shape arithmetic like Shape → Gather → Concat → Reshape yields constants the next
// rule can use); other nodes use their rule in ops/infer. Annotates Value types only — the
// graph is not changed, and nothing here can fail a model (unknowns are resolved at run time).
#include <algorithm>
#include <set>
#include <unordered_map>

#include "ops/infer/infer.h"
#include "ops/kernel.h"
#include "passes/pass.h"

namespace pare::passes {
namespace {

constexpr int64_t kMaxFoldElements = int64_t{1} << 16;

bool is_nondeterministic(const std::string& op) {
  static const std::set<std::string> kOps = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                             "RandomUniformLike", "Bernoulli", "Multinomial", "Dropout"};
  return kOps.count(op) != 0;
}

class Inferrer {
 public:
  explicit Inferrer(const ir::Model& m) : model_(m) {}

  void graph(const ir::Graph& g) {
    auto order = g.topological_order();
    if (!order.ok()) return;
    for (ir::Node* n : *order) {
      node(*n);
      for (ir::Graph* sg : n->subgraphs()) graph(*sg);
    }
  }

 private:
  const Tensor* constant_of(const ir::Value* v) const {
    if (!v) return nullptr;
    if (v->initializer()) return &*v->initializer();
    auto it = folded_.find(v);
    return it == folded_.end() ? nullptr : &it->second;
  }

  int64_t opset_of(const ir::Node& n) const {
    int64_t o = model_.opset(n.domain());
    return o < 0 && n.domain().empty() ? model_.opset("") : o;
  }

  // Evaluates a node on constant inputs; true if all its outputs became constants.
  bool fold(ir::Node& n, const std::vector<const Tensor*>& consts) {
    if (is_nondeterministic(n.op_type()) || !n.subgraphs().empty()) return false;
    std::vector<RunValue> in_values;
    int64_t total = 0;
    for (size_t i = 0; i < n.inputs().size(); ++i) {
      if (!n.input(i)) {
        in_values.emplace_back();
        continue;
      }
      if (!consts[i]) return false;
      total += consts[i]->numel();
      in_values.emplace_back(*consts[i]);
    }
    if (total > kMaxFoldElements) return false;
    ops::KernelInit init{n, opset_of(n), 1};
    auto kernel = ops::KernelRegistry::reference().create(init);
    if (!kernel.ok()) return false;
    std::vector<const RunValue*> ptrs;
    for (const auto& v : in_values) ptrs.push_back(&v);
    std::vector<RunValue> outs(n.outputs().size());
    ops::KernelContext ctx(n, ptrs, &outs, nullptr, 1);
    if (!(*kernel)->run(ctx).ok()) return false;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!outs[i].is_tensor() || outs[i].tensor.numel() > kMaxFoldElements) return false;
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      ir::Value* v = n.output(i);
      if (!v) continue;
      v->type() = ir::TypeInfo::tensor(outs[i].tensor.dtype(), ops::dims_of(outs[i].tensor.shape()));
      folded_[v] = outs[i].tensor;
    }
    return true;
  }

  void node(ir::Node& n) {
    std::vector<const Tensor*> consts;
    bool all_const = true;
    for (ir::Value* v : n.inputs()) {
      consts.push_back(constant_of(v));
      all_const &= (v == nullptr || consts.back() != nullptr);
    }
    if (all_const && fold(n, consts)) return;
    // Shape/Size of a fully static input are constants too.
    if ((n.op_type() == "Shape" || n.op_type() == "Size") && n.input(0) && n.output(0)) {
      const auto& t = n.input(0)->type();
      if (t.kind == ir::TypeInfo::Kind::kTensor && t.shape &&
          std::all_of(t.shape->begin(), t.shape->end(), [](const ir::Dim& d) { return d.known(); })) {
        Shape s;
        for (const auto& d : *t.shape) s.push_back(d.value);
        if (n.op_type() == "Shape") {
          Tensor st = Tensor::from_vector<int64_t>({static_cast<int64_t>(s.size())}, s);
          if (fold_with(n, st)) return;
        } else {
          int64_t total = 1;
          for (int64_t d : s) total *= d;
          n.output(0)->type() = ir::TypeInfo::tensor(DataType::kInt64, std::vector<ir::Dim>{});
          folded_[n.output(0)] = Tensor::scalar<int64_t>(total);
          return;
        }
      }
    }
    ops::InferFn rule = ops::find_infer_rule(n.domain(), n.op_type());
    if (!rule) return;
    ops::InferContext ctx(n, opset_of(n), consts);
    rule(ctx);
    for (size_t i = 0; i < ctx.outputs().size(); ++i) {
      ir::Value* v = n.output(i);
      const ir::TypeInfo& t = ctx.outputs()[i];
      if (!v || t.kind == ir::TypeInfo::Kind::kUnknown) continue;
      if (t.kind == ir::TypeInfo::Kind::kTensor && !t.shape && v->type().shape) {
        if (t.dtype != DataType::kUndefined) v->type().dtype = t.dtype;
        continue;  // keep the shape the file declared
      }
      if (t.kind == ir::TypeInfo::Kind::kTensor && t.dtype == DataType::kUndefined) {
        ir::TypeInfo merged = t;
        merged.dtype = v->type().dtype;
        v->type() = merged;
        continue;
      }
      v->type() = t;
    }
  }

  // Shape(x) with x's static shape, honouring start/end (opset 15).
  bool fold_with(ir::Node& n, const Tensor& full_shape) {
    const int64_t r = full_shape.numel();
    int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, 0, r);
    std::vector<int64_t> dims;
    for (int64_t i = start; i < end; ++i) dims.push_back(full_shape.data<int64_t>()[i]);
    Tensor t = Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims);
    n.output(0)->type() = ir::TypeInfo::tensor(DataType::kInt64, ops::dims_of(t.shape()));
    folded_[n.output(0)] = t;
    return true;
  }

  const ir::Model& model_;
  std::unordered_map<const ir::Value*, Tensor> folded_;
};

}  // namespace

Result<bool> infer_shapes(ir::Model& model) {
  Inferrer inf(model);
  inf.graph(*model.graph);
  return false;  // annotations only: the graph's structure is unchanged
}

}  // namespace pare::passes
