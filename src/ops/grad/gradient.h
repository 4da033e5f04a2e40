// Per-op gradient definitions (DESIGN.md §3: "a gradient where the op is trainable"), used by
// the Gradient-op lowering pass and, later, by train/ autodiff. A gradient function emits IR
// nodes computing dL/dx_i from dL/dy_j into a graph through GradBuilder.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::ops {

// Domain of pare's own internal ops (SumToShape, ...).
inline constexpr const char* kPareDomain = "com.pare";

class GradBuilder {
 public:
  GradBuilder(ir::Graph& g, std::string prefix) : g_(g), prefix_(std::move(prefix)) {}
  // Adds a one-output node and returns its output.
  ir::Value* add(const std::string& op, const std::vector<ir::Value*>& inputs,
                 std::map<std::string, ir::Attribute> attrs = {}, const std::string& domain = "");
  // Adds a node with `n_outputs` outputs and returns them.
  std::vector<ir::Value*> add_multi(const std::string& op, const std::vector<ir::Value*>& inputs, size_t n_outputs,
                                    std::map<std::string, ir::Attribute> attrs = {}, const std::string& domain = "");
  // A float32 scalar constant.
  ir::Value* scalar(float v);
  // Sums dx over the dimensions that broadcasting expanded, back to the shape of `like`.
  ir::Value* sum_to_shape_of(ir::Value* dx, ir::Value* like);
  // Ones of the shape and float type of `like`.
  ir::Value* ones_like(ir::Value* like);
  ir::Value* zeros_like(ir::Value* like);
  ir::Graph& graph() { return g_; }

 private:
  ir::Graph& g_;
  std::string prefix_;
  int counter_ = 0;
};

// dys[j]: gradient of output j (nullptr when that output does not reach the loss).
// Fills dxs[i] with the gradient of input i (nullptr when none flows, e.g. integer inputs).
using GradientFn = Status (*)(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dys,
                              std::vector<ir::Value*>& dxs);

// Attribute helpers for gradient functions.
ir::Attribute attr_int(int64_t v);
ir::Attribute attr_float(float v);
ir::Attribute attr_string(std::string v);
ir::Attribute attr_ints(std::vector<int64_t> v);

// Static type rules of the com.pare training ops (used by ops/infer).
using InferFnPtr = void (*)(class InferContext&);
InferFnPtr find_pare_infer_rule(const std::string& op_type);

// The gradient of an op type, or null if it is not differentiable here.
GradientFn find_gradient(const std::string& domain, const std::string& op_type);

}  // namespace pare::ops
