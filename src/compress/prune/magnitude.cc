// Unstructured (magnitude) and N:M pruning of float weights, and the gradual schedule.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "compress/prune/internal.h"

namespace pare::prune {
namespace internal {
namespace {

// Zeroes exactly k of the entries with the smallest |w| over `spans`: everything below the
// k-th smallest magnitude, then ties at it in order until k are zero.
void zero_k_smallest(const std::vector<std::span<float>>& spans, int64_t k) {
  if (k <= 0) return;
  std::vector<float> mags;
  for (auto s : spans) {
    for (float x : s) mags.push_back(std::abs(x));
  }
  if (mags.empty()) return;
  k = std::min<int64_t>(k, static_cast<int64_t>(mags.size()));
  std::nth_element(mags.begin(), mags.begin() + (k - 1), mags.end());
  const float thr = mags[k - 1];
  int64_t zeroed = 0;
  for (auto s : spans) {
    for (float& x : s) {
      if (std::abs(x) < thr) {
        x = 0.0f;
        ++zeroed;
      }
    }
  }
  for (auto s : spans) {
    for (float& x : s) {
      if (zeroed >= k) return;
      if (std::abs(x) == thr) {  // (entries zeroed above are below thr, so not counted twice)
        x = 0.0f;
        ++zeroed;
      }
    }
  }
}

}  // namespace

void zero_smallest(const std::vector<std::span<float>>& spans, double sparsity, Scope scope) {
  if (scope == Scope::kLayer) {
    for (auto s : spans) zero_k_smallest({s}, static_cast<int64_t>(std::llround(sparsity * static_cast<double>(s.size()))));
    return;
  }
  int64_t total = 0;
  for (auto s : spans) total += static_cast<int64_t>(s.size());
  zero_k_smallest(spans, static_cast<int64_t>(std::llround(sparsity * static_cast<double>(total))));
}

void zero_nm(std::span<float> w, int64_t outer, int64_t k, int64_t inner, int64_t n, int64_t m) {
  std::vector<int64_t> idx(static_cast<size_t>(m));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t k0 = 0; k0 + m <= k; k0 += m) {
        auto at = [&](int64_t j) -> float& { return w[static_cast<size_t>((o * k + k0 + j) * inner + i)]; };
        std::iota(idx.begin(), idx.end(), 0);
        // Largest |w| first; ties keep the earlier index (stable), so the result is deterministic.
        std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return std::abs(at(a)) > std::abs(at(b)); });
        for (int64_t j = n; j < m; ++j) at(idx[j]) = 0.0f;
      }
    }
  }
}

InputLayout input_layout(const Layer& l) {
  const Shape& s = l.weight->initializer()->shape();
  InputLayout r;
  if (l.node->op_type() == "Conv") {
    r.outer = s[0];
    r.k = s[1];
    r.inner = 1;
    for (size_t i = 2; i < s.size(); ++i) r.inner *= s[i];
  } else if (l.node->op_type() == "Gemm" && l.node->attr_int("transB", 0) != 0) {
    r.outer = s[0];
    r.k = s[1];
  } else {
    r.k = s[0];
    r.inner = s[1];
  }
  return r;
}

}  // namespace internal

double GradualSchedule::sparsity_at(int64_t step, int64_t total) const {
  const double end = std::max(1.0, end_fraction_ * static_cast<double>(total));
  const double t = std::min(1.0, static_cast<double>(step) / end);
  return o_.sparsity.value_or(0) * (1.0 - std::pow(1.0 - t, 3.0));
}

Status GradualSchedule::on_step(const std::vector<std::string>& names, std::vector<Tensor>& params, int64_t step, int64_t total) {
  const int64_t end = std::max<int64_t>(1, static_cast<int64_t>(end_fraction_ * static_cast<double>(total)));
  const int64_t every = every_ > 0 ? every_ : std::max<int64_t>(1, end / 20);
  if (step <= end && (step % every == 0 || step == end)) {
    std::vector<std::span<float>> spans;
    std::vector<size_t> which;
    for (const std::string& w : weights_) {
      auto it = std::find(names.begin(), names.end(), w);
      if (it == names.end()) return internal_error("gradual pruning: weight '{}' is not a trained parameter", w);
      const size_t i = static_cast<size_t>(it - names.begin());
      spans.push_back(internal::float_span(params[i]));
      which.push_back(i);
    }
    // Weights masked earlier stay zero (they are the smallest, and re-zeroed below first).
    apply_masks(masks_, names, params);
    internal::zero_smallest(spans, sparsity_at(step, total), o_.scope);
    for (size_t j = 0; j < spans.size(); ++j) {
      auto& mk = masks_[names[which[j]]];
      mk.resize(spans[j].size());
      for (size_t e = 0; e < spans[j].size(); ++e) mk[e] = spans[j][e] != 0.0f;
    }
    return ok_status();
  }
  apply_masks(masks_, names, params);
  return ok_status();
}

}  // namespace pare::prune
