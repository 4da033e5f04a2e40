#include "ops/fused/inner_kernel.h"

namespace pare::ops {

Result<InnerKernel> InnerKernel::create(const KernelInit& outer, const std::string& op_type, size_t num_inputs,
                                        const std::vector<std::string>& attrs, int64_t opset) {
  InnerKernel k;
  k.graph_ = std::make_unique<ir::Graph>();
  ir::Graph& g = *k.graph_;
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < num_inputs; ++i) {
    if (!outer.has_input(i)) {
      ins.push_back(nullptr);
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    if (const Tensor* c = outer.constant_input(i)) {
      ins.push_back(g.add_initializer(name, *c));
    } else {
      ir::Value* v = g.add_value(name);
      if (const ir::TypeInfo* t = outer.input_type(i)) v->type() = *t;
      g.add_input(v);
      ins.push_back(v);
    }
  }
  ir::Value* out = g.add_value("out");
  k.node_ = g.add_node(op_type, ins, {out}, "", outer.node.name());
  for (const std::string& a : attrs) {
    const ir::Attribute* src = outer.node.attr(a);
    if (src) k.node_->attributes()[a] = src->copy_value();
  }
  KernelInit init{*k.node_, opset, outer.num_threads};
  PARE_ASSIGN_OR_RETURN(k.kernel_, KernelRegistry::reference().create(init));
  return k;
}

Result<Tensor> InnerKernel::run(const KernelContext& outer, const std::vector<const RunValue*>& inputs) {
  std::vector<RunValue> outs(1);
  KernelContext ctx(*node_, inputs, &outs, nullptr, outer.num_threads());
  Status st = kernel_->run(ctx);
  if (!st.ok()) return invalid_input("{}: {}", outer.node().describe(), st.message());
  if (!outs[0].is_tensor()) return internal_error("{}: inner {} made no tensor", outer.node().describe(), node_->op_type());
  return outs[0].tensor;
}

}  // namespace pare::ops
