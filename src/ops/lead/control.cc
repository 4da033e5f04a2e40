// Control flow through the executor's subgraph runner:
//   If (1, 11, 13, 16): runs then_branch or else_branch; their outputs become the node's.
//   Loop (1, 11, 13, 16): body(iter, cond, v…) → (cond, v…, scan…) while iter < M and cond;
//     scan outputs are stacked along a new axis 0.
//   Scan (9, 11, 16): body(state…, slices…) → (state…, slices…) along scan_input_axes, in
//     scan_input_directions; scan outputs stacked along scan_output_axes.
#include <algorithm>
#include <climits>
#include <cstring>

#include "ops/kernel.h"

namespace pare::ops {
namespace {

const ir::Graph* graph_attr(const ir::Node& n, const char* name) {
  const ir::Attribute* a = n.attr(name);
  return a && a->type == ir::AttrType::kGraph ? a->g.get() : nullptr;
}


// The output when no iteration ran: [0] + the body output's static shape (unknown extents 0),
// of its declared dtype.
Result<Tensor> empty_stack(const ir::Value& body_out, int64_t axis, const std::string& what) {
  const ir::TypeInfo& t = body_out.type();
  if (t.kind != ir::TypeInfo::Kind::kTensor || t.dtype == DataType::kUndefined) {
    return invalid_input("{}: no iteration ran and body output '{}' has no static tensor type", what, body_out.name());
  }
  Shape s;
  if (t.shape) {
    for (const ir::Dim& d : *t.shape) s.push_back(d.known() ? d.value : 0);
  }
  if (axis < 0 || axis > static_cast<int64_t>(s.size())) return invalid_input("{}: axis {} out of range", what, axis);
  s.insert(s.begin() + axis, 0);
  return Tensor::create(t.dtype, s);
}

// Stacks equally shaped tensors along a new axis `axis` (0 ≤ axis ≤ rank); `body_out` types
// the result when there are no items.
Result<Tensor> stack(const std::vector<Tensor>& items, int64_t axis, const ir::Value& body_out, const std::string& what) {
  if (items.empty()) return empty_stack(body_out, axis, what);
  const Tensor& f = items[0];
  for (const Tensor& t : items) {
    if (t.shape() != f.shape() || t.dtype() != f.dtype()) {
      return invalid_input("{}: iterations produced {} and {}", what, f.type_string(), t.type_string());
    }
  }
  Shape s = f.shape();
  if (axis < 0 || axis > f.rank()) return invalid_input("{}: axis {} out of range", what, axis);
  s.insert(s.begin() + axis, static_cast<int64_t>(items.size()));
  PARE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(f.dtype(), s));
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= f.dim(i);
  const int64_t inner = outer ? f.numel() / outer : 0, n = static_cast<int64_t>(items.size());
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t o = 0; o < outer; ++o) copy_elements(items[k], o * inner, out, (o * n + k) * inner, inner);
  }
  return out;
}

Status run_if(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* c, ctx.required_input(0));
  if (c->numel() != 1 || c->dtype() != DataType::kBool) return ctx.error("cond must be a single bool, got {}", c->type_string());
  const ir::Graph* g = graph_attr(ctx.node(), c->data<bool>()[0] ? "then_branch" : "else_branch");
  if (!g) return ctx.error("missing branch subgraph");
  PARE_ASSIGN_OR_RETURN(auto outs, ctx.run_subgraph(*g, {}));
  if (outs.size() != ctx.num_outputs()) return ctx.error("branch returned {} values for {} outputs", outs.size(), ctx.num_outputs());
  for (size_t i = 0; i < outs.size(); ++i) ctx.set_output(i, std::move(outs[i]));
  return ok_status();
}

Status run_loop(KernelContext& ctx) {
  const ir::Graph* body = graph_attr(ctx.node(), "body");
  if (!body) return ctx.error("missing body");
  int64_t max_trip = INT64_MAX;
  if (const Tensor* m = ctx.input(0)) {
    if (m->numel() != 1 || !dtype_is_integer(m->dtype())) return ctx.error("M must be a single integer, got {}", m->type_string());
    max_trip = m->int_at(0);
  }
  bool cond = true;
  if (const Tensor* c = ctx.input(1)) {
    if (c->numel() != 1) return ctx.error("cond must be a single bool, got {}", c->type_string());
    cond = c->dtype() == DataType::kBool ? c->data<bool>()[0] : c->int_at(0) != 0;
  }
  const size_t n_carried = ctx.num_inputs() >= 2 ? ctx.num_inputs() - 2 : 0;
  if (ctx.num_outputs() < n_carried) return ctx.error("{} outputs for {} loop-carried values", ctx.num_outputs(), n_carried);
  if (body->outputs().size() != 1 + ctx.num_outputs()) {
    return ctx.error("body has {} outputs, expected 1 + {}", body->outputs().size(), ctx.num_outputs());
  }
  std::vector<RunValue> carried;
  for (size_t i = 0; i < n_carried; ++i) carried.push_back(ctx.input_value(i + 2));
  const size_t n_scan = ctx.num_outputs() - n_carried;
  std::vector<std::vector<Tensor>> scans(n_scan);
  if (max_trip == INT64_MAX && !ctx.input(1)) return ctx.error("neither a trip count nor a condition: the loop would not end");
  for (int64_t it = 0; it < max_trip && cond; ++it) {
    std::vector<RunValue> ins;
    ins.push_back(RunValue(Tensor::scalar<int64_t>(it)));
    ins.push_back(RunValue(Tensor::scalar<bool>(cond)));
    for (const auto& v : carried) ins.push_back(v);
    PARE_ASSIGN_OR_RETURN(auto outs, ctx.run_subgraph(*body, std::move(ins)));
    if (outs.size() != 1 + n_carried + n_scan) return ctx.error("body returned {} values, expected {}", outs.size(), 1 + n_carried + n_scan);
    if (!outs[0].is_tensor() || outs[0].tensor.numel() != 1) return ctx.error("body's condition output must be a single bool");
    cond = outs[0].tensor.dtype() == DataType::kBool ? outs[0].tensor.data<bool>()[0] : outs[0].tensor.int_at(0) != 0;
    for (size_t i = 0; i < n_carried; ++i) carried[i] = std::move(outs[1 + i]);
    for (size_t i = 0; i < n_scan; ++i) {
      if (!outs[1 + n_carried + i].is_tensor()) return ctx.error("scan output {} is not a tensor", i);
      scans[i].push_back(outs[1 + n_carried + i].tensor);
    }
  }
  for (size_t i = 0; i < n_carried; ++i) ctx.set_output(i, std::move(carried[i]));
  for (size_t i = 0; i < n_scan; ++i) {
    PARE_ASSIGN_OR_RETURN(Tensor t, stack(scans[i], 0, *body->outputs()[1 + n_carried + i], ctx.node().describe()));
    ctx.set_output(n_carried + i, RunValue(std::move(t)));
  }
  return ok_status();
}

// Slice k of x along axis (the axis removed).
Result<Tensor> take(const Tensor& x, int64_t axis, int64_t k) {
  Shape s = x.shape();
  s.erase(s.begin() + axis);
  PARE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(x.dtype(), s));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  const int64_t n = x.dim(axis);
  for (int64_t o = 0; o < outer; ++o) copy_elements(x, (o * n + k) * inner, out, o * inner, inner);
  return out;
}

Status run_scan(KernelContext& ctx) {
  const ir::Node& n = ctx.node();
  const ir::Graph* body = graph_attr(n, "body");
  if (!body) return ctx.error("missing body");
  const int64_t m = n.attr_int("num_scan_inputs", 0);
  const int64_t n_in = static_cast<int64_t>(ctx.num_inputs());
  if (m < 1 || m > n_in) return ctx.error("num_scan_inputs {} invalid", m);
  const int64_t n_state = n_in - m, n_scan_out = static_cast<int64_t>(ctx.num_outputs()) - n_state;
  auto in_axes = n.attr_ints("scan_input_axes", std::vector<int64_t>(m, 0));
  auto in_dirs = n.attr_ints("scan_input_directions", std::vector<int64_t>(m, 0));
  auto out_axes = n.attr_ints("scan_output_axes", std::vector<int64_t>(std::max<int64_t>(n_scan_out, 0), 0));
  auto out_dirs = n.attr_ints("scan_output_directions", std::vector<int64_t>(std::max<int64_t>(n_scan_out, 0), 0));
  if (static_cast<int64_t>(in_axes.size()) != m || static_cast<int64_t>(in_dirs.size()) != m || n_scan_out < 0 ||
      static_cast<int64_t>(out_axes.size()) != n_scan_out || static_cast<int64_t>(out_dirs.size()) != n_scan_out) {
    return ctx.error("scan axes/directions do not match the inputs and outputs");
  }
  for (int64_t d : in_dirs) {
    if (d != 0 && d != 1) return ctx.error("scan input direction {} must be 0 or 1", d);
  }
  for (int64_t d : out_dirs) {
    if (d != 0 && d != 1) return ctx.error("scan output direction {} must be 0 or 1", d);
  }
  if (static_cast<int64_t>(body->outputs().size()) != n_state + n_scan_out) {
    return ctx.error("body has {} outputs, expected {}", body->outputs().size(), n_state + n_scan_out);
  }
  std::vector<const Tensor*> xs;
  int64_t len = -1;
  for (int64_t i = 0; i < m; ++i) {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(static_cast<size_t>(n_state + i)));
    int64_t a = in_axes[i] < 0 ? in_axes[i] + x->rank() : in_axes[i];
    if (a < 0 || a >= x->rank()) return ctx.error("scan input axis {} out of range", in_axes[i]);
    in_axes[i] = a;
    if (len >= 0 && x->dim(a) != len) return ctx.error("scan inputs have different lengths");
    len = x->dim(a);
    xs.push_back(x);
  }
  std::vector<RunValue> state;
  for (int64_t i = 0; i < n_state; ++i) state.push_back(ctx.input_value(static_cast<size_t>(i)));
  std::vector<std::vector<Tensor>> outs(static_cast<size_t>(n_scan_out));
  for (int64_t t = 0; t < len; ++t) {
    std::vector<RunValue> ins = state;
    for (int64_t i = 0; i < m; ++i) {
      PARE_ASSIGN_OR_RETURN(Tensor s, take(*xs[i], in_axes[i], in_dirs[i] ? len - 1 - t : t));
      ins.push_back(RunValue(std::move(s)));
    }
    PARE_ASSIGN_OR_RETURN(auto r, ctx.run_subgraph(*body, std::move(ins)));
    if (static_cast<int64_t>(r.size()) != n_state + n_scan_out) return ctx.error("body returned {} values", r.size());
    for (int64_t i = 0; i < n_state; ++i) state[i] = r[i];
    for (int64_t i = 0; i < n_scan_out; ++i) {
      if (!r[n_state + i].is_tensor()) return ctx.error("scan output {} is not a tensor", i);
      outs[i].push_back(r[n_state + i].tensor);
    }
  }
  for (int64_t i = 0; i < n_state; ++i) ctx.set_output(static_cast<size_t>(i), state[i]);
  for (int64_t i = 0; i < n_scan_out; ++i) {
    if (out_dirs[i]) std::reverse(outs[i].begin(), outs[i].end());
    const ir::Value& body_out = *body->outputs()[n_state + i];
    const int64_t elem_rank = !outs[i].empty() ? outs[i][0].rank()
                              : body_out.type().shape ? static_cast<int64_t>(body_out.type().shape->size()) : 0;
    const int64_t a = out_axes[i] < 0 ? out_axes[i] + elem_rank + 1 : out_axes[i];
    PARE_ASSIGN_OR_RETURN(Tensor t, stack(outs[i], a, body_out, ctx.node().describe()));
    ctx.set_output(static_cast<size_t>(n_state + i), RunValue(std::move(t)));
  }
  return ok_status();
}

}  // namespace

void register_If(KernelRegistry& r) { add_fn<run_if>(r, "If"); }
void register_Loop(KernelRegistry& r) { add_fn<run_loop>(r, "Loop"); }
void register_Scan(KernelRegistry& r) { add_fn<run_scan>(r, "Scan", 9); }

}  // namespace pare::ops
