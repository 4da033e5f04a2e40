// SequenceMap (opset 17): applies the `body` graph to each position of the input sequences.
//   outputs_k[i] = body(input_sequence[i], a_1', ..., a_n')_k,   i = 0 .. len(input_sequence)-1
// where a_j' = a_j[i] when additional input a_j is a sequence (same length required) and
// a_j' = a_j when it is a tensor (broadcast to every iteration). Each of the M body outputs
// (tensors) is collected into one output sequence of len(input_sequence) elements; an empty
// input gives empty sequences typed by the body's declared output types.
#include "ops/control/control_util.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class SequenceMapKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    PARE_ASSIGN_OR_RETURN(const ir::Graph* body, control_graph_attr(init.node, "body"));
    if (body->inputs().size() != init.num_inputs()) {
      return invalid_model("{}: body takes {} inputs, the node has {}", init.node.describe(),
                           body->inputs().size(), init.num_inputs());
    }
    if (body->outputs().size() != init.num_outputs()) {
      return invalid_model("{}: body returns {} values, the node has {} outputs",
                           init.node.describe(), body->outputs().size(), init.num_outputs());
    }
    return std::unique_ptr<Kernel>(new SequenceMapKernel(body));
  }

  Status run(KernelContext& ctx) override {
    const RunValue& seq = ctx.input_value(0);
    if (!seq.is_sequence()) return ctx.error("input 0 must be a sequence");
    const size_t n = seq.sequence.size();
    for (size_t j = 1; j < ctx.num_inputs(); ++j) {
      const RunValue& a = ctx.input_value(j);
      if (a.is_none()) return ctx.error("additional input {} is missing", j);
      if (a.is_sequence() && a.sequence.size() != n) {
        return ctx.error("sequence input {} has {} elements, input 0 has {}", j, a.sequence.size(), n);
      }
    }
    const size_t m = body_->outputs().size();
    std::vector<std::vector<Tensor>> items(m);
    for (size_t i = 0; i < n; ++i) {
      std::vector<RunValue> ins;
      ins.reserve(ctx.num_inputs());
      ins.emplace_back(seq.sequence[i]);
      for (size_t j = 1; j < ctx.num_inputs(); ++j) {
        const RunValue& a = ctx.input_value(j);
        ins.push_back(a.is_sequence() ? RunValue(a.sequence[i]) : a);
      }
      PARE_ASSIGN_OR_RETURN(auto outs, ctx.run_subgraph(*body_, std::move(ins)));
      if (outs.size() != m) return ctx.error("body returned {} values, expected {}", outs.size(), m);
      for (size_t k = 0; k < m; ++k) {
        if (!outs[k].is_tensor()) return ctx.error("body output {} is not a tensor", k);
        if (!items[k].empty() && outs[k].tensor.dtype() != items[k][0].dtype()) {
          return ctx.error("body output {} changed type from {} to {}", k,
                           dtype_name(items[k][0].dtype()), dtype_name(outs[k].tensor.dtype()));
        }
        items[k].push_back(std::move(outs[k].tensor));
      }
    }
    for (size_t k = 0; k < m; ++k) {
      const DataType dt = items[k].empty() ? body_->outputs()[k]->type().dtype : items[k][0].dtype();
      ctx.set_output(k, RunValue::make_sequence(std::move(items[k]), dt));
    }
    return ok_status();
  }

 private:
  explicit SequenceMapKernel(const ir::Graph* body) : body_(body) {}
  const ir::Graph* body_;
};

}  // namespace

void register_SequenceMap(KernelRegistry& r) {
  r.add({"SequenceMap", "", 17, kMaxOpset, &make_kernel<SequenceMapKernel>});
}

}  // namespace pare::ops
