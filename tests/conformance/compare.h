// Output comparison as ONNX's backend tests do it: |actual − expected| ≤ atol + rtol·|expected|
// for floats, NaN where NaN is expected, exact equality for integers, bools and strings.
#pragma once

#include <string>

#include "core/run_value.h"

namespace pare::testing {

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
};

// Empty string when equal, else what differs (first mismatch, max abs error).
std::string compare_values(const RunValue& actual, const RunValue& expected, const Tolerance& tol);
std::string compare_tensors(const Tensor& actual, const Tensor& expected, const Tolerance& tol);

}  // namespace pare::testing
