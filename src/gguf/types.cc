#include "gguf/types.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "core/half.h"

namespace pare::gguf {
namespace {

float h2f(uint16_t h) { return Float16::to_float(h); }
uint16_t f2h(float f) { return Float16::from_float(f); }
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

struct Entry {
  GgmlType type;
  TypeTraits traits;
};
constexpr Entry kTypes[] = {
    {GgmlType::kF32, {"f32", 1, 4, true}},        {GgmlType::kF16, {"f16", 1, 2, true}},
    {GgmlType::kQ4_0, {"q4_0", 32, 18, true}},    {GgmlType::kQ4_1, {"q4_1", 32, 20, true}},
    {GgmlType::kQ5_0, {"q5_0", 32, 22, true}},    {GgmlType::kQ5_1, {"q5_1", 32, 24, true}},
    {GgmlType::kQ8_0, {"q8_0", 32, 34, true}},    {GgmlType::kQ8_1, {"q8_1", 32, 36, false}},
    {GgmlType::kQ2_K, {"q2_k", 256, 84, false}},  {GgmlType::kQ3_K, {"q3_k", 256, 110, false}},
    {GgmlType::kQ4_K, {"q4_k", 256, 144, true}},  {GgmlType::kQ5_K, {"q5_k", 256, 176, true}},
    {GgmlType::kQ6_K, {"q6_k", 256, 210, true}},  {GgmlType::kQ8_K, {"q8_k", 256, 292, false}},
    {GgmlType::kI8, {"i8", 1, 1, false}},         {GgmlType::kI16, {"i16", 1, 2, false}},
    {GgmlType::kI32, {"i32", 1, 4, false}},       {GgmlType::kI64, {"i64", 1, 8, false}},
    {GgmlType::kF64, {"f64", 1, 8, false}},       {GgmlType::kBF16, {"bf16", 1, 2, true}},
};

// Sub-block scale/min search shared by the K-quant quantizers: x ≈ scale·q - min, q ∈ [0, qmax].
void sub_scale_min(const float* x, int n, int qmax, float* scale, float* min_out) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  lo = std::min(lo, 0.0f);
  *scale = (hi - lo) / qmax;
  *min_out = -lo;
}

void pack_k_scales(const uint8_t* sc, const uint8_t* m, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 4; ++j) {
    s[j] = sc[j] & 63;
    s[j + 4] = m[j] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    s[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
    s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
    s[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
  }
}

// Q4_K / Q5_K block quantizer (BITS 4 or 5).
void quantize_k45(const float* x, int bits, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales, uint8_t* q) {
  const int qmax = (1 << bits) - 1;
  float sc[8], mn[8];
  float max_sc = 0, max_mn = 0;
  for (int j = 0; j < 8; ++j) {
    sub_scale_min(x + 32 * j, 32, qmax, &sc[j], &mn[j]);
    max_sc = std::max(max_sc, sc[j]);
    max_mn = std::max(max_mn, mn[j]);
  }
  float d = max_sc / 63, dmin = max_mn / 63;
  *d_out = f2h(d);
  *dmin_out = f2h(dmin);
  d = h2f(*d_out);
  dmin = h2f(*dmin_out);
  uint8_t isc[8], imn[8];
  for (int j = 0; j < 8; ++j) {
    isc[j] = static_cast<uint8_t>(std::clamp<int>(d > 0 ? std::lround(sc[j] / d) : 0, 0, 63));
    imn[j] = static_cast<uint8_t>(std::clamp<int>(dmin > 0 ? std::lround(mn[j] / dmin) : 0, 0, 63));
  }
  pack_k_scales(isc, imn, scales);
  for (int j = 0; j < 8; ++j) {
    float ds = d * isc[j], dm = dmin * imn[j];
    for (int l = 0; l < 32; ++l) {
      int v = ds > 0 ? static_cast<int>(std::lround((x[32 * j + l] + dm) / ds)) : 0;
      q[32 * j + l] = static_cast<uint8_t>(std::clamp(v, 0, qmax));
    }
  }
}

}  // namespace

const TypeTraits* type_traits(uint32_t id) {
  for (const auto& e : kTypes)
    if (static_cast<uint32_t>(e.type) == id) return &e.traits;
  return nullptr;
}

const char* type_name(GgmlType t) {
  const TypeTraits* tr = type_traits(static_cast<uint32_t>(t));
  return tr ? tr->name : "unknown";
}

Result<GgmlType> parse_type(const std::string& s) {
  std::string l = s;
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& e : kTypes)
    if (l == e.traits.name && e.traits.supported) return e.type;
  return invalid_input("unknown tensor type '{}' (expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k)", s);
}

int64_t row_bytes(GgmlType t, int64_t n) {
  const TypeTraits* tr = type_traits(static_cast<uint32_t>(t));
  return n / tr->block * tr->bytes;
}

Status dequantize(GgmlType t, const void* src, float* y, int64_t n) {
  const TypeTraits* tr = type_traits(static_cast<uint32_t>(t));
  if (!tr || !tr->supported) return unsupported("dequantize: tensor type {} is not supported", type_name(t));
  if (n % tr->block) return invalid_input("dequantize: {} values is not a multiple of the {} block ({})", n, tr->name, tr->block);
  const int64_t nb = n / tr->block;
  switch (t) {
    case GgmlType::kF32: std::memcpy(y, src, n * 4); break;
    case GgmlType::kF16: {
      const uint16_t* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = h2f(h[i]);
      break;
    }
    case GgmlType::kBF16: {
      const uint16_t* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = BFloat16::to_float(h[i]);
      break;
    }
    case GgmlType::kQ8_0: {
      const BlockQ8_0* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += 32) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < 32; ++j) y[j] = b[i].qs[j] * d;
      }
      break;
    }
    case GgmlType::kQ4_0: {
      const BlockQ4_0* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += 32) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < 16; ++j) {
          y[j] = ((b[i].qs[j] & 0xF) - 8) * d;
          y[j + 16] = ((b[i].qs[j] >> 4) - 8) * d;
        }
      }
      break;
    }
    case GgmlType::kQ4_1: {
      const BlockQ4_1* b = static_cast<const BlockQ4_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += 32) {
        const float d = h2f(b[i].d), m = h2f(b[i].m);
        for (int j = 0; j < 16; ++j) {
          y[j] = (b[i].qs[j] & 0xF) * d + m;
          y[j + 16] = (b[i].qs[j] >> 4) * d + m;
        }
      }
      break;
    }
    case GgmlType::kQ5_0: {
      const BlockQ5_0* b = static_cast<const BlockQ5_0*>(src);
      for (int64_t i = 0; i < nb; ++i, y += 32) {
        const float d = h2f(b[i].d);
        const uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < 16; ++j) {
          const int h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
          y[j] = (((b[i].qs[j] & 0xF) | h0) - 16) * d;
          y[j + 16] = (((b[i].qs[j] >> 4) | h1) - 16) * d;
        }
      }
      break;
    }
    case GgmlType::kQ5_1: {
      const BlockQ5_1* b = static_cast<const BlockQ5_1*>(src);
      for (int64_t i = 0; i < nb; ++i, y += 32) {
        const float d = h2f(b[i].d), m = h2f(b[i].m);
        const uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < 16; ++j) {
          const int h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
          y[j] = ((b[i].qs[j] & 0xF) | h0) * d + m;
          y[j + 16] = ((b[i].qs[j] >> 4) | h1) * d + m;
        }
      }
      break;
    }
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K: {
      // Four chunks of 64 values; chunk c uses sub-blocks 2c (low nibbles of qs[32c..32c+31])
      // and 2c+1 (high nibbles); Q5_K adds bit 2c resp. 2c+1 of qh[l] as the fifth bit.
      const bool five = t == GgmlType::kQ5_K;
      for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* blk = static_cast<const uint8_t*>(src) + i * tr->bytes;
        const float d = h2f(blk[0] | (blk[1] << 8)), dmin = h2f(blk[2] | (blk[3] << 8));
        const uint8_t* scales = blk + 4;
        const uint8_t* qh = blk + 16;
        const uint8_t* qs = blk + (five ? 48 : 16);
        for (int c = 0; c < 4; ++c) {
          for (int half = 0; half < 2; ++half) {
            uint8_t sc, m;
            k_scale_min(2 * c + half, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            for (int l = 0; l < 32; ++l) {
              int q = half ? (qs[32 * c + l] >> 4) : (qs[32 * c + l] & 0xF);
              if (five && (qh[l] >> (2 * c + half) & 1)) q += 16;
              *y++ = d1 * q - m1;
            }
          }
        }
      }
      break;
    }
    case GgmlType::kQ6_K: {
      const BlockQ6_K* b = static_cast<const BlockQ6_K*>(src);
      for (int64_t i = 0; i < nb; ++i) {
        const float d = h2f(b[i].d);
        for (int n2 = 0; n2 < 2; ++n2, y += 128) {
          const uint8_t* ql = b[i].ql + 64 * n2;
          const uint8_t* qh = b[i].qh + 32 * n2;
          const int8_t* sc = b[i].scales + 8 * n2;
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
          }
        }
      }
      break;
    }
    default: return unsupported("dequantize: tensor type {} is not supported", tr->name);
  }
  return ok_status();
}

Status quantize(GgmlType t, const float* x, void* dst, int64_t n) {
  const TypeTraits* tr = type_traits(static_cast<uint32_t>(t));
  if (!tr || !tr->supported) return unsupported("quantize: tensor type {} is not supported", type_name(t));
  if (n % tr->block) return invalid_input("quantize: {} values is not a multiple of the {} block ({})", n, tr->name, tr->block);
  const int64_t nb = n / tr->block;
  uint8_t* out = static_cast<uint8_t*>(dst);
  switch (t) {
    case GgmlType::kF32: std::memcpy(dst, x, n * 4); break;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = f2h(x[i]);
      break;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = BFloat16::from_float(x[i]);
      break;
    case GgmlType::kQ8_0:
      for (int64_t i = 0; i < nb; ++i, x += 32) {
        BlockQ8_0& b = reinterpret_cast<BlockQ8_0*>(dst)[i];
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127, id = d ? 1 / d : 0;
        b.d = f2h(d);
        for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(std::lround(x[j] * id));
      }
      break;
    case GgmlType::kQ4_0:
    case GgmlType::kQ5_0:
      // d = (signed value of largest magnitude) / -2^(bits-1), so that value maps to q = 0.
      for (int64_t i = 0; i < nb; ++i, x += 32) {
        const bool five = t == GgmlType::kQ5_0;
        float amax = 0, vmax = 0;
        for (int j = 0; j < 32; ++j)
          if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), vmax = x[j];
        const float d = vmax / (five ? -16 : -8), id = d ? 1 / d : 0;
        uint8_t q[32];
        for (int j = 0; j < 32; ++j)
          q[j] = static_cast<uint8_t>(std::min(five ? 31 : 15, static_cast<int>(x[j] * id + (five ? 16.5f : 8.5f))));
        uint8_t* blk = out + i * tr->bytes;
        uint16_t dh = f2h(d);
        std::memcpy(blk, &dh, 2);
        uint8_t* qs = blk + (five ? 6 : 2);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
          qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
          qh |= static_cast<uint32_t>(q[j] >> 4) << j;
          qh |= static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
        }
        if (five) std::memcpy(blk + 2, &qh, 4);
      }
      break;
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_1:
      for (int64_t i = 0; i < nb; ++i, x += 32) {
        const bool five = t == GgmlType::kQ5_1;
        const int qmax = five ? 31 : 15;
        float lo = x[0], hi = x[0];
        for (int j = 1; j < 32; ++j) lo = std::min(lo, x[j]), hi = std::max(hi, x[j]);
        const float d = (hi - lo) / qmax, id = d ? 1 / d : 0;
        uint8_t q[32];
        for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(std::min(qmax, static_cast<int>((x[j] - lo) * id + 0.5f)));
        uint8_t* blk = out + i * tr->bytes;
        uint16_t dh = f2h(d), mh = f2h(lo);
        std::memcpy(blk, &dh, 2);
        std::memcpy(blk + 2, &mh, 2);
        uint8_t* qs = blk + (five ? 8 : 4);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
          qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
          qh |= static_cast<uint32_t>(q[j] >> 4) << j;
          qh |= static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
        }
        if (five) std::memcpy(blk + 4, &qh, 4);
      }
      break;
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
      for (int64_t i = 0; i < nb; ++i, x += 256) {
        const bool five = t == GgmlType::kQ5_K;
        uint8_t* blk = out + i * tr->bytes;
        uint8_t q[256];
        uint16_t d, dmin;
        quantize_k45(x, five ? 5 : 4, &d, &dmin, blk + 4, q);
        std::memcpy(blk, &d, 2);
        std::memcpy(blk + 2, &dmin, 2);
        uint8_t* qh = blk + 16;
        uint8_t* qs = blk + (five ? 48 : 16);
        if (five) std::memset(qh, 0, 32);
        for (int c = 0; c < 4; ++c)
          for (int l = 0; l < 32; ++l) {
            const uint8_t a = q[64 * c + l], b2 = q[64 * c + 32 + l];
            qs[32 * c + l] = static_cast<uint8_t>((a & 0xF) | ((b2 & 0xF) << 4));
            if (five) qh[l] |= static_cast<uint8_t>(((a >> 4) << (2 * c)) | ((b2 >> 4) << (2 * c + 1)));
          }
      }
      break;
    case GgmlType::kQ6_K:
      for (int64_t i = 0; i < nb; ++i, x += 256) {
        BlockQ6_K& b = reinterpret_cast<BlockQ6_K*>(dst)[i];
        float sc[16], max_abs = 0;
        for (int j = 0; j < 16; ++j) {
          float amax = 0, vmax = 0;
          for (int l = 0; l < 16; ++l)
            if (std::fabs(x[16 * j + l]) > amax) amax = std::fabs(x[16 * j + l]), vmax = x[16 * j + l];
          sc[j] = vmax / -32;
          max_abs = std::max(max_abs, std::fabs(sc[j]));
        }
        const float d0 = max_abs / 127;
        b.d = f2h(d0);
        const float d = h2f(b.d);
        uint8_t q[256];
        for (int j = 0; j < 16; ++j) {
          b.scales[j] = static_cast<int8_t>(std::clamp<long>(d > 0 ? std::lround(sc[j] / d) : 0, -128, 127));
          const float ds = d * b.scales[j];
          for (int l = 0; l < 16; ++l) {
            int v = ds != 0 ? static_cast<int>(std::lround(x[16 * j + l] / ds)) : 0;
            q[16 * j + l] = static_cast<uint8_t>(std::clamp(v + 32, 0, 63));
          }
        }
        for (int n2 = 0; n2 < 2; ++n2)
          for (int l = 0; l < 32; ++l) {
            const uint8_t* qq = q + 128 * n2 + l;
            b.ql[64 * n2 + l] = static_cast<uint8_t>((qq[0] & 0xF) | ((qq[64] & 0xF) << 4));
            b.ql[64 * n2 + l + 32] = static_cast<uint8_t>((qq[32] & 0xF) | ((qq[96] & 0xF) << 4));
            b.qh[32 * n2 + l] = static_cast<uint8_t>((qq[0] >> 4) | ((qq[32] >> 4) << 2) | ((qq[64] >> 4) << 4) | ((qq[96] >> 4) << 6));
          }
      }
      break;
    default: return unsupported("quantize: tensor type {} is not supported", tr->name);
  }
  return ok_status();
}

}  // namespace pare::gguf
