// com.pare.WeightOnlyMatMul (ops/fused/quant.h): Y = A·DQ(W) + bias with W int4/uint4/int8 in
// blocks along K (or per column), unpacked in registers — the weights are never dequantized
// into memory. At plan time W is packed per group of 16 output columns: for int4, each byte
// holds rows k (low nibble) and k+1 (high nibble) of one column as u = q + 8 (int4) or q
// (uint4); int8 keeps one byte per weight. Per (block, column) the kernel keeps the scale s
// and an offset o = −(bias + z)·s, so that
//   y[n] = Σ_blocks ( s·Σ_k a[k]·u[k][n] + o·Σ_k a[k] ),
// one float FMA per weight (AVX-512, 16 columns per vector, up to 4 rows of A share each
// unpacked weight vector). Columns are split across threads. The decode step (one row of A)
// is bound by reading the weights: 4 bits instead of 32 per weight.
#include <immintrin.h>

#include <cstring>

#include "ops/fused/quant.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

constexpr int64_t kCols = 16;  // output columns per group (one AVX-512 vector)
constexpr int64_t kRows = 4;   // rows of A per micro-kernel call

class WeightOnlyMatMul final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<WeightOnlyMatMul>();
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(k->ref_, ops::KernelRegistry::reference().create(init));  // validates the parameters
    const Tensor& q = *init.constant_input(1);
    const Tensor& s = *init.constant_input(2);
    const Tensor* z = init.constant_input(3);
    const bool trans = n.attr_int("trans_b", 0) != 0;
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += 2;
    const int64_t block = n.attr_int("block_size", 0);
    const int64_t K = q.dim(trans ? 1 : 0), N = q.dim(trans ? 0 : 1);
    const int64_t k_axis = trans ? 1 : 0;
    k->K_ = K;
    k->N_ = N;
    k->int4_ = q.dtype() == DataType::kInt4 || q.dtype() == DataType::kUInt4;
    const bool per_tensor = s.numel() == 1 && block == 0;
    k->block_ = block > 0 ? block : K;  // per column or per tensor: one block along K
    if (block == 0 && k->block_ % 2) k->block_ += 1;  // the kernel steps two rows at a time
    k->nblocks_ = (K + k->block_ - 1) / k->block_;
    k->Kp_ = k->nblocks_ * k->block_;
    k->groups_ = (N + kCols - 1) / kCols;
    const int64_t rows = q.dim(0), cols = q.dim(1), extent = q.dim(axis), sgroups = block > 0 ? (extent + block - 1) / block : extent;
    auto sidx = [&](int64_t kk, int64_t nn) -> int64_t {
      const int64_t r = trans ? nn : kk, c = trans ? kk : nn;
      if (per_tensor) return 0;
      if (block == 0) return axis == 0 ? r : c;
      return axis == 0 ? (r / block) * cols + c : r * sgroups + c / block;
    };
    const int32_t bias = q.dtype() == DataType::kInt4 ? 8 : q.dtype() == DataType::kInt8 ? 128 : 0;
    // Packed weights: [group][Kp (pairs for int4)][16] bytes; scales/offsets [group][block][16].
    const int64_t bytes_per_group = k->int4_ ? k->Kp_ / 2 * kCols : k->Kp_ * kCols;
    k->w_.assign(static_cast<size_t>(bytes_per_group * k->groups_), 0);
    k->scale_.assign(static_cast<size_t>(k->groups_ * k->nblocks_ * kCols), 0.f);
    k->offset_.assign(k->scale_.size(), 0.f);
    for (int64_t nn = 0; nn < N; ++nn) {
      const int64_t g = nn / kCols, j = nn % kCols;
      uint8_t* wg = k->w_.data() + g * bytes_per_group;
      for (int64_t kk = 0; kk < K; ++kk) {
        const int64_t e = trans ? nn * K + kk : kk * N + nn;
        const int32_t u = ops::quant::int_element(q, e) + bias;  // 0..15 or 0..255
        if (k->int4_) wg[(kk / 2) * kCols + j] |= static_cast<uint8_t>(u << (4 * (kk % 2)));
        else wg[kk * kCols + j] = static_cast<uint8_t>(u);
      }
      for (int64_t b = 0; b < k->nblocks_; ++b) {
        const int64_t kk = std::min(b * k->block_, K - 1);
        const int64_t si = sidx(kk, nn);
        const float sc = s.data<float>()[si];
        const int32_t zp = z ? ops::quant::int_element(*z, si) : 0;
        const size_t o = static_cast<size_t>((g * k->nblocks_ + b) * kCols + j);
        k->scale_[o] = sc;
        k->offset_[o] = -static_cast<float>(bias + zp) * sc;
      }
    }
    // Padding rows (K..Kp) hold u = bias so that they contribute 0 (a is 0 there too).
    (void)k_axis;
    if (const Tensor* b = init.constant_input(4)) k->bias_.assign(b->data<float>(), b->data<float>() + N);
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  bool prepacked_input(size_t i) const override { return i >= 1 && i <= 3; }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    if (a->dtype() != DataType::kFloat32 || a->rank() < 1 || a->dim(a->rank() - 1) != K_) {
      return ctx.error("A {} must be float with K = {} columns", a->type_string(), K_);
    }
    Shape ys = a->shape();
    ys.back() = N_;
    const int64_t M = a->numel() / K_;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, ys));
    // A padded to Kp columns, and the per-block sums of each row.
    std::vector<float> ap(static_cast<size_t>(M * Kp_), 0.f), asum(static_cast<size_t>(M * nblocks_), 0.f);
    for (int64_t m = 0; m < M; ++m) {
      std::memcpy(&ap[m * Kp_], a->data<float>() + m * K_, K_ * sizeof(float));
      for (int64_t b = 0; b < nblocks_; ++b) {
        float t = 0;
        for (int64_t kk = b * block_; kk < (b + 1) * block_; ++kk) t += ap[m * Kp_ + kk];
        asum[m * nblocks_ + b] = t;
      }
    }
    float* out = y->data<float>();
    const int threads = std::max(1, ctx.num_threads());
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t g = 0; g < groups_; ++g) {
      for (int64_t m0 = 0; m0 < M; m0 += kRows) {
        const int64_t mr = std::min(kRows, M - m0);
        alignas(64) float res[kRows][kCols];
        if (int4_) group_kernel<true>(g, &ap[m0 * Kp_], &asum[m0 * nblocks_], mr, res);
        else group_kernel<false>(g, &ap[m0 * Kp_], &asum[m0 * nblocks_], mr, res);
        const int64_t n0 = g * kCols, nc = std::min(kCols, N_ - n0);
        for (int64_t r = 0; r < mr; ++r)
          for (int64_t j = 0; j < nc; ++j) out[(m0 + r) * N_ + n0 + j] = res[r][j] + (bias_.empty() ? 0.f : bias_[n0 + j]);
      }
    }
    return ok_status();
  }

 private:
  template <bool kInt4>
  __attribute__((target("avx512f,avx512bw"))) void group_kernel(int64_t g, const float* a, const float* asum, int64_t mr, float (*res)[kCols]) const {
    __m512 acc[kRows];
    for (auto& v : acc) v = _mm512_setzero_ps();
    const int64_t bytes_per_group = kInt4 ? Kp_ / 2 * kCols : Kp_ * kCols;
    const uint8_t* w = w_.data() + g * bytes_per_group;
    const __m128i mask = _mm_set1_epi8(0x0F);
    for (int64_t b = 0; b < nblocks_; ++b) {
      __m512 d0[kRows], d1[kRows];
      for (int64_t r = 0; r < kRows; ++r) d0[r] = d1[r] = _mm512_setzero_ps();
      const int64_t k0 = b * block_;
      for (int64_t kk = k0; kk < k0 + block_; kk += 2) {
        __m512 w0, w1;
        if constexpr (kInt4) {
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + (kk / 2) * kCols));
          w0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(v, mask)));
          w1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(v, 4), mask)));
        } else {
          w0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + kk * kCols))));
          w1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + (kk + 1) * kCols))));
        }
        for (int64_t r = 0; r < mr; ++r) {
          d0[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * Kp_ + kk]), w0, d0[r]);
          d1[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * Kp_ + kk + 1]), w1, d1[r]);
        }
      }
      const __m512 s = _mm512_loadu_ps(&scale_[(g * nblocks_ + b) * kCols]);
      const __m512 o = _mm512_loadu_ps(&offset_[(g * nblocks_ + b) * kCols]);
      for (int64_t r = 0; r < mr; ++r) {
        acc[r] = _mm512_fmadd_ps(s, _mm512_add_ps(d0[r], d1[r]), acc[r]);
        acc[r] = _mm512_fmadd_ps(o, _mm512_set1_ps(asum[r * nblocks_ + b]), acc[r]);
      }
    }
    for (int64_t r = 0; r < mr; ++r) _mm512_store_ps(res[r], acc[r]);
  }

  std::unique_ptr<ops::Kernel> ref_;
  int64_t K_ = 0, N_ = 0, Kp_ = 0, block_ = 0, nblocks_ = 0, groups_ = 0;
  bool int4_ = false;
  std::vector<uint8_t> w_;
  std::vector<float> scale_, offset_, bias_;
};

bool applies(const ops::KernelInit& init) {
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) return false;
  const Tensor* q = init.constant_input(1);
  const Tensor* s = init.constant_input(2);
  if (!q || !s || q->rank() != 2 || s->dtype() != DataType::kFloat32 || !init.input_is(0, DataType::kFloat32)) return false;
  const DataType t = q->dtype();
  if (t != DataType::kInt4 && t != DataType::kUInt4 && t != DataType::kInt8 && t != DataType::kUInt8) return false;
  if (init.has_input(2 + 1) && !init.constant_input(3)) return false;
  if (init.has_input(4) && (!init.constant_input(4) || init.constant_input(4)->dtype() != DataType::kFloat32)) return false;
  const bool trans = init.node.attr_int("trans_b", 0) != 0;
  int64_t axis = init.node.attr_int("axis", 1);
  if (axis < 0) axis += 2;
  const int64_t block = init.node.attr_int("block_size", 0), k_axis = trans ? 1 : 0;
  if (block > 0) return axis == k_axis && block % 2 == 0;  // blocks along K
  return s->numel() == 1 || axis == 1 - k_axis;             // per tensor or per column
}

}  // namespace

void register_quant_weight_only_matmul(ops::KernelRegistry& r) {
  r.add({"WeightOnlyMatMul", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<WeightOnlyMatMul>, "avx512", 10, applies});
}

}  // namespace pare::kernels
