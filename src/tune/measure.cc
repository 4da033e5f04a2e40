// Data sets, quality, latency, size and memory of a candidate (pare tune).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "compress/quant/calibrate.h"
#include "eval/npy.h"
#include "onnx/onnx.h"
#include "tune/internal.h"

namespace pare::tune {
namespace fs = std::filesystem;
namespace q = compress::quant;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Float32 samples from stored x: floats as they are, integers × scale.
Result<Tensor> to_float(const Tensor& raw, float scale, const std::string& spec) {
  if (raw.rank() < 1) return invalid_input("'{}': samples must have rank ≥ 1, got {}", spec, raw.type_string());
  PARE_ASSIGN_OR_RETURN(Tensor x, Tensor::create(DataType::kFloat32, raw.shape()));
  float* out = x.data<float>();
  if (raw.dtype() == DataType::kFloat32) {
    std::memcpy(out, raw.raw_data(), x.nbytes());
  } else if (raw.dtype() == DataType::kFloat64) {
    for (int64_t i = 0; i < raw.numel(); ++i) out[i] = static_cast<float>(raw.data<double>()[i]);
  } else if (raw.dtype() == DataType::kUInt8 || raw.dtype() == DataType::kInt64 || raw.dtype() == DataType::kInt32) {
    for (int64_t i = 0; i < raw.numel(); ++i) out[i] = static_cast<float>(raw.int_at(i)) * scale;
  } else {
    return invalid_input("'{}': samples of type {} are not supported (float32/64, uint8, int32/64)", spec, raw.type_string());
  }
  return x;
}

}  // namespace

Result<Tensor> take_rows(const Tensor& t, int64_t begin, int64_t n) {
  Shape s = t.shape();
  const int64_t per = t.dim(0) ? t.numel() / t.dim(0) : 0;
  s[0] = n;
  PARE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(t.dtype(), s));
  const size_t row = dtype_storage_bytes(t.dtype(), static_cast<size_t>(per));
  for (int64_t i = 0; i < n; ++i) {  // rows wrap around when more are asked than there are
    const int64_t src = (begin + i) % t.dim(0);
    std::memcpy(static_cast<uint8_t*>(out.raw_data()) + i * row, static_cast<const uint8_t*>(t.raw_data()) + src * row, row);
  }
  return out;
}

Result<EvalSet> load_eval_set(const std::string& spec, const eval::DatasetOptions& o, int64_t limit,
                              const runtime::IoInfo& input, uint64_t seed) {
  EvalSet d;
  if (spec.rfind("random:", 0) == 0) {
    int64_t n = 0;
    try {
      n = std::stoll(spec.substr(7));
    } catch (...) {
      return invalid_input("'{}': expected random:N with N a positive count", spec);
    }
    if (n <= 0 || n > 100000) return invalid_input("'{}': N must be in [1, 100000]", spec);
    if (!input.type.shape) return invalid_input("random data needs the shape of model input '{}', which is unknown", input.name);
    Shape s{n};
    for (size_t i = 1; i < input.type.shape->size(); ++i) {
      const auto& dim = (*input.type.shape)[i];
      if (!dim.known()) return invalid_input("random data needs static dims, model input '{}' is {}", input.name, input.type.to_string());
      s.push_back(dim.value);
    }
    PARE_ASSIGN_OR_RETURN(d.x, Tensor::create(DataType::kFloat32, s));
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t i = 0; i < d.x.numel(); ++i) d.x.data<float>()[i] = nd(rng);
    return d;
  }
  std::error_code ec;
  if (fs::is_directory(spec, ec) || ends_with(spec, ".npz")) {
    if (ends_with(spec, ".npz")) {
      PARE_ASSIGN_OR_RETURN(auto arrays, eval::npz_read(spec));
      if (!arrays.count("x")) return invalid_input("'{}' must hold an array 'x' (and 'y' for labels)", spec);
      if (!arrays.count("y")) {  // unlabelled
        PARE_ASSIGN_OR_RETURN(Tensor raw, to_float(arrays["x"], o.scale, spec));
        if (limit > 0 && limit < raw.dim(0)) {
          PARE_ASSIGN_OR_RETURN(raw, take_rows(raw, 0, limit));
        }
        d.x = raw;
        return d;
      }
    }
    eval::DatasetOptions dopt = o;
    dopt.limit = limit;
    PARE_ASSIGN_OR_RETURN(auto ds, eval::load_dataset(spec, dopt));
    if (ds.size() == 0) return invalid_input("data set '{}' is empty", spec);
    d.x = ds.x;
    d.y = ds.y;
    return d;
  }
  if (ends_with(spec, ".npy")) {
    PARE_ASSIGN_OR_RETURN(Tensor raw, eval::npy_read(spec));
    PARE_ASSIGN_OR_RETURN(d.x, to_float(raw, o.scale, spec));
    if (d.x.rank() < 2 || d.x.dim(0) == 0) return invalid_input("'{}': expected samples [N, ...], got {}", spec, raw.type_string());
    if (limit > 0 && limit < d.x.dim(0)) {
      PARE_ASSIGN_OR_RETURN(d.x, take_rows(d.x, 0, limit));
    }
    return d;
  }
  return invalid_input("data spec '{}' is not an IDX folder, .npz, .npy or random:N", spec);
}

Result<int64_t> check_input(const runtime::IoInfo& in, const Shape& xs, int64_t batch) {
  if (in.type.dtype != DataType::kFloat32)
    return invalid_input("model input '{}' is {}: pare tune feeds float32 samples", in.name, in.type.to_string());
  if (!in.type.shape || in.type.shape->empty()) return batch;
  const auto& dims = *in.type.shape;
  Shape sample(xs.begin() + 1, xs.end());
  if (dims.size() == 2 && sample.size() != 1) sample = {shape_numel_unchecked(sample)};
  auto mismatch = [&] {
    return invalid_input("eval data does not match the model: samples are {} but model input '{}' is {}",
                         shape_to_string(xs), in.name, in.type.to_string());
  };
  if (dims.size() != sample.size() + 1) return mismatch();
  for (size_t i = 1; i < dims.size(); ++i)
    if (dims[i].known() && dims[i].value != sample[i - 1]) return mismatch();
  return dims[0].known() ? dims[0].value : batch;
}

Result<Tensor> run_scores(runtime::Session& s, const EvalSet& data, int64_t batch, Clock::time_point deadline) {
  const auto& in = s.inputs().at(0);
  PARE_ASSIGN_OR_RETURN(batch, check_input(in, data.x.shape(), batch));
  const int64_t n = data.size();
  const bool flat = in.type.shape && in.type.shape->size() == 2 && data.x.rank() != 2;
  Tensor scores;
  int64_t k = 0;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    if (Clock::now() > deadline) return resource_exhausted("the time budget ran out after {} of {} samples", b0, n);
    // A fixed batch dimension: the last partial batch wraps around and its extra rows are dropped.
    PARE_ASSIGN_OR_RETURN(Tensor x, take_rows(data.x, b0, batch));
    const int64_t bn = std::min(batch, n - b0);
    if (flat) {
      PARE_ASSIGN_OR_RETURN(x, x.reshaped({batch, x.numel() / batch}));
    }
    PARE_ASSIGN_OR_RETURN(auto outs, s.run({{in.name, RunValue(x)}}));
    if (outs.empty() || !outs[0].is_tensor()) return invalid_input("the model's first output is not a tensor");
    const Tensor& y = outs[0].tensor;
    if (y.rank() < 1 || y.dim(0) != batch || y.numel() == 0)
      return invalid_input("the model's first output {} is not [batch = {}, ...] scores", y.type_string(), batch);
    if (y.dtype() != DataType::kFloat32) return invalid_input("the model's first output is {}, not float32", y.type_string());
    if (!scores.defined()) {
      k = y.numel() / batch;
      PARE_ASSIGN_OR_RETURN(scores, Tensor::create(DataType::kFloat32, {n, k}));
    } else if (y.numel() / batch != k) {
      return invalid_input("the model's first output changed size between batches");
    }
    std::memcpy(scores.data<float>() + b0 * k, y.data<float>(), static_cast<size_t>(bn * k) * sizeof(float));
  }
  return scores;
}

nlohmann::json quality(const Tensor& scores, const Tensor& ref, const EvalSet& data) {
  const int64_t n = scores.dim(0), k = scores.dim(1);
  const float* a = scores.data<float>();
  const float* r = ref.data<float>();
  auto argmax = [k](const float* p) { return static_cast<int64_t>(std::max_element(p, p + k) - p); };
  int64_t correct = 0, agree = 0;
  double sig = 0, noise = 0, cos_sum = 0;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    const float* pa = a + i * k;
    const float* pr = r + i * k;
    const int64_t top = argmax(pa);
    if (data.labelled()) correct += top == data.y.data<int64_t>()[i];
    agree += top == argmax(pr);
    double dot = 0, na = 0, nr = 0;
    for (int64_t j = 0; j < k; ++j) {
      if (!std::isfinite(pa[j])) finite = false;
      const double d = double(pr[j]) - pa[j];
      sig += double(pr[j]) * pr[j];
      noise += d * d;
      dot += double(pa[j]) * pr[j];
      na += double(pa[j]) * pa[j];
      nr += double(pr[j]) * pr[j];
    }
    cos_sum += (na > 0 && nr > 0) ? dot / std::sqrt(na * nr) : (na == nr ? 1.0 : 0.0);
  }
  double sqnr = noise > 0 ? 10 * std::log10(std::max(sig, 1e-30) / noise) : 150.0;
  if (!finite || !std::isfinite(sqnr)) sqnr = -150.0;
  nlohmann::json j = {{"samples", n}, {"agreement", n ? double(agree) / n : 0.0}, {"sqnr_db", std::min(sqnr, 150.0)},
                      {"cosine", n && finite ? cos_sum / n : 0.0}};
  j["accuracy"] = data.labelled() && n ? nlohmann::json(double(correct) / n) : nlohmann::json(nullptr);
  return j;
}

Result<nlohmann::json> measure_model(const std::string& path, const EvalSet& data, const Tensor& ref,
                                     const TuneOptions& o, Clock::time_point deadline) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return io_error("cannot read '{}': {}", path, ec.message());
  PARE_ASSIGN_OR_RETURN(auto model, onnx::load_model(path));
  const int64_t weights = q::initializer_bytes(*model->graph);
  runtime::SessionOptions so;
  so.num_threads = o.threads;
  PARE_ASSIGN_OR_RETURN(auto s, runtime::Session::create(std::move(model), so));
  const auto& in = s->inputs().at(0);
  PARE_ASSIGN_OR_RETURN(int64_t lb, check_input(in, data.x.shape(), o.batch));
  PARE_ASSIGN_OR_RETURN(Tensor x, take_rows(data.x, 0, lb));
  if (in.type.shape && in.type.shape->size() == 2 && x.rank() != 2) {
    PARE_ASSIGN_OR_RETURN(x, x.reshaped({lb, x.numel() / lb}));
  }
  // Latency first: it also tells how long the evaluation will take.
  std::vector<double> lat;
  const double left0_s = std::chrono::duration<double>(deadline - Clock::now()).count();
  for (int i = 0; i < 2; ++i) {
    const auto t0 = Clock::now();
    PARE_RETURN_IF_ERROR(s->run({{in.name, RunValue(x)}}).status());
    // After the second warm-up run (the first plans): give up at once on a model that is
    // hopelessly slow here, before spending more of the budget timing it.
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (i == 1 && ms / 1000.0 * static_cast<double>(data.size()) / std::max<int64_t>(lb, 1) > left0_s / 3)
      return resource_exhausted("too slow to evaluate here: {} samples would take about {:.0f} s at {:.3f} ms per run of {}; "
                                "{:.0f} s of the budget are left", data.size(), ms / 1000.0 * data.size() / std::max<int64_t>(lb, 1), ms,
                                lb, std::max(left0_s, 0.0));
  }
  const auto t_all = Clock::now();
  while (static_cast<int>(lat.size()) < o.latency_iters) {
    const auto t0 = Clock::now();
    PARE_RETURN_IF_ERROR(s->run({{in.name, RunValue(x)}}).status());
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (lat.size() >= 5 && Clock::now() - t_all > std::chrono::seconds(3)) break;
    if (lat.size() >= 3 && Clock::now() - t_all > std::chrono::seconds(10)) break;
    if (Clock::now() > deadline) return resource_exhausted("the time budget ran out while timing the model");
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]; };
  nlohmann::json m = {{"latency_p50_ms", pct(0.5)}, {"latency_p99_ms", pct(0.99)}, {"latency_runs", lat.size()},
                      {"size_bytes", static_cast<int64_t>(size)}, {"weight_bytes", weights}};
  // One candidate's evaluation may take at most a third of what is left of the budget, so a
  // model that runs slowly here (e.g. in reference kernels) does not eat the whole search. The
  // estimate is at the measured per-run speed (batches of 64 are seldom slower per sample).
  const double est_s = pct(0.5) / 1000.0 * static_cast<double>(data.size()) / std::max<int64_t>(lb, 1);
  const double left_s = std::chrono::duration<double>(deadline - Clock::now()).count();
  if (est_s > left_s / 3)
    return resource_exhausted("too slow to evaluate here: {} samples would take about {:.0f} s at {:.3f} ms per run of {}; "
                              "{:.0f} s of the budget are left", data.size(), est_s, pct(0.5), lb, std::max(left_s, 0.0));
  // Batches can be much slower per sample than one row (reference kernels): time a batch of 8
  // (small, so that the probe itself stays cheap on a slow model). The first run of a new
  // shape plans it (kernel choices, weight packing), so the second run is the one timed.
  if (data.size() > 8) {
    PARE_ASSIGN_OR_RETURN(Tensor xb, take_rows(data.x, 0, 8));
    if (in.type.shape && in.type.shape->size() == 2 && xb.rank() != 2) {
      PARE_ASSIGN_OR_RETURN(xb, xb.reshaped({8, xb.numel() / 8}));
    }
    auto probe = s->run({{in.name, RunValue(xb)}});
    const auto t0 = Clock::now();
    if (probe.ok()) probe = s->run({{in.name, RunValue(xb)}});
    if (probe.ok()) {  // (a fixed batch dimension refuses 8 rows; run_scores handles it)
      const double est8 = std::chrono::duration<double>(Clock::now() - t0).count() * static_cast<double>(data.size()) / 8;
      if (est8 > left_s / 3)
        return resource_exhausted("too slow to evaluate here: {} samples would take about {:.0f} s in batches of 8; {:.0f} s of the "
                                  "budget are left", data.size(), est8, std::max(left_s, 0.0));
    }
  }
  const auto own = std::min(deadline, Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(left_s / 3 * 1000)));
  auto scores_r = run_scores(*s, data, 64, own);
  if (!scores_r.ok() && scores_r.status().code() == StatusCode::kResourceExhausted && own < deadline)
    return resource_exhausted("too slow to evaluate here: more than a third of the remaining budget ({:.0f} s)", left_s / 3);
  PARE_ASSIGN_OR_RETURN(Tensor scores, std::move(scores_r));
  m["quality"] = quality(scores, ref, data);
  m["peak_memory_bytes"] = static_cast<int64_t>(s->memory().peak_bytes_in_use()) + weights;
  return m;
}

q::CalibrationSource tensor_calibration(const Tensor& x, const std::string& input) {
  auto pos = std::make_shared<int64_t>(0);
  constexpr int64_t rows = 32;
  q::CalibrationSource src;
  src.size = (x.dim(0) + rows - 1) / rows;
  src.reset = [pos] { *pos = 0; };
  src.next = [x, pos, input](q::Sample& out) -> Result<bool> {
    if (*pos >= x.dim(0)) return false;
    const int64_t n = std::min<int64_t>(int64_t{32}, x.dim(0) - *pos);
    PARE_ASSIGN_OR_RETURN(Tensor b, take_rows(x, *pos, n));
    *pos += n;
    out.clear();
    out.emplace_back(input, b);
    return true;
  };
  return src;
}

Result<std::unique_ptr<ir::Model>> clone(const ir::Model& m) { return q::clone_model(m); }

Result<nlohmann::json> layer_sensitivity(const ir::Model& model, const Tensor& calib_x, const Tensor& x,
                                         const std::string& input, Clock::time_point deadline) {
  std::vector<std::pair<std::string, std::string>> layers;
  for (const auto& n : model.graph->nodes()) {
    const auto& t = q::quantizable_op_types(q::Mode::kStatic);
    if (std::find(t.begin(), t.end(), n->op_type()) != t.end() && !n->name().empty()) layers.emplace_back(n->name(), n->op_type());
  }
  EvalSet d;
  d.x = x;
  PARE_ASSIGN_OR_RETURN(auto ref_model, clone(model));
  PARE_ASSIGN_OR_RETURN(auto ref_s, runtime::Session::create(std::move(ref_model)));
  PARE_ASSIGN_OR_RETURN(Tensor ref, run_scores(*ref_s, d, 32, deadline));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, op] : layers) {
    if (Clock::now() > deadline) break;
    q::QuantizeOptions qo;
    qo.mode = q::Mode::kStatic;
    for (const auto& [other, unused] : layers)
      if (other != name) qo.exclude.push_back(other);
    PARE_ASSIGN_OR_RETURN(auto m, clone(model));
    auto calib = tensor_calibration(calib_x, input);
    Result<q::QuantizeReport> r = internal_error("not run");
    try {  // the quantizer does not throw by contract; a bug there is reported for this layer
      r = q::quantize_model(*m, qo, &calib);
    } catch (const std::exception& e) {
      r = internal_error("quantization failed with an exception: {}", e.what());
    }
    if (!r.ok()) {
      out.push_back({{"node", name}, {"op_type", op}, {"error", r.status().message()}});
      continue;
    }
    PARE_ASSIGN_OR_RETURN(auto s, runtime::Session::create(std::move(m)));
    auto scores = run_scores(*s, d, 32, deadline);
    if (!scores.ok()) break;
    out.push_back({{"node", name}, {"op_type", op}, {"sqnr_db", quality(*scores, ref, d)["sqnr_db"]}});
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,+") == std::string::npos)
    return s;
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

}  // namespace pare::tune
