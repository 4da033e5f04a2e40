#include "ops/fused/activation.h"

#include <algorithm>
#include <cmath>

namespace pare::ops {

namespace {
struct Entry {
  Activation kind;
  const char* name;
  size_t params;
};
constexpr Entry kActivations[] = {
    {Activation::kNone, "", 0},          {Activation::kRelu, "Relu", 0},
    {Activation::kLeakyRelu, "LeakyRelu", 1}, {Activation::kClip, "Clip", 2},
    {Activation::kSigmoid, "Sigmoid", 0}, {Activation::kHardSigmoid, "HardSigmoid", 2},
    {Activation::kHardSwish, "HardSwish", 0}, {Activation::kSiLU, "SiLU", 0},
    {Activation::kTanh, "Tanh", 0},       {Activation::kGelu, "Gelu", 0},
    {Activation::kGeluTanh, "GeluTanh", 0},
};
}  // namespace

Result<ActivationSpec> parse_activation(const std::string& name, const std::vector<float>& params) {
  for (const Entry& e : kActivations) {
    if (name != e.name) continue;
    if (params.size() != e.params) {
      return invalid_input("activation '{}' takes {} parameters, got {}", name, e.params, params.size());
    }
    return ActivationSpec{e.kind, params};
  }
  return invalid_input("unknown activation '{}'", name);
}

const char* activation_name(Activation kind) {
  for (const Entry& e : kActivations) {
    if (e.kind == kind) return e.name;
  }
  return "";
}

double apply_activation(const ActivationSpec& a, double x) {
  const auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  switch (a.kind) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0 ? x : 0.0;
    case Activation::kLeakyRelu: return x < 0 ? a.params[0] * x : x;
    case Activation::kClip: return std::min<double>(std::max<double>(x, a.params[0]), a.params[1]);
    case Activation::kSigmoid: return sigmoid(x);
    case Activation::kHardSigmoid: return std::clamp(a.params[0] * x + a.params[1], 0.0, 1.0);
    case Activation::kHardSwish: return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case Activation::kSiLU: return x * sigmoid(x);
    case Activation::kTanh: return std::tanh(x);
    case Activation::kGelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}

}  // namespace pare::ops
