// Activations a fused op applies to its result (attribute `activation`, parameters in
// `activation_params`), with the formulas of the ONNX ops they replace:
//   Relu max(x,0) · LeakyRelu(α) x<0 ? αx : x · Clip(lo,hi) · Sigmoid 1/(1+e^−x) ·
//   HardSigmoid(α,β) clamp(αx+β,0,1) · HardSwish x·clamp(x/6+1/2,0,1) · SiLU x·σ(x) · Tanh ·
//   Gelu x/2·(1+erf(x/√2)) · GeluTanh x/2·(1+tanh(√(2/π)(x+0.044715x³)))
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace pare::ops {

enum class Activation { kNone, kRelu, kLeakyRelu, kClip, kSigmoid, kHardSigmoid, kHardSwish, kSiLU, kTanh, kGelu, kGeluTanh };

struct ActivationSpec {
  Activation kind = Activation::kNone;
  std::vector<float> params;  // LeakyRelu {α}; Clip {lo, hi}; HardSigmoid {α, β}
};

// From the attribute values; an error for an unknown name or a wrong number of parameters.
Result<ActivationSpec> parse_activation(const std::string& name, const std::vector<float>& params);
// The attribute spelling of `kind` ("" for none).
const char* activation_name(Activation kind);
// The activation of one value, in double (the reference).
double apply_activation(const ActivationSpec& a, double x);

}  // namespace pare::ops
