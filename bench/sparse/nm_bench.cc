// Dense vs N:M MatMul kernels, side by side: the oneDNN FusedMatMul kernel (B prepacked, what
// pare's plan runs for MatMul with a constant B) against the nm kernel (kernels/sparse/nm_*) and,
// with --csr, the CSR sparse kernel, on the same random N:M-sparse B [K, N] (each run of M along
// K holds exactly N nonzeros at random positions) and A [M, K]. Alternating rounds; per round
// each kernel runs for ~min-ms; medians over rounds and the ratios dense/nm (and dense/csr).
//   build/nm_bench [--k 4096] [--n 4096] [--m 1,8,64] [--nm 2:4,1:4,2:8] [--rounds 7]
//                  [--threads T] [--min-ms 60] [--csr 1] [--isa avx512|avx2|generic]
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernel_race.h"
#include "kernels/sparse/sparse_weight.h"

using namespace pare;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  size_t p = 0;
  while (p <= s.size()) {
    size_t e = s.find(',', p);
    if (e == std::string::npos) e = s.size();
    if (e > p) v.push_back(s.substr(p, e - p));
    p = e + 1;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t K = 4096, N = 4096;
  std::vector<std::string> ms = {"1", "8", "64"}, patterns = {"2:4", "1:4", "2:8"};
  int rounds = 7, threads = static_cast<int>(std::thread::hardware_concurrency());
  double min_ms = 60;
  bool csr = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--k") K = std::atoll(argv[i + 1]);
    else if (f == "--n") N = std::atoll(argv[i + 1]);
    else if (f == "--m") ms = split(argv[i + 1]);
    else if (f == "--nm") patterns = split(argv[i + 1]);
    else if (f == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (f == "--threads") threads = std::atoi(argv[i + 1]);
    else if (f == "--min-ms") min_ms = std::atof(argv[i + 1]);
    else if (f == "--csr") csr = std::atoi(argv[i + 1]) != 0;
    else if (f == "--isa") {
      if (!kernels::sparse::force_sparse_isa(argv[i + 1])) {
        std::fprintf(stderr, "this CPU cannot run --isa %s\n", argv[i + 1]);
        return 2;
      }
    }
    else {
      std::fprintf(stderr, "unknown option %s\n", f.c_str());
      return 2;
    }
  }
  omp_set_num_threads(threads);
  std::vector<std::string> names = {"onednn", "nm"};
  if (csr) names.push_back("sparse");
  std::printf("K=%lld N=%lld threads=%d rounds=%d isa=%s\n\n", (long long)K, (long long)N, threads, rounds,
              kernels::sparse::sparse_isa());
  std::printf("| M | N:M | dense ms | nm ms | dense/nm |%s max diff |\n|---|---|---|---|---|%s---|\n",
              csr ? " csr ms | dense/csr |" : "", csr ? "---|---|" : "");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const std::string& mstr : ms) {
    const int64_t M = std::atoll(mstr.c_str());
    for (const std::string& pat : patterns) {
      const int pn = std::atoi(pat.c_str()), pm = std::atoi(pat.substr(pat.find(':') + 1).c_str());
      Tensor bt = Tensor::create(DataType::kFloat32, {K, N}).value();
      float* pb = bt.data<float>();
      std::fill(pb, pb + bt.numel(), 0.0f);
      std::vector<int> pos(pm);
      for (int64_t j = 0; j < N; ++j) {
        for (int64_t g0 = 0; g0 + pm <= K; g0 += pm) {
          std::iota(pos.begin(), pos.end(), 0);
          std::shuffle(pos.begin(), pos.end(), rng);
          for (int i = 0; i < pn; ++i) pb[(g0 + pos[i]) * N + j] = u(rng);
        }
      }
      const bench::RaceResult res = bench::race(names, M, bt, threads, rounds, min_ms, rng);
      double diff = 0;
      for (double x : res.diff) diff = std::max(diff, x);
      const double d = res.ms[0], s = res.ms[1];
      std::printf("| %lld | %s | %.3f | %.3f | %.2f |", (long long)M, pat.c_str(), d, s, d / s);
      if (csr) std::printf(" %.3f | %.2f |", res.ms[2], d / res.ms[2]);
      std::printf(" %.1e |\n", diff);
      std::fflush(stdout);
    }
  }
  return 0;
}
