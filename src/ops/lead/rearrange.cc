// DepthToSpace (1, 11, 13; DCR / CRD), SpaceToDepth (1, 13), Compress (9, 11; axis or
// flattened), NonZero (9, 13), TopK (1: k attribute; 10+: k input; largest, sorted; ties by
// lower index), ReverseSequence (10).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {


template <bool kToSpace>
Status run_depth_space(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const int64_t bs = ctx.node().attr_int("blocksize", 0);
  if (x->rank() != 4 || bs < 1) return ctx.error("needs a 4-D input and blocksize ≥ 1");
  const bool crd = ctx.node().attr_string("mode", "DCR") == "CRD";
  const int64_t n = x->dim(0), c = x->dim(1), h = x->dim(2), w = x->dim(3);
  if (kToSpace && c % (bs * bs) != 0) return ctx.error("channels {} not divisible by blocksize² {}", c, bs * bs);
  if (!kToSpace && (h % bs || w % bs)) return ctx.error("spatial dims not divisible by blocksize {}", bs);
  const Shape ys = kToSpace ? Shape{n, c / (bs * bs), h * bs, w * bs} : Shape{n, c * bs * bs, h / bs, w / bs};
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
  // Iterate the space-side tensor [n, oc, H, W] and map to the depth-side element.
  const int64_t oc = kToSpace ? ys[1] : c, H = kToSpace ? ys[2] : h, W = kToSpace ? ys[3] : w, dc = kToSpace ? c : ys[1];
  const int64_t dh = H / bs, dw = W / bs;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < oc; ++ch) {
      for (int64_t i = 0; i < H; ++i) {
        for (int64_t j = 0; j < W; ++j) {
          const int64_t bi = i % bs, bj = j % bs;
          const int64_t d = crd ? ch * bs * bs + bi * bs + bj : (bi * bs + bj) * oc + ch;
          const int64_t space = ((b * oc + ch) * H + i) * W + j;
          const int64_t depth = ((b * dc + d) * dh + i / bs) * dw + j / bs;
          if (kToSpace) copy_elements(*x, depth, *y, space);
          else copy_elements(*x, space, *y, depth);
        }
      }
    }
  }
  return ok_status();
}

Status run_compress(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* cond, ctx.required_input(1));
  if (cond->rank() != 1 || cond->dtype() != DataType::kBool) return ctx.error("condition must be a 1-D bool tensor");
  const bool has_axis = ctx.node().has_attr("axis");
  int64_t axis = ctx.node().attr_int("axis", 0);
  Shape shape = has_axis ? x->shape() : Shape{x->numel()};
  if (has_axis) {
    if (axis < -x->rank() || axis >= x->rank()) return ctx.error("axis {} out of range", axis);
    if (axis < 0) axis += x->rank();
  }
  const int64_t n = shape[axis];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < std::min(n, cond->numel()); ++i) {
    if (cond->data<bool>()[i]) keep.push_back(i);
  }
  Shape ys = shape;
  ys[axis] = static_cast<int64_t>(keep.size());
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= shape[i];
  for (int64_t i = axis + 1; i < static_cast<int64_t>(shape.size()); ++i) inner *= shape[i];
  const int64_t k = static_cast<int64_t>(keep.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t in = 0; in < inner; ++in) copy_elements(*x, (o * n + keep[j]) * inner + in, *y, (o * k + j) * inner + in);
    }
  }
  return ok_status();
}

Status run_nonzero(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  std::vector<int64_t> hits;
  bool ok = dispatch_numeric_bool(x->dtype(), [&]<typename T>() {
    for (int64_t i = 0; i < x->numel(); ++i) {
      if constexpr (std::is_same_v<T, bool>) {
        if (x->data<bool>()[i]) hits.push_back(i);
      } else if (compute_t<T>(x->data<T>()[i]) != compute_t<T>(0)) {
        hits.push_back(i);
      }
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  const int64_t r = std::max<int64_t>(x->rank(), 1), k = static_cast<int64_t>(hits.size());
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, {x->rank(), k}));
  for (int64_t j = 0; j < k; ++j) {
    int64_t rem = hits[j];
    for (int64_t d = x->rank() - 1; d >= 0; --d) {
      y->data<int64_t>()[d * k + j] = rem % x->dim(d);
      rem /= x->dim(d);
    }
  }
  (void)r;
  return ok_status();
}

class TopK final : public Kernel {
 public:
  explicit TopK(const KernelInit& init)
      : opset_(init.opset), k_attr_(init.node.attr_int("k", -1)), axis_(init.node.attr_int("axis", -1)),
        largest_(init.node.attr_int("largest", 1) != 0), sorted_(init.node.attr_int("sorted", 1) != 0) {}
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    int64_t k = k_attr_;
    if (opset_ >= 10) {
      PARE_ASSIGN_OR_RETURN(const Tensor* kt, ctx.required_input(1));
      k = kt->int_at(0);
    }
    if (axis_ < -x->rank() || axis_ >= x->rank()) return ctx.error("axis {} out of range", axis_);
    const int64_t axis = axis_ < 0 ? axis_ + x->rank() : axis_;
    const int64_t n = x->dim(axis);
    if (k < 0 || k > n) return ctx.error("k = {} outside [0, {}]", k, n);
    Shape ys = x->shape();
    ys[axis] = k;
    PARE_ASSIGN_OR_RETURN(Tensor * v, ctx.allocate_output(0, x->dtype(), ys));
    PARE_ASSIGN_OR_RETURN(Tensor * idx, ctx.allocate_output(1, DataType::kInt64, ys));
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
    for (int64_t i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
    bool ok = dispatch_numeric(x->dtype(), [&]<typename T>() {
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t in = 0; in < inner; ++in) {
          auto at = [&](int64_t j) { return compute_t<T>(x->data<T>()[(o * n + j) * inner + in]); };
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return largest_ ? at(a) > at(b) : at(a) < at(b); });
          for (int64_t j = 0; j < k; ++j) {
            v->data<T>()[(o * k + j) * inner + in] = x->data<T>()[(o * n + order[j]) * inner + in];
            idx->data<int64_t>()[(o * k + j) * inner + in] = order[j];
          }
        }
      }
    });
    (void)sorted_;
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  int64_t opset_, k_attr_, axis_;
  bool largest_, sorted_;
};

Status run_reverse_sequence(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* lens, ctx.required_input(1));
  const int64_t ba = ctx.node().attr_int("batch_axis", 1), ta = ctx.node().attr_int("time_axis", 0);
  if (x->rank() < 2 || (ba != 0 && ba != 1) || (ta != 0 && ta != 1) || ba == ta) return ctx.error("invalid batch_axis/time_axis");
  if (lens->numel() != x->dim(ba)) return ctx.error("sequence_lens has {} values for batch {}", lens->numel(), x->dim(ba));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  const auto st = shape_strides(x->shape());
  std::vector<int64_t> c(static_cast<size_t>(x->rank()));
  for (int64_t i = 0; i < x->numel(); ++i) {
    int64_t rem = i;
    for (int64_t d = x->rank() - 1; d >= 0; --d) {
      c[d] = rem % x->dim(d);
      rem /= x->dim(d);
    }
    const int64_t len = lens->int_at(c[ba]);
    if (len < 0 || len > x->dim(ta)) return ctx.error("sequence length {} out of range", len);
    int64_t from = i;
    if (c[ta] < len) from = i + (len - 1 - 2 * c[ta]) * st[ta];
    copy_elements(*x, from, *y, i);
  }
  return ok_status();
}

}  // namespace

void register_DepthToSpace(KernelRegistry& r) { add_fn<run_depth_space<true>>(r, "DepthToSpace"); }
void register_SpaceToDepth(KernelRegistry& r) { add_fn<run_depth_space<false>>(r, "SpaceToDepth"); }
void register_Compress(KernelRegistry& r) { add_fn<run_compress>(r, "Compress"); }
void register_NonZero(KernelRegistry& r) { add_fn<run_nonzero>(r, "NonZero"); }
void register_TopK(KernelRegistry& r) { r.add({"TopK", "", 1, kMaxOpset, &make_kernel<TopK>}); }
void register_ReverseSequence(KernelRegistry& r) { add_fn<run_reverse_sequence>(r, "ReverseSequence"); }

}  // namespace pare::ops
