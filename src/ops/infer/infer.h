// Static shape and type inference (load time): per-op rules that compute output TypeInfo from
// input types, symbolic dims included, plus constant values where known (shape arithmetic
// such as Shape → Gather → Concat → Reshape is folded by running the reference kernels on
// constants, see passes/infer_shapes.cc). Rules never fail a model: what they cannot infer
// stays unknown and is resolved at run time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::ops {

class InferContext {
 public:
  InferContext(const ir::Node& node, int64_t opset, std::vector<const Tensor*> constants)
      : node_(node), opset_(opset), constants_(std::move(constants)),
        outputs_(node.outputs().size()) {}

  const ir::Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  size_t num_inputs() const { return node_.inputs().size(); }
  bool has_input(size_t i) const { return node_.input(i) != nullptr; }
  // Static type of input i (kind kUnknown when absent).
  const ir::TypeInfo& type(size_t i) const;
  DataType dtype(size_t i) const { return type(i).kind == ir::TypeInfo::Kind::kTensor ? type(i).dtype : DataType::kUndefined; }
  // Input i's dims if its rank is known.
  const std::vector<ir::Dim>* dims(size_t i) const {
    const auto& t = type(i);
    return t.kind == ir::TypeInfo::Kind::kTensor && t.shape ? &*t.shape : nullptr;
  }
  // Constant value of input i (initializer or folded), else null.
  const Tensor* constant(size_t i) const { return i < constants_.size() ? constants_[i] : nullptr; }
  // Input i as int64 values when constant (shape/axes inputs).
  std::optional<std::vector<int64_t>> constant_ints(size_t i) const;

  void set(size_t i, ir::TypeInfo t) {
    if (i < outputs_.size()) outputs_[i] = std::move(t);
  }
  void set_tensor(size_t i, DataType dt, std::optional<std::vector<ir::Dim>> dims) {
    set(i, ir::TypeInfo::tensor(dt, std::move(dims)));
  }
  const std::vector<ir::TypeInfo>& outputs() const { return outputs_; }

 private:
  const ir::Node& node_;
  int64_t opset_;
  std::vector<const Tensor*> constants_;
  std::vector<ir::TypeInfo> outputs_;
};

using InferFn = void (*)(InferContext&);

// The rule for an op, or null (outputs stay unknown).
InferFn find_infer_rule(const std::string& domain, const std::string& op_type);

// Dims helpers shared by rules.
std::vector<ir::Dim> dims_of(const Shape& s);
// Numpy broadcast of static dims; nullopt if a rank is unknown or dims conflict.
std::optional<std::vector<ir::Dim>> broadcast_dims(const std::vector<const std::vector<ir::Dim>*>& in);

}  // namespace pare::ops
