// Shared pieces of the signal ops (DFT, STFT): a discrete Fourier transform of one line in
// double precision, and a scalar-input reader.
#pragma once

#include <complex>
#include <cstdint>
#include <vector>

#include "ops/kernel.h"

namespace pare::ops::signal {

using cdouble = std::complex<double>;

// In place: a[k] ← Σ_{t<n} a[t]·exp(∓2πi·k·t/n), n = a.size() ≥ 1 (minus sign forward, plus
// for the inverse; no 1/n scaling). Radix-2 Cooley–Tukey when n is a power of two, otherwise
// Bluestein's chirp-z (a power-of-two convolution), so every length costs O(n log n).
void fft(std::vector<cdouble>& a, bool inverse);

// The value of an optional scalar (or 1-element) integer input; `def` when absent.
Result<int64_t> scalar_int_input(const KernelContext& ctx, size_t i, int64_t def, const char* what);

}  // namespace pare::ops::signal
