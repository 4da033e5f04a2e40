#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

namespace pare::train {

Result<Optimizer> Optimizer::create(const OptimizerOptions& o, const std::vector<Tensor>& params) {
  if (o.kind != "sgd" && o.kind != "adamw") return invalid_input("unknown optimizer '{}' (sgd or adamw)", o.kind);
  if (!(o.momentum >= 0 && o.momentum < 1) || !(o.weight_decay >= 0) || !(o.beta1 >= 0 && o.beta1 < 1) ||
      !(o.beta2 >= 0 && o.beta2 < 1) || !(o.eps > 0) || !(o.clip_norm >= 0)) {
    return invalid_input("optimizer settings out of range (momentum/betas in [0,1), weight decay, clip ≥ 0, eps > 0)");
  }
  Optimizer opt;
  opt.o_ = o;
  for (const Tensor& p : params) {
    opt.m_.emplace_back(static_cast<size_t>(p.numel()), 0.0f);
    if (o.kind == "adamw") opt.v_.emplace_back(static_cast<size_t>(p.numel()), 0.0f);
  }
  return opt;
}

Result<double> Optimizer::step(std::vector<Tensor>& params, std::vector<Tensor>& grads, float lr) {
  if (params.size() != m_.size() || grads.size() != params.size()) return internal_error("optimizer: {} params, {} grads", params.size(), grads.size());
  double norm2 = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    if (grads[i].numel() != params[i].numel() || grads[i].dtype() != DataType::kFloat32) {
      return internal_error("gradient {} is {}, parameter {}", i, grads[i].type_string(), params[i].type_string());
    }
    const float* g = grads[i].data<float>();
    for (int64_t j = 0; j < grads[i].numel(); ++j) norm2 += double(g[j]) * g[j];
  }
  const double norm = std::sqrt(norm2);
  const float clip = o_.clip_norm > 0 && norm > o_.clip_norm ? static_cast<float>(o_.clip_norm / norm) : 1.0f;
  ++t_;
  const float bc1 = 1.0f - std::pow(o_.beta1, static_cast<float>(t_)), bc2 = 1.0f - std::pow(o_.beta2, static_cast<float>(t_));
  for (size_t i = 0; i < params.size(); ++i) {
    float* p = params[i].data<float>();
    const float* g = grads[i].data<float>();
    float* m = m_[i].data();
    const float wd = params[i].rank() >= 2 ? o_.weight_decay : 0.0f;
    const int64_t n = params[i].numel();
    if (o_.kind == "sgd") {
      for (int64_t j = 0; j < n; ++j) {
        const float gj = g[j] * clip + wd * p[j];
        m[j] = o_.momentum * m[j] + gj;
        p[j] -= lr * (o_.nesterov ? gj + o_.momentum * m[j] : m[j]);
      }
    } else {
      float* v = v_[i].data();
      for (int64_t j = 0; j < n; ++j) {
        const float gj = g[j] * clip;
        m[j] = o_.beta1 * m[j] + (1 - o_.beta1) * gj;
        v[j] = o_.beta2 * v[j] + (1 - o_.beta2) * gj * gj;
        p[j] -= lr * ((m[j] / bc1) / (std::sqrt(v[j] / bc2) + o_.eps) + wd * p[j]);
      }
    }
  }
  return norm;
}

std::map<std::string, Tensor> Optimizer::state() const {
  std::map<std::string, Tensor> s;
  for (size_t i = 0; i < m_.size(); ++i) {
    s["m/" + std::to_string(i)] = Tensor::from_vector<float>({static_cast<int64_t>(m_[i].size())}, m_[i]);
    if (i < v_.size()) s["v/" + std::to_string(i)] = Tensor::from_vector<float>({static_cast<int64_t>(v_[i].size())}, v_[i]);
  }
  s["step"] = Tensor::from_vector<int64_t>({1}, {t_});
  return s;
}

Status Optimizer::restore(const std::map<std::string, Tensor>& state) {
  auto load = [&](const std::string& key, std::vector<float>& dst) -> Status {
    auto it = state.find(key);
    if (it == state.end()) return invalid_input("checkpoint lacks optimizer state '{}' (saved by another optimizer?)", key);
    if (it->second.dtype() != DataType::kFloat32 || it->second.numel() != static_cast<int64_t>(dst.size())) {
      return invalid_input("optimizer state '{}' has {}, expected {} floats", key, it->second.type_string(), dst.size());
    }
    std::copy_n(it->second.data<float>(), dst.size(), dst.data());
    return ok_status();
  };
  for (size_t i = 0; i < m_.size(); ++i) {
    PARE_RETURN_IF_ERROR(load("m/" + std::to_string(i), m_[i]));
    if (i < v_.size()) PARE_RETURN_IF_ERROR(load("v/" + std::to_string(i), v_[i]));
  }
  auto it = state.find("step");
  if (it == state.end() || it->second.dtype() != DataType::kInt64 || it->second.numel() != 1) return invalid_input("checkpoint lacks the optimizer step");
  t_ = it->second.data<int64_t>()[0];
  return ok_status();
}

Result<float> learning_rate(const ScheduleOptions& s, int64_t step, int64_t total) {
  if (!(s.lr > 0)) return invalid_input("learning rate must be > 0, got {}", s.lr);
  if (s.warmup_steps > 0 && step < s.warmup_steps) return s.lr * static_cast<float>(step + 1) / static_cast<float>(s.warmup_steps);
  if (s.kind == "constant") return s.lr;
  if (s.kind == "step") {
    if (s.step_every <= 0) return invalid_input("step schedule needs a step interval > 0");
    return s.lr * std::pow(s.gamma, static_cast<float>((step - s.warmup_steps) / s.step_every));
  }
  if (s.kind == "cosine") {
    const int64_t span = std::max<int64_t>(1, total - s.warmup_steps);
    const double f = std::min(1.0, static_cast<double>(step - s.warmup_steps) / span);
    return static_cast<float>(s.min_lr + 0.5 * (s.lr - s.min_lr) * (1 + std::cos(M_PI * f)));
  }
  return invalid_input("unknown schedule '{}' (constant, step, cosine)", s.kind);
}

}  // namespace pare::train
