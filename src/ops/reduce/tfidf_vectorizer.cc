// TfIdfVectorizer (9): counts the n-grams of the pool in each row of X ([C] or [N, C];
// int32, int64 or string) and writes Y ([O] or [N, O], float), O = max(ngram_indexes) + 1.
//   pool: pool_int64s or pool_strings, grouped by length; ngram_counts[k] is the pool offset of
//   the (k+1)-grams; the p-th n-gram of the pool (over all lengths) is counted in column
//   ngram_indexes[p].
//   An n-gram with skip s takes the items at i, i+s+1, ..., i+(n−1)(s+1); every s in
//   [0, max_skip_count] and n in [min_gram_length, max_gram_length] is counted, unigrams once.
//   mode TF: Y = count;  IDF: Y = count > 0 ? w : 0;  TFIDF: Y = count·w  (w = weights[column],
//   1 when weights are absent).
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

enum class TfIdfMode { kTf, kIdf, kTfIdf };

// N-gram → output column, for one key type (int64 for integer pools, string otherwise).
template <typename Key>
using NgramMap = std::map<std::vector<Key>, int64_t>;

struct TfIdfAttrs {
  TfIdfMode mode = TfIdfMode::kTf;
  int64_t min_gram = 1, max_gram = 1, max_skip = 0;
  int64_t out_size = 0;
  std::vector<float> weights;
  bool string_pool = false;
  NgramMap<int64_t> int_ngrams;
  NgramMap<std::string> string_ngrams;
};

// Splits the flat pool into n-grams by ngram_counts and maps each to its output column.
template <typename Key>
Status build_ngrams(const ir::Node& node, const std::vector<Key>& pool, const std::vector<int64_t>& counts,
                    const std::vector<int64_t>& indexes, NgramMap<Key>& map) {
  const int64_t pool_size = static_cast<int64_t>(pool.size());
  size_t p = 0;  // n-gram ordinal in the pool
  for (size_t k = 0; k < counts.size(); ++k) {
    const int64_t n = static_cast<int64_t>(k) + 1;
    const int64_t begin = counts[k];
    const int64_t end = k + 1 < counts.size() ? counts[k + 1] : pool_size;
    if (begin < 0 || end < begin || end > pool_size || (end - begin) % n != 0) {
      return invalid_model("{}: ngram_counts {} does not split a pool of {} items into {}-grams",
                           node.describe(), fmt::join(counts, ","), pool_size, n);
    }
    for (int64_t i = begin; i < end; i += n, ++p) {
      if (p >= indexes.size()) {
        return invalid_model("{}: ngram_indexes has {} entries, fewer than the pool's n-grams", node.describe(), indexes.size());
      }
      map.emplace(std::vector<Key>(pool.begin() + i, pool.begin() + i + n), indexes[p]);
    }
  }
  if (p != indexes.size()) {
    return invalid_model("{}: ngram_indexes has {} entries but the pool holds {} n-grams", node.describe(), indexes.size(), p);
  }
  return ok_status();
}

class TfIdfVectorizerKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    const ir::Node& node = init.node;
    auto k = std::make_unique<TfIdfVectorizerKernel>();
    TfIdfAttrs& a = k->attrs_;
    const std::string mode = node.attr_string("mode", "");
    if (mode == "TF") a.mode = TfIdfMode::kTf;
    else if (mode == "IDF") a.mode = TfIdfMode::kIdf;
    else if (mode == "TFIDF") a.mode = TfIdfMode::kTfIdf;
    else return invalid_model("{}: mode must be TF, IDF or TFIDF, got '{}'", node.describe(), mode);
    a.min_gram = node.attr_int("min_gram_length", 0);
    a.max_gram = node.attr_int("max_gram_length", 0);
    a.max_skip = node.attr_int("max_skip_count", 0);
    if (a.min_gram < 1 || a.max_gram < a.min_gram || a.max_gram > 1024) {
      return invalid_model("{}: need 1 <= min_gram_length <= max_gram_length <= 1024, got {} and {}", node.describe(),
                           a.min_gram, a.max_gram);
    }
    if (a.max_skip < 0) return invalid_model("{}: max_skip_count must be >= 0, got {}", node.describe(), a.max_skip);
    const std::vector<int64_t> counts = node.attr_ints("ngram_counts");
    const std::vector<int64_t> indexes = node.attr_ints("ngram_indexes");
    for (int64_t i : indexes) {
      if (i < 0 || i >= (int64_t{1} << 31)) return invalid_model("{}: ngram_indexes value {} out of range", node.describe(), i);
      a.out_size = std::max(a.out_size, i + 1);
    }
    a.weights = node.attr_floats("weights");
    if (!a.weights.empty() && static_cast<int64_t>(a.weights.size()) < a.out_size) {
      return invalid_model("{}: weights has {} entries for {} output columns", node.describe(), a.weights.size(), a.out_size);
    }
    const bool has_ints = node.has_attr("pool_int64s"), has_strings = node.has_attr("pool_strings");
    if (has_ints == has_strings) {
      return invalid_model("{}: exactly one of pool_int64s and pool_strings must be given", node.describe());
    }
    a.string_pool = has_strings;
    Status st = has_strings ? build_ngrams(node, node.attr_strings("pool_strings"), counts, indexes, a.string_ngrams)
                            : build_ngrams(node, node.attr_ints("pool_int64s"), counts, indexes, a.int_ngrams);
    PARE_RETURN_IF_ERROR(st);
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->rank() != 1 && x->rank() != 2) return ctx.error("X must be [C] or [N, C], got {}", x->type_string());
    const bool is_string = x->dtype() == DataType::kString;
    if (!is_string && x->dtype() != DataType::kInt32 && x->dtype() != DataType::kInt64) {
      return ctx.error("X must be int32, int64 or string, got {}", x->type_string());
    }
    if (is_string != attrs_.string_pool) {
      return ctx.error("X is {} but the pool holds {}", x->type_string(), attrs_.string_pool ? "strings" : "int64s");
    }
    const int64_t rows = x->rank() == 2 ? x->dim(0) : 1;
    const int64_t cols = x->dim(-1);
    Shape out_shape = x->rank() == 2 ? Shape{rows, attrs_.out_size} : Shape{attrs_.out_size};
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, out_shape));
    float* out = y->data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      float* row_out = out + r * attrs_.out_size;
      if (is_string) {
        count_row(x->data<std::string>() + r * cols, cols, attrs_.string_ngrams, row_out);
      } else if (x->dtype() == DataType::kInt32) {
        count_row(x->data<int32_t>() + r * cols, cols, attrs_.int_ngrams, row_out);
      } else {
        count_row(x->data<int64_t>() + r * cols, cols, attrs_.int_ngrams, row_out);
      }
      weigh_row(row_out);
    }
    return ok_status();
  }

 private:
  // Adds the count of every pool n-gram of one row to row_out (zero-filled on entry).
  template <typename T, typename Key>
  void count_row(const T* row, int64_t cols, const NgramMap<Key>& ngrams, float* row_out) const {
    if (ngrams.empty()) return;
    std::vector<Key> gram;
    for (int64_t skip = 0; skip <= attrs_.max_skip; ++skip) {
      const int64_t stride = skip + 1;
      // Unigrams do not depend on the skip: count them in the first pass only.
      const int64_t min_n = skip > 0 ? std::max<int64_t>(attrs_.min_gram, 2) : attrs_.min_gram;
      if (min_n > attrs_.max_gram) break;
      if ((min_n - 1) * stride >= cols) break;  // no n-gram of this skip fits in the row
      for (int64_t start = 0; start < cols; ++start) {
        gram.clear();
        for (int64_t n = 1; n <= attrs_.max_gram; ++n) {
          const int64_t pos = start + (n - 1) * stride;
          if (pos >= cols) break;
          gram.push_back(Key(row[pos]));
          if (n < min_n) continue;
          auto it = ngrams.find(gram);
          if (it != ngrams.end()) row_out[it->second] += 1.0f;
        }
      }
    }
  }

  void weigh_row(float* row_out) const {
    const bool has_w = !attrs_.weights.empty();
    for (int64_t c = 0; c < attrs_.out_size; ++c) {
      const float w = has_w ? attrs_.weights[c] : 1.0f;
      switch (attrs_.mode) {
        case TfIdfMode::kTf: break;
        case TfIdfMode::kIdf: row_out[c] = row_out[c] > 0 ? w : 0.0f; break;
        case TfIdfMode::kTfIdf: row_out[c] *= w; break;
      }
    }
  }

  TfIdfAttrs attrs_;
};

}  // namespace

void register_TfIdfVectorizer(KernelRegistry& r) {
  r.add({"TfIdfVectorizer", "", 9, kMaxOpset, &make_kernel<TfIdfVectorizerKernel>});
}

}  // namespace pare::ops
