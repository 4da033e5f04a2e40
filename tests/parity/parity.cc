// pare_parity DIR: for each DIR/<model>/ made by export_models.py (model.onnx, input_i.npy,
// output_i.npy = PyTorch's outputs), runs pare and checks max|pare − torch| ≤ 1e-4 · max|torch|,
// and that the planned graph has the op counts meta.json's "expect_ops" names (the fusions).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "eval/npy.h"
#include "runtime/session.h"

namespace fs = std::filesystem;
using namespace pare;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: pare_parity DIR [MODEL...]\n";
    return 2;
  }
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(argv[1])) {
    if (!fs::exists(e.path() / "model.onnx")) continue;
    bool wanted = argc == 2;
    for (int i = 2; i < argc; ++i) wanted |= e.path().filename() == argv[i];
    if (wanted) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  int passed = 0, failed = 0;
  for (const auto& d : dirs) {
    const std::string name = d.filename().string();
    auto fail = [&](const std::string& why) {
      std::cout << "FAIL " << name << ": " << why << "\n";
      ++failed;
    };
    auto s = runtime::Session::load((d / "model.onnx").string());
    if (!s.ok()) {
      fail(s.status().to_string());
      continue;
    }
    bool ok = true;
    std::ifstream meta(d / "meta.json");
    const auto expect = nlohmann::json::parse(meta, nullptr, false);
    if (expect.is_object() && expect.contains("expect_ops")) {
      std::map<std::string, int> counts;
      for (const auto& n : (*s)->model().graph->nodes()) ++counts[n->op_type()];
      for (const auto& [op, want] : expect["expect_ops"].items()) {
        if (counts[op] != want.get<int>()) {
          fail(fmt::format("planned graph has {} {} nodes, expected {}", counts[op], op, want.get<int>()));
          ok = false;
        }
      }
    }
    if (!ok) continue;
    std::vector<std::pair<std::string, RunValue>> feeds;
    for (size_t i = 0; i < (*s)->inputs().size(); ++i) {
      auto t = eval::npy_read((d / ("input_" + std::to_string(i) + ".npy")).string());
      if (!t.ok()) {
        fail(t.status().to_string());
        ok = false;
        break;
      }
      feeds.emplace_back((*s)->inputs()[i].name, RunValue(*t));
    }
    if (!ok) continue;
    auto outs = (*s)->run(feeds);
    if (!outs.ok()) {
      fail(outs.status().to_string());
      continue;
    }
    std::string report;
    for (size_t i = 0; i < outs->size() && ok; ++i) {
      auto ref = eval::npy_read((d / ("output_" + std::to_string(i) + ".npy")).string());
      if (!ref.ok()) break;  // fewer reference outputs than graph outputs
      const Tensor& got = (*outs)[i].tensor;
      if (got.dtype() != DataType::kFloat32 || ref->dtype() != DataType::kFloat32 || got.shape() != ref->shape()) {
        fail(fmt::format("output {}: got {}, expected {}", i, got.type_string(), ref->type_string()));
        ok = false;
        break;
      }
      double max_ref = 0, max_diff = 0;
      for (int64_t k = 0; k < got.numel(); ++k) {
        max_ref = std::max(max_ref, std::abs(static_cast<double>(ref->data<float>()[k])));
        double diff = std::abs(static_cast<double>(got.data<float>()[k]) - ref->data<float>()[k]);
        if (std::isnan(diff)) diff = INFINITY;
        max_diff = std::max(max_diff, diff);
      }
      const double bound = 1e-4 * max_ref;
      report += fmt::format(" out{} max|diff| {:.3g} (bound {:.3g})", i, max_diff, bound);
      if (!(max_diff <= bound)) {
        fail(report);
        ok = false;
      }
    }
    if (ok) {
      std::cout << "PASS " << name << ":" << report << "\n";
      ++passed;
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 && passed > 0 ? 0 : 1;
}
