// RunValue: what flows along a graph edge at run time — a tensor, a sequence of tensors
// (ONNX sequence ops), or nothing (an absent optional input, or an empty ONNX Optional).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace pare {

struct RunValue {
  enum class Kind { kNone, kTensor, kSequence };

  Kind kind = Kind::kNone;
  Tensor tensor;                  // kind == kTensor
  std::vector<Tensor> sequence;   // kind == kSequence
  DataType sequence_dtype = DataType::kUndefined;  // element type of an empty sequence

  RunValue() = default;
  RunValue(Tensor t) : kind(Kind::kTensor), tensor(std::move(t)) {}  // NOLINT(implicit)
  static RunValue make_sequence(std::vector<Tensor> items, DataType dtype) {
    RunValue v;
    v.kind = Kind::kSequence;
    v.sequence = std::move(items);
    v.sequence_dtype = dtype;
    return v;
  }

  bool is_none() const { return kind == Kind::kNone; }
  bool is_tensor() const { return kind == Kind::kTensor; }
  bool is_sequence() const { return kind == Kind::kSequence; }
};

}  // namespace pare
