// Run-time dtype → compile-time type dispatch. `dispatch_numeric(dt, [&]<typename T>() {...})`
// calls the lambda with T = the storage type of dt (float, Float16, int64_t, bool, ...) and
// returns false when dt is not in the set. Narrow sets keep template instantiations (and
// build time) down: use the smallest that covers the op's ONNX type constraints.
#pragma once

#include "core/dtype.h"

namespace pare {

#define PARE_DISPATCH_CASE(DT, F) \
  case DT: F.template operator()<typename DTypeTraits<DT>::type>(); return true;

// f32 f64 f16 bf16
template <typename F>
bool dispatch_float(DataType t, F&& f) {
  switch (t) {
    PARE_DISPATCH_CASE(DataType::kFloat32, f)
    PARE_DISPATCH_CASE(DataType::kFloat64, f)
    PARE_DISPATCH_CASE(DataType::kFloat16, f)
    PARE_DISPATCH_CASE(DataType::kBFloat16, f)
    default: return false;
  }
}

// all signed and unsigned 8..64-bit integers
template <typename F>
bool dispatch_integer(DataType t, F&& f) {
  switch (t) {
    PARE_DISPATCH_CASE(DataType::kInt8, f)
    PARE_DISPATCH_CASE(DataType::kUInt8, f)
    PARE_DISPATCH_CASE(DataType::kInt16, f)
    PARE_DISPATCH_CASE(DataType::kUInt16, f)
    PARE_DISPATCH_CASE(DataType::kInt32, f)
    PARE_DISPATCH_CASE(DataType::kUInt32, f)
    PARE_DISPATCH_CASE(DataType::kInt64, f)
    PARE_DISPATCH_CASE(DataType::kUInt64, f)
    default: return false;
  }
}

// floats and integers (no bool, no string)
template <typename F>
bool dispatch_numeric(DataType t, F&& f) {
  if (dispatch_float(t, f)) return true;
  return dispatch_integer(t, f);
}

// numeric plus bool
template <typename F>
bool dispatch_numeric_bool(DataType t, F&& f) {
  if (t == DataType::kBool) {
    f.template operator()<bool>();
    return true;
  }
  return dispatch_numeric(t, f);
}

// everything with a storage type, string included (data movement ops: Gather, Concat, ...)
template <typename F>
bool dispatch_all(DataType t, F&& f) {
  if (t == DataType::kString) {
    f.template operator()<std::string>();
    return true;
  }
  return dispatch_numeric_bool(t, f);
}

// Element-size dispatch for ops that only move bytes: T is uint8/16/32/64_t or std::string.
template <typename F>
bool dispatch_by_size(DataType t, F&& f) {
  if (t == DataType::kString) {
    f.template operator()<std::string>();
    return true;
  }
  switch (dtype_size(t)) {
    case 1: f.template operator()<uint8_t>(); return true;
    case 2: f.template operator()<uint16_t>(); return true;
    case 4: f.template operator()<uint32_t>(); return true;
    case 8: f.template operator()<uint64_t>(); return true;
    case 16: f.template operator()<std::complex<double>>(); return true;
    default: return false;
  }
}

#undef PARE_DISPATCH_CASE_UNUSED

}  // namespace pare
