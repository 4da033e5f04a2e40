// Finite-difference checking of gradients (tests only): builds  loss = Σ_k Σ y_k·R_k  over the
// outputs y_k of a small graph, lowers an ONNX Gradient op over the graph's float inputs, and
// compares every analytic gradient element with the central difference of the loss.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace pare::ops::testing {

// Builds the graph under test from its inputs; returns the outputs that enter the loss.
using GraphFn = std::function<std::vector<ir::Value*>(ir::Graph& g, const std::vector<ir::Value*>& inputs)>;

struct GradCheck {
  std::vector<Tensor> inputs;     // float inputs are differentiated (unless listed in constant)
  std::vector<bool> constant;     // per input: true → an initializer, not differentiated
  GraphFn build;
  int64_t opset = 17;
  float eps = 1e-2f;
  float tolerance = 2e-2f;        // |analytic − numeric| ≤ tolerance·(1 + |numeric|)
  bool reference_kernels = true;  // false: fast kernels where they apply (oneDNN ConvGrad)
  std::string expect_kernel;      // non-empty: some node of the gradient graph must run this kernel
};

// Empty on success, else a description of the first mismatches.
std::string check_gradients(const GradCheck& c);

// A copyable attribute (ir::Attribute is move-only): scalar, string and list fields.
struct AttrV {
  ir::AttrType type = ir::AttrType::kUndefined;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  AttrV(const ir::Attribute& a) : type(a.type), i(a.i), f(a.f), s(a.s), ints(a.ints), floats(a.floats) {}  // NOLINT
  ir::Attribute get() const {
    ir::Attribute a;
    a.type = type, a.i = i, a.f = f, a.s = s, a.ints = ints, a.floats = floats;
    return a;
  }
};
using Attrs = std::map<std::string, AttrV>;

// A single-op graph: `op` with `n_outputs` outputs, all of which enter the loss.
GraphFn single_op(const std::string& op, Attrs attrs = {}, size_t n_outputs = 1,
                  const std::string& domain = "");

Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
// Values with |v| ≥ 0.2 (away from kinks at 0).
Tensor away_from_zero(const Shape& s, uint32_t seed);
// Distinct values spaced ≥ 0.05 apart in random order (no near-ties for max).
Tensor distinct(const Shape& s, uint32_t seed);

}  // namespace pare::ops::testing
