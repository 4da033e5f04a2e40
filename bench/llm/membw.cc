// Read bandwidth of this machine: sums a 1 GiB buffer with THREADS OpenMP threads, best of 5.
// Built and run by bench/llm/compare.py:  g++ -O3 -march=native -fopenmp membw.cc -o membw
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  omp_set_num_threads(threads);
  const size_t n = (size_t{1} << 30) / 8;
  std::vector<uint64_t> buf(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  double best = 0;
  uint64_t sink = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
    for (size_t i = 0; i < n; ++i) s += buf[i];
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += s;
    best = std::max(best, n * 8 / sec / 1e9);
  }
  std::printf("{\"threads\": %d, \"read_gb_per_s\": %.3f, \"sink\": %llu}\n", threads, best, static_cast<unsigned long long>(sink % 7));
  return 0;
}
