// com.pare.Attention (ops/fused/attention.h): operand validation shared with the fast kernel,
// and the reference kernel, which computes the definition directly in double: scores, a
// max-subtracted softmax, and the weighted sum of V, one (batch, head, row) at a time.
#include "ops/fused/attention.h"

#include <cmath>
#include <vector>

namespace pare::ops {

Result<AttentionAttrs> AttentionAttrs::parse(const ir::Node& n) {
  AttentionAttrs a;
  a.num_heads = n.attr_int("num_heads", 0);
  a.scale = n.attr_float("scale", 0.0f);
  a.packed = n.attr_int("qkv_packed", 0) != 0;
  if (a.num_heads <= 0) return invalid_input("{}: num_heads must be positive, got {}", n.describe(), a.num_heads);
  if (!(a.scale >= 0) || !std::isfinite(a.scale)) return invalid_input("{}: scale must be finite and ≥ 0, got {}", n.describe(), a.scale);
  return a;
}

Result<AttentionView> attention_view(KernelContext& ctx, const AttentionAttrs& a, Tensor** out) {
  AttentionView w;
  w.heads = a.num_heads;
  auto float3 = [&](size_t i, const char* what) -> Result<const Tensor*> {
    PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(i));
    if (t->dtype() != DataType::kFloat32 || t->rank() != 3) return ctx.error("{} must be float [batch, seq, hidden], got {}", what, t->type_string());
    return t;
  };
  const Tensor *q = nullptr, *k = nullptr, *v = nullptr;
  if (a.packed) {
    PARE_ASSIGN_OR_RETURN(q, float3(0, "packed QKV"));
    if (q->dim(2) % (3 * w.heads) != 0) return ctx.error("packed QKV {} is not 3 × {} heads wide", q->type_string(), w.heads);
    w.dk = w.dv = q->dim(2) / (3 * w.heads);
    k = v = q;
    w.q = q->data<float>();
    w.k = w.q + w.heads * w.dk;
    w.v = w.k + w.heads * w.dk;
  } else {
    PARE_ASSIGN_OR_RETURN(q, float3(0, "Q"));
    PARE_ASSIGN_OR_RETURN(k, float3(1, "K"));
    PARE_ASSIGN_OR_RETURN(v, float3(2, "V"));
    if (q->dim(2) % w.heads != 0 || v->dim(2) % w.heads != 0 || k->dim(2) != q->dim(2) || k->dim(0) != q->dim(0) ||
        v->dim(0) != q->dim(0) || v->dim(1) != k->dim(1)) {
      return ctx.error("Q {}, K {}, V {} do not form {}-head attention", q->type_string(), k->type_string(), v->type_string(), w.heads);
    }
    w.dk = q->dim(2) / w.heads;
    w.dv = v->dim(2) / w.heads;
    w.q = q->data<float>();
    w.k = k->data<float>();
    w.v = v->data<float>();
  }
  w.batch = q->dim(0);
  w.sq = q->dim(1);
  w.skv = k->dim(1);
  w.q_row = q->dim(2);
  w.k_row = k->dim(2);
  w.v_row = v->dim(2);
  w.q_batch = w.sq * w.q_row;
  w.k_batch = w.skv * w.k_row;
  w.v_batch = w.skv * w.v_row;
  if (const Tensor* m = ctx.input(3)) {
    const Shape full{w.batch, w.heads, w.sq, w.skv};
    if (m->dtype() != DataType::kFloat32 || m->rank() > 4) return ctx.error("mask must be float of rank ≤ 4, got {}", m->type_string());
    int64_t strides[4] = {0, 0, 0, 0}, stride = 1;
    for (int64_t d = m->rank() - 1, f = 3; d >= 0; --d, --f) {
      if (m->dim(d) != 1 && m->dim(d) != full[f]) return ctx.error("mask {} does not broadcast to {}", m->type_string(), shape_to_string(full));
      strides[f] = m->dim(d) == 1 ? 0 : stride;
      stride *= m->dim(d);
    }
    w.mask = m->data<float>();
    w.m_b = strides[0], w.m_h = strides[1], w.m_i = strides[2], w.m_j = strides[3];
  }
  w.scale = a.scale > 0 ? a.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(w.dk, 1))));
  PARE_ASSIGN_OR_RETURN(*out, ctx.allocate_output(0, DataType::kFloat32, {w.batch, w.sq, w.heads * w.dv}));
  return w;
}

namespace {

class Attention final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<Attention>();
    PARE_ASSIGN_OR_RETURN(k->attrs_, AttentionAttrs::parse(init.node));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    Tensor* y = nullptr;
    PARE_ASSIGN_OR_RETURN(const AttentionView w, attention_view(ctx, attrs_, &y));
    std::vector<double> p(static_cast<size_t>(w.skv)), acc(static_cast<size_t>(w.dv));
    float* out = y->data<float>();
    for (int64_t b = 0; b < w.batch; ++b) {
      for (int64_t h = 0; h < w.heads; ++h) {
        for (int64_t i = 0; i < w.sq; ++i) {
          const float* qi = w.q_at(b, h, i);
          const float* mrow = w.mask_row(b, h, i);
          double mx = -INFINITY;
          for (int64_t j = 0; j < w.skv; ++j) {
            const float* kj = w.k_at(b, h, j);
            double s = 0;
            for (int64_t d = 0; d < w.dk; ++d) s += double(qi[d]) * kj[d];
            p[j] = s * w.scale + (mrow ? mrow[j * w.m_j] : 0.0);
            mx = std::max(mx, p[j]);
          }
          double sum = 0;
          for (int64_t j = 0; j < w.skv; ++j) sum += (p[j] = std::exp(p[j] - mx));
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int64_t j = 0; j < w.skv; ++j) {
            const float* vj = w.v_at(b, h, j);
            for (int64_t d = 0; d < w.dv; ++d) acc[d] += p[j] * vj[d];
          }
          float* yi = out + (b * w.sq + i) * w.heads * w.dv + h * w.dv;
          for (int64_t d = 0; d < w.dv; ++d) yi[d] = static_cast<float>(acc[d] / sum);
        }
      }
    }
    return ok_status();
  }

 private:
  AttentionAttrs attrs_;
};

}  // namespace

void register_Attention(KernelRegistry& r) { r.add({"Attention", "com.pare", 1, kMaxOpset, &make_kernel<Attention>}); }

}  // namespace pare::ops
