// Matching an activation that follows a value, for the fusions that absorb it into the
// producing op's epilogue (fuse_conv_activation, fuse_matmul_activation).
#pragma once

#include <vector>

#include "ir/graph.h"
#include "ops/fused/activation.h"

namespace pare::passes {

struct Epilogue {
  std::vector<ir::Node*> nodes;  // absorbed, in order
  ops::ActivationSpec act;
  ir::Value* out = nullptr;      // the value the fused node defines
};

// An activation consuming v (alone): Relu, LeakyRelu, Sigmoid, Tanh, HardSwish, HardSigmoid,
// Clip with constant bounds, com.pare.Gelu, or SiLU written as Mul(v, Sigmoid(v)). Appends
// the absorbed nodes to e; false when there is none.
bool match_activation(ir::Value* v, Epilogue& e);
// Extends `e` with the activation after `cur` if there is one; e.out = the last value.
void absorb_activation(ir::Value* cur, Epilogue& e);
// Sets `activation` / `activation_params` on a fused node (nothing for kNone).
void set_activation_attrs(ir::Node& n, const ops::ActivationSpec& a);

}  // namespace pare::passes
