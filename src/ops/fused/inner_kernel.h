// InnerKernel: the reference kernel of a standard ONNX op, built for a fused op's attributes,
// so that a fused op's reference kernel is literally "run the parts" (STYLE.md: a fused op
// is an ordinary op; its oracle is the composition of the ops it replaces).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ops/kernel.h"

namespace pare::ops {

class InnerKernel {
 public:
  // A standalone `op_type` node (default ONNX domain, `opset`) with `num_inputs` inputs whose
  // constants are taken from `outer`'s inputs at the same positions, and the attributes of
  // `outer` named in `attrs` (absent ones are left at the op's default).
  static Result<InnerKernel> create(const KernelInit& outer, const std::string& op_type, size_t num_inputs,
                                    const std::vector<std::string>& attrs, int64_t opset = 17);
  InnerKernel() = default;
  InnerKernel(InnerKernel&&) = default;
  InnerKernel& operator=(InnerKernel&&) = default;

  // Runs on `inputs` (null for omitted ones); returns the inner op's first output.
  Result<Tensor> run(const KernelContext& outer, const std::vector<const RunValue*>& inputs);

 private:
  std::unique_ptr<ir::Graph> graph_;
  ir::Node* node_ = nullptr;
  std::unique_ptr<Kernel> kernel_;
};

}  // namespace pare::ops
