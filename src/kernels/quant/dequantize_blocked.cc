// DequantizeLinear (opset 21) for what the opset-13 reference does not cover: blocked
// quantization (block_size > 0: scale shape = x shape with dim[axis] → ceil(dim/block)) and
// packed int4/uint4 inputs. y[..., a, ...] = (x − z[..., a/block, ...])·s[..., a/block, ...].
// This is the unfused path of weight-only models; the output is a plain float tensor.
#include <cmath>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

// Element i of an integer tensor as int (int4/uint4 unpacked, low nibble first).
inline int32_t int_element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kInt4: {
      const int v = (t.data<uint8_t>()[i / 2] >> (4 * (i % 2))) & 0xF;
      return v >= 8 ? v - 16 : v;
    }
    case DataType::kUInt4: return (t.data<uint8_t>()[i / 2] >> (4 * (i % 2))) & 0xF;
    default: return static_cast<int32_t>(t.int_at(i));
  }
}

class DequantizeBlocked final : public ops::Kernel {
 public:
  explicit DequantizeBlocked(const ops::KernelInit& init)
      : axis_(init.node.attr_int("axis", 1)), block_(init.node.attr_int("block_size", 0)) {}

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(1));
    const Tensor* z = ctx.input(2);
    if (z && (z->dtype() != x->dtype() || z->shape() != s->shape()))
      return ctx.error("zero point {} must match the input type and the scale shape {}", z->type_string(), s->type_string());
    if (!dtype_is_integer(x->dtype())) return ctx.error("input must be an integer type, got {}", x->type_string());
    int64_t axis = axis_ < 0 ? axis_ + x->rank() : axis_;
    const bool per_tensor = s->numel() == 1 && s->rank() <= 1 && block_ == 0;
    int64_t outer = 1, extent = 1, inner = 1, groups = 1;
    if (!per_tensor) {
      if (axis < 0 || axis >= x->rank()) return ctx.error("axis {} out of range for rank {}", axis_, x->rank());
      extent = x->dim(axis);
      for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
      for (int64_t d = axis + 1; d < x->rank(); ++d) inner *= x->dim(d);
      if (block_ > 0) {
        groups = (extent + block_ - 1) / block_;
        bool ok = s->rank() == x->rank();
        for (int64_t d = 0; ok && d < x->rank(); ++d) ok = s->dim(d) == (d == axis ? groups : x->dim(d));
        if (!ok) return ctx.error("scale {} does not match input {} with block_size {} on axis {}", s->type_string(), x->type_string(), block_, axis);
      } else if (s->rank() != 1 || s->numel() != extent) {
        return ctx.error("{} scales for axis extent {}", s->numel(), extent);
      }
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, s->dtype(), x->shape()));
    bool ok = dispatch_float(s->dtype(), [&]<typename T>() {
      const T* sp = s->data<T>();
      T* yp = y->data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t a = 0; a < extent; ++a) {
          const int64_t base = (o * extent + a) * inner;
          for (int64_t i = 0; i < (per_tensor ? x->numel() : inner); ++i) {
            const int64_t k = per_tensor ? 0 : block_ > 0 ? (o * groups + a / block_) * inner + i : a;
            const float zp = z ? static_cast<float>(int_element(*z, k)) : 0.0f;
            yp[base + i] = static_cast<T>((static_cast<float>(int_element(*x, base + i)) - zp) * static_cast<float>(sp[k]));
          }
          if (per_tensor) return;
        }
    });
    if (!ok) return ctx.error("scale must be floating point, got {}", s->type_string());
    return ok_status();
  }

 private:
  int64_t axis_, block_;
};

bool applies(const ops::KernelInit& init) {
  if (init.node.attr_int("block_size", 0) != 0) return true;
  const ir::TypeInfo* t = init.input_type(0);
  return t && (t->dtype == DataType::kInt4 || t->dtype == DataType::kUInt4);
}

}  // namespace

void register_quant_dequantize_blocked(ops::KernelRegistry& r) {
  r.add({"DequantizeLinear", "", 21, ops::kMaxOpset, &ops::make_kernel<DequantizeBlocked>, "quant_blocked", 10, applies});
}

}  // namespace pare::kernels
