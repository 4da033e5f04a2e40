// Opsets 1–6 of the binary arithmetic ops broadcast only when `broadcast` = 1, aligning B's
// dims with A's starting at `axis` (default: trailing). LegacyBroadcast<Fn> reshapes B to the
// equivalent numpy shape (B's dims, then 1s) and runs the numpy-broadcasting kernel Fn.
#pragma once

#include "ops/kernel.h"

namespace pare::ops {

template <Status (*Fn)(KernelContext&)>
Status run_legacy_broadcast(KernelContext& ctx) {
  const ir::Node& n = ctx.node();
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  if (!a || !b || n.attr_int("broadcast", 0) == 0 || !n.has_attr("axis")) return Fn(ctx);
  int64_t axis = n.attr_int("axis", 0);
  if (axis < 0) axis += a->rank();
  if (axis < 0 || axis + b->rank() > a->rank()) return ctx.error("axis {} does not fit B {} into A {}", axis, b->type_string(), a->type_string());
  Shape s = b->shape();
  s.resize(static_cast<size_t>(a->rank() - axis), 1);
  PARE_ASSIGN_OR_RETURN(Tensor view, b->reshaped(s));
  RunValue bv(view);
  std::vector<const RunValue*> ins{&ctx.input_value(0), &bv};
  for (size_t i = 2; i < ctx.num_inputs(); ++i) ins.push_back(&ctx.input_value(i));
  KernelContext adapted = ctx.with_inputs(std::move(ins));
  return Fn(adapted);
}

}  // namespace pare::ops
