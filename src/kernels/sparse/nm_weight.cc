#include "kernels/sparse/nm_weight.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/sparse/sparse_weight.h"

namespace pare::kernels::sparse {

namespace avx512 { void nm(const NmArgs& g); }
namespace avx2 { void nm(const NmArgs& g); }
namespace generic { void nm(const NmArgs& g); }

namespace {

void* alloc64(size_t bytes) { return std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64)); }

// The largest number of nonzeros in a run of m along K, over all columns and full groups;
// stops early (returning more than m/2) once no pattern of m is possible, so a dense weight
// costs the plan one group or column, not a pass over B.
int64_t max_per_group(const float* b, int64_t k, int64_t n, bool transposed, int m) {
  const int64_t groups = k / m;
  int64_t worst = 0;
  if (transposed) {  // [n, k]: each column's K values are contiguous
    for (int64_t j = 0; j < n; ++j) {
      const float* col = b + j * k;
      for (int64_t g = 0; g < groups; ++g) {
        int64_t c = 0;
        for (int p = 0; p < m; ++p) c += col[g * m + p] != 0.0f;
        worst = std::max(worst, c);
      }
      if (2 * worst > m) return worst;
    }
    return worst;
  }
  std::vector<uint8_t> count(n);
  for (int64_t g = 0; g < groups; ++g) {
    std::fill(count.begin(), count.end(), 0);
    for (int p = 0; p < m; ++p) {
      const float* row = b + (g * m + p) * n;
      for (int64_t j = 0; j < n; ++j) count[j] += row[j] != 0.0f;
    }
    worst = std::max<int64_t>(worst, *std::max_element(count.begin(), count.end()));
    if (2 * worst > m) break;
  }
  return worst;
}

}  // namespace

std::optional<NmPattern> NmWeight::detect(const float* b, int64_t k, int64_t n, bool transposed) {
  std::optional<NmPattern> best;
  double best_cost = 0;
  for (int m : {4, 8}) {
    if (k < m || n < 1) continue;
    const int64_t c = std::max<int64_t>(1, max_per_group(b, k, n, transposed, m));
    if (2 * c > m) continue;
    // Bytes per k per column: c values of 4 bytes + c codes of 2 (m = 4) or 4 (m = 8) bits, per m.
    const double cost = static_cast<double>(c) * (4.0 + (m == 4 ? 0.25 : 0.5)) / m;
    if (!best || cost < best_cost) {
      best = NmPattern{static_cast<int>(c), m};
      best_cost = cost;
    }
  }
  return best;
}

std::optional<NmWeight> NmWeight::pack(const float* b, int64_t k, int64_t n, bool transposed, NmPattern p) {
  NmWeight w;
  w.k = k;
  w.n = n;
  w.nn = p.n;
  w.mm = p.m;
  w.groups = k / p.m;
  w.tail = k % p.m;
  w.blocks = (n + kNmLanes - 1) / kNmLanes;
  const size_t nval = static_cast<size_t>(w.blocks * (w.groups * w.nn + w.tail) * kNmLanes);
  w.val = {static_cast<float*>(alloc64(nval * 4)), std::free};
  w.code = {alloc64(w.code_bytes()), std::free};
  if (!w.val || !w.code) return std::nullopt;
  std::memset(w.val.get(), 0, nval * 4);
  std::memset(w.code.get(), 0, w.code_bytes());
  auto at = [&](int64_t kk, int64_t j) { return transposed ? b[j * k + kk] : b[kk * n + j]; };
  float* val = w.val.get();
  auto* c32 = static_cast<uint32_t*>(w.code.get());
  auto* c64 = static_cast<uint64_t*>(w.code.get());
  for (int64_t bl = 0; bl < w.blocks; ++bl) {
    const int64_t lanes = std::min(kNmLanes, n - bl * kNmLanes);
    for (int64_t g = 0; g < w.groups; ++g) {
      const int64_t slot0 = (bl * w.groups + g) * w.nn;
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t j = bl * kNmLanes + l;
        int i = 0;
        for (int q = 0; q < p.m; ++q) {
          const float v = at(g * p.m + q, j);
          if (v == 0.0f) continue;
          if (i == p.n) return std::nullopt;  // not the pattern: detect() first
          val[(slot0 + i) * kNmLanes + l] = v;
          if (p.m == 4) {
            c32[slot0 + i] |= static_cast<uint32_t>(q) << (2 * l);
          } else {
            c64[slot0 + i] |= static_cast<uint64_t>(q) << ((l & 1) * 32 + (l >> 1) * 4);
          }
          ++i;
        }
      }
    }
    float* tv = val + w.blocks * w.groups * w.nn * kNmLanes + bl * w.tail * kNmLanes;
    for (int64_t t = 0; t < w.tail; ++t)
      for (int64_t l = 0; l < lanes; ++l) tv[t * kNmLanes + l] = at(w.groups * p.m + t, bl * kNmLanes + l);
  }
  return w;
}

void nm_matmul(const NmWeight& w, const float* a, int64_t m, float* y, const float* bias, float alpha, int threads) {
  NmArgs g{w.k, w.n, m, w.groups, w.tail, w.blocks, w.nn, w.mm, w.val.get(), w.code.get(), w.tail_val(),
           a, y, bias, alpha, threads < 1 ? 1 : threads};
  const char* isa = sparse_isa();
  if (std::strcmp(isa, "avx512") == 0) {
    avx512::nm(g);
  } else if (std::strcmp(isa, "avx2") == 0) {
    avx2::nm(g);
  } else {
    generic::nm(g);
  }
}

}  // namespace pare::kernels::sparse
