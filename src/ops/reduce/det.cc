// Det (opset 11): determinant of each square matrix in X[*, M, M] → Y[*].
//   det(A) = sign(P) · Π U_ii   from the LU factorization P·A = L·U (partial pivoting),
// computed in double (the oracle) for f16/f32/f64/bf16 inputs. An empty batch gives an empty
// output; M = 0 gives det = 1 (the empty product), as numpy does.
#include <cmath>
#include <utility>
#include <vector>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

// Determinant of the m×m row-major matrix `a` (overwritten by its LU factors).
double lu_determinant(std::vector<double>& a, int64_t m) {
  double det = 1.0;
  for (int64_t k = 0; k < m; ++k) {
    int64_t pivot = k;
    for (int64_t i = k + 1; i < m; ++i) {
      if (std::fabs(a[i * m + k]) > std::fabs(a[pivot * m + k])) pivot = i;
    }
    if (a[pivot * m + k] == 0.0) return 0.0;  // singular
    if (pivot != k) {
      for (int64_t j = 0; j < m; ++j) std::swap(a[k * m + j], a[pivot * m + j]);
      det = -det;
    }
    const double ukk = a[k * m + k];
    det *= ukk;
    for (int64_t i = k + 1; i < m; ++i) {
      const double f = a[i * m + k] / ukk;
      for (int64_t j = k + 1; j < m; ++j) a[i * m + j] -= f * a[k * m + j];
    }
  }
  return det;
}

Status run_det(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->rank() < 2) return ctx.error("input must have rank >= 2, got shape {}", shape_to_string(x->shape()));
  const int64_t m = x->dim(-1);
  if (x->dim(-2) != m) return ctx.error("input matrices must be square, got shape {}", shape_to_string(x->shape()));
  Shape out_shape(x->shape().begin(), x->shape().end() - 2);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out_shape));
  const int64_t batch = y->numel();
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    const T* src = x->data<T>();
    T* dst = y->data<T>();
    std::vector<double> a(static_cast<size_t>(m * m));
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < m * m; ++i) a[i] = static_cast<double>(static_cast<compute_t<T>>(src[b * m * m + i]));
      dst[b] = static_cast<T>(static_cast<compute_t<T>>(lu_determinant(a, m)));
    }
  });
  if (!ok) return ctx.error("unsupported input type {}", dtype_name(x->dtype()));
  return ok_status();
}

}  // namespace

void register_Det(KernelRegistry& r) { add_fn<run_det>(r, "Det", 11); }

}  // namespace pare::ops
