// The kernel interface every operator implementation uses, and the registry that maps
// (domain, op type, opset version, condition) to kernels (DESIGN.md §3).
//
// A kernel is created once per node at plan time from a KernelInit (parse and validate
// attributes there, prepack constant weights there) and run many times with a KernelContext.
// Reference kernels (ops/<family>/) are plain and readable: they are the test oracle. Fast
// kernels (kernels/) register for the same ops with a higher priority and a condition.
#pragma once

#include <climits>
#include <memory>
#include <string>
#include <vector>

#include "core/run_value.h"
#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace pare::ops {

inline constexpr int kMaxOpset = INT_MAX;

// What a kernel may look at when it is created (plan time).
struct KernelInit {
  const ir::Node& node;
  int64_t opset = 0;  // version of the node's domain imported by the model
  int num_threads = 1;

  // Constant data of input i if it is an initializer (e.g. weights, Reshape's shape), else null.
  const Tensor* constant_input(size_t i) const {
    const ir::Value* v = node.input(i);
    return v && v->initializer() ? &*v->initializer() : nullptr;
  }
  // Static type of input i (kind kUnknown when absent or not inferred).
  const ir::TypeInfo* input_type(size_t i) const {
    const ir::Value* v = node.input(i);
    return v ? &v->type() : nullptr;
  }
  bool has_input(size_t i) const { return node.input(i) != nullptr; }
  // Input i is statically known to be a tensor of `dtype`.
  bool input_is(size_t i, DataType dtype) const {
    const ir::TypeInfo* t = input_type(i);
    return t && t->kind == ir::TypeInfo::Kind::kTensor && t->dtype == dtype;
  }
  size_t num_inputs() const { return node.inputs().size(); }
  size_t num_outputs() const { return node.outputs().size(); }
};

// Runs a subgraph (If/Loop/Scan bodies) in the scope of the running node: the executor
// binds `inputs` to the subgraph's inputs, resolves captured outer values, and returns the
// subgraph's outputs in order.
class SubgraphRunner {
 public:
  virtual ~SubgraphRunner() = default;
  virtual Result<std::vector<RunValue>> run(const ir::Graph& graph,
                                            std::vector<RunValue> inputs) = 0;
};

// What a kernel sees at run time.
class KernelContext {
 public:
  KernelContext(const ir::Node& node, std::vector<const RunValue*> inputs,
                std::vector<RunValue>* outputs, SubgraphRunner* subgraphs, int num_threads,
                Allocator* allocator = nullptr)
      : node_(node), inputs_(std::move(inputs)), outputs_(outputs), subgraphs_(subgraphs),
        num_threads_(num_threads), allocator_(allocator) {}

  const ir::Node& node() const { return node_; }
  int num_threads() const { return num_threads_; }

  size_t num_inputs() const { return inputs_.size(); }
  // kNone when input i is omitted or past the end.
  const RunValue& input_value(size_t i) const;
  // The tensor of input i, or null when it is omitted / not a tensor.
  const Tensor* input(size_t i) const {
    const RunValue& v = input_value(i);
    return v.is_tensor() ? &v.tensor : nullptr;
  }
  bool has_input(size_t i) const { return !input_value(i).is_none(); }
  // The tensor of a required input; an error naming the node if it is missing.
  Result<const Tensor*> required_input(size_t i) const;

  size_t num_outputs() const { return outputs_->size(); }
  // Whether output i exists and is consumed or returned ("" outputs are not requested).
  bool output_requested(size_t i) const {
    return i < node_.outputs().size() && node_.outputs()[i] != nullptr;
  }
  // Allocates output i (zero-filled, from the session's pool) and returns it for writing.
  Result<Tensor*> allocate_output(size_t i, DataType dtype, Shape shape);
  // The same without zero-filling the bytes: only for kernels that write every element.
  Result<Tensor*> allocate_output_uninitialized(size_t i, DataType dtype, Shape shape);
  // Sets output i to an existing value (a view sharing storage, a sequence, none).
  void set_output(size_t i, RunValue v) {
    if (i < outputs_->size()) (*outputs_)[i] = std::move(v);
  }

  Result<std::vector<RunValue>> run_subgraph(const ir::Graph& graph, std::vector<RunValue> inputs);

  // The same context with other inputs (a kernel adapting its inputs, e.g. legacy broadcast).
  KernelContext with_inputs(std::vector<const RunValue*> inputs) const {
    return KernelContext(node_, std::move(inputs), outputs_, subgraphs_, num_threads_, allocator_);
  }

  // An error that names this node: ctx.error("input 1 must be rank 2, got {}", r).
  template <typename... Args>
  Status error(fmt::format_string<Args...> f, Args&&... args) const {
    return invalid_input("{}: {}", node_.describe(), fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  const ir::Node& node_;
  std::vector<const RunValue*> inputs_;
  std::vector<RunValue>* outputs_;
  SubgraphRunner* subgraphs_;
  int num_threads_;
  Allocator* allocator_;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(KernelContext& ctx) = 0;
  // True when the kernel keeps its own (prepacked) copy of constant input i and never reads
  // that input at run time: the session then frees the original once every consumer agrees.
  virtual bool prepacked_input(size_t i) const { return false; }
};

using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const KernelInit&);

// One registered implementation of an op.
struct KernelDef {
  std::string op_type;
  std::string domain;  // "" for the default ONNX domain
  int since_version = 1;
  int until_version = kMaxOpset;  // inclusive
  KernelFactory create = nullptr;
  std::string name = "reference";
  int priority = 0;  // higher wins among those whose condition holds
  bool (*condition)(const KernelInit&) = nullptr;  // null: always applicable
};

class KernelRegistry {
 public:
  void add(KernelDef def);
  // The best kernel for this node; kUnsupported naming the op and opset if none applies.
  Result<std::unique_ptr<Kernel>> create(const KernelInit& init, std::string* chosen = nullptr) const;
  bool supports(const std::string& domain, const std::string& op_type, int64_t opset) const;
  const std::vector<KernelDef>& defs() const { return defs_; }

  // The reference kernels of every op in op_list.inc: the test oracle, and what constant
  // folding uses. The runtime uses kernels::registry(), which adds the fast kernels.
  static const KernelRegistry& reference();

 private:
  std::vector<KernelDef> defs_;
};

// make_kernel<K>: the factory for a kernel class K. K may define
//   static Result<std::unique_ptr<Kernel>> create(const KernelInit&)  (validates attributes), or
//   a constructor K(const KernelInit&), or a default constructor.
template <typename K>
Result<std::unique_ptr<Kernel>> make_kernel(const KernelInit& init) {
  if constexpr (requires { K::create(init); }) {
    return K::create(init);
  } else if constexpr (std::is_constructible_v<K, const KernelInit&>) {
    return std::unique_ptr<Kernel>(new K(init));
  } else {
    return std::unique_ptr<Kernel>(new K());
  }
}

// A kernel from a plain function, for ops with no state: Status fn(KernelContext&).
template <Status (*Fn)(KernelContext&)>
class FnKernel final : public Kernel {
 public:
  Status run(KernelContext& ctx) override { return Fn(ctx); }
};

// Shorthand: registers a stateless function kernel for [since, until].
template <Status (*Fn)(KernelContext&)>
void add_fn(KernelRegistry& r, const char* op, int since = 1, int until = kMaxOpset,
            const char* domain = "") {
  r.add({op, domain, since, until, &make_kernel<FnKernel<Fn>>});
}

// Declarations of every op's registration function, from op_list.inc.
#define PARE_OP(name) void register_##name(KernelRegistry& r);
#include "ops/op_list.inc"
#undef PARE_OP

}  // namespace pare::ops
