#include "kernels/sparse/sparse_weight.h"

#include <atomic>
#include <cstdlib>
#include <string>
#include <memory>

namespace pare::kernels::sparse {

namespace avx512 { void spmm(const SpmmArgs& g); }
namespace avx2 { void spmm(const SpmmArgs& g); }
namespace generic { void spmm(const SpmmArgs& g); }

namespace {

enum class Isa { kAvx512, kAvx2, kGeneric };

Isa detect() {
  static const Isa i = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return Isa::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
    return Isa::kGeneric;
  }();
  return i;
}

std::atomic<int> forced{-1};

Isa isa() {
  const int f = forced.load(std::memory_order_relaxed);
  return f >= 0 ? static_cast<Isa>(f) : detect();
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

}  // namespace

SparseWeight SparseWeight::from_dense(const float* b, int64_t k, int64_t n, bool transposed) {
  SparseWeight w;
  w.k = k;
  w.n = n;
  w.row_ptr.assign(n + 1, 0);
  const bool narrow = k <= 65536;
  auto at = [&](int64_t kk, int64_t j) { return transposed ? b[j * k + kk] : b[kk * n + j]; };
  // Count per column, then fill (column-major walk of a row-major B is strided; done once).
  if (transposed) {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t kk = 0; kk < k; ++kk) w.row_ptr[j + 1] += at(kk, j) != 0.0f;
  } else {
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < n; ++j) w.row_ptr[j + 1] += b[kk * n + j] != 0.0f;
  }
  for (int64_t j = 0; j < n; ++j) w.row_ptr[j + 1] += w.row_ptr[j];
  const int64_t nnz = w.row_ptr[n];
  w.val.resize(nnz);
  if (narrow) {
    w.idx16.resize(nnz);
  } else {
    w.idx32.resize(nnz);
  }
  std::vector<int64_t> pos(w.row_ptr.begin(), w.row_ptr.end() - 1);
  auto put = [&](int64_t kk, int64_t j, float v) {
    const int64_t p = pos[j]++;
    w.val[p] = v;
    if (narrow) {
      w.idx16[p] = static_cast<uint16_t>(kk);
    } else {
      w.idx32[p] = static_cast<uint32_t>(kk);
    }
  };
  if (transposed) {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t kk = 0; kk < k; ++kk)
        if (float v = at(kk, j); v != 0.0f) put(kk, j, v);
  } else {
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < n; ++j)
        if (float v = b[kk * n + j]; v != 0.0f) put(kk, j, v);
  }
  return w;
}

double density(const float* p, int64_t count) {
  if (count == 0) return 1.0;
  int64_t nz = 0;
  for (int64_t i = 0; i < count; ++i) nz += p[i] != 0.0f;
  return static_cast<double>(nz) / static_cast<double>(count);
}

bool force_sparse_isa(const char* name) {
  const std::string n = name;
  const Isa best = detect();
  Isa want;
  if (n.empty()) {
    forced = -1;
    return true;
  } else if (n == "avx512") {
    want = Isa::kAvx512;
  } else if (n == "avx2") {
    want = Isa::kAvx2;
  } else if (n == "generic") {
    want = Isa::kGeneric;
  } else {
    return false;
  }
  if (static_cast<int>(want) < static_cast<int>(best)) return false;  // wider than the CPU has
  forced = static_cast<int>(want);
  return true;
}

const char* sparse_isa() {
  switch (isa()) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "generic";
  }
}

bool sparse_matmul(const SparseWeight& w, const float* a, int64_t m, float* y, const float* bias, float alpha,
                   int threads) {
  // The Aᵀ panel of the GEMM: one per calling thread, grown as needed.
  thread_local std::unique_ptr<float, FreeDeleter> panel;
  thread_local size_t panel_floats = 0;
  if (m > 1) {
    const size_t need = static_cast<size_t>(w.k) * kMaxPanel;
    if (need > panel_floats) {
      const size_t bytes = (need * sizeof(float) + 63) / 64 * 64;
      panel.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
      panel_floats = panel ? need : 0;
      if (!panel) return false;
    }
  }
  SpmmArgs g{w.k, w.n, m, w.row_ptr.data(), w.idx16.empty() ? nullptr : w.idx16.data(),
             w.idx32.empty() ? nullptr : w.idx32.data(), w.val.data(), a, y, bias, alpha,
             threads < 1 ? 1 : threads, panel.get()};
  if (g.idx16 == nullptr && g.idx32 == nullptr) {  // no nonzeros: y = bias
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < w.n; ++j) y[i * w.n + j] = bias ? bias[j] : 0.0f;
    return true;
  }
  switch (isa()) {
    case Isa::kAvx512: avx512::spmm(g); break;
    case Isa::kAvx2: avx2::spmm(g); break;
    default: generic::spmm(g); break;
  }
  return true;
}

}  // namespace pare::kernels::sparse
