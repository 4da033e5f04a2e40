#include "ops/kernel.h"

#include <cstring>

namespace pare::ops {

const RunValue& KernelContext::input_value(size_t i) const {
  static const RunValue kNone;
  if (i >= inputs_.size() || inputs_[i] == nullptr) return kNone;
  return *inputs_[i];
}

Result<const Tensor*> KernelContext::required_input(size_t i) const {
  const Tensor* t = input(i);
  if (t == nullptr) return error("required input {} is missing or not a tensor", i);
  return t;
}

Result<Tensor*> KernelContext::allocate_output(size_t i, DataType dtype, Shape shape) {
  PARE_ASSIGN_OR_RETURN(Tensor * t, allocate_output_uninitialized(i, dtype, std::move(shape)));
  if (dtype != DataType::kString && t->nbytes() > 0) std::memset(t->raw_data(), 0, t->nbytes());
  return t;
}

Result<Tensor*> KernelContext::allocate_output_uninitialized(size_t i, DataType dtype, Shape shape) {
  if (i >= outputs_->size()) return internal_error("{}: output {} out of range", node_.describe(), i);
  auto t = Tensor::create_uninitialized(dtype, std::move(shape), allocator_);
  if (!t.ok()) return t.status().with_context(node_.describe() + " output " + std::to_string(i));
  (*outputs_)[i] = RunValue(std::move(t).value());
  return &(*outputs_)[i].tensor;
}

Result<std::vector<RunValue>> KernelContext::run_subgraph(const ir::Graph& graph,
                                                          std::vector<RunValue> inputs) {
  if (subgraphs_ == nullptr) return internal_error("{}: no subgraph runner", node_.describe());
  return subgraphs_->run(graph, std::move(inputs));
}

void KernelRegistry::add(KernelDef def) { defs_.push_back(std::move(def)); }

static bool same_domain(const std::string& a, const std::string& b) {
  auto norm = [](const std::string& d) { return d == "ai.onnx" ? std::string() : d; };
  return norm(a) == norm(b);
}

Result<std::unique_ptr<Kernel>> KernelRegistry::create(const KernelInit& init,
                                                       std::string* chosen) const {
  const KernelDef* best = nullptr;
  bool op_known = false;
  for (const KernelDef& d : defs_) {
    if (d.op_type != init.node.op_type() || !same_domain(d.domain, init.node.domain())) continue;
    op_known = true;
    if (init.opset < d.since_version || init.opset > d.until_version) continue;
    if (d.condition && !d.condition(init)) continue;
    if (!best || d.priority > best->priority) best = &d;
  }
  if (best == nullptr) {
    if (!op_known) {
      return unsupported("{}: unknown operator '{}' in domain '{}'", init.node.describe(),
                         init.node.op_type(), init.node.domain().empty() ? "ai.onnx" : init.node.domain());
    }
    return unsupported("{}: opset {} of '{}' is not supported", init.node.describe(), init.opset,
                       init.node.domain().empty() ? "ai.onnx" : init.node.domain());
  }
  if (chosen) *chosen = best->name;
  auto k = best->create(init);
  if (!k.ok()) {
    // Attribute and constant-input errors at plan time are model errors.
    const Status& s = k.status();
    if (s.code() == StatusCode::kInvalidInput) return Status(StatusCode::kInvalidModel, s.message());
    return s;
  }
  return k;
}

bool KernelRegistry::supports(const std::string& domain, const std::string& op_type,
                              int64_t opset) const {
  for (const KernelDef& d : defs_) {
    if (d.op_type == op_type && same_domain(d.domain, domain) && opset >= d.since_version &&
        opset <= d.until_version)
      return true;
  }
  return false;
}

const KernelRegistry& KernelRegistry::reference() {
  static const KernelRegistry* registry = [] {
    auto* r = new KernelRegistry();
#define PARE_OP(name) register_##name(*r);
#include "ops/op_list.inc"
#undef PARE_OP
    return r;
  }();
  return *registry;
}

}  // namespace pare::ops
