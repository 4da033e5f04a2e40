#include "ops/reduce/signal_util.h"

#include <cmath>
#include <numbers>
#include <utility>

namespace pare::ops::signal {
namespace {

bool is_power_of_two(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

// Iterative radix-2 FFT; a.size() is a power of two.
void fft_radix2(std::vector<cdouble>& a, bool inverse) {
  const size_t n = a.size();
  for (size_t i = 1, j = 0; i < n; ++i) {  // bit-reversal permutation
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  const double sign = inverse ? 1.0 : -1.0;
  for (size_t len = 2; len <= n; len <<= 1) {
    const size_t half = len / 2;
    for (size_t k = 0; k < half; ++k) {
      // Exact angle per twiddle (no accumulated rotation error).
      const double ang = sign * 2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(len);
      const cdouble w(std::cos(ang), std::sin(ang));
      for (size_t i = 0; i < n; i += len) {
        const cdouble u = a[i + k], v = a[i + k + half] * w;
        a[i + k] = u + v;
        a[i + k + half] = u - v;
      }
    }
  }
}

// Bluestein: k·t = (k² + t² − (k−t)²)/2, so X[k] = c[k]·Σ_t (x[t]·c[t])·conj(c[k−t]) with the
// chirp c[j] = exp(∓πi·j²/n): a convolution done with power-of-two FFTs.
void fft_bluestein(std::vector<cdouble>& a, bool inverse) {
  const size_t n = a.size();
  size_t m = 1;
  while (m < 2 * n - 1) m <<= 1;
  const double sign = inverse ? 1.0 : -1.0;
  std::vector<cdouble> chirp(n);
  const uint64_t two_n = 2 * static_cast<uint64_t>(n);
  for (size_t j = 0; j < n; ++j) {
    const uint64_t jj = (static_cast<uint64_t>(j) * j) % two_n;  // exact angle modulo 2π
    const double ang = sign * std::numbers::pi * static_cast<double>(jj) / static_cast<double>(n);
    chirp[j] = cdouble(std::cos(ang), std::sin(ang));
  }
  std::vector<cdouble> u(m, cdouble(0)), v(m, cdouble(0));
  for (size_t j = 0; j < n; ++j) u[j] = a[j] * chirp[j];
  v[0] = std::conj(chirp[0]);
  for (size_t j = 1; j < n; ++j) v[j] = v[m - j] = std::conj(chirp[j]);
  fft_radix2(u, false);
  fft_radix2(v, false);
  for (size_t j = 0; j < m; ++j) u[j] *= v[j];
  fft_radix2(u, true);
  const double inv_m = 1.0 / static_cast<double>(m);
  for (size_t k = 0; k < n; ++k) a[k] = u[k] * inv_m * chirp[k];
}

}  // namespace

void fft(std::vector<cdouble>& a, bool inverse) {
  if (a.size() <= 1) return;
  if (is_power_of_two(a.size())) {
    fft_radix2(a, inverse);
  } else {
    fft_bluestein(a, inverse);
  }
}

Result<int64_t> scalar_int_input(const KernelContext& ctx, size_t i, int64_t def, const char* what) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return def;
  if (!dtype_is_integer(t->dtype())) return ctx.error("{} must be an integer tensor, got {}", what, t->type_string());
  if (t->numel() != 1) return ctx.error("{} must be a scalar, got shape {}", what, shape_to_string(t->shape()));
  return t->int_at(0);
}

}  // namespace pare::ops::signal
