// pare bench MODEL — load time, latency percentiles, throughput, peak RSS and arena bytes.
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <tuple>

#include "cli/cli.h"
#include "cli/progress.h"

namespace pare::cli {
namespace {

// User + system CPU time of this process (all threads), ms.
double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:   123456 kB"
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

bool is_gguf_path(const std::string& path);  // llm_bench.cc
int llm_bench(const std::string& path, int64_t n_prompt, int64_t n_gen, int threads, int reps, bool json, const std::string& kv_type,
              int parallel);

void add_bench(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("bench", "Measure load time, latency (min/p50/p90/p99), throughput and memory");
  struct Opts {
    std::string model;
    InputSpec inputs;
    std::vector<std::string> shape_specs;
    int opt_level = 3;
    int threads = 0, iters = 50, warmup = 5;
    int64_t batch = 0;
    bool json = false, profile = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("MODEL", o->model, "ONNX model file")->required();
  cmd->add_option("-t,--threads", o->threads, "threads (0: all cores)")->default_val(0);
  add_opt_level_option(cmd, o->opt_level);
  cmd->add_option("-n,--iters", o->iters, "timed runs")->default_val(50)->check(CLI::PositiveNumber);
  cmd->add_option("-w,--warmup", o->warmup, "untimed runs first")->default_val(5)->check(CLI::NonNegativeNumber);
  cmd->add_option("-b,--batch", o->batch, "batch size for generated inputs (the first dim, when symbolic)");
  cmd->add_option("-i,--input", o->inputs.files, "[NAME=]FILE (.npy/.pb); other inputs are generated");
  cmd->add_option("--shape", o->shape_specs, "NAME=d0,d1,... shape of a generated input (symbolic dims default to 1)");
  cmd->add_flag("--json", o->json, "print one JSON object: load_ms, latency_ms{min,p50,p90,p99}, throughput_per_s, cpu_ms_per_run (process CPU time of the timed runs / runs), peak_rss_bytes, arena_bytes; with --profile also profile_nodes (every node in run order: node, op, kernel, ms_per_run)");
  cmd->add_flag("--profile", o->profile, "print the op types and the nodes that take the most time");
  auto n_prompt = std::make_shared<int64_t>(128);
  cmd->add_option("-p,--n-prompt", *n_prompt, "GGUF models: prompt tokens per prompt-processing run (default 128); -n is then the "
                  "generated tokens (default 64) and -w the repetitions (default 3)");
  auto kv_type = std::make_shared<std::string>("f16");
  cmd->add_option("--kv-type", *kv_type, "GGUF models: KV cache type, f16 or q8_0 (default f16)");
  auto parallel = std::make_shared<int>(1);
  cmd->add_option("--parallel", *parallel, "GGUF models: generation decodes this many sequences together, one batched step per "
                  "token as `pare serve --parallel` does (continuous batching); tokens/s is then the total of all sequences (default 1)");
  cmd->callback([o, n_prompt, kv_type, parallel, cmd, &rc] {
    if (is_gguf_path(o->model))
      return void(rc = llm_bench(o->model, *n_prompt, cmd->count("-n") ? o->iters : 64, o->threads, cmd->count("-w") ? o->warmup : 3, o->json, *kv_type,
                                 *parallel));
    for (const auto& spec : o->shape_specs) {
      auto sh = parse_shape_spec(spec);
      if (!sh.ok()) {
        rc = report(sh.status());
        return;
      }
      o->inputs.shapes.push_back(*sh);
    }
    o->inputs.random = true;
    o->inputs.batch = o->batch;
    runtime::SessionOptions so;
    so.num_threads = o->threads;
    so.opt_level = o->opt_level;
    so.profile = o->profile;
    const auto t_load = std::chrono::steady_clock::now();
    auto s = runtime::Session::load(o->model, so);
    if (!s.ok()) {
      rc = report(s.status());
      return;
    }
    auto feeds = make_inputs(**s, o->inputs);
    if (!feeds.ok()) {
      rc = report(feeds.status());
      return;
    }
    // Load time is to the end of the first run (plans and prepacking happen by then).
    auto first = (*s)->run(*feeds);
    if (!first.ok()) {
      rc = report(first.status());
      return;
    }
    const double load_ms = ms_since(t_load);
    ProgressBar bar("bench", !o->json);
    for (int i = 0; i < o->warmup; ++i) {
      auto r = (*s)->run(*feeds);
      if (!r.ok()) {
        rc = report(r.status());
        return;
      }
    }
    (*s)->clear_profile();
    std::vector<double> lat;
    const double cpu0 = process_cpu_ms();
    const auto t_all = std::chrono::steady_clock::now();
    for (int i = 0; i < o->iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = (*s)->run(*feeds);
      lat.push_back(ms_since(t0));
      if (!r.ok()) {
        rc = report(r.status());
        return;
      }
      bar.update(i + 1, o->iters);
    }
    bar.finish();
    const double total_s = ms_since(t_all) / 1000;
    const double cpu_per_run = (process_cpu_ms() - cpu0) / o->iters;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]; };
    int64_t batch = 1;
    if (!feeds->empty() && (*feeds)[0].second.is_tensor() && (*feeds)[0].second.tensor.rank() > 0) {
      batch = (*feeds)[0].second.tensor.dim(0);
    }
    const double throughput = total_s > 0 ? o->iters * batch / total_s : 0;
    const int64_t arena = static_cast<int64_t>((*s)->memory().peak_bytes_in_use());
    if (o->json) {
      nlohmann::json j = {{"model", o->model},
                          {"threads", o->threads},
                          {"batch", batch},
                          {"iters", o->iters},
                          {"load_ms", load_ms},
                          {"latency_ms", {{"min", lat.front()}, {"p50", pct(0.5)}, {"p90", pct(0.9)}, {"p99", pct(0.99)}}},
                          {"throughput_per_s", throughput},
                          {"cpu_ms_per_run", cpu_per_run},
                          {"peak_rss_bytes", peak_rss_bytes()},
                          {"arena_bytes", arena}};
      if (o->profile) {
        // Every node, in run order, for tools that compare layers across runtimes.
        std::map<std::string, size_t> index;
        nlohmann::json nodes = nlohmann::json::array();
        for (const auto& e : (*s)->profile()) {
          auto [it, fresh] = index.emplace(e.node, nodes.size());
          if (fresh) nodes.push_back({{"node", e.node}, {"op", e.op}, {"kernel", e.kernel}, {"ms_per_run", 0.0}});
          nodes[it->second]["ms_per_run"] = nodes[it->second]["ms_per_run"].get<double>() + static_cast<double>(e.duration_us) / 1000 / o->iters;
        }
        j["profile_nodes"] = nodes;
      }
      std::cout << j.dump() << "\n";
    } else {
      std::cout << fmt::format("load        {:.1f} ms (to the end of the first run)\n", load_ms)
                << fmt::format("latency     min {:.3f}  p50 {:.3f}  p90 {:.3f}  p99 {:.3f} ms ({} runs)\n", lat.front(),
                               pct(0.5), pct(0.9), pct(0.99), o->iters)
                << fmt::format("throughput  {:.1f} samples/s (batch {})\n", throughput, batch)
                << fmt::format("cpu time    {:.3f} ms per run (all threads; on a busy machine steadier than latency)\n", cpu_per_run)
                << fmt::format("memory      peak RSS {:.1f} MB, arena peak {:.1f} MB\n", peak_rss_bytes() / 1e6, arena / 1e6);
    }
    if (o->profile) {
      std::map<std::string, std::pair<double, double>> by_op;  // wall µs, calling-thread CPU µs
      double total = 0;
      for (const auto& e : (*s)->profile()) {
        auto& [us, cpu] = by_op[e.op + " [" + e.kernel + "]"];
        us += e.duration_us;
        cpu += e.thread_cpu_us;
        total += e.duration_us;
      }
      std::vector<std::tuple<double, std::string, double>> top;
      for (const auto& [k, v] : by_op) top.emplace_back(v.first, k, v.second);
      std::sort(top.rbegin(), top.rend());
      std::ostream& out = o->json ? std::cerr : std::cout;
      out << "top ops by time (all timed runs; cpu = CPU time of the calling thread, all of it at 1 thread):\n";
      for (size_t i = 0; i < top.size() && i < 15; ++i) {
        const auto& [us, name, cpu] = top[i];
        out << fmt::format("  {:<36} {:6.1f}%  {:.3f} ms/run  cpu {:.3f} ms/run\n", name, total > 0 ? 100 * us / total : 0,
                           us / 1000 / o->iters, cpu / 1000 / o->iters);
      }
      // The same per node: which layer of a type is slow (a stem conv, a 1x1 projection).
      std::map<std::string, std::pair<double, std::string>> by_node;  // wall µs, "op [kernel]"
      for (const auto& e : (*s)->profile()) {
        auto& [us, what] = by_node[e.node];
        us += e.duration_us;
        what = e.op + " [" + e.kernel + "]";
      }
      std::vector<std::tuple<double, std::string, std::string>> nodes;
      for (const auto& [k, v] : by_node) nodes.emplace_back(v.first, k, v.second);
      std::sort(nodes.rbegin(), nodes.rend());
      out << "top nodes by time:\n";
      for (size_t i = 0; i < nodes.size() && i < 15; ++i) {
        const auto& [us, name, what] = nodes[i];
        out << fmt::format("  {:<36} {:<28} {:6.1f}%  {:.3f} ms/run\n", name.size() > 36 ? "…" + name.substr(name.size() - 35) : name,
                           what, total > 0 ? 100 * us / total : 0, us / 1000 / o->iters);
      }
    }
  });
}

}  // namespace pare::cli
