// What sparse_bench and nm_bench share: registered FusedMatMul kernels run side by side on one
// node Y = A·B (A [M, K] random, B [K, N] given), exactly as a session would run them (outputs
// from a BufferPool). Each kernel is warmed up and its inner loop sized to ~min_ms; then rounds
// alternate between the kernels; the result is each kernel's median ms per call and the largest
// |difference| of its output from the first kernel's.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/registry.h"
#include "runtime/buffer_pool.h"

namespace pare::bench {

inline const ops::KernelDef* find_fused_matmul_kernel(const std::string& name) {
  for (const auto& d : kernels::registry().defs()) {
    if (d.op_type == "FusedMatMul" && d.domain == "com.pare" && d.name == name) return &d;
  }
  return nullptr;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct RaceResult {
  std::vector<double> ms;    // median ms per call, per kernel
  std::vector<double> diff;  // max |y_k − y_0|, per kernel (0 for the first)
};

// Exits the process with a message when a kernel is missing or fails (a benchmark, not a test).
inline RaceResult race(const std::vector<std::string>& kernel_names, int64_t M, const Tensor& b, int threads, int rounds,
                       double min_ms, std::mt19937& rng) {
  const int64_t K = b.dim(0), N = b.dim(1);
  auto model = std::make_unique<ir::Model>();
  model->opsets.push_back({"", 17});
  model->opsets.push_back({"com.pare", 1});
  ir::Graph& g = *model->graph;
  ir::Value* a = g.add_value("A");
  a->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::of(M), ir::Dim::of(K)});
  g.add_input(a);
  ir::Value* y = g.add_value("Y");
  ir::Node* node = g.add_node("FusedMatMul", {a, g.add_initializer("B", b)}, {y}, "com.pare", "mm");
  ops::KernelInit init{*node, 1, threads};
  const size_t nk = kernel_names.size();
  std::vector<std::unique_ptr<ops::Kernel>> ks;
  for (const std::string& name : kernel_names) {
    const ops::KernelDef* def = find_fused_matmul_kernel(name);
    if (!def) {
      std::fprintf(stderr, "kernel %s not registered\n", name.c_str());
      std::exit(1);
    }
    auto r = def->create(init);
    if (!r.ok()) {
      std::fprintf(stderr, "create %s: %s\n", name.c_str(), r.status().to_string().c_str());
      std::exit(1);
    }
    ks.push_back(std::move(*r));
  }
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensor at = Tensor::create(DataType::kFloat32, {M, K}).value();
  for (int64_t i = 0; i < at.numel(); ++i) at.data<float>()[i] = u(rng);
  RunValue av(at);
  std::vector<std::vector<RunValue>> outs(nk, std::vector<RunValue>(1));
  runtime::BufferPool pool;  // outputs from a pool, as in a session (no fresh pages per call)
  auto call = [&](size_t which) {
    ops::KernelContext ctx(*node, {&av}, &outs[which], nullptr, threads, &pool);
    Status st = ks[which]->run(ctx);
    if (!st.ok()) {
      std::fprintf(stderr, "run %s: %s\n", kernel_names[which].c_str(), st.to_string().c_str());
      std::exit(1);
    }
  };
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); };
  std::vector<int> iters(nk);
  for (size_t w = 0; w < nk; ++w) {  // warm up, then size the inner loop
    call(w);
    const auto t0 = Clock::now();
    call(w);
    iters[w] = std::max(1, static_cast<int>(min_ms / std::max(ms_since(t0), 1e-3)));
  }
  std::vector<std::vector<double>> t(nk);
  for (int r = 0; r < rounds; ++r) {
    for (size_t w = 0; w < nk; ++w) {
      const auto t0 = Clock::now();
      for (int it = 0; it < iters[w]; ++it) call(w);
      t[w].push_back(ms_since(t0) / iters[w]);
    }
  }
  RaceResult res;
  const float* y0 = outs[0][0].tensor.data<float>();
  for (size_t w = 0; w < nk; ++w) {
    double diff = 0;
    const float* y1 = outs[w][0].tensor.data<float>();
    for (int64_t i = 0; i < M * N; ++i) diff = std::max(diff, static_cast<double>(std::abs(y0[i] - y1[i])));
    res.ms.push_back(median(t[w]));
    res.diff.push_back(diff);
  }
  return res;
}

}  // namespace pare::bench
