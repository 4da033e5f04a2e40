// Lowering of QDQ graphs (what `pare quantize` and ONNX Runtime's quantizer write) to pare's
// quantized fused ops (ops/fused/quant.h), run by oneDNN int8 and pare's weight-only kernels:
//
//   static:  DQ(x_q) → Conv(DQ(W_q), DQ(B_q)) → [Q→DQ] → [Add(·, DQ(z_q))] → [Q→DQ] → [act] → [Q]
//            ⇒ com.pare.QConv(x_q, …, W_q, …, B_q, y_s, y_z, z_q, …)       (float Y without the Q)
//            DQ(x_q) → MatMul/Gemm(DQ(W_q)) → [Add bias] → [act] → [Q]  ⇒ com.pare.QMatMul
//   dynamic: DynamicQuantizeLinear(x) → DQ → MatMul/Gemm(DQ(W_q)) → [Add bias] ⇒ QMatMul(x, ∅, ∅, W_q, …)
//   pooling: MaxPool → Q ⇒ Q → MaxPool (uint8/int8; exact, see quantize_before_maxpool)
//   weight-only: MatMul/Gemm(x, DQ(W_q int8/int4, block_size)) → [Add bias] ⇒ com.pare.WeightOnlyMatMul
//            (also MatMul(x, Transpose(DQ(T_q))), a tied LM head reading its embedding table)
//   tables:  Gather(DQ(T_q [V, D] constant), indices, axis 0) ⇒ com.pare.QGather (only the gathered
//            rows are dequantized; with constant indices constant folding then evaluates it)
//
// An intermediate Q→DQ pair inside a matched chain (the quantizer puts one on every output
// of a quantized op) is dropped: the fused op rounds once, at its end, so results differ from
// the unfused graph by at most the rounding of those intermediate values (tested in
// lower_qdq_test.cc). Weights must be symmetric int8 (zero point 0) for the integer paths.
// Finally the quantized tensors that flow only between QConvs (directly, or through a MaxPool,
// then com.pare.MaxPoolNhwc) are kept N,H,W,C (input_nhwc / output_nhwc / z_nhwc), the layout
// of oneDNN's int8 convolutions, so they never reorder.
#include <cmath>

#include "ops/fused/quant.h"
#include "passes/fuse_activation.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

const std::vector<std::string> kConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"};

bool is_q8(DataType t) { return t == DataType::kUInt8 || t == DataType::kInt8; }

// Same static shape: equal known extents, or the same symbolic name (a dynamic batch).
bool same_shape(const ir::Value* a, const ir::Value* b) {
  const auto& ta = a->type();
  const auto& tb = b->type();
  if (ta.kind != ir::TypeInfo::Kind::kTensor || tb.kind != ir::TypeInfo::Kind::kTensor || !ta.shape || !tb.shape) return false;
  if (ta.shape->size() != tb.shape->size()) return false;
  for (size_t i = 0; i < ta.shape->size(); ++i) {
    const ir::Dim &x = (*ta.shape)[i], &y = (*tb.shape)[i];
    if (x.known() ? x.value != y.value : (x.symbol.empty() || x.symbol != y.symbol)) return false;
  }
  return true;
}

// A DequantizeLinear producing v: its quantized input and parameters.
struct Dq {
  ir::Node* node = nullptr;
  ir::Value *q = nullptr, *scale = nullptr, *zero = nullptr;
  const Tensor *qc = nullptr, *sc = nullptr, *zc = nullptr;  // constants, when they are
};

bool dequantized(const ir::Value* v, Dq& d) {
  ir::Node* n = producer_of_type(v, "DequantizeLinear");
  if (!n || n->outputs().size() != 1 || !n->input(0) || !n->input(1)) return false;
  d = Dq{n, n->input(0), n->input(1), n->input(2)};
  d.qc = constant_value(d.q);
  d.sc = constant_value(d.scale);
  d.zc = d.zero ? constant_value(d.zero) : nullptr;
  return true;
}

// Per-tensor activation quantization: uint8/int8 values, constant scalar scale (and zero point).
bool activation_dq(const ir::Value* v, Dq& d) {
  if (!dequantized(v, d) || d.qc || !d.sc || d.sc->numel() != 1 || d.sc->dtype() != DataType::kFloat32) return false;
  if (d.zero && (!d.zc || d.zc->numel() != 1)) return false;
  const auto& t = d.q->type();
  return t.kind == ir::TypeInfo::Kind::kTensor && is_q8(t.dtype) && d.node->attr_int("block_size", 0) == 0;
}

// Symmetric int8 weight with per-tensor or per-`axis` scales (zero points all 0).
bool int8_weight(const ir::Value* v, int64_t axis, Dq& d) {
  if (!dequantized(v, d) || !d.qc || !d.sc || d.qc->dtype() != DataType::kInt8 || d.sc->dtype() != DataType::kFloat32) return false;
  if (d.node->attr_int("block_size", 0) != 0 || (d.zero && !d.zc)) return false;
  if (d.zc)
    for (int64_t i = 0; i < d.zc->numel(); ++i)
      if (d.zc->int_at(i) != 0) return false;
  if (d.sc->numel() == 1) return true;
  int64_t a = d.node->attr_int("axis", 1);
  if (a < 0) a += d.qc->rank();
  return a == axis && d.sc->rank() == 1 && d.sc->numel() == d.qc->dim(axis);
}

// A QuantizeLinear consuming v alone with constant per-tensor parameters.
ir::Node* sole_quantize(ir::Value* v) {
  ir::Node* q = sole_consumer(v);
  if (!q || !is_op(*q, "QuantizeLinear") || q->input(0) != v || q->outputs().size() != 1) return nullptr;
  const Tensor* s = constant_value(q->input(1));
  if (!s || s->numel() != 1 || s->dtype() != DataType::kFloat32) return nullptr;
  if (q->input(2) && (!constant_value(q->input(2)) || constant_value(q->input(2))->numel() != 1)) return nullptr;
  return q;
}

// v → Q → DQ (each alone): the DQ's output, appending both nodes; else v.
ir::Value* skip_qdq(ir::Value* v, std::vector<ir::Node*>& nodes) {
  ir::Node* q = sole_quantize(v);
  if (!q) return v;
  ir::Node* dq = sole_consumer(q->output(0));
  if (!dq || !is_op(*dq, "DequantizeLinear") || dq->input(0) != q->output(0) || dq->outputs().size() != 1) return v;
  nodes.push_back(q);
  nodes.push_back(dq);
  return dq->output(0);
}

// The epilogue after a quantized op's float result `cur`: residual, activation, final Q.
struct Tail {
  std::vector<ir::Node*> nodes;
  ir::Value* out = nullptr;
  Dq z;                     // residual (QConv) when z.node
  ir::Value* bias = nullptr;  // constant float bias (QMatMul / WeightOnlyMatMul)
  ops::ActivationSpec act;
  ir::Node* final_q = nullptr;
};

Tail match_tail(ir::Value* cur, bool residual, int64_t bias_n, bool allow_q) {
  Tail t;
  {  // [Q→DQ] Add(·, DQ(z_q)) or Add(·, bias)
    std::vector<ir::Node*> n;
    ir::Value* v = skip_qdq(cur, n);
    ir::Node* add = sole_consumer(v);
    if (add && is_op(*add, "Add") && add->outputs().size() == 1) {
      ir::Value* other = add->input(0) == v ? add->input(1) : add->input(0);
      Dq z;
      const Tensor* b = constant_value(other);
      if (residual && other != v && activation_dq(other, z) && same_shape(v, z.q)) {
        t.z = z;
      } else if (bias_n > 0 && b && b->dtype() == DataType::kFloat32 && b->numel() == bias_n && b->rank() == 1 && n.empty()) {
        t.bias = other;
      } else {
        add = nullptr;
      }
      if (add) {
        n.push_back(add);
        t.nodes.insert(t.nodes.end(), n.begin(), n.end());
        cur = add->output(0);
      }
    }
  }
  {  // [Q→DQ] activation
    std::vector<ir::Node*> n;
    ir::Value* v = skip_qdq(cur, n);
    Epilogue e;
    if (match_activation(v, e)) {
      t.nodes.insert(t.nodes.end(), n.begin(), n.end());
      t.nodes.insert(t.nodes.end(), e.nodes.begin(), e.nodes.end());
      t.act = e.act;
      cur = e.out;
    }
  }
  if (ir::Node* q = allow_q ? sole_quantize(cur) : nullptr) {
    t.nodes.push_back(q);
    t.final_q = q;
    cur = q->output(0);
  }
  t.out = cur;
  return t;
}

ir::Value* constant(ir::Graph& g, const std::string& base, Tensor t) { return g.add_initializer(g.unique_name(base), std::move(t)); }

// Float bias → int32 at scale x_s·w_s[c]; false if a value does not fit.
bool quantize_bias(const Tensor& bf, float xs, const std::vector<float>& ws, Tensor& out) {
  out = Tensor::create(DataType::kInt32, {bf.numel()}).value();
  for (int64_t c = 0; c < bf.numel(); ++c) {
    const double q = std::nearbyint(double(bf.data<float>()[c]) / (double(xs) * ws[c]));
    if (!(std::fabs(q) < 2147483647.0)) return false;
    out.data<int32_t>()[c] = static_cast<int32_t>(q);
  }
  return true;
}

// The float value of a bias input: a float constant or DQ of a constant.
bool bias_value(const ir::Value* v, int64_t n, Tensor& out) {
  // PyTorch's exporter shares equal initializers through Identity nodes (removed only later).
  while (ir::Node* id = producer_of_type(v, "Identity")) v = id->input(0);
  if (const Tensor* c = constant_value(v)) {
    if (c->dtype() != DataType::kFloat32 || c->numel() != n) return false;
    out = *c;
    return true;
  }
  Dq d;
  if (!dequantized(v, d) || !d.qc || !d.sc || d.qc->numel() != n || d.qc->rank() != 1 || !dtype_is_integer(d.qc->dtype())) return false;
  if (d.sc->dtype() != DataType::kFloat32 || (d.sc->numel() != 1 && d.sc->numel() != n)) return false;
  if (d.zero && (!d.zc || (d.zc->numel() != 1 && d.zc->numel() != n))) return false;
  out = Tensor::create(DataType::kFloat32, {n}).value();
  for (int64_t c = 0; c < n; ++c) {
    const int64_t z = d.zc ? d.zc->int_at(d.zc->numel() == 1 ? 0 : c) : 0;
    out.data<float>()[c] = static_cast<float>(double(d.qc->int_at(c) - z) * d.sc->data<float>()[d.sc->numel() == 1 ? 0 : c]);
  }
  return true;
}

void set_int(ir::Node* n, const char* name, int64_t v) { n->attributes()[name] = ir::Attribute::of(v); }

Result<bool> lower_conv(ir::Graph& g, ir::Node* conv) {
  if (!is_op(*conv, "Conv") || conv->outputs().size() != 1) return false;
  Dq x, w;
  if (!activation_dq(conv->input(0), x) || !int8_weight(conv->input(1), 0, w) || w.qc->rank() < 3 || w.qc->rank() > 5) return false;
  const int64_t M = w.qc->dim(0);
  const float xs = constant_value(x.scale)->data<float>()[0];
  auto ws = ops::quant::channel_scales(*w.sc, M, "W_scale");
  if (!ws.ok()) return false;
  Tensor bq;
  if (conv->input(2)) {
    Tensor bf;
    if (!bias_value(conv->input(2), M, bf) || !quantize_bias(bf, xs, *ws, bq)) return false;
  }
  Tail t = match_tail(conv->output(0), true, 0, true);
  std::vector<ir::Value*> ins{x.q, x.scale, x.zero, w.q, w.scale, bq.defined() ? constant(g, conv->name() + "_bias_q", bq) : nullptr};
  if (t.final_q) ins.insert(ins.end(), {t.final_q->input(1), t.final_q->input(2)});
  else ins.insert(ins.end(), {nullptr, nullptr});
  if (t.z.node) ins.insert(ins.end(), {t.z.q, t.z.scale, t.z.zero});
  while (!ins.empty() && !ins.back()) ins.pop_back();
  std::map<std::string, ir::Attribute> attrs;
  for (const std::string& a : kConvAttrs)
    if (const ir::Attribute* src = conv->attr(a)) attrs[a] = src->copy_value();
  std::vector<ir::Node*> nodes{conv};
  nodes.insert(nodes.end(), t.nodes.begin(), t.nodes.end());
  PARE_ASSIGN_OR_RETURN(ir::Node * f, replace_pattern(g, nodes, t.out, "QConv", "com.pare", ins, conv->name()));
  f->attributes() = std::move(attrs);
  set_activation_attrs(*f, t.act);
  return true;
}

// MatMul(A, W[K,N]) or Gemm(A, W, C) (transA 0, alpha = beta = 1) with a constant quantized W.
Result<bool> lower_matmul(ir::Graph& g, ir::Node* mm) {
  const bool gemm = is_op(*mm, "Gemm");
  if ((!gemm && !is_op(*mm, "MatMul")) || mm->outputs().size() != 1 || !mm->input(0) || !mm->input(1)) return false;
  if (gemm && (mm->attr_int("transA", 0) != 0 || mm->attr_float("alpha", 1.f) != 1.f || mm->attr_float("beta", 1.f) != 1.f)) return false;
  bool trans_b = gemm && mm->attr_int("transB", 0) != 0;
  Dq w;
  // A tied LM head: MatMul(x, Transpose(DQ(T_q [N, K]))) reads the table as W [N, K] (trans_b).
  ir::Node* tied = gemm ? nullptr : producer_of_type(mm->input(1), "Transpose");
  if (tied && (tied->attr_ints("perm") != std::vector<int64_t>{1, 0} || sole_consumer(mm->input(1)) != mm ||
               is_graph_output(mm->input(1)) || !dequantized(tied->input(0), w)))
    tied = nullptr;
  if (tied) trans_b = true;
  else if (!dequantized(mm->input(1), w)) return false;
  if (!w.qc || !w.sc || w.qc->rank() != 2 || (w.zero && !w.zc)) return false;
  const int64_t N = w.qc->dim(trans_b ? 0 : 1), K = w.qc->dim(trans_b ? 1 : 0);
  Tensor bias;
  if (gemm && mm->input(2) && !bias_value(mm->input(2), N, bias)) return false;
  Dq a;
  const bool static_a = activation_dq(mm->input(0), a);
  ir::Node* dql = nullptr;
  if (!static_a && dequantized(mm->input(0), a) && (dql = producer_of_type(a.q, "DynamicQuantizeLinear")) &&
      !(a.q == dql->output(0) && a.scale == dql->output(1) && a.zero == dql->output(2)))
    dql = nullptr;
  const bool integer = !tied && (static_a || dql) && int8_weight(mm->input(1), trans_b ? 0 : 1, w);
  if (integer) {
    auto ws = ops::quant::channel_scales(*w.sc, N, "B_scale");
    if (!ws.ok()) return false;
    Tail t = match_tail(mm->output(0), false, bias.defined() ? 0 : N, static_a);
    Tensor b = *w.qc;
    if (trans_b) {  // [N, K] → [K, N]
      b = Tensor::create(DataType::kInt8, {K, N}).value();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) b.data<int8_t>()[k * N + n] = w.qc->data<int8_t>()[n * K + k];
    }
    if (t.bias) bias = *constant_value(t.bias);
    std::vector<ir::Value*> ins;
    if (static_a) ins = {a.q, a.scale, a.zero};
    else ins = {dql->input(0), nullptr, nullptr};
    ins.insert(ins.end(), {trans_b ? constant(g, mm->name() + "_B_q", b) : w.q, w.scale, nullptr,
                           bias.defined() ? constant(g, mm->name() + "_bias", bias) : nullptr});
    if (t.final_q) ins.insert(ins.end(), {t.final_q->input(1), t.final_q->input(2)});
    while (!ins.empty() && !ins.back()) ins.pop_back();
    std::vector<ir::Node*> nodes{mm};
    nodes.insert(nodes.end(), t.nodes.begin(), t.nodes.end());
    PARE_ASSIGN_OR_RETURN(ir::Node * f, replace_pattern(g, nodes, t.out, "QMatMul", "com.pare", ins, mm->name()));
    set_activation_attrs(*f, t.act);
    return true;
  }
  // Weight-only: float A, integer W (int8 per channel or blocked int8/int4/uint4).
  const DataType qt = w.qc->dtype();
  if (qt != DataType::kInt8 && qt != DataType::kUInt8 && qt != DataType::kInt4 && qt != DataType::kUInt4) return false;
  const ir::TypeInfo& at = mm->input(0)->type();
  if (at.kind != ir::TypeInfo::Kind::kTensor || at.dtype != DataType::kFloat32) return false;
  if (w.sc->dtype() != DataType::kFloat32) return false;
  Tail t = match_tail(mm->output(0), false, bias.defined() ? 0 : N, false);
  if (t.act.kind != ops::Activation::kNone) {  // WeightOnlyMatMul has no activation: stop before it
    t = Tail{};
    t.out = mm->output(0);
    Tail b = match_tail(mm->output(0), false, bias.defined() ? 0 : N, false);
    if (b.bias) {
      t.bias = b.bias;
      t.nodes = {b.nodes.front()};
      t.out = b.nodes.front()->output(0);
    }
  }
  if (t.bias) bias = *constant_value(t.bias);
  std::vector<ir::Value*> ins{mm->input(0), w.q, w.scale, w.zero, bias.defined() ? constant(g, mm->name() + "_bias", bias) : nullptr};
  while (!ins.empty() && !ins.back()) ins.pop_back();
  std::vector<ir::Node*> nodes{mm};
  if (tied) nodes.push_back(tied);
  nodes.insert(nodes.end(), t.nodes.begin(), t.nodes.end());
  const int64_t axis = w.node->attr_int("axis", 1), block = w.node->attr_int("block_size", 0);
  PARE_ASSIGN_OR_RETURN(ir::Node * f, replace_pattern(g, nodes, t.out, "WeightOnlyMatMul", "com.pare", ins, mm->name()));
  set_int(f, "axis", axis);
  set_int(f, "block_size", block);
  set_int(f, "trans_b", trans_b ? 1 : 0);
  return true;
}

// Gather(DQ(T_q), indices) on axis 0 of a constant 2-D integer table.
Result<bool> lower_gather(ir::Graph& g, ir::Node* n) {
  if (!is_op(*n, "Gather") || n->outputs().size() != 1 || !n->input(0) || !n->input(1)) return false;
  if (n->attr_int("axis", 0) != 0) return false;
  Dq t;
  if (!dequantized(n->input(0), t) || !t.qc || !t.sc || t.qc->rank() != 2 || (t.zero && !t.zc)) return false;
  const DataType qt = t.qc->dtype();
  if (qt != DataType::kInt8 && qt != DataType::kUInt8 && qt != DataType::kInt4 && qt != DataType::kUInt4) return false;
  if (t.sc->dtype() != DataType::kFloat32) return false;
  const int64_t axis = t.node->attr_int("axis", 1), block = t.node->attr_int("block_size", 0);
  std::vector<ir::Value*> ins{t.q, t.scale, t.zero, n->input(1)};
  PARE_ASSIGN_OR_RETURN(ir::Node * f, replace_pattern(g, {n}, n->output(0), "QGather", "com.pare", ins, n->name()));
  set_int(f, "axis", axis);
  set_int(f, "block_size", block);
  return true;
}

bool is_qconv(const ir::Node* n) { return n && n->domain() == "com.pare" && n->op_type() == "QConv"; }

// A QConv's output that goes only through a uint8/int8 MaxPool to QConvs (a ResNet's stem):
// the pooling becomes com.pare.MaxPoolNhwc and both tensors stay N,H,W,C, so the oneDNN
// convolutions on either side and the pooling between them reorder nothing.
bool pool_nhwc(ir::Graph& g) {
  bool changed = false;
  for (const auto& up : g.nodes()) {
    ir::Node* mp = up.get();
    if (!is_op(*mp, "MaxPool") || !mp->input(0) || mp->outputs().empty() || !mp->output(0)) continue;
    if (mp->outputs().size() > 1 && mp->output(1)) continue;
    ir::Value* x = mp->input(0);
    ir::Value* y = mp->output(0);
    ir::Node* conv = x->producer();
    if (!is_qconv(conv) || conv->attr_int("output_nhwc", 0) || conv->inputs().size() < 7 || !conv->input(6)) continue;
    if (is_graph_output(x) || is_graph_output(y) || x->uses().size() != 1 || y->uses().empty()) continue;
    const auto& xt = x->type();
    const auto& yt = y->type();
    if (!is_q8(xt.dtype) || !xt.shape || xt.shape->size() != 4 || !yt.shape || yt.shape->size() != 4) continue;
    bool ok = mp->attr_ints("kernel_shape").size() == 2 && mp->attr_int("ceil_mode", 0) == 0 && mp->attr_int("storage_order", 0) == 0;
    const std::string pad = mp->attr_string("auto_pad", "NOTSET");
    ok = ok && (pad == "NOTSET" || pad == "VALID");
    for (int64_t d : mp->attr_ints("dilations")) ok = ok && d == 1;
    for (const ir::Use& u : y->uses()) ok = ok && is_qconv(u.node) && (u.input_index == 0 || u.input_index == 8);
    if (!ok) continue;
    mp->set_op("com.pare", "MaxPoolNhwc");
    set_int(conv, "output_nhwc", 1);
    for (ir::Value* v : {x, y}) {
      const std::vector<ir::Dim> d = *v->type().shape;
      v->type().shape = std::vector<ir::Dim>{d[0], d[2], d[3], d[1]};
    }
    for (const ir::Use& u : y->uses()) set_int(u.node, u.input_index == 0 ? "input_nhwc" : "z_nhwc", 1);
    changed = true;
  }
  return changed;
}

// Quantized rank-4 QConv outputs used only by QConvs (as X or Z) stay N,H,W,C.
bool assign_nhwc(ir::Graph& g) {
  bool changed = false;
  for (const auto& up : g.nodes()) {
    ir::Node* n = up.get();
    if (!is_qconv(n) || n->attr_int("output_nhwc", 0) || n->inputs().size() < 7 || !n->input(6)) continue;
    ir::Value* y = n->output(0);
    const auto& t = y->type();
    if (t.kind != ir::TypeInfo::Kind::kTensor || !t.shape || t.shape->size() != 4 || is_graph_output(y) || y->uses().empty()) continue;
    bool ok = true;
    for (const ir::Use& u : y->uses()) ok = ok && is_qconv(u.node) && (u.input_index == 0 || u.input_index == 8);
    if (!ok) continue;
    set_int(n, "output_nhwc", 1);
    const std::vector<ir::Dim> d = *t.shape;
    y->type().shape = std::vector<ir::Dim>{d[0], d[2], d[3], d[1]};
    for (const ir::Use& u : y->uses()) set_int(u.node, u.input_index == 0 ? "input_nhwc" : "z_nhwc", 1);
    changed = true;
  }
  return changed;
}

// Q/DQ/DynamicQuantizeLinear nodes left without consumers (their fused users took their inputs).
Status erase_dead_qdq(ir::Graph& g) {
  for (bool again = true; again;) {
    again = false;
    for (const auto& up : g.nodes()) {
      ir::Node* n = up.get();
      if (!is_op(*n, "DequantizeLinear") && !is_op(*n, "QuantizeLinear") && !is_op(*n, "DynamicQuantizeLinear")) continue;
      bool dead = true;
      for (const ir::Value* v : n->outputs()) dead = dead && (!v || (v->uses().empty() && !is_graph_output(v)));
      if (!dead) continue;
      PARE_RETURN_IF_ERROR(g.erase_node(n));
      again = true;
      break;
    }
  }
  g.remove_dead_values();
  return ok_status();
}

// Clip bounds given by Constant nodes (PyTorch's ReLU6) become initializers, so the activation
// matcher sees constants (this pass runs before constant folding).
Status clip_bounds_to_initializers(ir::Graph& g) {
  std::vector<ir::Node*> consts;
  for (const auto& up : g.nodes()) {
    ir::Node* n = up.get();
    if (!is_op(*n, "Constant") || n->outputs().size() != 1 || !n->output(0) || is_graph_output(n->output(0))) continue;
    const ir::Attribute* a = n->attr("value");
    if (!a || a->type != ir::AttrType::kTensor || a->t.numel() != 1 || n->output(0)->uses().empty()) continue;
    bool only_clip = true;
    for (const ir::Use& u : n->output(0)->uses()) only_clip = only_clip && is_op(*u.node, "Clip") && u.input_index > 0;
    if (only_clip) consts.push_back(n);
  }
  for (ir::Node* n : consts) {
    ir::Value* c = g.add_initializer(g.unique_name(n->output(0)->name() + "_init"), n->attr("value")->t);
    g.replace_all_uses(n->output(0), c);
    PARE_RETURN_IF_ERROR(g.erase_node(n));
  }
  return ok_status();
}

// MaxPool(v) → Q(s, z) ⇒ Q(s, z)(v) → MaxPool (on uint8/int8, kernels/quant/qpool.cc). Exact:
// quantization (round, saturate) is monotonic, so it commutes with max. The Q then usually ends
// the QConv before it (uint8 output), and no float tensor is left around the pooling.
Result<bool> quantize_before_maxpool(ir::Graph& g, ir::Node* mp) {
  if (!is_op(*mp, "MaxPool") || !mp->input(0) || mp->outputs().empty() || !mp->output(0)) return false;
  if (mp->outputs().size() > 1 && mp->output(1)) return false;  // Indices
  if (is_graph_output(mp->output(0))) return false;
  ir::Node* q = sole_quantize(mp->output(0));
  if (!q || !constant_value(q->input(1))) return false;
  ir::Value* v = mp->input(0);
  const ir::TypeInfo& vt = v->type();
  if (vt.kind != ir::TypeInfo::Kind::kTensor || vt.dtype != DataType::kFloat32) return false;
  const DataType qt = q->input(2) ? q->input(2)->type().dtype : DataType::kUInt8;
  if (!is_q8(qt)) return false;
  ir::Value* qv = g.add_value(g.unique_name(v->name() + "_quantized"));
  qv->type() = ir::TypeInfo::tensor(qt, vt.shape);
  ir::Node* nq = g.add_node("QuantizeLinear", {v, q->input(1), q->input(2)}, {qv}, "", g.unique_name(q->name() + "_before_pool"));
  for (const auto& [k, a] : q->attributes()) nq->attributes()[k] = a.copy_value();
  std::map<std::string, ir::Attribute> attrs;
  for (const auto& [k, a] : mp->attributes()) attrs[k] = a.copy_value();
  const std::string name = mp->name();
  PARE_ASSIGN_OR_RETURN(ir::Node * np, replace_pattern(g, {mp, q}, q->output(0), "MaxPool", "", {qv}, name));
  np->attributes() = std::move(attrs);
  return true;
}

}  // namespace

Result<bool> lower_qdq(ir::Model& model) {
  PARE_RETURN_IF_ERROR(clip_bounds_to_initializers(*model.graph));
  PARE_ASSIGN_OR_RETURN(bool pooled, rewrite_to_fixpoint(model, quantize_before_maxpool, false));
  PARE_ASSIGN_OR_RETURN(bool changed, rewrite_to_fixpoint(model, [](ir::Graph& g, ir::Node* n) -> Result<bool> {
    if (is_op(*n, "Conv")) return lower_conv(g, n);
    if (is_op(*n, "MatMul") || is_op(*n, "Gemm")) return lower_matmul(g, n);
    if (is_op(*n, "Gather")) return lower_gather(g, n);
    return false;
  }));
  if (!changed) return pooled;
  ir::Graph& g = *model.graph;
  PARE_RETURN_IF_ERROR(erase_dead_qdq(g));
  pool_nhwc(g);
  assign_nhwc(g);
  return true;
}

}  // namespace pare::passes
