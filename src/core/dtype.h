// Element types. Values equal ONNX's TensorProto.DataType so conversion is a cast; INT4/UINT4
// (ONNX 1.16) are packed two per byte, low nibble first.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/half.h"

namespace pare {

enum class DataType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kUInt4 = 21,
  kInt4 = 22,
};

// Name as in ONNX ("float", "int64", "float16", ...).
const char* dtype_name(DataType t);
// Bytes per element; 0 for string/undefined; packed int4 reports 1 (use dtype_storage_bytes).
size_t dtype_size(DataType t);
// Bytes needed to store `count` elements (handles packed int4).
size_t dtype_storage_bytes(DataType t, size_t count);
bool dtype_is_valid(int32_t onnx_value);
bool dtype_is_float(DataType t);    // f16 bf16 f32 f64
bool dtype_is_integer(DataType t);  // signed or unsigned ints (not bool)
bool dtype_is_signed(DataType t);

// C++ storage type of each dtype, and back.
template <DataType T> struct DTypeTraits;
#define PARE_DTYPE_TRAIT(DT, CT) \
  template <> struct DTypeTraits<DT> { using type = CT; };
PARE_DTYPE_TRAIT(DataType::kFloat32, float)
PARE_DTYPE_TRAIT(DataType::kFloat64, double)
PARE_DTYPE_TRAIT(DataType::kFloat16, Float16)
PARE_DTYPE_TRAIT(DataType::kBFloat16, BFloat16)
PARE_DTYPE_TRAIT(DataType::kInt8, int8_t)
PARE_DTYPE_TRAIT(DataType::kUInt8, uint8_t)
PARE_DTYPE_TRAIT(DataType::kInt16, int16_t)
PARE_DTYPE_TRAIT(DataType::kUInt16, uint16_t)
PARE_DTYPE_TRAIT(DataType::kInt32, int32_t)
PARE_DTYPE_TRAIT(DataType::kUInt32, uint32_t)
PARE_DTYPE_TRAIT(DataType::kInt64, int64_t)
PARE_DTYPE_TRAIT(DataType::kUInt64, uint64_t)
PARE_DTYPE_TRAIT(DataType::kBool, bool)
PARE_DTYPE_TRAIT(DataType::kString, std::string)
PARE_DTYPE_TRAIT(DataType::kComplex64, std::complex<float>)
PARE_DTYPE_TRAIT(DataType::kComplex128, std::complex<double>)
#undef PARE_DTYPE_TRAIT

template <typename T> constexpr DataType dtype_of();
template <> constexpr DataType dtype_of<float>() { return DataType::kFloat32; }
template <> constexpr DataType dtype_of<double>() { return DataType::kFloat64; }
template <> constexpr DataType dtype_of<Float16>() { return DataType::kFloat16; }
template <> constexpr DataType dtype_of<BFloat16>() { return DataType::kBFloat16; }
template <> constexpr DataType dtype_of<int8_t>() { return DataType::kInt8; }
template <> constexpr DataType dtype_of<uint8_t>() { return DataType::kUInt8; }
template <> constexpr DataType dtype_of<int16_t>() { return DataType::kInt16; }
template <> constexpr DataType dtype_of<uint16_t>() { return DataType::kUInt16; }
template <> constexpr DataType dtype_of<int32_t>() { return DataType::kInt32; }
template <> constexpr DataType dtype_of<uint32_t>() { return DataType::kUInt32; }
template <> constexpr DataType dtype_of<int64_t>() { return DataType::kInt64; }
template <> constexpr DataType dtype_of<uint64_t>() { return DataType::kUInt64; }
template <> constexpr DataType dtype_of<bool>() { return DataType::kBool; }
template <> constexpr DataType dtype_of<std::string>() { return DataType::kString; }

// Arithmetic type used to compute on T: float for the 16-bit floats, T otherwise.
template <typename T> struct ComputeType { using type = T; };
template <> struct ComputeType<Float16> { using type = float; };
template <> struct ComputeType<BFloat16> { using type = float; };
template <typename T> using compute_t = typename ComputeType<T>::type;

// Type lists for dispatch (see dispatch.h).
struct TypeSet {
  static constexpr uint32_t bit(DataType t) { return 1u << static_cast<uint32_t>(t); }
};

}  // namespace pare
