// ggml tensor types: ids as stored in GGUF, block geometry, and conversion to/from float.
//
// Block layouts (little-endian, packed; d/m/dmin are IEEE half):
//   Q4_0  32 values, 18 B: d, qs[16]          x[j] = (lo4(qs[j]) - 8)·d, x[j+16] = (hi4(qs[j]) - 8)·d
//   Q4_1  32 values, 20 B: d, m, qs[16]       x = q·d + m (q as in Q4_0 without the -8)
//   Q5_0  32 values, 22 B: d, qh[4], qs[16]   q = lo/hi nibble | bit j (resp. j+16) of qh << 4; x = (q-16)·d
//   Q5_1  32 values, 24 B: d, m, qh[4], qs[16] x = q·d + m
//   Q8_0  32 values, 34 B: d, qs[32] int8     x = q·d
//   Q4_K 256 values, 144 B: d, dmin, scales[12] (8 × 6-bit scale + 6-bit min), qs[128]
//   Q5_K 256 values, 176 B: d, dmin, scales[12], qh[32], qs[128]
//   Q6_K 256 values, 210 B: ql[128], qh[64], int8 scales[16], d
// (K-quant details are in types.cc next to the code.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace pare::gguf {

enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kBF16 = 30,
};

struct TypeTraits {
  const char* name;
  int64_t block;  // values per block
  int64_t bytes;  // bytes per block
  bool supported;  // pare can dequantize it
};

// Traits of a type id read from a file; nullptr for ids pare does not know.
const TypeTraits* type_traits(uint32_t id);
const char* type_name(GgmlType t);
// Parses "q4_0", "Q8_0", "f16", ... into a type.
Result<GgmlType> parse_type(const std::string& s);
// Bytes of a row of N values (N must be a multiple of the block size).
int64_t row_bytes(GgmlType t, int64_t n);

// SRC holds N values (a multiple of the type's block) of type T; writes N floats.
Status dequantize(GgmlType t, const void* src, float* dst, int64_t n);
// Quantizes N floats (a multiple of the block) into DST (row_bytes(t, n) bytes). All types
// listed in the header are supported; K-quants use a plain min/max search per sub-block.
Status quantize(GgmlType t, const float* src, void* dst, int64_t n);

// Block structs for kernels.
struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[16]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[32]; };
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct BlockQ6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

// 6-bit scale and min of sub-block J (0..7) of a Q4_K/Q5_K block.
inline void k_scale_min(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace pare::gguf
