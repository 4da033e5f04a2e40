// Index-driven data movement, all bounds-checked (negative indices wrap once):
//   GatherElements (11, 13): y[i…] = x[i… with axis coord = idx[i…]]
//   ScatterElements (11, 13, 16 reduction), Scatter (9, deprecated alias): y = x; y[idx] (op)= upd
//   GatherND (11, 12 batch_dims, 13), ScatterND (11, 13, 16 reduction)
//   ArgMax / ArgMin (keepdims, select_last_index), ConstantOfShape, Tile, Split (2, 11, 13, 18)
#include <cstring>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Result<int64_t> norm_axis(KernelContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) return ctx.error("axis {} out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}


// Unravels flat index i of `shape` into coords.
void unravel(int64_t i, const Shape& shape, std::vector<int64_t>& c) {
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    c[d] = shape[d] ? i % shape[d] : 0;
    i = shape[d] ? i / shape[d] : 0;
  }
}

Status run_gather_elements(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(1));
  if (idx->rank() != x->rank()) return ctx.error("indices rank {} != data rank {}", idx->rank(), x->rank());
  PARE_ASSIGN_OR_RETURN(int64_t axis, norm_axis(ctx, ctx.node().attr_int("axis", 0), x->rank()));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), idx->shape()));
  const auto xs = shape_strides(x->shape());
  std::vector<int64_t> c(static_cast<size_t>(x->rank()));
  for (int64_t i = 0; i < idx->numel(); ++i) {
    unravel(i, idx->shape(), c);
    int64_t k = idx->int_at(i);
    const int64_t n = x->dim(axis);
    if (k < -n || k >= n) return ctx.error("index {} out of range [{}, {})", k, -n, n);
    c[axis] = k < 0 ? k + n : k;
    int64_t off = 0;
    for (int64_t d = 0; d < x->rank(); ++d) {
      if (c[d] >= x->dim(d)) return ctx.error("indices shape {} exceeds data {}", shape_to_string(idx->shape()), x->type_string());
      off += c[d] * xs[d];
    }
    copy_elements(*x, off, *y, i);
  }
  return ok_status();
}

// Applies `reduction` of upd element `from` onto y element `to`.
Status combine(KernelContext& ctx, const std::string& reduction, const Tensor& upd, int64_t from, Tensor& y, int64_t to) {
  if (reduction == "none" || reduction.empty()) {
    copy_elements(upd, from, y, to);
    return ok_status();
  }
  bool ok = dispatch_numeric(y.dtype(), [&]<typename T>() {
    using C = compute_t<T>;
    const C u = C(upd.data<T>()[from]);
    C v = C(y.data<T>()[to]);
    if (reduction == "add") v = static_cast<C>(v + u);
    else if (reduction == "mul") v = static_cast<C>(v * u);
    else if (reduction == "max") v = std::max(v, u);
    else if (reduction == "min") v = std::min(v, u);
    y.data<T>()[to] = static_cast<T>(v);
  });
  if (!ok) return ctx.error("reduction '{}' on {}", reduction, dtype_name(y.dtype()));
  return ok_status();
}

Status run_scatter_elements(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* upd, ctx.required_input(2));
  if (idx->shape() != upd->shape() || idx->rank() != x->rank()) return ctx.error("indices and updates must match, with the data's rank");
  if (upd->dtype() != x->dtype()) return ctx.error("updates type differs from data");
  PARE_ASSIGN_OR_RETURN(int64_t axis, norm_axis(ctx, ctx.node().attr_int("axis", 0), x->rank()));
  const std::string reduction = ctx.node().attr_string("reduction", "none");
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  for (int64_t i = 0; i < x->numel(); ++i) copy_elements(*x, i, *y, i);
  const auto xs = shape_strides(x->shape());
  std::vector<int64_t> c(static_cast<size_t>(x->rank()));
  for (int64_t i = 0; i < idx->numel(); ++i) {
    unravel(i, idx->shape(), c);
    int64_t k = idx->int_at(i);
    const int64_t n = x->dim(axis);
    if (k < -n || k >= n) return ctx.error("index {} out of range [{}, {})", k, -n, n);
    c[axis] = k < 0 ? k + n : k;
    int64_t off = 0;
    for (int64_t d = 0; d < x->rank(); ++d) {
      if (c[d] >= x->dim(d)) return ctx.error("indices shape exceeds data");
      off += c[d] * xs[d];
    }
    PARE_RETURN_IF_ERROR(combine(ctx, reduction, *upd, i, *y, off));
  }
  return ok_status();
}

Status run_gather_nd(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(1));
  const int64_t b = ctx.node().attr_int("batch_dims", 0);
  if (idx->rank() < 1 || b < 0 || b >= std::min(x->rank(), idx->rank())) return ctx.error("invalid batch_dims {} or indices rank", b);
  const int64_t k = idx->dim(-1);
  if (k < 1 || b + k > x->rank()) return ctx.error("indices' last dim {} too large for data {}", k, x->type_string());
  for (int64_t i = 0; i < b; ++i) {
    if (x->dim(i) != idx->dim(i)) return ctx.error("batch dims differ");
  }
  Shape ys(idx->shape().begin(), idx->shape().end() - 1);
  for (int64_t i = b + k; i < x->rank(); ++i) ys.push_back(x->dim(i));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
  int64_t slice = 1, batch = 1;
  for (int64_t i = b + k; i < x->rank(); ++i) slice *= x->dim(i);
  for (int64_t i = 0; i < b; ++i) batch *= x->dim(i);
  const int64_t per_batch_tuples = batch ? idx->numel() / k / batch : 0;
  int64_t x_batch = 1;
  for (int64_t i = b; i < x->rank(); ++i) x_batch *= x->dim(i);
  const auto xs = shape_strides(x->shape());
  for (int64_t t = 0; t < idx->numel() / k; ++t) {
    const int64_t bi = per_batch_tuples ? t / per_batch_tuples : 0;
    int64_t off = bi * x_batch;
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = idx->int_at(t * k + j);
      const int64_t n = x->dim(b + j);
      if (v < -n || v >= n) return ctx.error("index {} out of range [{}, {})", v, -n, n);
      off += (v < 0 ? v + n : v) * xs[b + j];
    }
    for (int64_t s = 0; s < slice; ++s) copy_elements(*x, off + s, *y, t * slice + s);
  }
  return ok_status();
}

Status run_scatter_nd(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* upd, ctx.required_input(2));
  if (idx->rank() < 1) return ctx.error("indices must have rank ≥ 1");
  const int64_t k = idx->dim(-1);
  if (k > x->rank()) return ctx.error("indices' last dim {} exceeds data rank {}", k, x->rank());
  const std::string reduction = ctx.node().attr_string("reduction", "none");
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  for (int64_t i = 0; i < x->numel(); ++i) copy_elements(*x, i, *y, i);
  int64_t slice = 1;
  for (int64_t i = k; i < x->rank(); ++i) slice *= x->dim(i);
  const int64_t tuples = k ? idx->numel() / k : 0;
  if (upd->numel() != tuples * slice) return ctx.error("updates {} do not match indices and data", upd->type_string());
  const auto xs = shape_strides(x->shape());
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = idx->int_at(t * k + j);
      const int64_t n = x->dim(j);
      if (v < -n || v >= n) return ctx.error("index {} out of range [{}, {})", v, -n, n);
      off += (v < 0 ? v + n : v) * xs[j];
    }
    for (int64_t s = 0; s < slice; ++s) PARE_RETURN_IF_ERROR(combine(ctx, reduction, *upd, t * slice + s, *y, off + s));
  }
  return ok_status();
}

template <bool kMax>
Status run_arg(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(int64_t axis, norm_axis(ctx, ctx.node().attr_int("axis", 0), x->rank()));
  const bool keep = ctx.node().attr_int("keepdims", 1) != 0, last = ctx.node().attr_int("select_last_index", 0) != 0;
  if (x->dim(axis) == 0) return ctx.error("cannot reduce an empty axis");
  Shape ys = x->shape();
  if (keep) ys[axis] = 1;
  else ys.erase(ys.begin() + axis);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, ys));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  for (int64_t i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
  const int64_t n = x->dim(axis);
  bool ok = dispatch_numeric(x->dtype(), [&]<typename T>() {
    const T* px = x->data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t in = 0; in < inner; ++in) {
        int64_t best = 0;
        for (int64_t j = 1; j < n; ++j) {
          const auto v = compute_t<T>(px[(o * n + j) * inner + in]), b = compute_t<T>(px[(o * n + best) * inner + in]);
          if (kMax ? (v > b || (last && v == b)) : (v < b || (last && v == b))) best = j;
        }
        y->data<int64_t>()[o * inner + in] = best;
      }
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

Status run_constant_of_shape(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(auto shape, s->to_int64_vector("ConstantOfShape shape"));
  const ir::Attribute* v = ctx.node().attr("value");
  Tensor value = v && v->t.defined() ? v->t : Tensor::from_vector<float>({1}, {0.0f});
  if (value.numel() != 1) return ctx.error("value must have one element");
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, value.dtype(), shape));
  for (int64_t i = 0; i < y->numel(); ++i) copy_elements(value, 0, *y, i);
  return ok_status();
}

Status run_tile(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* r, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(auto reps, r->to_int64_vector("Tile repeats"));
  if (static_cast<int64_t>(reps.size()) != x->rank()) return ctx.error("repeats has {} values for rank {}", reps.size(), x->rank());
  Shape ys = x->shape();
  for (size_t i = 0; i < reps.size(); ++i) {
    if (reps[i] < 0) return ctx.error("negative repeat {}", reps[i]);
    ys[i] *= reps[i];
  }
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
  const auto xs = shape_strides(x->shape());
  std::vector<int64_t> c(ys.size());
  for (int64_t i = 0; i < y->numel(); ++i) {
    unravel(i, ys, c);
    int64_t off = 0;
    for (size_t d = 0; d < ys.size(); ++d) off += (c[d] % x->dim(static_cast<int64_t>(d))) * xs[d];
    copy_elements(*x, off, *y, i);
  }
  return ok_status();
}

class Split final : public Kernel {
 public:
  explicit Split(const KernelInit& init) : node_(init.node) {}
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(int64_t axis, norm_axis(ctx, node_.attr_int("axis", 0), x->rank()));
    const int64_t outs = static_cast<int64_t>(ctx.num_outputs());
    std::vector<int64_t> parts = node_.attr_ints("split");
    if (const Tensor* s = ctx.input(1)) {
      PARE_ASSIGN_OR_RETURN(parts, s->to_int64_vector("split"));
    }
    const int64_t n = x->dim(axis);
    if (parts.empty()) {
      const int64_t chunk = (n + outs - 1) / std::max<int64_t>(outs, 1);
      for (int64_t i = 0; i < outs; ++i) parts.push_back(std::max<int64_t>(0, std::min(chunk, n - chunk * i)));
    }
    int64_t total = 0;
    for (int64_t p : parts) {
      if (p < 0) return ctx.error("negative split {}", p);
      total += p;
    }
    if (static_cast<int64_t>(parts.size()) != outs || total != n) return ctx.error("split {} does not cover extent {} in {} outputs", parts.size(), n, outs);
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
    for (int64_t i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
    int64_t start = 0;
    for (int64_t o = 0; o < outs; ++o) {
      Shape ys = x->shape();
      ys[axis] = parts[o];
      PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(static_cast<size_t>(o), x->dtype(), ys));
      for (int64_t a = 0; a < outer; ++a) {
        for (int64_t j = 0; j < parts[o] * inner; ++j) copy_elements(*x, (a * n + start) * inner + j, *y, a * parts[o] * inner + j);
      }
      start += parts[o];
    }
    return ok_status();
  }

 private:
  const ir::Node& node_;
};

}  // namespace

void register_GatherElements(KernelRegistry& r) { add_fn<run_gather_elements>(r, "GatherElements"); }
void register_ScatterElements(KernelRegistry& r) { add_fn<run_scatter_elements>(r, "ScatterElements"); }
void register_Scatter(KernelRegistry& r) { add_fn<run_scatter_elements>(r, "Scatter", 9, 10); }
void register_GatherND(KernelRegistry& r) { add_fn<run_gather_nd>(r, "GatherND"); }
void register_ScatterND(KernelRegistry& r) { add_fn<run_scatter_nd>(r, "ScatterND"); }
void register_ArgMax(KernelRegistry& r) { add_fn<run_arg<true>>(r, "ArgMax"); }
void register_ArgMin(KernelRegistry& r) { add_fn<run_arg<false>>(r, "ArgMin"); }
void register_ConstantOfShape(KernelRegistry& r) { add_fn<run_constant_of_shape>(r, "ConstantOfShape"); }
void register_Tile(KernelRegistry& r) { add_fn<run_tile>(r, "Tile", 6); }
void register_Split(KernelRegistry& r) { r.add({"Split", "", 1, kMaxOpset, &make_kernel<Split>}); }

}  // namespace pare::ops
