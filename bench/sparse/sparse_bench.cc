// Dense vs sparse MatMul kernels, side by side: the oneDNN FusedMatMul kernel (B prepacked,
// what pare's plan runs for MatMul with a constant B) against the sparse kernel
// (kernels/sparse) on the same random unstructured-sparse B [K, N] and A [M, K]. Alternating
// rounds; per round each kernel runs `iters` times; the medians over rounds and their ratio
// are printed, then the crossover (lowest listed sparsity from which sparse wins) per M.
//   build/sparse_bench [--k 4096] [--n 4096] [--m 1,8,64] [--sparsity 0.5,...,0.95]
//                      [--rounds 7] [--threads T] [--min-ms 60]
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernel_race.h"
#include "kernels/sparse/sparse_weight.h"

using namespace pare;

namespace {

std::vector<double> parse_list(const char* s) {
  std::vector<double> v;
  for (const char* p = s; *p;) {
    char* end = nullptr;
    v.push_back(std::strtod(p, &end));
    if (end == p) break;
    p = *end == ',' ? end + 1 : end;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t K = 4096, N = 4096;
  std::vector<double> ms = {1, 8, 64}, sparsities = {0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95};
  int rounds = 7, threads = static_cast<int>(std::thread::hardware_concurrency());
  double min_ms = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--k") K = std::atoll(argv[i + 1]);
    else if (f == "--n") N = std::atoll(argv[i + 1]);
    else if (f == "--m") ms = parse_list(argv[i + 1]);
    else if (f == "--sparsity") sparsities = parse_list(argv[i + 1]);
    else if (f == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (f == "--threads") threads = std::atoi(argv[i + 1]);
    else if (f == "--min-ms") min_ms = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", f.c_str());
      return 2;
    }
  }
  omp_set_num_threads(threads);
  std::printf("K=%lld N=%lld threads=%d rounds=%d isa=%s\n\n", (long long)K, (long long)N, threads, rounds,
              kernels::sparse::sparse_isa());
  std::printf("| M | sparsity | dense ms | sparse ms | dense/sparse | max diff |\n|---|---|---|---|---|---|\n");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), p01(0.0f, 1.0f);
  std::vector<std::pair<int64_t, double>> crossover;
  for (double mf : ms) {
    const int64_t M = static_cast<int64_t>(mf);
    double first_win = -1;
    bool lost_after = false;
    for (double sp : sparsities) {
      Tensor bt = Tensor::create(DataType::kFloat32, {K, N}).value();
      for (int64_t i = 0; i < bt.numel(); ++i) bt.data<float>()[i] = p01(rng) < sp ? 0.0f : u(rng);
      const bench::RaceResult res = bench::race({"onednn", "sparse"}, M, bt, threads, rounds, min_ms, rng);
      const double diff = res.diff[1];
      const double d = res.ms[0], s = res.ms[1];
      std::printf("| %lld | %.0f%% | %.3f | %.3f | %.2f | %.1e |\n", (long long)M, sp * 100, d, s, d / s, diff);
      std::fflush(stdout);
      if (d / s > 1.0 && first_win < 0) first_win = sp;
      if (d / s <= 1.0 && first_win >= 0) lost_after = true;
    }
    crossover.emplace_back(M, lost_after ? -2 : first_win);
  }
  std::printf("\ncrossover (lowest listed sparsity from which sparse is faster):\n");
  for (auto [m, c] : crossover) {
    if (c == -2) std::printf("  M=%lld: not monotone (noise?)\n", (long long)m);
    else if (c < 0) std::printf("  M=%lld: sparse never faster in the listed range\n", (long long)m);
    else std::printf("  M=%lld: %.0f%% (density %.2f)\n", (long long)m, c * 100, 1 - c);
  }
  return 0;
}
