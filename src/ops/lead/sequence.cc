// Sequence ops (11+): SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceAt,
// SequenceErase, SequenceLength, ConcatFromSequence (axis, new_axis), SplitToSequence (split
// scalar or 1-D, keepdims). Optional ops (15+): Optional, OptionalHasElement,
// OptionalGetElement; an empty optional is a RunValue of kind none. Positions may be negative
// (from the end) and are bounds-checked.
#include <algorithm>
#include <cstring>

#include "ops/kernel.h"

namespace pare::ops {
namespace {


Result<const RunValue*> sequence_input(KernelContext& ctx, size_t i) {
  const RunValue& v = ctx.input_value(i);
  if (!v.is_sequence()) return ctx.error("input {} must be a sequence", i);
  return &v;
}

Result<int64_t> position(KernelContext& ctx, const Tensor* p, int64_t size, bool insert) {
  if (!p) return insert ? size : size - 1;
  if (p->numel() != 1 || (p->dtype() != DataType::kInt32 && p->dtype() != DataType::kInt64)) {
    return ctx.error("position must be a single int32/int64, got {}", p->type_string());
  }
  const int64_t v = p->int_at(0);
  const int64_t hi = insert ? size : size - 1;
  if (v < -size || v > hi) return ctx.error("position {} out of range [{}, {}]", v, -size, hi);
  return v < 0 ? v + size : v;
}

Status run_sequence_empty(KernelContext& ctx) {
  const int64_t dt = ctx.node().attr_int("dtype", static_cast<int64_t>(DataType::kFloat32));
  ctx.set_output(0, RunValue::make_sequence({}, static_cast<DataType>(dt)));
  return ok_status();
}

Status run_sequence_construct(KernelContext& ctx) {
  std::vector<Tensor> items;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(i));
    if (!items.empty() && t->dtype() != items[0].dtype()) return ctx.error("sequence elements must share one type");
    items.push_back(*t);
  }
  const DataType dt = items.empty() ? DataType::kFloat32 : items[0].dtype();
  ctx.set_output(0, RunValue::make_sequence(std::move(items), dt));
  return ok_status();
}

Status run_sequence_insert(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const RunValue* s, sequence_input(ctx, 0));
  PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(1));
  auto items = s->sequence;
  const DataType seq_dt = !items.empty() ? items[0].dtype() : s->sequence_dtype;
  if (seq_dt != DataType::kUndefined && t->dtype() != seq_dt) {
    return ctx.error("cannot insert {} into a sequence of {}", t->type_string(), dtype_name(seq_dt));
  }
  PARE_ASSIGN_OR_RETURN(int64_t pos, position(ctx, ctx.input(2), static_cast<int64_t>(items.size()), true));
  items.insert(items.begin() + pos, *t);
  ctx.set_output(0, RunValue::make_sequence(std::move(items), t->dtype()));
  return ok_status();
}

Status run_sequence_at(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const RunValue* s, sequence_input(ctx, 0));
  PARE_ASSIGN_OR_RETURN(const Tensor* p, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(int64_t pos, position(ctx, p, static_cast<int64_t>(s->sequence.size()), false));
  ctx.set_output(0, RunValue(s->sequence[pos]));
  return ok_status();
}

Status run_sequence_erase(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const RunValue* s, sequence_input(ctx, 0));
  auto items = s->sequence;
  if (items.empty()) return ctx.error("cannot erase from an empty sequence");
  PARE_ASSIGN_OR_RETURN(int64_t pos, position(ctx, ctx.input(1), static_cast<int64_t>(items.size()), false));
  items.erase(items.begin() + pos);
  ctx.set_output(0, RunValue::make_sequence(std::move(items), s->sequence_dtype));
  return ok_status();
}

Status run_sequence_length(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const RunValue* s, sequence_input(ctx, 0));
  ctx.set_output(0, RunValue(Tensor::scalar<int64_t>(static_cast<int64_t>(s->sequence.size()))));
  return ok_status();
}

Status run_concat_from_sequence(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const RunValue* s, sequence_input(ctx, 0));
  if (s->sequence.empty()) return ctx.error("cannot concatenate an empty sequence");
  const bool new_axis = ctx.node().attr_int("new_axis", 0) != 0;
  const Tensor& f = s->sequence[0];
  const int64_t r = f.rank() + (new_axis ? 1 : 0);
  int64_t axis = ctx.node().attr_int("axis", 0);
  if (axis < -r || axis >= r) return ctx.error("axis {} out of range", axis);
  if (axis < 0) axis += r;
  std::vector<Tensor> parts;
  for (const Tensor& t : s->sequence) {
    if (!new_axis) {
      parts.push_back(t);
      continue;
    }
    Shape sh = t.shape();
    sh.insert(sh.begin() + axis, 1);
    PARE_ASSIGN_OR_RETURN(Tensor v, t.reshaped(sh));
    parts.push_back(v);
  }
  Shape ys = parts[0].shape();
  ys[axis] = 0;
  for (const Tensor& t : parts) {
    if (t.rank() != static_cast<int64_t>(ys.size()) || t.dtype() != f.dtype()) return ctx.error("sequence elements differ in rank or type");
    for (int64_t d = 0; d < t.rank(); ++d) {
      if (d != axis && t.dim(d) != parts[0].dim(d)) return ctx.error("sequence elements differ in shape");
    }
    ys[axis] += t.dim(axis);
  }
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, f.dtype(), ys));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= ys[i];
  for (int64_t i = axis + 1; i < static_cast<int64_t>(ys.size()); ++i) inner *= ys[i];
  int64_t off = 0;
  for (const Tensor& t : parts) {
    const int64_t n = t.dim(axis);
    for (int64_t o = 0; o < outer; ++o) copy_elements(t, o * n * inner, *y, (o * ys[axis] + off) * inner, n * inner);
    off += n;
  }
  return ok_status();
}

Status run_split_to_sequence(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  int64_t axis = ctx.node().attr_int("axis", 0);
  if (axis < -x->rank() || axis >= x->rank()) return ctx.error("axis {} out of range", axis);
  if (axis < 0) axis += x->rank();
  const int64_t n = x->dim(axis);
  std::vector<int64_t> parts;
  bool squeeze = false;
  if (const Tensor* s = ctx.input(1)) {
    PARE_ASSIGN_OR_RETURN(auto v, s->to_int64_vector("split"));
    if (s->rank() == 0) {
      if (v[0] < 1) return ctx.error("split {} must be ≥ 1", v[0]);
      for (int64_t k = 0; k < n; k += v[0]) parts.push_back(std::min(v[0], n - k));
    } else {
      parts = v;
    }
  } else {
    parts.assign(static_cast<size_t>(n), 1);
    squeeze = ctx.node().attr_int("keepdims", 1) == 0;
  }
  int64_t total = 0;
  for (int64_t p : parts) {
    if (p < 0) return ctx.error("negative split");
    total += p;
  }
  if (total != n) return ctx.error("split sums to {}, extent is {}", total, n);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  for (int64_t i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
  std::vector<Tensor> items;
  int64_t start = 0;
  for (int64_t p : parts) {
    Shape s = x->shape();
    s[axis] = p;
    PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(x->dtype(), s));
    for (int64_t o = 0; o < outer; ++o) copy_elements(*x, (o * n + start) * inner, t, o * p * inner, p * inner);
    if (squeeze) {
      s.erase(s.begin() + axis);
      PARE_ASSIGN_OR_RETURN(t, t.reshaped(s));
    }
    items.push_back(std::move(t));
    start += p;
  }
  ctx.set_output(0, RunValue::make_sequence(std::move(items), x->dtype()));
  return ok_status();
}

Status run_optional(KernelContext& ctx) {
  ctx.set_output(0, ctx.input_value(0));  // none when the input is omitted: an empty optional
  return ok_status();
}

Status run_optional_has_element(KernelContext& ctx) {
  ctx.set_output(0, RunValue(Tensor::scalar<bool>(!ctx.input_value(0).is_none())));
  return ok_status();
}

Status run_optional_get_element(KernelContext& ctx) {
  if (ctx.input_value(0).is_none()) return ctx.error("the optional is empty");
  ctx.set_output(0, ctx.input_value(0));
  return ok_status();
}

}  // namespace

void register_SequenceEmpty(KernelRegistry& r) { add_fn<run_sequence_empty>(r, "SequenceEmpty"); }
void register_SequenceConstruct(KernelRegistry& r) { add_fn<run_sequence_construct>(r, "SequenceConstruct"); }
void register_SequenceInsert(KernelRegistry& r) { add_fn<run_sequence_insert>(r, "SequenceInsert"); }
void register_SequenceAt(KernelRegistry& r) { add_fn<run_sequence_at>(r, "SequenceAt"); }
void register_SequenceErase(KernelRegistry& r) { add_fn<run_sequence_erase>(r, "SequenceErase"); }
void register_SequenceLength(KernelRegistry& r) { add_fn<run_sequence_length>(r, "SequenceLength"); }
void register_ConcatFromSequence(KernelRegistry& r) { add_fn<run_concat_from_sequence>(r, "ConcatFromSequence"); }
void register_SplitToSequence(KernelRegistry& r) { add_fn<run_split_to_sequence>(r, "SplitToSequence"); }
void register_Optional(KernelRegistry& r) { add_fn<run_optional>(r, "Optional"); }
void register_OptionalHasElement(KernelRegistry& r) { add_fn<run_optional_has_element>(r, "OptionalHasElement"); }
void register_OptionalGetElement(KernelRegistry& r) { add_fn<run_optional_get_element>(r, "OptionalGetElement"); }

}  // namespace pare::ops
