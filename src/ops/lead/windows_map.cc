// Window functions (17): N = size if periodic (default) else size − 1, n ∈ [0, size):
//   HannWindow     w = 0.5 − 0.5·cos(2πn/N)
//   HammingWindow  w = 25/46 − 21/46·cos(2πn/N)
//   BlackmanWindow w = 0.42 − 0.5·cos(2πn/N) + 0.08·cos(4πn/N)
// output_datatype (default float). SequenceMap (17): runs `body` once per element of the
// input sequence(s); tensor inputs are passed whole to every call; each body output is
// collected into an output sequence.
#include <cmath>
#include <numbers>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

enum class Window { kHann, kHamming, kBlackman };

template <Window kW>
Status run_window(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(0));
  const int64_t size = s->int_at(0);
  if (size < 0 || size > (int64_t{1} << 28)) return ctx.error("size {} out of range", size);
  const bool periodic = ctx.node().attr_int("periodic", 1) != 0;
  const int64_t dt = ctx.node().attr_int("output_datatype", 1);
  if (!dtype_is_valid(static_cast<int32_t>(dt))) return ctx.error("output_datatype {} invalid", dt);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, static_cast<DataType>(dt), {size}));
  const double n_div = periodic ? static_cast<double>(size) : static_cast<double>(size - 1);
  bool ok = dispatch_numeric(y->dtype(), [&]<typename T>() {
    for (int64_t n = 0; n < size; ++n) {
      const double a = n_div > 0 ? 2 * std::numbers::pi * n / n_div : 0.0;
      double w = 0;
      if constexpr (kW == Window::kHann) w = 0.5 - 0.5 * std::cos(a);
      else if constexpr (kW == Window::kHamming) w = 25.0 / 46.0 - 21.0 / 46.0 * std::cos(a);
      else w = 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a);
      y->data<T>()[n] = static_cast<T>(static_cast<compute_t<T>>(w));
    }
  });
  if (!ok) return ctx.error("unsupported output type");
  return ok_status();
}

Status run_sequence_map(KernelContext& ctx) {
  const ir::Attribute* body = ctx.node().attr("body");
  if (!body || !body->g) return ctx.error("missing body");
  const RunValue& first = ctx.input_value(0);
  if (!first.is_sequence()) return ctx.error("input 0 must be a sequence");
  const size_t n = first.sequence.size();
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const RunValue& v = ctx.input_value(i);
    if (v.is_sequence() && v.sequence.size() != n) return ctx.error("sequence inputs differ in length");
  }
  std::vector<std::vector<Tensor>> outs(ctx.num_outputs());
  for (size_t k = 0; k < n; ++k) {
    std::vector<RunValue> ins;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const RunValue& v = ctx.input_value(i);
      ins.push_back(v.is_sequence() ? RunValue(v.sequence[k]) : v);
    }
    PARE_ASSIGN_OR_RETURN(auto r, ctx.run_subgraph(*body->g, std::move(ins)));
    if (r.size() != outs.size()) return ctx.error("body returned {} values for {} outputs", r.size(), outs.size());
    for (size_t j = 0; j < r.size(); ++j) {
      if (!r[j].is_tensor()) return ctx.error("body output {} is not a tensor", j);
      outs[j].push_back(r[j].tensor);
    }
  }
  for (size_t j = 0; j < outs.size(); ++j) {
    DataType dt = outs[j].empty() ? DataType::kFloat32 : outs[j][0].dtype();
    ctx.set_output(j, RunValue::make_sequence(std::move(outs[j]), dt));
  }
  return ok_status();
}

}  // namespace

void register_HannWindow(KernelRegistry& r) { add_fn<run_window<Window::kHann>>(r, "HannWindow", 17); }
void register_HammingWindow(KernelRegistry& r) { add_fn<run_window<Window::kHamming>>(r, "HammingWindow", 17); }
void register_BlackmanWindow(KernelRegistry& r) { add_fn<run_window<Window::kBlackman>>(r, "BlackmanWindow", 17); }
void register_SequenceMap(KernelRegistry& r) { add_fn<run_sequence_map>(r, "SequenceMap", 17); }

}  // namespace pare::ops
