#include "serve/model.h"

#include <omp.h>
#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace pare::serve {

Status validate_batching(const ModelConfig& c) {
  for (int p : c.preferred_batch_sizes)
    if (p < 1 || p > std::max(c.max_batch_size, 1))
      return invalid_input("preferred batch size {} is outside [1, max_batch_size {}]", p, c.max_batch_size);
  return ok_status();
}

Result<ModelConfig> parse_model_config(const std::string& toml_text) {
  ModelConfig c;
  try {
    toml::table t = toml::parse(toml_text);
    auto get_int = [&](const char* key, int64_t lo, int64_t hi, auto& out) -> Status {
      auto node = t[key];
      if (!node) return ok_status();
      auto v = node.value<int64_t>();
      if (!v || *v < lo || *v > hi) return invalid_input("config.toml: '{}' must be an integer in [{}, {}]", key, lo, hi);
      out = static_cast<std::decay_t<decltype(out)>>(*v);
      return ok_status();
    };
    PARE_RETURN_IF_ERROR(get_int("instances", 1, 64, c.instances));
    PARE_RETURN_IF_ERROR(get_int("threads", 0, 256, c.threads));
    PARE_RETURN_IF_ERROR(get_int("max_queue_size", 0, 1 << 20, c.max_queue_size));
    PARE_RETURN_IF_ERROR(get_int("timeout_ms", 1, 3600000, c.timeout_ms));
    PARE_RETURN_IF_ERROR(get_int("max_batch_size", 0, 1 << 16, c.max_batch_size));
    if (auto db = t["dynamic_batching"]) {
      if (!db.is_table()) return invalid_input("config.toml: 'dynamic_batching' must be a table");
      toml::table& d = *db.as_table();
      if (auto n = d["max_queue_delay_microseconds"]) {
        auto v = n.value<int64_t>();
        if (!v || *v < 0 || *v > 10000000)
          return invalid_input("config.toml: 'dynamic_batching.max_queue_delay_microseconds' must be an integer in [0, 10000000]");
        c.max_queue_delay_us = *v;
      }
      if (auto n = d["preferred_batch_size"]) {
        const toml::array* a = n.as_array();
        if (!a) return invalid_input("config.toml: 'dynamic_batching.preferred_batch_size' must be an array of integers");
        for (const auto& e : *a) {
          auto v = e.value<int64_t>();
          if (!v || *v < 1 || *v > (1 << 16))
            return invalid_input("config.toml: 'dynamic_batching.preferred_batch_size' entries must be integers ≥ 1");
          c.preferred_batch_sizes.push_back(static_cast<int>(*v));
        }
      }
    }
    PARE_RETURN_IF_ERROR(validate_batching(c));
    if (auto s = t["sha256"]) {
      auto v = s.value<std::string>();
      if (!v || v->size() != 64) return invalid_input("config.toml: 'sha256' must be 64 hex digits");
      c.sha256 = *v;
    }
  } catch (const toml::parse_error& e) {
    return invalid_input("config.toml: {}", std::string(e.description()));
  }
  return c;
}

Result<std::string> sha256_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return io_error("cannot read {}", path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  while (f) {
    f.read(buf.data(), buf.size());
    EVP_DigestUpdate(ctx.get(), buf.data(), f.gcount());
  }
  unsigned char md[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) out += {kHex[md[i] >> 4], kHex[md[i] & 15]};
  return out;
}

Result<std::shared_ptr<ServedModel>> ServedModel::load(const std::string& name, const std::string& version,
                                                       const std::string& path, const ModelConfig& config) {
  if (!config.sha256.empty()) {
    PARE_ASSIGN_OR_RETURN(std::string got, sha256_file(path));
    if (got != config.sha256)
      return invalid_model("{}: sha256 {} does not match config.toml's {}", path, got, config.sha256);
  }
  auto m = std::shared_ptr<ServedModel>(new ServedModel());
  m->name_ = name;
  m->version_ = version;
  m->config_ = config;
  runtime::SessionOptions so;
  so.num_threads = config.threads;
  for (int i = 0; i < config.instances; ++i) {
    PARE_ASSIGN_OR_RETURN(auto s, runtime::Session::load(path, so));
    m->sessions_.push_back(std::move(s));
  }
  m->inputs_ = m->sessions_[0]->inputs();
  m->outputs_ = m->sessions_[0]->outputs();
  // Batchable when every input has a dynamic (or unknown) first dim.
  m->batchable_ = !m->inputs_.empty();
  for (const auto& i : m->inputs_)
    if (i.type.shape && (i.type.shape->empty() || (*i.type.shape)[0].known())) m->batchable_ = false;
  const bool warm = m->batchable_ && config.max_batch_size > 1 && !config.preferred_batch_sizes.empty();
  std::vector<std::future<void>> warmed;
  for (size_t i = 0; i < m->sessions_.size(); ++i) {
    auto ready = std::make_shared<std::promise<void>>();
    warmed.push_back(ready->get_future());
    m->workers_.emplace_back([p = m.get(), i, ready, warm] {
      // OpenMP's thread count is per thread: the session's setting (made on the loading thread)
      // does not reach this one.
      if (p->config_.threads > 0) omp_set_num_threads(p->config_.threads);
      if (warm) p->warm_up(i);
      ready->set_value();
      p->worker(i);
    });
  }
  for (auto& f : warmed) f.wait();
  return m;
}

static Status cancelled_error(const std::string& model) {
  return Status(StatusCode::kIo, fmt::format("model '{}': request cancelled, the client disconnected", model));
}

Result<std::vector<std::pair<std::string, Tensor>>> ServedModel::infer(const InferRequest& req, Stats* stats,
                                                                         const std::function<bool()>& client_gone) {
  using Clock = std::chrono::steady_clock;
  for (const auto& [n, t] : req.inputs) {
    const runtime::IoInfo* info = nullptr;
    for (const auto& i : inputs_)
      if (i.name == n) info = &i;
    if (!info) return invalid_input("model '{}' has no input '{}'", name_, n);
    if (info->type.dtype != t.dtype())
      return invalid_input("input '{}': datatype {} but the model expects {}", n, dtype_to_oip(t.dtype()),
                           dtype_to_oip(info->type.dtype));
    if (info->type.shape) {
      const auto& dims = *info->type.shape;
      bool match = dims.size() == t.shape().size();
      for (size_t d = 0; match && d < dims.size(); ++d)
        if (dims[d].known() && dims[d].value != t.shape()[d]) match = false;
      if (!match) return invalid_input("input '{}': shape does not match the model's {}", n, info->type.to_string());
    }
  }
  if (req.inputs.size() != inputs_.size())
    return invalid_input("model '{}' takes {} inputs, request gives {}", name_, inputs_.size(), req.inputs.size());
  std::vector<std::string> names;
  for (const auto& o : req.outputs) {
    bool found = false;
    for (const auto& i : outputs_) found |= i.name == o.name;
    if (!found) return invalid_input("model '{}' has no output '{}'", name_, o.name);
    names.push_back(o.name);
  }
  if (names.empty())
    for (const auto& o : outputs_) names.push_back(o.name);

  auto job = std::make_shared<Job>();
  for (const auto& [n, t] : req.inputs) job->feeds.emplace_back(n, RunValue(t));
  std::sort(job->feeds.begin(), job->feeds.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  job->names = names;
  if (batchable_ && config_.max_batch_size > 1) job->rows = batch_rows(job->feeds);
  job->enqueued = Clock::now();
  auto fut = job->done.get_future();
  {
    std::lock_guard lk(mu_);
    if (static_cast<int>(queue_.size()) >= config_.max_queue_size)
      return resource_exhausted("model '{}': queue full ({} waiting)", name_, queue_.size());
    queue_.push_back(job);
  }
  cv_.notify_one();
  ++in_flight_;
  struct Leave {
    std::atomic<int64_t>& n;
    ~Leave() { --n; }
  } leave{in_flight_};
  // Withdraws the job if no worker has taken it yet.
  auto withdraw = [&] {
    std::lock_guard lk(mu_);
    auto it = std::find(queue_.begin(), queue_.end(), job);
    if (it == queue_.end()) return false;
    queue_.erase(it);
    return true;
  };
  const auto deadline = job->enqueued + std::chrono::milliseconds(config_.timeout_ms);
  // Short first wait (the common case costs nothing), then the client is checked every 10 ms.
  auto slice = std::chrono::milliseconds(2);
  for (;;) {
    auto now = Clock::now();
    if (fut.wait_for(std::min<Clock::duration>(slice, std::max<Clock::duration>(deadline - now, Clock::duration(0)))) ==
        std::future_status::ready)
      break;
    slice = std::chrono::milliseconds(10);
    if (Clock::now() >= deadline) {
      if (withdraw())
        return resource_exhausted("model '{}': timed out after {} ms in the queue", name_, config_.timeout_ms);
      fut.wait();  // already running: a run cannot be interrupted
      break;
    }
    if (client_gone && client_gone()) {
      stats->cancelled = true;
      // Queued: withdrawn, never run. Running: its result is dropped (the job outlives us).
      withdraw();
      return cancelled_error(name_);
    }
  }
  auto r = fut.get();
  stats->queue_ms = job->queue_ms;
  stats->compute_ms = job->compute_ms;
  stats->batch = job->batch;
  if (!r.ok()) return r.status();
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!(*r)[i].is_tensor()) return unsupported("output '{}' is not a tensor", names[i]);
    out.emplace_back(names[i], (*r)[i].tensor);
  }
  return out;
}

ServedModel::~ServedModel() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ServedModel::worker(size_t i) {
  for (;;) {
    std::vector<JobPtr> batch;
    {
      std::unique_lock lk(mu_);
      batch = next_batch(lk);
    }
    if (batch.empty()) break;
    run_batch(i, batch);
  }
  sessions_[i].reset();  // freed on the thread that ran it
}

}  // namespace pare::serve
