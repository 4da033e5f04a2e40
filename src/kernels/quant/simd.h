// AVX-512 loops shared by the quantized kernels (kernels/quant/); callers check has_avx512().
#pragma once

#include <cstdint>

#include "ops/fused/quant.h"

namespace pare::kernels::quant {

bool has_avx512();
// DynamicQuantizeLinear of x into q (uint8); the scale and zero point as the reference computes them.
ops::quant::DynamicParams quantize_dynamic(const float* x, int64_t n, uint8_t* q);
// q = saturate(round_half_even(x / s) + z) for uint8 (is_signed false) or int8.
void quantize(const float* x, int64_t n, float s, int32_t z, bool is_signed, void* q);
// y = (q − z)·s.
void dequantize(const void* q, int64_t n, float s, int32_t z, bool is_signed, float* y);

}  // namespace pare::kernels::quant
