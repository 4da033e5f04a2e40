// pare compare: accuracy, agreement, latency (alternating rounds) and size of two models.
#include <algorithm>
#include <filesystem>

#include "onnx/onnx.h"
#include "tune/internal.h"

namespace pare::tune {
using nlohmann::json;

Result<json> compare_models(const std::string& a, const std::string& b, const std::string& data_spec, const CompareOptions& o) {
  runtime::SessionOptions so;
  so.num_threads = o.threads;
  PARE_ASSIGN_OR_RETURN(auto sa, runtime::Session::load(a, so));
  PARE_ASSIGN_OR_RETURN(auto sb, runtime::Session::load(b, so));
  if (sa->inputs().empty() || sb->inputs().empty()) return invalid_input("both models need an input");
  PARE_ASSIGN_OR_RETURN(EvalSet d, load_eval_set(data_spec, o.data, o.limit, sa->inputs()[0], 1));
  const auto never = Clock::now() + std::chrono::hours(24 * 365);
  PARE_ASSIGN_OR_RETURN(Tensor ya, run_scores(*sa, d, 64, never));
  PARE_ASSIGN_OR_RETURN(Tensor yb, run_scores(*sb, d, 64, never));
  if (ya.dim(1) != yb.dim(1))
    return invalid_input("the models' first outputs differ in size: {} vs {} scores per sample", ya.dim(1), yb.dim(1));
  json qa = quality(ya, ya, d), qb = quality(yb, ya, d);
  // Latency: alternating rounds over the same inputs (`batch` rows of the data).
  auto feed = [&](runtime::Session& s) -> Result<std::vector<std::pair<std::string, RunValue>>> {
    const auto& in = s.inputs()[0];
    PARE_ASSIGN_OR_RETURN(int64_t n, check_input(in, d.x.shape(), o.batch));
    PARE_ASSIGN_OR_RETURN(Tensor x, take_rows(d.x, 0, n));
    if (in.type.shape && in.type.shape->size() == 2 && x.rank() != 2) {
      PARE_ASSIGN_OR_RETURN(x, x.reshaped({n, x.numel() / n}));
    }
    return std::vector<std::pair<std::string, RunValue>>{{in.name, RunValue(x)}};
  };
  PARE_ASSIGN_OR_RETURN(auto fa, feed(*sa));
  PARE_ASSIGN_OR_RETURN(auto fb, feed(*sb));
  std::vector<double> la, lb;
  for (int i = 0; i < 3; ++i) {
    PARE_RETURN_IF_ERROR(sa->run(fa).status());
    PARE_RETURN_IF_ERROR(sb->run(fb).status());
  }
  for (int r = 0; r < o.rounds; ++r) {
    for (auto [s, f, l] : {std::tuple{sa.get(), &fa, &la}, std::tuple{sb.get(), &fb, &lb}}) {
      for (int i = 0; i < o.iters_per_round; ++i) {
        const auto t0 = Clock::now();
        PARE_RETURN_IF_ERROR(s->run(*f).status());
        l->push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    }
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
  };
  auto side = [&](const std::string& path, const json& q, const std::vector<double>& l) {
    std::error_code ec;
    return json{{"model", path}, {"accuracy", q["accuracy"]}, {"latency_p50_ms", pct(l, 0.5)}, {"latency_p99_ms", pct(l, 0.99)},
                {"size_bytes", static_cast<int64_t>(std::filesystem::file_size(path, ec))}};
  };
  json j = {{"samples", d.size()}, {"labelled", d.labelled()}, {"batch", o.batch}, {"runs_each", la.size()},
            {"a", side(a, qa, la)}, {"b", side(b, qb, lb)}, {"agreement", qb["agreement"]}, {"sqnr_db", qb["sqnr_db"]},
            {"cosine", qb["cosine"]}};
  j["speedup"] = j["b"]["latency_p50_ms"].get<double>() > 0 ? j["a"]["latency_p50_ms"].get<double>() / j["b"]["latency_p50_ms"].get<double>() : 0.0;
  j["size_ratio"] = j["b"]["size_bytes"].get<int64_t>() > 0 ? double(j["a"]["size_bytes"].get<int64_t>()) / j["b"]["size_bytes"].get<int64_t>() : 0.0;
  return j;
}

}  // namespace pare::tune
