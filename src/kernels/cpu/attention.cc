// com.pare.Attention (ops/fused/attention.h), fast: one task per (batch, head, block of up to
// 64 query rows), spread over the OpenMP threads. Per task, in a thread-local buffer that
// stays in cache: scores = scale · Q_blk · K_hᵀ (oneDNN sgemm, reading Q and K in place
// through their row strides), + mask, softmax numerators with a vectorized exp, then
// O_blk = P · V_h written straight into the [B, S, H·Dv] output, each row divided by its sum.
// The [B, H, S, S] score tensor and the head-major copies of Q, K, V are never formed.
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/fused/attention.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

#define PARE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

constexpr int64_t kRowBlock = 64;

// e^x for x ≤ 0 (inputs are max-subtracted scores): 2^n · p(r) with r = x − n·ln2 in
// [−ln2/2, ln2/2] and p a degree-6 Taylor polynomial (relative error < 2e-7); branch-free so
// the loop vectorizes. Inputs below −87 give ≈ 0 (flushed through the clamp).
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// Row i of the scores (+ mask with element stride mj), replaced by e^(s − max); returns the sum.
PARE_CLONES float softmax_numerators(float* s, int64_t n, const float* mask, int64_t mj) {
  if (mask) {
    if (mj == 1) {
      for (int64_t j = 0; j < n; ++j) s[j] += mask[j];
    } else {
      for (int64_t j = 0; j < n; ++j) s[j] += mask[j * mj];
    }
  }
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, s[j]);
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = exp_nonpositive(s[j] - mx);
    sum += s[j];
  }
  return sum;
}

PARE_CLONES void scale_row(float* y, int64_t n, float f) {
  for (int64_t d = 0; d < n; ++d) y[d] *= f;
}

class FastAttention final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<FastAttention>();
    PARE_ASSIGN_OR_RETURN(k->attrs_, ops::AttentionAttrs::parse(init.node));
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    Tensor* y = nullptr;
    PARE_ASSIGN_OR_RETURN(const ops::AttentionView w, ops::attention_view(ctx, attrs_, &y));
    if (y->numel() == 0) return ok_status();
    if (w.skv == 0) {
      std::fill_n(y->data<float>(), y->numel(), std::nanf(""));  // softmax over nothing
      return ok_status();
    }
    const int64_t blocks = (w.sq + kRowBlock - 1) / kRowBlock;
    const int64_t tasks = w.batch * w.heads * blocks;
    const int threads = static_cast<int>(std::min<int64_t>(tasks, ctx.num_threads() > 0 ? ctx.num_threads() : omp_get_max_threads()));
    const int64_t out_row = w.heads * w.dv;
    float* out = y->data<float>();
    int failed = 0;
    if (scratch_.size() < static_cast<size_t>(threads)) scratch_.resize(static_cast<size_t>(threads));
    const size_t need = static_cast<size_t>(std::min(kRowBlock, w.sq) * w.skv + kRowBlock);
#pragma omp parallel num_threads(threads) reduction(| : failed)
    {
      // Per-thread scores block and row sums, kept between runs (runs of a planned shape
      // allocate nothing).
      std::vector<float>& buf = scratch_[static_cast<size_t>(omp_get_thread_num())];
      if (buf.size() < need) buf.resize(need);
      float* const scores = buf.data();
      float* const inv = scores + need - kRowBlock;
#pragma omp for schedule(static)
      for (int64_t t = 0; t < tasks; ++t) {
        const int64_t blk = t % blocks, h = (t / blocks) % w.heads, b = t / (blocks * w.heads);
        const int64_t i0 = blk * kRowBlock, rows = std::min(kRowBlock, w.sq - i0);
        float* s = scores;
        float* o = out + (b * w.sq + i0) * out_row + h * w.dv;
        failed |= dnnl_sgemm('N', 'T', rows, w.skv, w.dk, w.scale, w.q_at(b, h, i0), w.q_row, w.k_at(b, h, 0), w.k_row, 0.0f, s,
                             w.skv) != dnnl_success;
        for (int64_t i = 0; i < rows; ++i) {
          inv[i] = 1.0f / softmax_numerators(s + i * w.skv, w.skv, w.mask_row(b, h, i0 + i), w.m_j);
        }
        failed |= dnnl_sgemm('N', 'N', rows, w.dv, w.skv, 1.0f, s, w.skv, w.v_at(b, h, 0), w.v_row, 0.0f, o, out_row) != dnnl_success;
        for (int64_t i = 0; i < rows; ++i) scale_row(o + i * out_row, w.dv, inv[i]);
      }
    }
    if (failed) return ctx.error("oneDNN sgemm failed");
    return ok_status();
  }

 private:
  ops::AttentionAttrs attrs_;
  std::vector<std::vector<float>> scratch_;  // one buffer per OpenMP thread
};

bool attention_applies(const ops::KernelInit& init) { return init.input_is(0, DataType::kFloat32); }

}  // namespace

void register_cpu_attention(ops::KernelRegistry& r) {
  r.add({"Attention", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<FastAttention>, "cpu", 10, attention_applies});
}

}  // namespace pare::kernels
