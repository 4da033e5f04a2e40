// Dynamic batching for ServedModel (see model.h): gathering compatible queued requests, merging
// their inputs along dim 0, running once and splitting the outputs back by rows. Ported from the
// `serve2` branch's Batcher onto the per-model queue, with preferred sizes, per-request timeout
// and withdrawal of requests whose client has gone.
#include <algorithm>
#include <cstring>

#include "serve/model.h"

namespace pare::serve {
namespace {

using Clock = std::chrono::steady_clock;

// Bytes of one element when rows can be cut at byte boundaries (not strings or packed int4).
size_t row_element_bytes(DataType t) {
  if (t == DataType::kString) return 0;
  size_t es = dtype_size(t);
  return es > 0 && dtype_storage_bytes(t, 2) == 2 * es ? es : 0;
}

// Same input names, dtypes, ranks and non-batch dims, and the same requested outputs.
bool compatible(const std::vector<std::pair<std::string, RunValue>>& a, const std::vector<std::string>& ao,
                const std::vector<std::pair<std::string, RunValue>>& b, const std::vector<std::string>& bo) {
  if (ao != bo || a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor &x = a[i].second.tensor, &y = b[i].second.tensor;
    if (a[i].first != b[i].first || x.dtype() != y.dtype() || x.rank() != y.rank()) return false;
    for (int64_t d = 1; d < x.rank(); ++d)
      if (x.shape()[d] != y.shape()[d]) return false;
  }
  return true;
}

// Copies N rows of SRC starting at row FROM into DST at row TO (same row size).
void copy_rows(const Tensor& src, int64_t from, Tensor& dst, int64_t to, int64_t n) {
  const int64_t row = src.shape()[0] == 0 ? 0 : src.numel() / src.shape()[0];
  const size_t es = row_element_bytes(src.dtype());
  if (n * row == 0) return;
  std::memcpy(static_cast<uint8_t*>(dst.raw_data()) + static_cast<size_t>(to * row) * es,
              static_cast<const uint8_t*>(src.raw_data()) + static_cast<size_t>(from * row) * es,
              static_cast<size_t>(n * row) * es);
}

}  // namespace

int64_t batch_rows(const std::vector<std::pair<std::string, RunValue>>& feeds) {
  if (feeds.empty()) return -1;
  int64_t n = -1;
  for (const auto& [name, v] : feeds) {
    if (!v.is_tensor() || v.tensor.rank() == 0 || row_element_bytes(v.tensor.dtype()) == 0) return -1;
    if (n >= 0 && v.tensor.shape()[0] != n) return -1;
    n = v.tensor.shape()[0];
  }
  return n > 0 ? n : -1;
}

std::vector<ServedModel::JobPtr> ServedModel::next_batch(std::unique_lock<std::mutex>& lk) {
  cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
  if (queue_.empty()) return {};
  std::vector<JobPtr> batch{queue_.front()};
  queue_.pop_front();
  const int64_t max = config_.max_batch_size;
  int64_t total = batch[0]->rows;
  if (max <= 1 || total < 0 || total >= max) return batch;
  const auto& pref = config_.preferred_batch_sizes;
  auto preferred = [&](int64_t n) { return std::find(pref.begin(), pref.end(), n) != pref.end(); };
  const auto deadline = batch[0]->enqueued + std::chrono::microseconds(config_.max_queue_delay_us);
  for (;;) {
    // Compatible waiting requests that still fit, in arrival order.
    for (auto it = queue_.begin(); it != queue_.end() && total < max;) {
      const Job& j = **it;
      if (j.rows > 0 && total + j.rows <= max && compatible(batch[0]->feeds, batch[0]->names, j.feeds, j.names)) {
        total += j.rows;
        batch.push_back(*it);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (total >= max || stop_ || preferred(total) || Clock::now() >= deadline) break;
    cv_.wait_until(lk, deadline);
  }
  if (!pref.empty() && !preferred(total)) {
    // The delay ran out between preferred sizes: run the largest preferred prefix, requeue the rest.
    int64_t best = 0, sum = 0;
    size_t cut = 0;
    for (size_t k = 0; k < batch.size(); ++k) {
      sum += batch[k]->rows;
      if (preferred(sum)) best = sum, cut = k + 1;
    }
    if (best > 0 && cut < batch.size()) {
      for (size_t k = batch.size(); k-- > cut;) queue_.push_front(batch[k]);
      batch.resize(cut);
      cv_.notify_one();
    }
  }
  return batch;
}

void ServedModel::run_batch(size_t i, std::vector<JobPtr>& batch) {
  auto t1 = Clock::now();
  std::vector<Result<std::vector<RunValue>>> results;
  int64_t total = 0;
  for (const auto& j : batch) total += j->rows;
  auto run_each = [&] {
    results.clear();
    for (const auto& j : batch) {
      results.push_back(sessions_[i]->run(j->feeds, j->names));
      ++runs_;
    }
  };
  // With preferred sizes, a batchable batch is padded with zero rows up to the smallest
  // preferred size that holds it, so the session only ever sees those shapes (each new input
  // shape costs a plan: primitive creation, weight reordering, kernel timing).
  int64_t padded = -1;
  if (batch[0]->rows > 0)
    for (int p : config_.preferred_batch_sizes)
      if (p >= total && (padded < 0 || p < padded)) padded = p;
  // Padding bounds the shapes the session sees (each new one is planned) but computes rows
  // nobody asked for: at most a third more rows than the batch holds, else it runs as is.
  if (padded < 0 || padded - total > total / 3) padded = total;
  if (batch.size() == 1 && padded == total) {
    run_each();
    total = std::max<int64_t>(batch[0]->rows, 1);
  } else {
    std::vector<std::pair<std::string, RunValue>> merged;
    Status st;
    for (size_t k = 0; k < batch[0]->feeds.size() && st.ok(); ++k) {
      const Tensor& first = batch[0]->feeds[k].second.tensor;
      Shape s = first.shape();
      s[0] = padded;
      auto t = Tensor::create(first.dtype(), s);
      if (!t.ok()) {
        st = t.status();
        break;
      }
      int64_t at = 0;
      for (const auto& j : batch) {
        const Tensor& src = j->feeds[k].second.tensor;
        copy_rows(src, 0, *t, at, src.shape()[0]);
        at += src.shape()[0];
      }
      if (padded > total) {
        const size_t row = static_cast<size_t>(first.numel() / first.shape()[0]) * row_element_bytes(first.dtype());
        std::memset(static_cast<uint8_t*>(t->raw_data()) + static_cast<size_t>(total) * row, 0,
                    static_cast<size_t>(padded - total) * row);
      }
      merged.emplace_back(batch[0]->feeds[k].first, RunValue(std::move(*t)));
    }
    Result<std::vector<RunValue>> out = st.ok() ? sessions_[i]->run(merged, batch[0]->names) : Result<std::vector<RunValue>>(st);
    ++runs_;
    bool split = out.ok();
    if (split)
      for (const auto& v : *out)
        split &= v.is_tensor() && v.tensor.rank() > 0 && v.tensor.shape()[0] == padded &&
                 row_element_bytes(v.tensor.dtype()) > 0;
    if (!split) {
      // Outputs not aligned with the batch dim, or the merged run failed: run each alone.
      run_each();
      total = 1;
    } else {
      total = padded;
      int64_t at = 0;
      for (const auto& j : batch) {
        std::vector<RunValue> mine;
        Status err;
        for (const auto& v : *out) {
          Shape s = v.tensor.shape();
          s[0] = j->rows;
          auto t = Tensor::create(v.tensor.dtype(), s);
          if (!t.ok()) {
            err = t.status();
            break;
          }
          copy_rows(v.tensor, at, *t, 0, j->rows);
          mine.emplace_back(std::move(*t));
        }
        results.push_back(err.ok() ? Result<std::vector<RunValue>>(std::move(mine)) : Result<std::vector<RunValue>>(err));
        at += j->rows;
      }
    }
  }
  auto t2 = Clock::now();
  for (size_t k = 0; k < batch.size(); ++k) {
    Job& j = *batch[k];
    j.queue_ms = std::chrono::duration<double, std::milli>(t1 - j.enqueued).count();
    j.compute_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    j.batch = static_cast<int>(total);
    j.done.set_value(std::move(results[k]));
  }
}

void ServedModel::warm_up(size_t i) {
  // Only when every non-batch dim is known: run each preferred size once with zeros.
  std::vector<std::pair<std::string, RunValue>> feeds;
  for (int n : config_.preferred_batch_sizes) {
    feeds.clear();
    for (const auto& io : inputs_) {
      if (!io.type.shape || row_element_bytes(io.type.dtype) == 0) return;
      Shape s;
      for (size_t d = 0; d < io.type.shape->size(); ++d) {
        if (d > 0 && !(*io.type.shape)[d].known()) return;
        s.push_back(d == 0 ? n : (*io.type.shape)[d].value);
      }
      auto t = Tensor::create(io.type.dtype, s);
      if (!t.ok()) return;
      std::memset(t->raw_data(), 0, t->nbytes());
      feeds.emplace_back(io.name, RunValue(std::move(*t)));
    }
    (void)sessions_[i]->run(feeds, {});
  }
}

}  // namespace pare::serve
