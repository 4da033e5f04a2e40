// A one-line progress bar on stderr (only when stderr is a terminal or PARE_PROGRESS=1).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace pare::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled) : label_(std::move(label)) {
    const char* env = std::getenv("PARE_PROGRESS");
    enabled_ = enabled && (isatty(2) || (env && std::string(env) == "1"));
    start_ = std::chrono::steady_clock::now();
  }
  void update(int64_t done, int64_t total) {
    if (!enabled_ || total <= 0) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const int width = 30;
    const int fill = static_cast<int>(width * done / total);
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double eta = done > 0 ? secs * (total - done) / done : 0;
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld  %.1fs, eta %.1fs ", label_.c_str(), std::string(fill, '#').c_str(),
                 std::string(width - fill, '.').c_str(), static_cast<long long>(done), static_cast<long long>(total), secs, eta);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_{};
};

}  // namespace pare::cli
