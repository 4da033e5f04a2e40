// Inference rules for elementwise and shape / data-movement ops.
#include <algorithm>

#include "ops/infer/rules.h"

namespace pare::ops::infer {
namespace {

using Dims = std::vector<ir::Dim>;

std::optional<int64_t> norm_axis(int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) return std::nullopt;
  return axis < 0 ? axis + r : axis;
}

// Axes from the `axes` attribute (older opsets) or input `i` (newer), if static.
std::optional<std::vector<int64_t>> axes_of(InferContext& c, size_t input) {
  if (c.node().has_attr("axes")) return c.node().attr_ints("axes");
  if (c.has_input(input)) return c.constant_ints(input);
  return std::vector<int64_t>{};
}

}  // namespace

void same_as_input0(InferContext& c) {
  const auto& t = c.type(0);
  if (t.kind != ir::TypeInfo::Kind::kUnknown) c.set(0, t);
}

void broadcast_same_type(InferContext& c) {
  c.set_tensor(0, c.dtype(0), broadcast_dims({c.dims(0), c.dims(1)}));
}

void broadcast_bool(InferContext& c) { c.set_tensor(0, DataType::kBool, broadcast_dims({c.dims(0), c.dims(1)})); }

void variadic_broadcast(InferContext& c) {
  std::vector<const Dims*> all;
  for (size_t i = 0; i < c.num_inputs(); ++i) all.push_back(c.dims(i));
  c.set_tensor(0, c.dtype(0), broadcast_dims(all));
}

void where(InferContext& c) { c.set_tensor(0, c.dtype(1), broadcast_dims({c.dims(0), c.dims(1), c.dims(2)})); }

void cast(InferContext& c) {
  const int64_t to = c.node().attr_int("to", 0);
  const auto* d = c.dims(0);
  c.set_tensor(0, dtype_is_valid(static_cast<int32_t>(to)) ? static_cast<DataType>(to) : DataType::kUndefined,
               d ? std::optional<Dims>(*d) : std::nullopt);
}

void cast_like(InferContext& c) {
  const auto* d = c.dims(0);
  c.set_tensor(0, c.dtype(1), d ? std::optional<Dims>(*d) : std::nullopt);
}

void is_test(InferContext& c) {
  const auto* d = c.dims(0);
  c.set_tensor(0, DataType::kBool, d ? std::optional<Dims>(*d) : std::nullopt);
}

void reshape(InferContext& c) {
  std::optional<std::vector<int64_t>> target =
      c.node().has_attr("shape") ? std::optional(c.node().attr_ints("shape")) : c.constant_ints(1);
  if (!target) {
    c.set_tensor(0, c.dtype(0), std::nullopt);
    return;
  }
  const Dims* in = c.dims(0);
  const bool allowzero = c.node().attr_int("allowzero", 0) != 0;
  Dims out;
  int infer_at = -1;
  for (size_t i = 0; i < target->size(); ++i) {
    const int64_t v = (*target)[i];
    if (v == 0 && !allowzero) out.push_back(in && i < in->size() ? (*in)[i] : ir::Dim{});
    else if (v == -1) {
      infer_at = static_cast<int>(i);
      out.push_back(ir::Dim{});
    } else out.push_back(ir::Dim::of(v));
  }
  if (infer_at >= 0 && in) {
    int64_t total = 1, known = 1;
    bool ok = true;
    for (const auto& d : *in) ok &= d.known(), total *= d.known() ? d.value : 1;
    for (size_t i = 0; i < out.size(); ++i) {
      if (static_cast<int>(i) == infer_at) continue;
      ok &= out[i].known();
      if (out[i].known()) known *= out[i].value;
    }
    if (ok && known > 0 && total % known == 0) out[infer_at] = ir::Dim::of(total / known);
  }
  c.set_tensor(0, c.dtype(0), out);
}

void flatten(InferContext& c) {
  const Dims* in = c.dims(0);
  if (!in) return c.set_tensor(0, c.dtype(0), Dims{ir::Dim{}, ir::Dim{}});
  auto axis = norm_axis(c.node().attr_int("axis", 1), in->size() + 1);
  if (!axis) return;
  auto prod = [&](size_t b, size_t e) {
    int64_t p = 1;
    for (size_t i = b; i < e; ++i) {
      if (!(*in)[i].known()) return ir::Dim{};
      p *= (*in)[i].value;
    }
    return ir::Dim::of(p);
  };
  c.set_tensor(0, c.dtype(0), Dims{prod(0, *axis), prod(*axis, in->size())});
}

void transpose(InferContext& c) {
  const Dims* in = c.dims(0);
  if (!in) return c.set_tensor(0, c.dtype(0), std::nullopt);
  std::vector<int64_t> perm = c.node().attr_ints("perm");
  if (perm.empty()) {
    for (size_t i = 0; i < in->size(); ++i) perm.push_back(static_cast<int64_t>(in->size() - 1 - i));
  }
  if (perm.size() != in->size()) return;
  Dims out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(in->size())) return;
    out.push_back((*in)[p]);
  }
  c.set_tensor(0, c.dtype(0), out);
}

void squeeze(InferContext& c) {
  const Dims* in = c.dims(0);
  auto axes = axes_of(c, 1);
  if (!in || !axes) return c.set_tensor(0, c.dtype(0), std::nullopt);
  std::vector<bool> drop(in->size(), false);
  if (axes->empty()) {
    for (size_t i = 0; i < in->size(); ++i) {
      if (!(*in)[i].known()) return c.set_tensor(0, c.dtype(0), std::nullopt);
      drop[i] = (*in)[i].value == 1;
    }
  }
  for (int64_t a : *axes) {
    auto n = norm_axis(a, in->size());
    if (!n) return;
    drop[*n] = true;
  }
  Dims out;
  for (size_t i = 0; i < in->size(); ++i) if (!drop[i]) out.push_back((*in)[i]);
  c.set_tensor(0, c.dtype(0), out);
}

void unsqueeze(InferContext& c) {
  const Dims* in = c.dims(0);
  auto axes = axes_of(c, 1);
  if (!in || !axes) return c.set_tensor(0, c.dtype(0), std::nullopt);
  const size_t rank = in->size() + axes->size();
  std::vector<bool> add(rank, false);
  for (int64_t a : *axes) {
    auto n = norm_axis(a, rank);
    if (!n) return;
    add[*n] = true;
  }
  Dims out;
  size_t k = 0;
  for (size_t i = 0; i < rank; ++i) out.push_back(add[i] ? ir::Dim::of(1) : (k < in->size() ? (*in)[k++] : ir::Dim{}));
  c.set_tensor(0, c.dtype(0), out);
}

void concat(InferContext& c) {
  const Dims* first = c.dims(0);
  if (!first) return c.set_tensor(0, c.dtype(0), std::nullopt);
  auto axis = norm_axis(c.node().attr_int("axis", 0), first->size());
  if (!axis) return;
  Dims out = *first;
  for (size_t i = 1; i < c.num_inputs(); ++i) {
    const Dims* d = c.dims(i);
    if (!d || d->size() != out.size()) return c.set_tensor(0, c.dtype(0), std::nullopt);
    const ir::Dim& x = (*d)[*axis];
    out[*axis] = out[*axis].known() && x.known() ? ir::Dim::of(out[*axis].value + x.value) : ir::Dim{};
  }
  c.set_tensor(0, c.dtype(0), out);
}

void gather(InferContext& c) {
  const Dims* data = c.dims(0);
  const Dims* idx = c.dims(1);
  if (!data || !idx) return c.set_tensor(0, c.dtype(0), std::nullopt);
  auto axis = norm_axis(c.node().attr_int("axis", 0), data->size());
  if (!axis) return;
  Dims out(data->begin(), data->begin() + *axis);
  out.insert(out.end(), idx->begin(), idx->end());
  out.insert(out.end(), data->begin() + *axis + 1, data->end());
  c.set_tensor(0, c.dtype(0), out);
}

void shape(InferContext& c) {
  const Dims* in = c.dims(0);
  if (!in) return c.set_tensor(0, DataType::kInt64, Dims{ir::Dim{}});
  int64_t r = static_cast<int64_t>(in->size());
  int64_t start = c.node().attr_int("start", 0), end = c.node().attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  c.set_tensor(0, DataType::kInt64, Dims{ir::Dim::of(std::max<int64_t>(end - start, 0))});
}

void size(InferContext& c) { c.set_tensor(0, DataType::kInt64, Dims{}); }

void slice(InferContext& c) {
  const Dims* in = c.dims(0);
  if (!in) return c.set_tensor(0, c.dtype(0), std::nullopt);
  std::optional<std::vector<int64_t>> starts, ends, axes, steps;
  if (c.opset() < 10) {
    starts = c.node().attr_ints("starts");
    ends = c.node().attr_ints("ends");
    axes = c.node().attr_ints("axes");
  } else {
    starts = c.constant_ints(1);
    ends = c.constant_ints(2);
    axes = c.has_input(3) ? c.constant_ints(3) : std::optional(std::vector<int64_t>{});
    steps = c.has_input(4) ? c.constant_ints(4) : std::optional(std::vector<int64_t>{});
  }
  Dims out = *in;
  if (!starts || !ends || !axes || (c.opset() >= 10 && !steps) || starts->size() != ends->size()) {
    // Rank is kept; sliced extents are unknown.
    for (auto& d : out) d = ir::Dim{};
    return c.set_tensor(0, c.dtype(0), out);
  }
  if (axes->empty()) for (size_t i = 0; i < starts->size(); ++i) axes->push_back(static_cast<int64_t>(i));
  for (size_t i = 0; i < starts->size() && i < axes->size(); ++i) {
    auto a = norm_axis((*axes)[i], in->size());
    if (!a) return;
    const ir::Dim& d = (*in)[*a];
    const int64_t step = steps && i < steps->size() ? (*steps)[i] : 1;
    if (!d.known() || step == 0) {
      out[*a] = ir::Dim{};
      continue;
    }
    const int64_t n = d.value;
    int64_t s = (*starts)[i], e = (*ends)[i];
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      out[*a] = ir::Dim::of(e > s ? (e - s + step - 1) / step : 0);
    } else {
      s = std::clamp<int64_t>(s, 0, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      out[*a] = ir::Dim::of(s > e ? (s - e - step - 1) / (-step) : 0);
    }
  }
  c.set_tensor(0, c.dtype(0), out);
}

void expand(InferContext& c) {
  auto shape = c.constant_ints(1);
  if (!shape) return c.set_tensor(0, c.dtype(0), std::nullopt);
  Dims target = dims_of(*shape);
  c.set_tensor(0, c.dtype(0), broadcast_dims({c.dims(0), &target}));
}

void constant_of_shape(InferContext& c) {
  const ir::Attribute* v = c.node().attr("value");
  const DataType dt = v && v->t.defined() ? v->t.dtype() : DataType::kFloat32;
  auto shape = c.constant_ints(0);
  c.set_tensor(0, dt, shape ? std::optional(dims_of(*shape)) : std::nullopt);
}

void constant(InferContext& c) {
  const auto& n = c.node();
  if (const ir::Attribute* v = n.attr("value"); v && v->t.defined()) return c.set_tensor(0, v->t.dtype(), dims_of(v->t.shape()));
  if (n.has_attr("value_float")) return c.set_tensor(0, DataType::kFloat32, Dims{});
  if (n.has_attr("value_int")) return c.set_tensor(0, DataType::kInt64, Dims{});
  if (n.has_attr("value_string")) return c.set_tensor(0, DataType::kString, Dims{});
  const int64_t k = static_cast<int64_t>(n.attr_floats("value_floats").size() + n.attr_ints("value_ints").size() +
                                         n.attr_strings("value_strings").size());
  if (n.has_attr("value_floats")) return c.set_tensor(0, DataType::kFloat32, Dims{ir::Dim::of(k)});
  if (n.has_attr("value_ints")) return c.set_tensor(0, DataType::kInt64, Dims{ir::Dim::of(k)});
  if (n.has_attr("value_strings")) return c.set_tensor(0, DataType::kString, Dims{ir::Dim::of(k)});
}

void split(InferContext& c) {
  const Dims* in = c.dims(0);
  const size_t n_out = c.node().outputs().size();
  if (!in) {
    for (size_t i = 0; i < n_out; ++i) c.set_tensor(i, c.dtype(0), std::nullopt);
    return;
  }
  auto axis = norm_axis(c.node().attr_int("axis", 0), in->size());
  if (!axis) return;
  std::optional<std::vector<int64_t>> parts =
      c.node().has_attr("split") ? std::optional(c.node().attr_ints("split")) : (c.has_input(1) ? c.constant_ints(1) : std::nullopt);
  const ir::Dim& d = (*in)[*axis];
  if (!parts && d.known() && n_out > 0) {
    const int64_t chunk = (d.value + static_cast<int64_t>(n_out) - 1) / static_cast<int64_t>(n_out);
    parts = std::vector<int64_t>();
    for (size_t i = 0; i < n_out; ++i) parts->push_back(std::max<int64_t>(0, std::min(chunk, d.value - chunk * static_cast<int64_t>(i))));
  }
  for (size_t i = 0; i < n_out; ++i) {
    Dims out = *in;
    out[*axis] = parts && i < parts->size() ? ir::Dim::of((*parts)[i]) : ir::Dim{};
    c.set_tensor(i, c.dtype(0), out);
  }
}

void tile(InferContext& c) {
  const Dims* in = c.dims(0);
  auto reps = c.constant_ints(1);
  if (!in || !reps || reps->size() != in->size()) return c.set_tensor(0, c.dtype(0), std::nullopt);
  Dims out = *in;
  for (size_t i = 0; i < out.size(); ++i) out[i] = out[i].known() ? ir::Dim::of(out[i].value * (*reps)[i]) : ir::Dim{};
  c.set_tensor(0, c.dtype(0), out);
}

void pad(InferContext& c) {
  const Dims* in = c.dims(0);
  std::optional<std::vector<int64_t>> pads = c.opset() < 11 ? std::optional(c.node().attr_ints("pads")) : c.constant_ints(1);
  if (!in || !pads || pads->size() != 2 * in->size() || (c.opset() >= 18 && c.has_input(3))) {
    return c.set_tensor(0, c.dtype(0), in ? std::optional(Dims(in->size())) : std::nullopt);
  }
  Dims out = *in;
  const size_t r = in->size();
  for (size_t i = 0; i < r; ++i) out[i] = out[i].known() ? ir::Dim::of(out[i].value + (*pads)[i] + (*pads)[i + r]) : ir::Dim{};
  c.set_tensor(0, c.dtype(0), out);
}

void resize(InferContext& c) {
  const Dims* in = c.dims(0);
  if (!in) return c.set_tensor(0, c.dtype(0), std::nullopt);
  Dims out(in->size());
  if (auto sizes = c.has_input(3) ? c.constant_ints(3) : std::nullopt; sizes && sizes->size() == in->size()) {
    out = dims_of(*sizes);
  } else if (const Tensor* sc = c.constant(c.opset() >= 11 ? 2 : 1); sc && sc->numel() == static_cast<int64_t>(in->size())) {
    for (size_t i = 0; i < in->size(); ++i) {
      if ((*in)[i].known()) out[i] = ir::Dim::of(static_cast<int64_t>(std::floor((*in)[i].value * sc->float_at(static_cast<int64_t>(i)))));
    }
  }
  c.set_tensor(0, c.dtype(0), out);
}

void top_k(InferContext& c) {
  const Dims* in = c.dims(0);
  if (!in) return;
  auto axis = norm_axis(c.node().attr_int("axis", -1), in->size());
  if (!axis) return;
  Dims out = *in;
  auto k = c.opset() < 10 ? std::optional(std::vector<int64_t>{c.node().attr_int("k", -1)}) : c.constant_ints(1);
  out[*axis] = k && k->size() == 1 && (*k)[0] >= 0 ? ir::Dim::of((*k)[0]) : ir::Dim{};
  c.set_tensor(0, c.dtype(0), out);
  c.set_tensor(1, DataType::kInt64, out);
}

}  // namespace pare::ops::infer
