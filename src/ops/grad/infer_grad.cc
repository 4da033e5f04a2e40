// Static type rules of pare's training ops (com.pare), so that kernels after them still see
// float inputs of known rank (fast-kernel conditions, gradient ranks).
#include "ops/grad/gradient.h"
#include "ops/infer/infer.h"

namespace pare::ops {
namespace {

void copy_type(InferContext& c, size_t out, size_t in) { c.set(out, c.type(in)); }

void channels_out(InferContext& c, size_t out) {
  if (const auto* d = c.dims(0); d && d->size() >= 2) {
    c.set_tensor(out, c.dtype(0), std::vector<ir::Dim>{(*d)[1]});
  } else {
    c.set_tensor(out, c.dtype(0), std::nullopt);
  }
}

void batch_norm_train(InferContext& c) {
  copy_type(c, 0, 0);
  channels_out(c, 1);
  channels_out(c, 2);
}
void dropout_train(InferContext& c) {
  copy_type(c, 0, 0);
  copy_type(c, 1, 0);
}
void conv_grad(InferContext& c) {
  copy_type(c, 0, 0);
  copy_type(c, 1, 1);
  if (const auto* w = c.dims(1); w && !w->empty()) {
    c.set_tensor(2, c.dtype(1), std::vector<ir::Dim>{(*w)[0]});
  } else {
    c.set_tensor(2, c.dtype(1), std::nullopt);
  }
}
void max_pool_train(InferContext& c) {
  // Spatial extents are resolved at run time; rank and type are what later kernels need.
  std::optional<std::vector<ir::Dim>> d;
  if (const auto* x = c.dims(0)) d = std::vector<ir::Dim>(x->size());
  if (d && d->size() >= 2) (*d)[0] = (*c.dims(0))[0], (*d)[1] = (*c.dims(0))[1];
  c.set_tensor(0, c.dtype(0), d);
  c.set_tensor(1, DataType::kInt64, d);
}
void like_input0(InferContext& c) { copy_type(c, 0, 0); }
void like_input1(InferContext& c) { copy_type(c, 0, 1); }
void like_input2(InferContext& c) { copy_type(c, 0, 2); }
void norm_grad(InferContext& c) {
  copy_type(c, 0, 0);
  copy_type(c, 1, 1);
  copy_type(c, 2, 1);
}
void concat_grad(InferContext& c) {
  for (size_t i = 0; i + 1 < c.num_inputs(); ++i) copy_type(c, i, i + 1);
}
void sum_to_shape(InferContext& c) {
  if (auto s = c.constant_ints(1)) {
    std::vector<ir::Dim> d;
    for (int64_t v : *s) d.push_back(ir::Dim::of(v));
    c.set_tensor(0, c.dtype(0), d);
    return;
  }
  // The target is the shape of some value of the same type; its rank is unknown here.
  c.set_tensor(0, c.dtype(0), std::nullopt);
}

}  // namespace

InferFn find_pare_infer_rule(const std::string& op) {
  static const std::map<std::string, InferFn> kRules = {
      {"BatchNormTrain", batch_norm_train}, {"DropoutTrain", dropout_train}, {"ConvGrad", conv_grad},
      {"PoolGrad", like_input0}, {"ReduceGrad", like_input1}, {"SoftmaxGrad", like_input0},
      {"ActivationGrad", like_input2}, {"GatherGrad", like_input1}, {"ConcatGrad", concat_grad},
      {"SliceGrad", like_input1}, {"BatchNormGrad", norm_grad}, {"LayerNormGrad", norm_grad},
      {"SumToShape", sum_to_shape}, {"MaxPoolTrain", max_pool_train}, {"MaxPoolScatter", like_input0},
  };
  auto it = kRules.find(op);
  return it == kRules.end() ? nullptr : it->second;
}

}  // namespace pare::ops
