// GGUF branches of `pare bench` and `pare inspect` (called from bench.cc / inspect.cc when the
// model file ends in .gguf).
//   bench: like llama-bench — prompt processing (P tokens in one batch from an empty cache) and
//   generation (N tokens one at a time from an empty cache), tokens/s as the median of REPS runs
//   after one warm-up, plus weight bytes per generated token and the bandwidth they imply. With
//   --parallel S, generation runs S sequences through each step together (llm::eval_batch, as
//   the server's continuous batching does) and tokens/s counts all of them.
#include <omp.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli/cli.h"
#include "llm/generator.h"

namespace pare::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

bool is_gguf_path(const std::string& path) { return path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0; }

int llm_bench(const std::string& path, int64_t n_prompt, int64_t n_gen, int threads, int reps, bool json, const std::string& kv_type,
              int parallel) {
  if (threads > 0) omp_set_num_threads(threads);
  if (n_prompt < 0 || n_gen < 0 || n_prompt + n_gen == 0 || reps < 1)
    return report(invalid_input("bench: need -p ≥ 0, -n ≥ 0 (not both 0) and ≥ 1 repetition"));
  if (parallel < 1 || parallel > 64) return report(invalid_input("bench: --parallel must be in [1, 64], got {}", parallel));
  auto model = llm::Model::load(path);
  if (!model.ok()) return report(model.status());
  auto kv = llm::parse_kv_type(kv_type);
  if (!kv.ok()) return report(kv.status());
  auto ctx = llm::Context::create(*model, std::max<int64_t>(n_prompt, n_gen) + 1, *kv);
  if (!ctx.ok()) return report(ctx.status());
  std::vector<std::unique_ptr<llm::Context>> more;  // sequences 2..S of --parallel
  for (int i = 1; i < parallel; ++i) {
    auto c2 = llm::Context::create(*model, n_gen + 1, *kv);
    if (!c2.ok()) return report(c2.status());
    more.push_back(std::move(*c2));
  }
  llm::Scratch scratch;
  const llm::ModelConfig& c = (*model)->config();
  std::vector<int32_t> toks(std::max<int64_t>(n_prompt, 1));
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 7919 + 13) % c.n_vocab);
  std::vector<double> pp, tg;
  for (int r = 0; r <= reps; ++r) {  // run 0 warms up
    if (n_prompt > 0) {
      (*ctx)->truncate(0);
      const auto t0 = std::chrono::steady_clock::now();
      auto e = (*ctx)->eval(toks.data(), n_prompt);
      if (!e.ok()) return report(e.status());
      if (r > 0) pp.push_back(n_prompt / seconds_since(t0));
    }
    if (n_gen > 0) {  // one batched step per token for all sequences (one: the plain decode)
      std::vector<llm::Context*> seqs{ctx->get()};
      for (auto& m : more) seqs.push_back(m.get());
      std::vector<int32_t> tok(parallel);
      for (int i = 0; i < parallel; ++i) {
        seqs[i]->truncate(0);
        tok[i] = toks[i % toks.size()];
      }
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t step = 0; step < n_gen; ++step) {
        std::vector<llm::SeqTokens> batch;
        for (int i = 0; i < parallel; ++i) batch.push_back({seqs[i], &tok[i], 1});
        auto e = llm::eval_batch(batch, scratch);
        if (!e.ok()) return report(e.status());
        for (int i = 0; i < parallel; ++i)
          tok[i] = static_cast<int32_t>(std::max_element((*e)[i], (*e)[i] + c.n_vocab) - (*e)[i]);  // greedy
      }
      if (r > 0) tg.push_back(static_cast<double>(n_gen) * parallel / seconds_since(t0));
    }
  }
  const uint64_t wbytes = (*model)->weight_bytes();
  const double tg_med = median(tg), pp_med = median(pp);
  const int nthreads = threads > 0 ? threads : omp_get_max_threads();
  if (json) {
    nlohmann::json j{{"model", path}, {"arch", c.arch}, {"threads", nthreads}, {"kernels", llm::active_kernels().name},
                     {"n_prompt", n_prompt}, {"n_gen", n_gen}, {"reps", reps}, {"parallel", parallel},
                     {"prompt_tokens_per_s", pp_med}, {"gen_tokens_per_s", tg_med}, {"prompt_runs", pp}, {"gen_runs", tg},
                     {"weight_bytes", wbytes}, {"gen_bytes_per_s", tg_med * static_cast<double>(wbytes) / parallel},
                     {"kv_cache_bytes", (*ctx)->kv_bytes()}, {"kv_type", kv_type}, {"peak_rss_bytes", peak_rss_bytes()}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << fmt::format("model     {} ({}, {} layers, {:.1f} MB of weights), {} threads, kernels {}\n", path, c.arch, c.n_layer,
                             wbytes / 1e6, nthreads, llm::active_kernels().name);
    if (n_prompt > 0) std::cout << fmt::format("pp{:<6}  {:8.2f} tokens/s (median of {})\n", n_prompt, pp_med, reps);
    if (n_gen > 0)
      std::cout << fmt::format("tg{:<6}  {:8.2f} tokens/s (median of {}; {:.2f} GB/s of weights){}\n", n_gen, tg_med, reps, tg_med * wbytes / 1e9 / parallel,
                               parallel > 1 ? fmt::format(", {} sequences per step", parallel) : "");
    std::cout << fmt::format("memory    peak RSS {:.1f} MB (KV cache {:.1f} MB)\n", peak_rss_bytes() / 1e6, (*ctx)->kv_bytes() / 1e6);
  }
  return 0;
}

int llm_inspect(const std::string& path, bool json) {
  auto f = gguf::File::open(path);
  if (!f.ok()) return report(f.status());
  const gguf::File& file = **f;
  std::map<std::string, std::pair<int64_t, uint64_t>> by_type;  // type → (tensors, bytes)
  int64_t params = 0;
  for (const auto& t : file.tensors()) {
    auto& e = by_type[gguf::type_name(t.type)];
    ++e.first;
    e.second += t.nbytes;
    params += t.n_elements();
  }
  auto model = llm::Model::from_file(*f);
  if (json) {
    nlohmann::json j{{"format", "gguf"}, {"version", file.version()}, {"alignment", file.alignment()}, {"parameters", params}};
    for (const auto& [k, v] : file.metadata()) j["metadata"][k] = v.to_short_string();
    for (const auto& [t, e] : by_type) j["tensor_types"][t] = {{"tensors", e.first}, {"bytes", e.second}};
    for (const auto& t : file.tensors()) j["tensors"].push_back({{"name", t.name}, {"type", gguf::type_name(t.type)}, {"shape", t.ne}});
    j["runnable"] = model.ok();
    if (!model.ok()) j["error"] = model.status().to_string();
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << fmt::format("GGUF v{}, {} tensors, {} metadata keys, {:.3f} B parameters, alignment {}\n", file.version(), file.tensors().size(),
                           file.metadata().size(), params / 1e9, file.alignment());
  for (const auto& [k, v] : file.metadata()) std::cout << "  " << k << " = " << v.to_short_string() << "\n";
  std::cout << "tensor types:\n";
  for (const auto& [t, e] : by_type) std::cout << fmt::format("  {:6} {:5} tensors {:10.1f} MB\n", t, e.first, e.second / 1e6);
  if (model.ok()) {
    const llm::ModelConfig& c = (*model)->config();
    std::cout << fmt::format("runnable: {} — {} layers, hidden {}, {} heads ({} KV), head dim {}, FFN {}, vocab {}, rope base {}\n", c.arch,
                             c.n_layer, c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.n_ff, c.n_vocab, c.rope_base);
  } else {
    std::cout << "not runnable by pare: " << model.status().to_string() << "\n";
  }
  return 0;
}

}  // namespace pare::cli
