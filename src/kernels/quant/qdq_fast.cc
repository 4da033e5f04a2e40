// Fast QuantizeLinear / DequantizeLinear (per tensor, float32 ↔ uint8/int8) and
// DynamicQuantizeLinear: the unfused QDQ nodes the lowering pass leaves (a graph input's
// quantization, a DequantizeLinear before pooling or an activation × activation MatMul).
// Same results as the reference kernels: IEEE division, round half to even, saturation.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/quant/simd.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace quant {

bool has_avx512() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"); }

__attribute__((target("avx512f,avx512bw"))) ops::quant::DynamicParams quantize_dynamic(const float* x, int64_t n, uint8_t* q) {
  __m512 mn = _mm512_setzero_ps(), mx = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    mn = _mm512_min_ps(mn, v);
    mx = _mm512_max_ps(mx, v);
  }
  float lo = _mm512_reduce_min_ps(mn), hi = _mm512_reduce_max_ps(mx);
  for (; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  ops::quant::DynamicParams p;
  p.scale = static_cast<float>((double(hi) - double(lo)) / 255.0);
  p.zero = p.scale == 0 ? 0 : static_cast<int32_t>(std::clamp(std::nearbyint(-double(lo) / p.scale), 0.0, 255.0));
  if (p.scale == 0) {
    std::memset(q, p.zero, static_cast<size_t>(n));
    return p;
  }
  quantize(x, n, p.scale, p.zero, false, q);
  return p;
}

__attribute__((target("avx512f,avx512bw"))) void quantize(const float* x, int64_t n, float s, int32_t z, bool is_signed, void* q) {
  const __m512 sv = _mm512_set1_ps(s);
  const __m512i zv = _mm512_set1_epi32(z), lo = _mm512_set1_epi32(is_signed ? -128 : 0), hi = _mm512_set1_epi32(is_signed ? 127 : 255);
  auto* out = static_cast<uint8_t*>(q);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_div_ps(_mm512_loadu_ps(x + i), sv)), zv);
    v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(v));
  }
  for (; i < n; ++i) {
    const double v = std::clamp(double(std::nearbyint(x[i] / s)) + z, is_signed ? -128.0 : 0.0, is_signed ? 127.0 : 255.0);
    out[i] = static_cast<uint8_t>(static_cast<int32_t>(v));
  }
}

__attribute__((target("avx512f,avx512bw"))) void dequantize(const void* q, int64_t n, float s, int32_t z, bool is_signed, float* y) {
  const __m512 sv = _mm512_set1_ps(s);
  const __m512i zv = _mm512_set1_epi32(z);
  const auto* in = static_cast<const uint8_t*>(q);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    const __m512i v = is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, zv)), sv));
  }
  for (; i < n; ++i) y[i] = static_cast<float>((is_signed ? int32_t(int8_t(in[i])) : int32_t(in[i])) - z) * s;
}

}  // namespace quant

namespace {

bool per_tensor_params(const ops::KernelContext& ctx, float& s, int32_t& z, DataType& zt) {
  const Tensor* st = ctx.input(1);
  const Tensor* zp = ctx.input(2);
  if (!st || st->dtype() != DataType::kFloat32 || st->numel() != 1) return false;
  if (zp && (zp->numel() != 1 || (zp->dtype() != DataType::kUInt8 && zp->dtype() != DataType::kInt8))) return false;
  s = st->data<float>()[0];
  zt = zp ? zp->dtype() : DataType::kUInt8;
  z = zp ? ops::quant::int_element(*zp, 0) : 0;
  return s > 0 && std::isfinite(s);
}

class FastQuantize final : public ops::Kernel {
 public:
  explicit FastQuantize(const ops::KernelInit& init) : ref_(ops::KernelRegistry::reference().create(init).value()) {}
  Status run(ops::KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    float s;
    int32_t z;
    DataType zt;
    if (!x || x->dtype() != DataType::kFloat32 || !per_tensor_params(ctx, s, z, zt)) return ref_->run(ctx);
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, zt, x->shape()));
    quant::quantize(x->data<float>(), x->numel(), s, z, zt == DataType::kInt8, y->raw_data());
    return ok_status();
  }

 private:
  std::unique_ptr<ops::Kernel> ref_;
};

class FastDequantize final : public ops::Kernel {
 public:
  explicit FastDequantize(const ops::KernelInit& init) : ref_(ops::KernelRegistry::reference().create(init).value()) {}
  Status run(ops::KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    float s;
    int32_t z;
    DataType zt;
    if (!x || !per_tensor_params(ctx, s, z, zt) || x->dtype() != zt) return ref_->run(ctx);
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    quant::dequantize(x->raw_data(), x->numel(), s, z, zt == DataType::kInt8, y->data<float>());
    return ok_status();
  }

 private:
  std::unique_ptr<ops::Kernel> ref_;
};

Status dynamic_quantize(ops::KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->dtype() != DataType::kFloat32) return ctx.error("input must be float");
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kUInt8, x->shape()));
  const ops::quant::DynamicParams p = quant::quantize_dynamic(x->data<float>(), x->numel(), y->data<uint8_t>());
  PARE_ASSIGN_OR_RETURN(Tensor * ys, ctx.allocate_output(1, DataType::kFloat32, {}));
  ys->data<float>()[0] = p.scale;
  PARE_ASSIGN_OR_RETURN(Tensor * yz, ctx.allocate_output(2, DataType::kUInt8, {}));
  yz->data<uint8_t>()[0] = static_cast<uint8_t>(p.zero);
  return ok_status();
}

// Per-tensor parameters are known at plan time (constants) or checked per run (else the reference runs).
bool applies_q(const ops::KernelInit& init) {
  return quant::has_avx512() && init.node.attr_int("block_size", 0) == 0 && !init.node.has_attr("output_dtype");
}
bool applies_dq(const ops::KernelInit& init) {
  return applies_q(init) && (init.input_is(0, DataType::kUInt8) || init.input_is(0, DataType::kInt8));
}

}  // namespace

void register_quant_qdq_fast(ops::KernelRegistry& r) {
  r.add({"QuantizeLinear", "", 10, ops::kMaxOpset, &ops::make_kernel<FastQuantize>, "avx512", 10, applies_q});
  r.add({"DequantizeLinear", "", 10, ops::kMaxOpset, &ops::make_kernel<FastDequantize>, "avx512", 11, applies_dq});
  r.add({"DynamicQuantizeLinear", "", 11, ops::kMaxOpset, &ops::make_kernel<ops::FnKernel<dynamic_quantize>>, "avx512", 10,
         [](const ops::KernelInit&) { return quant::has_avx512(); }});
}

}  // namespace pare::kernels
