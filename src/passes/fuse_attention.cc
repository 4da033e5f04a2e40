// Multi-head attention as exporters write it (PyTorch 1.13: BERT, GPT-2, most hand-written
// transformer blocks):
//   Qh = Transpose(Reshape(q, [B, S, H, D]), [0,2,1,3])       likewise Vh
//   Kt = Transpose(Reshape(k, [B, S, H, D]), [0,2,3,1])
//   P  = Softmax(MatMul(Qh, Kt) [/ c | · c] [+ mask], axis = −1)
//   y  = Reshape(Transpose(MatMul(P, Vh), [0,2,1,3]), [B, S, H·D])
//   ⇒ com.pare.Attention(q, k, v, mask; num_heads = H, scale = 1/c or c or 1)
// (ops/fused/attention.h), which never materializes the head-major copies or the
// [B, H, S, S] scores. When q, k and v are FusedMatMuls of one input with same-sized constant
// weights, no activation and no other use, the three GEMMs become one over the concatenated
// weights and the attention reads the packed [B, S, 3·H·D] result (qkv_packed = 1).
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool same_dim(const ir::Dim& a, const ir::Dim& b) {
  return a.known() ? (b.known() && a.value == b.value) : (!b.known() && !a.symbol.empty() && a.symbol == b.symbol);
}

const std::vector<ir::Dim>* dims_of(const ir::Value* v) { return v && v->type().shape ? &*v->type().shape : nullptr; }

// `t` = Transpose(Reshape(x3, [B, S, H, D]), perm) with every intermediate used once: x3, H, D.
struct HeadSplit {
  ir::Value* x = nullptr;
  int64_t heads = 0, dim = 0;
  std::vector<ir::Node*> nodes;
};

bool split_heads(ir::Value* t, const std::vector<int64_t>& perm, HeadSplit& hs) {
  ir::Node* tr = single_use_producer(t, "Transpose");
  if (!tr || tr->attr_ints("perm") != perm) return false;
  ir::Node* rs = single_use_producer(tr->input(0), "Reshape");
  if (!rs) return false;
  const auto* in = dims_of(rs->input(0));
  const auto* out = dims_of(rs->output(0));
  if (!in || !out || in->size() != 3 || out->size() != 4 || !same_dim((*in)[0], (*out)[0]) || !same_dim((*in)[1], (*out)[1]) ||
      !(*out)[2].known() || !(*out)[3].known() || !(*in)[2].known() || (*out)[2].value * (*out)[3].value != (*in)[2].value ||
      rs->input(0)->type().dtype != DataType::kFloat32) {
    return false;
  }
  hs = HeadSplit{rs->input(0), (*out)[2].value, (*out)[3].value, {rs, tr}};
  return true;
}

struct Match {
  std::vector<ir::Node*> nodes;
  HeadSplit q, k, v;
  ir::Value* mask = nullptr;
  float scale = 1.0f;
  ir::Value* out = nullptr;
};

bool match(ir::Node* softmax, Match& m) {
  if (!is_op(*softmax, "Softmax")) return false;
  const auto* sd = dims_of(softmax->input(0));
  const int64_t axis = softmax->attr_int("axis", -1);
  if (!sd || sd->size() != 4 || !softmax->has_attr("axis") || (axis != -1 && axis != 3)) return false;
  m = Match{};
  ir::Value* cur = softmax->input(0);
  std::vector<ir::Node*> front;
  if (ir::Node* add = single_use_producer(cur, "Add")) {
    // The operand produced by the score chain is the one from Div/Mul/MatMul; the other is the mask.
    auto chain = [](ir::Value* x) {
      ir::Node* p = x->producer();
      return p && (is_op(*p, "Div") || is_op(*p, "Mul") || is_op(*p, "MatMul"));
    };
    const int side = chain(add->input(0)) ? 0 : chain(add->input(1)) ? 1 : -1;
    if (side < 0) return false;
    m.mask = add->input(1 - side);
    const auto* md = dims_of(m.mask);
    const auto* ad = dims_of(add->output(0));
    const auto* cd = dims_of(add->input(side));
    if (!md || md->size() > 4 || m.mask->type().dtype != DataType::kFloat32 || !ad || !cd || ad->size() != 4 || cd->size() != 4) return false;
    for (size_t i = 0; i < 4; ++i) {
      if (!same_dim((*ad)[i], (*cd)[i])) return false;  // the mask must not widen the scores
    }
    front.push_back(add);
    cur = add->input(side);
  }
  if (ir::Node* d = single_use_producer(cur, "Div"); d && constant_value(d->input(1))) {
    const Tensor* c = constant_value(d->input(1));
    if (c->numel() != 1 || c->dtype() != DataType::kFloat32 || !(c->data<float>()[0] > 0)) return false;
    m.scale = 1.0f / c->data<float>()[0];
    front.push_back(d);
    cur = d->input(0);
  } else if (ir::Node* mu = single_use_producer(cur, "Mul")) {
    const Tensor* c = constant_value(mu->input(1));
    ir::Value* other = mu->input(0);
    if (!c) {
      c = constant_value(mu->input(0));
      other = mu->input(1);
    }
    if (!c || c->numel() != 1 || c->dtype() != DataType::kFloat32 || !(c->data<float>()[0] > 0)) return false;
    m.scale = c->data<float>()[0];
    front.push_back(mu);
    cur = other;
  }
  ir::Node* qk = single_use_producer(cur, "MatMul");
  if (!qk || !split_heads(qk->input(0), {0, 2, 1, 3}, m.q) || !split_heads(qk->input(1), {0, 2, 3, 1}, m.k)) return false;
  ir::Node* pv = sole_consumer(softmax->output(0));
  if (!pv || !is_op(*pv, "MatMul") || pv->input(0) != softmax->output(0) || !split_heads(pv->input(1), {0, 2, 1, 3}, m.v)) return false;
  ir::Node* tr = sole_consumer(pv->output(0));
  if (!tr || !is_op(*tr, "Transpose") || tr->attr_ints("perm") != std::vector<int64_t>{0, 2, 1, 3}) return false;
  ir::Node* rs = sole_consumer(tr->output(0));
  const auto* od = rs ? dims_of(rs->output(0)) : nullptr;
  const auto* qd = dims_of(m.q.x);
  if (!rs || !is_op(*rs, "Reshape") || rs->input(0) != tr->output(0) || !od || od->size() != 3 || !same_dim((*od)[0], (*qd)[0]) ||
      !same_dim((*od)[1], (*qd)[1]) || !(*od)[2].known() || (*od)[2].value != m.v.heads * m.v.dim) {
    return false;
  }
  if (m.q.heads != m.k.heads || m.q.heads != m.v.heads || m.q.dim != m.k.dim) return false;
  m.nodes = {qk, softmax, pv, tr, rs};
  m.nodes.insert(m.nodes.end(), front.begin(), front.end());
  for (const HeadSplit* h : {&m.q, &m.k, &m.v}) m.nodes.insert(m.nodes.end(), h->nodes.begin(), h->nodes.end());
  m.out = rs->output(0);
  return true;
}

// The FusedMatMul producing x when it can join a packed QKV GEMM: constant [K, N] weights, no
// activation, x used by `user` alone.
ir::Node* packable_projection(ir::Value* x, const ir::Node* user) {
  ir::Node* p = x->producer();
  if (!p || p->op_type() != "FusedMatMul" || p->domain() != "com.pare" || !p->attr_string("activation", "").empty() ||
      x->uses().size() != 1 || x->uses()[0].node != user || is_graph_output(x)) {
    return nullptr;
  }
  const Tensor* w = constant_value(p->input(1));
  return w && w->rank() == 2 && w->dtype() == DataType::kFloat32 ? p : nullptr;
}

// q, k, v from three projections of one input: one GEMM over [Wq | Wk | Wv] instead.
Status pack_qkv(ir::Graph& g, ir::Node* att) {
  ir::Node* p[3];
  for (int i = 0; i < 3; ++i) {
    p[i] = packable_projection(att->input(i), att);
    if (!p[i]) return ok_status();
  }
  const Tensor* w[3];
  for (int i = 0; i < 3; ++i) w[i] = constant_value(p[i]->input(1));
  const bool bias = p[0]->input(2) != nullptr;
  for (int i = 1; i < 3; ++i) {
    if (p[i] == p[0] || p[i]->input(0) != p[0]->input(0) || w[i]->shape() != w[0]->shape() || (p[i]->input(2) != nullptr) != bias) {
      return ok_status();
    }
  }
  const int64_t k = w[0]->dim(0), n = w[0]->dim(1);
  std::vector<const Tensor*> b(3, nullptr);
  for (int i = 0; i < 3 && bias; ++i) {
    b[i] = constant_value(p[i]->input(2));
    if (!b[i] || b[i]->numel() != n || b[i]->dtype() != DataType::kFloat32) return ok_status();
  }
  PARE_ASSIGN_OR_RETURN(Tensor wqkv, Tensor::create(DataType::kFloat32, {k, 3 * n}));
  for (int64_t r = 0; r < k; ++r) {
    for (int i = 0; i < 3; ++i) std::copy_n(w[i]->data<float>() + r * n, n, wqkv.data<float>() + r * 3 * n + i * n);
  }
  std::vector<ir::Value*> ins{p[0]->input(0), g.add_initializer(g.unique_name(att->name() + "/qkv_weight"), std::move(wqkv))};
  if (bias) {
    PARE_ASSIGN_OR_RETURN(Tensor bqkv, Tensor::create(DataType::kFloat32, {3 * n}));
    for (int i = 0; i < 3; ++i) std::copy_n(b[i]->data<float>(), n, bqkv.data<float>() + i * n);
    ins.push_back(g.add_initializer(g.unique_name(att->name() + "/qkv_bias"), std::move(bqkv)));
  }
  ir::Value* qkv = g.add_value(g.unique_name(att->name() + "/qkv"));
  if (const auto* d = dims_of(att->input(0))) {
    auto dims = *d;
    dims.back() = ir::Dim::of(3 * n);
    qkv->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
  }
  g.add_node("FusedMatMul", ins, {qkv}, "com.pare", att->name() + "/qkv_matmul");
  att->set_input(0, qkv);
  att->set_input(1, nullptr);
  att->set_input(2, nullptr);
  for (ir::Node* n : p) PARE_RETURN_IF_ERROR(g.erase_node(n));
  g.remove_dead_values();  // the separate weights now: peak memory holds one copy, not two
  if (att->inputs().size() == 3) att->remove_trailing_inputs(1);  // no mask
  att->attributes()["qkv_packed"] = ir::Attribute::of(int64_t{1});
  return ok_status();
}

}  // namespace

Result<bool> fuse_attention(ir::Model& model) {
  return rewrite_to_fixpoint(model, [](ir::Graph& g, ir::Node* n) -> Result<bool> {
    Match m;
    if (!match(n, m)) return false;
    std::vector<ir::Value*> ins{m.q.x, m.k.x, m.v.x};
    if (m.mask) ins.push_back(m.mask);
    const int64_t heads = m.q.heads;
    const float scale = m.scale;
    PARE_ASSIGN_OR_RETURN(ir::Node * att, replace_pattern(g, m.nodes, m.out, "Attention", "com.pare", ins, m.out->name() + "/attention"));
    att->attributes()["num_heads"] = ir::Attribute::of(heads);
    att->attributes()["scale"] = ir::Attribute::of(scale);
    PARE_RETURN_IF_ERROR(pack_qkv(g, att));
    return true;
  });
}

}  // namespace pare::passes
