// com.pare.QGather(data_q, scale, zero_point?, indices) → Gather(DequantizeLinear(data_q, scale,
// zero_point; axis, block_size), indices, axis=0), made by passes/lower_qdq.cc from quantized
// embedding tables (`pare quantize` weight-only / dynamic / static). Only the gathered rows are
// dequantized: the table stays int4/uint4/int8/uint8 in memory (a GPT-2 token embedding is
// 38.6 M values: 19 MB in int4 instead of 154 MB as float).
//   data_q  [V, D] constant, int4/uint4 (packed, low nibble first) or int8/uint8
//   scale   float, as opset-21 DequantizeLinear: one value (per tensor), [V] (axis 0) or [D]
//           (axis 1) per axis, or blocked: [V, ceil(D/b)] (axis 1) or [ceil(V/b), D] (axis 0)
//   zero    optional, the shape of scale and the type of data_q
//   indices int32/int64, any shape, each in [−V, V); output indices.shape + [D], float.
#include <cmath>

#include "ops/fused/quant.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class QGatherRef final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<QGatherRef>();
    const ir::Node& n = init.node;
    const Tensor* q = init.constant_input(0);
    const Tensor* s = init.constant_input(1);
    if (!q || !s) return invalid_input("{}: data and scale must be constants", n.describe());
    const DataType qt = q->dtype();
    if (q->rank() != 2 || (qt != DataType::kInt4 && qt != DataType::kUInt4 && qt != DataType::kInt8 && qt != DataType::kUInt8))
      return invalid_input("{}: data must be a 2-D int4/uint4/int8/uint8 table, got {}", n.describe(), q->type_string());
    if (s->dtype() != DataType::kFloat32) return invalid_input("{}: scale must be float32, got {}", n.describe(), s->type_string());
    const Tensor* z = init.has_input(2) ? init.constant_input(2) : nullptr;
    if (init.has_input(2) && !z) return invalid_input("{}: zero point must be a constant", n.describe());
    if (z && (z->dtype() != qt || z->shape() != s->shape()))
      return invalid_input("{}: zero point {} must have the data type and the scale shape {}", n.describe(), z->type_string(), s->type_string());
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += 2;
    const int64_t block = n.attr_int("block_size", 0);
    if (axis < 0 || axis > 1 || block < 0) return invalid_input("{}: axis {} / block_size {} invalid for a 2-D table", n.describe(), axis, block);
    const int64_t V = q->dim(0), D = q->dim(1);
    k->V_ = V;
    k->D_ = D;
    k->axis_ = axis;
    k->block_ = block;
    if (s->numel() == 1 && block == 0 && s->rank() <= 1) {
      k->mode_ = kPerTensor;
    } else if (block == 0) {
      if (s->rank() != 1 || s->dim(0) != q->dim(axis))
        return invalid_input("{}: scale {} must hold one value per index of axis {} ({})", n.describe(), s->type_string(), axis, q->dim(axis));
      k->mode_ = kPerAxis;
    } else {
      k->groups_ = (q->dim(axis) + block - 1) / block;
      const Shape want = axis == 1 ? Shape{V, k->groups_} : Shape{k->groups_, D};
      if (s->shape() != want)
        return invalid_input("{}: scale {} does not match data {} with block_size {} on axis {}", n.describe(), s->type_string(),
                             q->type_string(), block, axis);
      k->mode_ = kBlocked;
    }
    for (int64_t i = 0; i < s->numel(); ++i)
      if (!std::isfinite(s->data<float>()[i])) return invalid_input("{}: scale holds {} at {}", n.describe(), s->data<float>()[i], i);
    k->q_ = *q;
    k->s_ = *s;
    if (z) k->z_ = *z;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(3));
    if (idx->dtype() != DataType::kInt64 && idx->dtype() != DataType::kInt32)
      return ctx.error("indices must be int32 or int64, got {}", idx->type_string());
    Shape out = idx->shape();
    out.push_back(D_);
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, out));
    float* yp = y->data<float>();
    for (int64_t i = 0; i < idx->numel(); ++i) {
      int64_t r = idx->int_at(i);
      if (r < -V_ || r >= V_) return ctx.error("index {} at position {} is out of range [-{}, {})", r, i, V_, V_);
      if (r < 0) r += V_;
      row(r, yp + i * D_);
    }
    return ok_status();
  }

 private:
  enum Mode { kPerTensor, kPerAxis, kBlocked };

  // Index of the scale (and zero point) of element (r, c).
  int64_t sidx(int64_t r, int64_t c) const {
    switch (mode_) {
      case kPerTensor: return 0;
      case kPerAxis: return axis_ == 0 ? r : c;
      default: return axis_ == 1 ? r * groups_ + c / block_ : (r / block_) * D_ + c;
    }
  }

  // Row r dequantized into y[0, D): a run of columns sharing one scale at a time.
  void row(int64_t r, float* y) const {
    const float* s = s_.data<float>();
    const bool zp = z_.defined();
    const int64_t run = mode_ == kPerTensor || (mode_ == kPerAxis && axis_ == 0) ? D_ : mode_ == kBlocked && axis_ == 1 ? block_ : 1;
    for (int64_t c0 = 0; c0 < D_; c0 += run) {
      const int64_t c1 = std::min(D_, c0 + run);
      const int64_t si = sidx(r, c0);
      const float sc = s[si];
      const int32_t z = zp ? quant::int_element(z_, si) : 0;
      switch (q_.dtype()) {
        case DataType::kInt8: {
          const int8_t* p = q_.data<int8_t>() + r * D_;
          for (int64_t c = c0; c < c1; ++c) y[c] = static_cast<float>(p[c] - z) * sc;
          break;
        }
        case DataType::kUInt8: {
          const uint8_t* p = q_.data<uint8_t>() + r * D_;
          for (int64_t c = c0; c < c1; ++c) y[c] = static_cast<float>(p[c] - z) * sc;
          break;
        }
        default:  // int4 / uint4: element e = r·D + c in byte e/2, low nibble first
          for (int64_t c = c0; c < c1; ++c) y[c] = static_cast<float>(quant::int_element(q_, r * D_ + c) - z) * sc;
      }
    }
  }

  Tensor q_, s_, z_;
  Mode mode_ = kPerTensor;
  int64_t V_ = 0, D_ = 0, axis_ = 1, block_ = 0, groups_ = 1;
};

}  // namespace

void register_QGather(KernelRegistry& r) { r.add({"QGather", "com.pare", 1, kMaxOpset, &make_kernel<QGatherRef>}); }

}  // namespace pare::ops
