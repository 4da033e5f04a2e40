// Test helper of the sparse kernel tests: the largest |difference| between Y [M, N] and the
// double-precision reference alpha·A·B + bias, with A [M, K] and B [K, N] (or [N, K] when
// TRANS_B); BIAS may be null.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pare::kernels::sparse::testing {

inline double max_error_vs_reference(const float* a, const float* b, const float* bias, float alpha, int64_t m, int64_t k,
                                     int64_t n, bool trans_b, const float* y) {
  double worst = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double ref = 0;
      for (int64_t kk = 0; kk < k; ++kk) ref += double(a[i * k + kk]) * (trans_b ? b[j * k + kk] : b[kk * n + j]);
      ref = alpha * ref + (bias ? bias[j] : 0.0);
      worst = std::max(worst, std::abs(ref - y[i * n + j]));
    }
  return worst;
}

}  // namespace pare::kernels::sparse::testing
