// MatMulInteger (10): Y = (A − a_zero_point) · (B − b_zero_point) in int32, numpy batching;
// zero points per tensor (scalar) or per row of A / per column of B (1-D).
#include "ops/common/broadcast.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status run_matmul_integer(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
  const Tensor* az = ctx.input(2);
  const Tensor* bz = ctx.input(3);
  auto is8 = [](const Tensor* t) { return t->dtype() == DataType::kUInt8 || t->dtype() == DataType::kInt8; };
  if (!is8(a) || !is8(b)) return ctx.error("A and B must be 8-bit integers");
  if (a->rank() < 2 || b->rank() < 2) return ctx.error("A and B must have rank ≥ 2");
  const int64_t m = a->dim(-2), k = a->dim(-1), n = b->dim(-1);
  if (b->dim(-2) != k) return ctx.error("inner dimensions differ: {} and {}", a->type_string(), b->type_string());
  if (az && az->numel() != 1 && az->numel() != m) return ctx.error("a_zero_point must be a scalar or have {} values", m);
  if (bz && bz->numel() != 1 && bz->numel() != n) return ctx.error("b_zero_point must be a scalar or have {} values", n);
  Shape ab(a->shape().begin(), a->shape().end() - 2), bb(b->shape().begin(), b->shape().end() - 2);
  auto batch = broadcast_shapes(ab, bb);
  if (!batch.ok()) return ctx.error("batch dims do not broadcast");
  Shape ys = *batch;
  ys.push_back(m);
  ys.push_back(n);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt32, ys));
  BroadcastIterator it(*batch, {ab, bb});
  it.run([&](int64_t bi, const int64_t* off) {
    for (int64_t i = 0; i < m; ++i) {
      const int64_t za = az ? az->int_at(az->numel() == 1 ? 0 : i) : 0;
      for (int64_t j = 0; j < n; ++j) {
        const int64_t zb = bz ? bz->int_at(bz->numel() == 1 ? 0 : j) : 0;
        int64_t s = 0;
        for (int64_t q = 0; q < k; ++q) s += (a->int_at((off[0] * m + i) * k + q) - za) * (b->int_at((off[1] * k + q) * n + j) - zb);
        y->data<int32_t>()[(bi * m + i) * n + j] = static_cast<int32_t>(s);
      }
    }
  });
  return ok_status();
}

}  // namespace

void register_MatMulInteger(KernelRegistry& r) { add_fn<run_matmul_integer>(r, "MatMulInteger", 10); }

}  // namespace pare::ops
