// Data-movement ops: Constant (1, 9, 11, 12, 13), Shape (1, 13, 15 start/end), Gather
// (1, 11, 13; negative indices, bounds-checked), Concat (4, 11, 13), Unsqueeze / Squeeze
// (axes attribute < 13, input ≥ 13), Transpose, Expand (8, 13), Slice (1: attributes;
// 10+: inputs; negative steps, clamping). Element bytes are moved, whatever the dtype.
#include <algorithm>
#include <cstring>

#include "core/dispatch.h"
#include "ops/common/broadcast.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Result<int64_t> axis_in(KernelContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) return ctx.error("axis {} out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}


class Constant final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    const ir::Node& n = init.node;
    auto k = std::make_unique<Constant>();
    if (const ir::Attribute* a = n.attr("value"); a && a->type == ir::AttrType::kTensor) k->value_ = a->t;
    else if (n.has_attr("value_float")) k->value_ = Tensor::scalar<float>(n.attr_float("value_float", 0));
    else if (n.has_attr("value_int")) k->value_ = Tensor::scalar<int64_t>(n.attr_int("value_int", 0));
    else if (n.has_attr("value_string")) k->value_ = Tensor::scalar<std::string>(n.attr_string("value_string", ""));
    else if (n.has_attr("value_floats")) {
      auto v = n.attr_floats("value_floats");
      k->value_ = Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
    } else if (n.has_attr("value_ints")) {
      auto v = n.attr_ints("value_ints");
      k->value_ = Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
    } else if (n.has_attr("value_strings")) {
      auto v = n.attr_strings("value_strings");
      k->value_ = Tensor::from_vector<std::string>({static_cast<int64_t>(v.size())}, v);
    } else {
      return invalid_input("{}: no value attribute (sparse_value is not supported)", n.describe());
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    ctx.set_output(0, RunValue(value_));
    return ok_status();
  }

 private:
  Tensor value_;
};

Status run_shape(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const int64_t r = x->rank();
  int64_t start = ctx.node().attr_int("start", 0), end = ctx.node().attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, {std::max<int64_t>(end - start, 0)}));
  for (int64_t i = start; i < end; ++i) y->data<int64_t>()[i - start] = x->dim(i);
  return ok_status();
}

Status run_gather(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(1));
  if (x->rank() == 0) return ctx.error("data must have rank ≥ 1");
  PARE_ASSIGN_OR_RETURN(int64_t axis, axis_in(ctx, ctx.node().attr_int("axis", 0), x->rank()));
  PARE_ASSIGN_OR_RETURN(auto ind, idx->to_int64_vector("Gather indices"));
  const int64_t n = x->dim(axis);
  for (int64_t& i : ind) {
    if (i < -n || i >= n) return ctx.error("index {} out of range [{}, {})", i, -n, n);
    if (i < 0) i += n;
  }
  Shape ys(x->shape().begin(), x->shape().begin() + axis);
  ys.insert(ys.end(), idx->shape().begin(), idx->shape().end());
  ys.insert(ys.end(), x->shape().begin() + axis + 1, x->shape().end());
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  for (int64_t i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
  auto copy = [&, src = x, dst = y](int64_t to, int64_t from) { copy_elements(*src, from, *dst, to); };
  const int64_t k = static_cast<int64_t>(ind.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t in = 0; in < inner; ++in) copy((o * k + j) * inner + in, (o * n + ind[j]) * inner + in);
    }
  }
  return ok_status();
}

Status run_concat(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* first, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(int64_t axis, axis_in(ctx, ctx.node().attr_int("axis", 0), first->rank()));
  Shape ys = first->shape();
  ys[axis] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(i));
    if (t->dtype() != first->dtype() || t->rank() != first->rank()) return ctx.error("input {} is {}, input 0 is {}", i, t->type_string(), first->type_string());
    for (int64_t d = 0; d < t->rank(); ++d) {
      if (d != axis && t->dim(d) != first->dim(d)) return ctx.error("input {} is {}, input 0 is {}", i, t->type_string(), first->type_string());
    }
    ys[axis] += t->dim(axis);
  }
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, first->dtype(), ys));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= ys[i];
  for (int64_t i = axis + 1; i < static_cast<int64_t>(ys.size()); ++i) inner *= ys[i];
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor* t = ctx.input(i);
    auto copy = [&, src = t, dst = y](int64_t to, int64_t from) { copy_elements(*src, from, *dst, to); };
    const int64_t n = t->dim(axis);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < n * inner; ++j) copy((o * ys[axis] + offset) * inner + j, o * n * inner + j);
    }
    offset += n;
  }
  return ok_status();
}

Result<std::vector<int64_t>> axes_arg(KernelContext& ctx, size_t input) {
  if (ctx.node().has_attr("axes")) return ctx.node().attr_ints("axes");
  if (const Tensor* t = ctx.input(input)) return t->to_int64_vector("axes");  // NOLINT
  return std::vector<int64_t>{};
}

Status run_unsqueeze(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(auto axes, axes_arg(ctx, 1));
  const int64_t rank = x->rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> add(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    PARE_ASSIGN_OR_RETURN(int64_t n, axis_in(ctx, a, rank));
    if (add[n]) return ctx.error("axis {} repeated", a);
    add[n] = true;
  }
  Shape ys;
  int64_t k = 0;
  for (int64_t i = 0; i < rank; ++i) ys.push_back(add[i] ? 1 : x->dim(k++));
  PARE_ASSIGN_OR_RETURN(Tensor t, x->reshaped(ys));
  ctx.set_output(0, RunValue(t));
  return ok_status();
}

Status run_squeeze(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(auto axes, axes_arg(ctx, 1));
  std::vector<bool> drop(static_cast<size_t>(x->rank()), false);
  if (axes.empty()) {
    for (int64_t i = 0; i < x->rank(); ++i) drop[i] = x->dim(i) == 1;
  }
  for (int64_t a : axes) {
    PARE_ASSIGN_OR_RETURN(int64_t n, axis_in(ctx, a, x->rank()));
    if (x->dim(n) != 1) return ctx.error("cannot squeeze axis {} of extent {}", a, x->dim(n));
    drop[n] = true;
  }
  Shape ys;
  for (int64_t i = 0; i < x->rank(); ++i) {
    if (!drop[i]) ys.push_back(x->dim(i));
  }
  PARE_ASSIGN_OR_RETURN(Tensor t, x->reshaped(ys));
  ctx.set_output(0, RunValue(t));
  return ok_status();
}

Status run_transpose(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const int64_t r = x->rank();
  std::vector<int64_t> perm = ctx.node().attr_ints("perm");
  if (perm.empty()) {
    for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != r) return ctx.error("perm has {} entries for rank {}", perm.size(), r);
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= r || seen[p]) return ctx.error("perm is not a permutation of 0..{}", r - 1);
    seen[p] = true;
  }
  Shape ys;
  for (int64_t p : perm) ys.push_back(x->dim(p));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
  const auto in_strides = shape_strides(x->shape());
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  auto copy = [&, src = x, dst = y](int64_t to, int64_t from) { copy_elements(*src, from, *dst, to); };
  for (int64_t o = 0; o < y->numel(); ++o) {
    int64_t from = 0;
    for (int64_t d = 0; d < r; ++d) from += idx[d] * in_strides[perm[d]];
    copy(o, from);
    for (int64_t d = r - 1; d >= 0; --d) {
      if (++idx[d] < ys[d]) break;
      idx[d] = 0;
    }
  }
  return ok_status();
}

Status run_expand(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(auto shape, s->to_int64_vector("Expand shape"));
  auto ys = broadcast_shapes(x->shape(), shape);
  if (!ys.ok()) return ctx.error("{}", ys.status().message());
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), *ys));
  BroadcastIterator it(*ys, {x->shape()});
  auto copy = [&, src = x, dst = y](int64_t to, int64_t from) { copy_elements(*src, from, *dst, to); };
  it.run([&](int64_t i, const int64_t* off) { copy(i, off[0]); });
  return ok_status();
}

class Slice final : public Kernel {
 public:
  explicit Slice(const KernelInit& init) : opset_(init.opset), node_(init.node) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
      starts = node_.attr_ints("starts");
      ends = node_.attr_ints("ends");
      axes = node_.attr_ints("axes");
    } else {
      PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(1));
      PARE_ASSIGN_OR_RETURN(const Tensor* e, ctx.required_input(2));
      PARE_ASSIGN_OR_RETURN(starts, s->to_int64_vector("Slice starts"));
      PARE_ASSIGN_OR_RETURN(ends, e->to_int64_vector("Slice ends"));
      if (const Tensor* a = ctx.input(3)) {
        PARE_ASSIGN_OR_RETURN(axes, a->to_int64_vector("Slice axes"));
      }
      if (const Tensor* st = ctx.input(4)) {
        PARE_ASSIGN_OR_RETURN(steps, st->to_int64_vector("Slice steps"));
      }
    }
    if (starts.size() != ends.size()) return ctx.error("starts and ends differ in length");
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size()) return ctx.error("axes/steps lengths differ from starts");
    const int64_t r = x->rank();
    std::vector<int64_t> first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
    Shape ys = x->shape();
    std::vector<bool> seen(static_cast<size_t>(r), false);
    for (size_t i = 0; i < starts.size(); ++i) {
      PARE_ASSIGN_OR_RETURN(int64_t a, axis_in(ctx, axes[i], r));
      if (seen[a]) return ctx.error("axis {} repeated", axes[i]);
      seen[a] = true;
      const int64_t n = x->dim(a), s = steps[i];
      if (s == 0) return ctx.error("step 0");
      int64_t b = starts[i], e = ends[i];
      if (b < 0) b += n;
      if (e < 0) e += n;
      if (s > 0) {
        b = std::clamp<int64_t>(b, 0, n);
        e = std::clamp<int64_t>(e, 0, n);
        ys[a] = e > b ? (e - b + s - 1) / s : 0;
      } else {
        b = std::clamp<int64_t>(b, 0, n - 1);
        e = std::clamp<int64_t>(e, -1, n - 1);
        ys[a] = b > e ? (b - e - s - 1) / (-s) : 0;
      }
      first[a] = b;
      step[a] = s;
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
    const auto strides = shape_strides(x->shape());
    std::vector<int64_t> idx(static_cast<size_t>(r), 0);
    auto copy = [&, src = x, dst = y](int64_t to, int64_t from) { copy_elements(*src, from, *dst, to); };
    for (int64_t o = 0; o < y->numel(); ++o) {
      int64_t from = 0;
      for (int64_t d = 0; d < r; ++d) from += (first[d] + idx[d] * step[d]) * strides[d];
      copy(o, from);
      for (int64_t d = r - 1; d >= 0; --d) {
        if (++idx[d] < ys[d]) break;
        idx[d] = 0;
      }
    }
    return ok_status();
  }

 private:
  int64_t opset_;
  const ir::Node& node_;
};

}  // namespace

void register_Constant(KernelRegistry& r) { r.add({"Constant", "", 1, kMaxOpset, &make_kernel<Constant>}); }
void register_Shape(KernelRegistry& r) { add_fn<run_shape>(r, "Shape"); }
void register_Gather(KernelRegistry& r) { add_fn<run_gather>(r, "Gather"); }
void register_Concat(KernelRegistry& r) { add_fn<run_concat>(r, "Concat", 4); }
void register_Unsqueeze(KernelRegistry& r) { add_fn<run_unsqueeze>(r, "Unsqueeze"); }
void register_Squeeze(KernelRegistry& r) { add_fn<run_squeeze>(r, "Squeeze"); }
void register_Transpose(KernelRegistry& r) { add_fn<run_transpose>(r, "Transpose"); }
void register_Expand(KernelRegistry& r) { add_fn<run_expand>(r, "Expand", 8); }
void register_Slice(KernelRegistry& r) { r.add({"Slice", "", 1, kMaxOpset, &make_kernel<Slice>}); }

}  // namespace pare::ops
