// Replays the fuzz corpus (tests/fuzz/corpus: seeds and inputs that once crashed something)
// through the loader and planner: each must load or fail with a Status, never crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "onnx/onnx.h"
#include "runtime/session.h"

namespace pare {
namespace {

TEST(FuzzCorpus, EveryInputLoadsOrFailsCleanly) {
  const std::filesystem::path dir = std::filesystem::path(PARE_SOURCE_DIR) / "tests/fuzz/corpus";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    auto m = onnx::load_model_from_memory(bytes.data(), bytes.size(), "");
    if (m.ok()) {
      auto s = runtime::Session::create(std::move(m).value());
      (void)s;
    }
    ++n;
  }
  EXPECT_GT(n, 5);
}

}  // namespace
}  // namespace pare
