// Scan, opset 8 (the batched form; opsets 9+ are registered by ops/lead/control.cc).
// Inputs: sequence_lens (optional, int64 [B]), N initial states s_i [B, ...], M scan inputs
// x_j [B, T, ...]. For each batch entry b with length L_b = sequence_lens[b] (default T):
//   state ← s[b];  for t in 0 .. L_b-1:
//     (state, y_1..y_K) ← body(state, x_1[b, t_1], ..., x_M[b, t_M])
//     with t_j = t for a forward input (directions[j] = 0) and L_b-1-t for a reverse one;
//     scan output k gets Y_k[b, t] = y_k.
// Outputs: the N final states [B, ...] and the K scan outputs [B, T, ...]; entries past a
// batch entry's length are zero (empty strings), as in ONNX Runtime.
#include "ops/control/control_util.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class Scan8Kernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(const ir::Graph* body, control_graph_attr(n, "body"));
    auto k = std::unique_ptr<Scan8Kernel>(new Scan8Kernel(body));
    k->num_scan_inputs_ = n.attr_int("num_scan_inputs", -1);
    const int64_t num_inputs = static_cast<int64_t>(init.num_inputs());
    if (k->num_scan_inputs_ < 1 || k->num_scan_inputs_ > num_inputs - 1) {
      return invalid_model("{}: num_scan_inputs {} does not fit {} inputs (sequence_lens first)",
                           n.describe(), k->num_scan_inputs_, num_inputs);
    }
    k->num_states_ = num_inputs - 1 - k->num_scan_inputs_;
    k->num_scan_outputs_ = static_cast<int64_t>(init.num_outputs()) - k->num_states_;
    if (k->num_scan_outputs_ < 0) {
      return invalid_model("{}: {} outputs for {} state variables", n.describe(), init.num_outputs(),
                           k->num_states_);
    }
    k->directions_ = n.attr_ints("directions", std::vector<int64_t>(k->num_scan_inputs_, 0));
    if (static_cast<int64_t>(k->directions_.size()) != k->num_scan_inputs_) {
      return invalid_model("{}: {} directions for {} scan inputs", n.describe(),
                           k->directions_.size(), k->num_scan_inputs_);
    }
    for (int64_t d : k->directions_) {
      if (d != 0 && d != 1) return invalid_model("{}: direction {} must be 0 or 1", n.describe(), d);
    }
    if (static_cast<int64_t>(body->inputs().size()) != k->num_states_ + k->num_scan_inputs_ ||
        static_cast<int64_t>(body->outputs().size()) != k->num_states_ + k->num_scan_outputs_) {
      return invalid_model("{}: body has {} inputs and {} outputs, expected {} and {}", n.describe(),
                           body->inputs().size(), body->outputs().size(),
                           k->num_states_ + k->num_scan_inputs_, k->num_states_ + k->num_scan_outputs_);
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    // Shapes: every state and scan input shares the batch extent B; scan inputs share T.
    std::vector<const Tensor*> states, xs;
    for (int64_t i = 0; i < num_states_; ++i) {
      PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(static_cast<size_t>(1 + i)));
      if (s->rank() < 1) return ctx.error("state input {} must have a batch axis", i);
      states.push_back(s);
    }
    for (int64_t j = 0; j < num_scan_inputs_; ++j) {
      PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(static_cast<size_t>(1 + num_states_ + j)));
      if (x->rank() < 2) return ctx.error("scan input {} must be at least [batch, sequence], got {}", j, x->type_string());
      xs.push_back(x);
    }
    const int64_t batch = xs[0]->dim(0), max_len = xs[0]->dim(1);
    for (const Tensor* x : xs) {
      if (x->dim(0) != batch || x->dim(1) != max_len) {
        return ctx.error("scan inputs disagree on [batch, sequence]: {} vs {}", xs[0]->type_string(), x->type_string());
      }
    }
    for (const Tensor* s : states) {
      if (s->dim(0) != batch) return ctx.error("state {} has batch {}, scan inputs have {}", s->type_string(), s->dim(0), batch);
    }
    std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
    if (const Tensor* sl = ctx.input(0)) {
      if (sl->dtype() != DataType::kInt64 || sl->rank() != 1 || sl->dim(0) != batch) {
        return ctx.error("sequence_lens must be int64[{}], got {}", batch, sl->type_string());
      }
      for (int64_t b = 0; b < batch; ++b) {
        lens[b] = sl->data<int64_t>()[b];
        if (lens[b] < 0 || lens[b] > max_len) return ctx.error("sequence_lens[{}] = {} outside [0, {}]", b, lens[b], max_len);
      }
    }

    // final_states[i][b], scan_items[k][b * max_len + t] (undefined past the length).
    std::vector<std::vector<Tensor>> final_states(states.size()), scan_items(static_cast<size_t>(num_scan_outputs_));
    for (auto& v : scan_items) v.resize(static_cast<size_t>(batch * max_len));
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<RunValue> state;
      for (const Tensor* s : states) {
        PARE_ASSIGN_OR_RETURN(Tensor sb, control_slice_axis0(*s, b));
        state.emplace_back(std::move(sb));
      }
      for (int64_t t = 0; t < lens[b]; ++t) {
        std::vector<RunValue> ins = state;
        for (int64_t j = 0; j < num_scan_inputs_; ++j) {
          const int64_t tj = directions_[j] ? lens[b] - 1 - t : t;
          PARE_ASSIGN_OR_RETURN(Tensor xb, control_slice_axis0(*xs[j], b));
          PARE_ASSIGN_OR_RETURN(Tensor xbt, control_slice_axis0(xb, tj));
          ins.emplace_back(std::move(xbt));
        }
        PARE_ASSIGN_OR_RETURN(auto outs, ctx.run_subgraph(*body_, std::move(ins)));
        if (static_cast<int64_t>(outs.size()) != num_states_ + num_scan_outputs_) {
          return ctx.error("body returned {} values", outs.size());
        }
        for (size_t i = 0; i < outs.size(); ++i) {
          if (!outs[i].is_tensor()) return ctx.error("body output {} is not a tensor", i);
        }
        for (int64_t i = 0; i < num_states_; ++i) state[i] = std::move(outs[i]);
        for (int64_t k = 0; k < num_scan_outputs_; ++k) {
          scan_items[k][b * max_len + t] = std::move(outs[num_states_ + k].tensor);
        }
      }
      for (int64_t i = 0; i < num_states_; ++i) final_states[i].push_back(std::move(state[i].tensor));
    }

    for (int64_t i = 0; i < num_states_; ++i) {
      PARE_RETURN_IF_ERROR(stack_output(ctx, static_cast<size_t>(i), final_states[i], {batch},
                                        *body_->outputs()[i]));
    }
    for (int64_t k = 0; k < num_scan_outputs_; ++k) {
      PARE_RETURN_IF_ERROR(stack_output(ctx, static_cast<size_t>(num_states_ + k), scan_items[k],
                                        {batch, max_len}, *body_->outputs()[num_states_ + k]));
    }
    return ok_status();
  }

 private:
  explicit Scan8Kernel(const ir::Graph* body) : body_(body) {}

  // Output `out` = items laid out over `outer` leading extents; undefined items stay zero.
  // Every defined item must share one dtype and shape; with none, the body's static type is used.
  static Status stack_output(KernelContext& ctx, size_t out, const std::vector<Tensor>& items,
                             Shape outer, const ir::Value& body_out) {
    const Tensor* first = nullptr;
    for (const Tensor& t : items) {
      if (!t.defined()) continue;
      if (first == nullptr) first = &t;
      if (t.dtype() != first->dtype() || t.shape() != first->shape()) {
        return ctx.error("output {}: iterations produced {} and {}", out, first->type_string(), t.type_string());
      }
    }
    Shape elem;
    DataType dt = body_out.type().dtype;
    if (first != nullptr) {
      elem = first->shape();
      dt = first->dtype();
    } else {
      PARE_ASSIGN_OR_RETURN(elem, control_static_shape(body_out, ctx.node().describe()));
      if (dt == DataType::kUndefined) return ctx.error("output {}: element type unknown", out);
    }
    Shape shape = outer;
    shape.insert(shape.end(), elem.begin(), elem.end());
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(out, dt, shape));
    const int64_t block = shape_numel_unchecked(elem);
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].defined()) {
        PARE_RETURN_IF_ERROR(control_copy_elements(*y, static_cast<int64_t>(i) * block, items[i], 0, block));
      }
    }
    return ok_status();
  }

  const ir::Graph* body_;
  int64_t num_scan_inputs_ = 0, num_states_ = 0, num_scan_outputs_ = 0;
  std::vector<int64_t> directions_;
};

}  // namespace

void register_Scan8(KernelRegistry& r) { r.add({"Scan", "", 8, 8, &make_kernel<Scan8Kernel>}); }

}  // namespace pare::ops
