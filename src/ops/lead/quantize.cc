// QuantizeLinear (10, 13): y = saturate(round_half_even(x / s) + z), uint8 (default) or int8;
// DequantizeLinear (10, 13): y = (x − z)·s. Per tensor, or per axis (13) with 1-D s and z.
// DynamicQuantizeLinear (11): uint8 with s = (max(0, x_max) − min(0, x_min)) / 255 and
// z = saturate(round(−min/s)); outputs y, s, z.
#include <algorithm>
#include <cmath>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

// Per-element parameter index for per-axis quantization (0 for per-tensor).
struct AxisIndexer {
  int64_t inner = 1, n = 1;
  bool per_axis = false;
  int64_t operator()(int64_t i) const { return per_axis ? (i / inner) % n : 0; }
};

Result<AxisIndexer> indexer(KernelContext& ctx, const Tensor& x, const Tensor& scale) {
  AxisIndexer ix;
  if (scale.numel() == 1 && scale.rank() <= 1) return ix;
  if (scale.rank() != 1) return ctx.error("scale must be a scalar or 1-D, got {}", scale.type_string());
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -x.rank() || axis >= x.rank()) return ctx.error("axis {} out of range", axis);
  if (axis < 0) axis += x.rank();
  if (x.dim(axis) != scale.numel()) return ctx.error("{} scales for axis extent {}", scale.numel(), x.dim(axis));
  ix.per_axis = true;
  ix.n = scale.numel();
  for (int64_t d = axis + 1; d < x.rank(); ++d) ix.inner *= x.dim(d);
  return ix;
}

Status run_quantize(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(1));
  const Tensor* z = ctx.input(2);
  const DataType out = z ? z->dtype() : DataType::kUInt8;
  if (out != DataType::kUInt8 && out != DataType::kInt8) return ctx.error("zero point must be uint8 or int8");
  if (z && z->numel() != s->numel()) return ctx.error("scale and zero point sizes differ");
  PARE_ASSIGN_OR_RETURN(AxisIndexer ix, indexer(ctx, *x, *s));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, out, x->shape()));
  const double lo = out == DataType::kUInt8 ? 0 : -128, hi = out == DataType::kUInt8 ? 255 : 127;
  for (int64_t i = 0; i < x->numel(); ++i) {
    const int64_t p = ix(i);
    const double sc = s->float_at(p);
    if (sc == 0) return ctx.error("scale is 0");
    const double q = std::clamp(std::nearbyint(x->float_at(i) / sc) + (z ? z->float_at(p) : 0.0), lo, hi);
    if (out == DataType::kUInt8) y->data<uint8_t>()[i] = static_cast<uint8_t>(q);
    else y->data<int8_t>()[i] = static_cast<int8_t>(q);
  }
  return ok_status();
}

Status run_dequantize(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(1));
  const Tensor* z = ctx.input(2);
  if (z && z->numel() != s->numel()) return ctx.error("scale and zero point sizes differ");
  PARE_ASSIGN_OR_RETURN(AxisIndexer ix, indexer(ctx, *x, *s));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, s->dtype(), x->shape()));
  bool ok = dispatch_float(s->dtype(), [&]<typename T>() {
    for (int64_t i = 0; i < x->numel(); ++i) {
      const int64_t p = ix(i);
      y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>((x->float_at(i) - (z ? z->float_at(p) : 0.0)) * s->float_at(p)));
    }
  });
  if (!ok) return ctx.error("scale must be floating point");
  return ok_status();
}

Status run_dynamic_quantize(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->dtype() != DataType::kFloat32) return ctx.error("input must be float");
  double mn = 0, mx = 0;
  for (int64_t i = 0; i < x->numel(); ++i) {
    mn = std::min(mn, double(x->data<float>()[i]));
    mx = std::max(mx, double(x->data<float>()[i]));
  }
  const float scale = static_cast<float>((mx - mn) / 255.0);
  const double zp = scale == 0 ? 0 : std::clamp(std::nearbyint(-mn / scale), 0.0, 255.0);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kUInt8, x->shape()));
  for (int64_t i = 0; i < x->numel(); ++i) {
    y->data<uint8_t>()[i] = static_cast<uint8_t>(scale == 0 ? zp : std::clamp(std::nearbyint(x->data<float>()[i] / scale) + zp, 0.0, 255.0));
  }
  PARE_ASSIGN_OR_RETURN(Tensor * ys, ctx.allocate_output(1, DataType::kFloat32, {}));
  ys->data<float>()[0] = scale;
  PARE_ASSIGN_OR_RETURN(Tensor * yz, ctx.allocate_output(2, DataType::kUInt8, {}));
  yz->data<uint8_t>()[0] = static_cast<uint8_t>(zp);
  return ok_status();
}

}  // namespace

void register_QuantizeLinear(KernelRegistry& r) { add_fn<run_quantize>(r, "QuantizeLinear", 10); }
void register_DequantizeLinear(KernelRegistry& r) { add_fn<run_dequantize>(r, "DequantizeLinear", 10); }
void register_DynamicQuantizeLinear(KernelRegistry& r) { add_fn<run_dynamic_quantize>(r, "DynamicQuantizeLinear", 11); }

}  // namespace pare::ops
