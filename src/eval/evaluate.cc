#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/dispatch.h"

namespace pare::eval {

Result<EvalReport> evaluate_classifier(runtime::Session& session, const Dataset& data, const EvalOptions& o) {
  if (session.inputs().empty()) return invalid_input("model has no inputs");
  const auto& in = session.inputs()[0];
  int64_t batch = std::max<int64_t>(o.batch_size, 1);
  // A model with a fixed batch dimension gets batches of exactly that size.
  Shape sample = data.x.shape();
  sample.erase(sample.begin());
  if (in.type.shape && !in.type.shape->empty()) {
    const auto& dims = *in.type.shape;
    if (dims[0].known()) batch = dims[0].value;
    // Flattened inputs ([N, 784]) take the samples flattened.
    if (dims.size() == 2) sample = {shape_numel_unchecked(sample)};
    if (dims.size() != sample.size() + 1) {
      return invalid_input("model input '{}' is {}, data samples are {}", in.name, in.type.to_string(),
                           shape_to_string(data.x.shape()));
    }
    for (size_t i = 1; i < dims.size(); ++i) {
      if (dims[i].known() && dims[i].value != sample[i - 1]) {
        return invalid_input("model input '{}' is {}, data samples are {}", in.name, in.type.to_string(),
                             shape_to_string(data.x.shape()));
      }
    }
  }
  const int64_t n = data.size();
  const int64_t per = shape_numel_unchecked(sample);
  int64_t correct = 0;
  std::vector<double> lat;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t bn = std::min(batch, n - b0);
    if (bn < batch && in.type.shape && !in.type.shape->empty() && (*in.type.shape)[0].known()) break;
    Shape s = sample;
    s.insert(s.begin(), bn);
    PARE_ASSIGN_OR_RETURN(Tensor x, Tensor::create(DataType::kFloat32, s));
    std::memcpy(x.raw_data(), data.x.data<float>() + b0 * per, static_cast<size_t>(bn * per) * sizeof(float));
    const auto t0 = std::chrono::steady_clock::now();
    PARE_ASSIGN_OR_RETURN(auto outs, session.run({{in.name, RunValue(x)}}));
    lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (outs.empty() || !outs[0].is_tensor()) return invalid_input("model's first output is not a tensor");
    const Tensor& logits = outs[0].tensor;
    if (logits.rank() != 2 || logits.dim(0) != bn) {
      return invalid_input("classifier output must be [batch, classes], got {}", logits.type_string());
    }
    const int64_t k = logits.dim(1);
    bool ok = dispatch_float(logits.dtype(), [&]<typename T>() {
      const T* p = logits.data<T>();
      for (int64_t i = 0; i < bn; ++i) {
        int64_t best = 0;
        for (int64_t j = 1; j < k; ++j) {
          if (compute_t<T>(p[i * k + j]) > compute_t<T>(p[i * k + best])) best = j;
        }
        correct += best == data.y.data<int64_t>()[b0 + i];
      }
    });
    if (!ok) return invalid_input("classifier output must be floating point, got {}", logits.type_string());
    if (o.progress) o.progress(b0 + bn, n);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EvalReport r;
  r.count = 0;
  for (size_t i = 0; i < lat.size(); ++i) r.count += std::min(batch, n - static_cast<int64_t>(i) * batch);
  r.accuracy = r.count ? static_cast<double>(correct) / r.count : 0;
  r.images_per_s = secs > 0 ? r.count / secs : 0;
  r.batch_size = batch;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]; };
  r.latency_ms_p50 = pct(0.5);
  r.latency_ms_p90 = pct(0.9);
  r.latency_ms_p99 = pct(0.99);
  return r;
}

}  // namespace pare::eval
