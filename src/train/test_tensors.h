// Test helper shared by the training tests: a float tensor of seeded normal samples.
#pragma once

#include <random>

#include "core/tensor.h"

namespace pare::train {

inline Tensor randn(const Shape& s, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, scale);
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
  return t;
}

}  // namespace pare::train
