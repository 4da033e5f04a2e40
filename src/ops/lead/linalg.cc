// MatMul (opset 1, 9, 13): numpy matmul — 1-D operands promoted and the added dim removed,
// batch dims broadcast. Gemm (1, 6, 7, 9, 11, 13): Y = alpha·op(A)·op(B) + beta·C.
// Accumulation in double for float32 so the reference stays a reliable oracle.
#include "core/dispatch.h"
#include "ops/common/broadcast.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, compute_t<T>>;

Status run_matmul(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
  if (a->dtype() != b->dtype()) return ctx.error("input types differ: {} and {}", a->type_string(), b->type_string());
  if (a->rank() == 0 || b->rank() == 0) return ctx.error("operands must have rank ≥ 1");
  Shape as = a->shape(), bs = b->shape();
  const bool a1 = as.size() == 1, b1 = bs.size() == 1;
  if (a1) as.insert(as.begin(), 1);
  if (b1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) return ctx.error("inner dimensions differ: {} and {}", a->type_string(), b->type_string());
  Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  auto batch = broadcast_shapes(ab, bb);
  if (!batch.ok()) return ctx.error("batch dims of {} and {} do not broadcast", a->type_string(), b->type_string());
  Shape ys = *batch;
  if (!a1) ys.push_back(m);
  if (!b1) ys.push_back(n);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), ys));
  BroadcastIterator it(*batch, {ab, bb});
  bool ok = dispatch_numeric(a->dtype(), [&]<typename T>() {
    const T* pa = a->data<T>();
    const T* pb = b->data<T>();
    T* py = y->data<T>();
    it.run([&](int64_t bi, const int64_t* off) {
      const T* ma = pa + off[0] * m * k;
      const T* mb = pb + off[1] * k * n;
      T* my = py + bi * m * n;
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          Acc<T> s = 0;
          for (int64_t q = 0; q < k; ++q) s += Acc<T>(compute_t<T>(ma[i * k + q])) * Acc<T>(compute_t<T>(mb[q * n + j]));
          my[i * n + j] = static_cast<T>(static_cast<compute_t<T>>(s));
        }
      }
    });
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(a->dtype()));
  return ok_status();
}

class Gemm final : public Kernel {
 public:
  explicit Gemm(const KernelInit& init)
      : ta_(init.node.attr_int("transA", 0) != 0), tb_(init.node.attr_int("transB", 0) != 0),
        alpha_(init.node.attr_float("alpha", 1.0f)), beta_(init.node.attr_float("beta", 1.0f)) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
    const Tensor* c = ctx.input(2);
    if (a->rank() != 2 || b->rank() != 2) return ctx.error("A and B must be 2-D, got {} and {}", a->type_string(), b->type_string());
    if (a->dtype() != b->dtype() || (c && c->dtype() != a->dtype())) return ctx.error("input types differ");
    const int64_t m = ta_ ? a->dim(1) : a->dim(0), k = ta_ ? a->dim(0) : a->dim(1);
    const int64_t kb = tb_ ? b->dim(1) : b->dim(0), n = tb_ ? b->dim(0) : b->dim(1);
    if (k != kb) return ctx.error("inner dimensions differ: {} and {}", a->type_string(), b->type_string());
    if (c) {
      auto bc = broadcast_shapes(c->shape(), {m, n});
      if (!bc.ok() || *bc != Shape{m, n}) return ctx.error("C {} does not broadcast to [{}, {}]", c->type_string(), m, n);
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), {m, n}));
    bool ok = dispatch_numeric(a->dtype(), [&]<typename T>() {
      const T* pa = a->data<T>();
      const T* pb = b->data<T>();
      T* py = y->data<T>();
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          Acc<T> s = 0;
          for (int64_t q = 0; q < k; ++q) {
            const T av = ta_ ? pa[q * m + i] : pa[i * k + q];
            const T bv = tb_ ? pb[j * k + q] : pb[q * n + j];
            s += Acc<T>(compute_t<T>(av)) * Acc<T>(compute_t<T>(bv));
          }
          py[i * n + j] = static_cast<T>(static_cast<compute_t<T>>(s * Acc<T>(alpha_)));
        }
      }
      if (c && beta_ != 0.0f) {
        BroadcastIterator it({m, n}, {c->shape()});
        const T* pc = c->data<T>();
        it.run([&](int64_t i, const int64_t* off) {
          py[i] = static_cast<T>(compute_t<T>(py[i]) + static_cast<compute_t<T>>(beta_ * compute_t<T>(pc[off[0]])));
        });
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(a->dtype()));
    return ok_status();
  }

 private:
  bool ta_, tb_;
  float alpha_, beta_;
};

}  // namespace

void register_MatMul(KernelRegistry& r) { add_fn<run_matmul>(r, "MatMul"); }
void register_Gemm(KernelRegistry& r) { r.add({"Gemm", "", 1, kMaxOpset, &make_kernel<Gemm>}); }

}  // namespace pare::ops
