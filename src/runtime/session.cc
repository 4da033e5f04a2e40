#include "runtime/session.h"

#include "kernels/registry.h"

#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <ctime>
#include <chrono>
#include <fstream>
#include <set>

#include "onnx/onnx.h"
#include "passes/pass.h"

namespace pare::runtime {

// Where a node finds an input: `depth` frames up (0 = own graph), slot index there.
struct SlotRef {
  int depth = -1;  // -1: omitted input
  int slot = -1;
};

struct Step {
  const ir::Node* node = nullptr;
  std::unique_ptr<ops::Kernel> kernel;
  std::string kernel_name;
  std::vector<SlotRef> inputs;
  std::vector<int> outputs;  // -1 for an omitted output
  std::vector<int> release;  // slots dead after this step
};

struct GraphPlan {
  const ir::Graph* graph = nullptr;
  int num_slots = 0;
  std::unordered_map<const ir::Value*, int> slot_of;
  std::vector<int> input_slots;
  std::vector<std::pair<int, Tensor>> constants;
  std::vector<SlotRef> output_refs;
  std::vector<Step> steps;
};

struct Frame {
  const GraphPlan* plan;
  Frame* parent;
  std::vector<RunValue> slots;
};

// Runs subgraphs in the frame of the node that holds them.
class FrameRunner final : public ops::SubgraphRunner {
 public:
  FrameRunner(Session& s, Frame* f) : session_(s), frame_(f) {}
  Result<std::vector<RunValue>> run(const ir::Graph& graph, std::vector<RunValue> inputs) override {
    auto it = session_.plans_.find(&graph);
    if (it == session_.plans_.end()) return internal_error("subgraph '{}' has no plan", graph.name());
    return session_.run_plan(*it->second, frame_, std::move(inputs));
  }

 private:
  Session& session_;
  Frame* frame_;
};

namespace {

int64_t thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000 + t.tv_nsec / 1000;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Every value of an enclosing graph that `g` (or its nested subgraphs) reads.
void collect_captures(const ir::Graph& g, const ir::Graph& holder_graph, std::set<const ir::Value*>& out) {
  for (const auto& n : g.nodes()) {
    for (const ir::Value* v : n->inputs()) {
      if (v && v->owner() != &g) out.insert(v);
    }
    for (const ir::Graph* sg : n->subgraphs()) collect_captures(*sg, holder_graph, out);
  }
  for (const ir::Value* v : g.outputs()) {
    if (v && v->owner() != &g) out.insert(v);
  }
}

}  // namespace

Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::load(const std::string& path, const SessionOptions& options) {
  PARE_ASSIGN_OR_RETURN(auto model, onnx::load_model(path));
  return create(std::move(model), options);
}

Result<std::unique_ptr<Session>> Session::create(std::unique_ptr<ir::Model> model,
                                                 const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->model_ = std::move(model);
  s->options_ = options;
  if (options.num_threads > 0) omp_set_num_threads(options.num_threads);
  PARE_RETURN_IF_ERROR(passes::run_passes(*s->model_, passes::lowering_pipeline()));
  PARE_RETURN_IF_ERROR(passes::run_passes(*s->model_, passes::optimization_pipeline(options.opt_level)));
  // The passes freed the tensors they replaced (folded, fused, repacked weights); hand those
  // heap pages back before planning allocates the packed weights, so peak RSS holds one copy.
  malloc_trim(0);
  const ir::Graph& g = *s->model_->graph;
  for (const ir::Value* v : g.inputs()) s->inputs_.push_back({v->name(), v->type()});
  for (const ir::Value* v : g.outputs()) s->outputs_.push_back({v->name(), v->type()});
  PARE_RETURN_IF_ERROR(s->plan_graph(g, {}));
  s->epoch_us_ = now_us();
  return s;
}

// Constants that every consumer has prepacked (Kernel::prepacked_input) are dropped from the
// plan and from the graph as soon as the last consumer's kernel exists, so the weights are
// held once (packed), not twice, even at the peak of planning.
class PrepackedRelease {
 public:
  PrepackedRelease(const ir::Graph& g, GraphPlan& plan) : plan_(plan) {
    for (ir::Value* v : g.initializers()) {
      if (std::find(g.outputs().begin(), g.outputs().end(), v) == g.outputs().end()) pending_[v] = v->uses().size();
    }
  }
  // After the kernel of `n` is created.
  void kernel_created(const ir::Node& n, const ops::Kernel& k) {
    for (size_t i = 0; i < n.inputs().size(); ++i) {
      auto it = pending_.find(n.input(i));  // (inputs are the graph's own mutable values)
      if (it == pending_.end()) continue;
      if (!k.prepacked_input(i)) {
        pending_.erase(it);
        continue;
      }
      if (--it->second > 0) continue;
      ir::Value* v = it->first;
      pending_.erase(it);
      const int slot = plan_.slot_of.at(v);
      std::erase_if(plan_.constants, [&](const auto& c) { return c.first == slot; });
      released_.insert(slot);
      v->clear_initializer();
    }
  }
  // Steps read nothing from released slots.
  void finish() {
    for (Step& s : plan_.steps) {
      for (SlotRef& r : s.inputs) {
        if (r.depth == 0 && released_.count(r.slot)) r = SlotRef{};
      }
    }
  }

 private:
  GraphPlan& plan_;
  std::map<ir::Value*, size_t> pending_;  // initializer → consumers still to create
  std::set<int> released_;
};

Status Session::plan_graph(const ir::Graph& g, std::vector<const GraphPlan*> ancestors) {
  auto plan = std::make_unique<GraphPlan>();
  plan->graph = &g;
  auto slot_for = [&](const ir::Value* v) {
    auto [it, inserted] = plan->slot_of.try_emplace(v, plan->num_slots);
    if (inserted) plan->num_slots++;
    return it->second;
  };
  for (const ir::Value* v : g.inputs()) plan->input_slots.push_back(slot_for(v));
  for (const ir::Value* v : g.initializers()) plan->constants.emplace_back(slot_for(v), *v->initializer());
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  for (const ir::Node* n : order) {
    for (const ir::Value* v : n->outputs()) {
      if (v) slot_for(v);
    }
  }
  ancestors.insert(ancestors.begin(), plan.get());
  auto resolve = [&](const ir::Value* v) -> Result<SlotRef> {
    for (size_t d = 0; d < ancestors.size(); ++d) {
      if (v->owner() == ancestors[d]->graph) {
        auto it = ancestors[d]->slot_of.find(v);
        if (it == ancestors[d]->slot_of.end()) break;
        return SlotRef{static_cast<int>(d), it->second};
      }
    }
    return invalid_model("value '{}' used in graph '{}' is not defined in any enclosing graph", v->name(), g.name());
  };

  PrepackedRelease release(g, *plan);
  // Last step reading each local slot (captured reads count for the node holding the subgraph).
  std::unordered_map<int, size_t> last_use;
  const int64_t opset_default = model_->opset("");
  for (const ir::Node* n : order) {
    Step step;
    step.node = n;
    int64_t opset = model_->opset(n->domain());
    if (opset < 0) {
      if (n->domain().empty()) opset = opset_default;
      else return unsupported("{}: domain '{}' is not imported by the model", n->describe(), n->domain());
    }
    ops::KernelInit init{*n, opset, options_.num_threads};
    const ops::KernelRegistry& registry =
        options_.reference_kernels ? ops::KernelRegistry::reference() : kernels::registry();
    auto kernel = registry.create(init, &step.kernel_name);
    if (!kernel.ok()) return kernel.status();
    step.kernel = std::move(kernel).value();
    release.kernel_created(*n, *step.kernel);
    for (const ir::Value* v : n->inputs()) {
      if (!v) {
        step.inputs.push_back({});
        continue;
      }
      PARE_ASSIGN_OR_RETURN(SlotRef r, resolve(v));
      step.inputs.push_back(r);
      if (r.depth == 0) last_use[r.slot] = plan->steps.size();
    }
    std::set<const ir::Value*> captured;
    for (const ir::Graph* sg : n->subgraphs()) collect_captures(*sg, g, captured);
    for (const ir::Value* v : captured) {
      if (v->owner() == &g) last_use[plan->slot_of.at(v)] = plan->steps.size();
    }
    for (const ir::Value* v : n->outputs()) step.outputs.push_back(v ? plan->slot_of.at(v) : -1);
    plan->steps.push_back(std::move(step));
  }
  release.finish();
  std::set<int> keep;
  for (const ir::Value* v : g.outputs()) {
    PARE_ASSIGN_OR_RETURN(SlotRef r, resolve(v));
    plan->output_refs.push_back(r);
    if (r.depth == 0) keep.insert(r.slot);
  }
  for (const auto& [slot, step] : last_use) {
    if (!keep.count(slot)) plan->steps[step].release.push_back(slot);
  }
  const GraphPlan* raw = plan.get();
  plans_[&g] = std::move(plan);
  for (const ir::Node* n : order) {
    for (const ir::Graph* sg : n->subgraphs()) PARE_RETURN_IF_ERROR(plan_graph(*sg, ancestors));
  }
  (void)raw;
  return ok_status();
}

Result<std::vector<RunValue>> Session::run_plan(const GraphPlan& plan, Frame* parent,
                                                std::vector<RunValue> inputs) {
  if (inputs.size() != plan.input_slots.size()) {
    return invalid_input("graph '{}' takes {} inputs, got {}", plan.graph->name(), plan.input_slots.size(),
                         inputs.size());
  }
  Frame frame{&plan, parent, std::vector<RunValue>(plan.num_slots)};
  for (size_t i = 0; i < inputs.size(); ++i) frame.slots[plan.input_slots[i]] = std::move(inputs[i]);
  for (const auto& [slot, t] : plan.constants) frame.slots[slot] = RunValue(t);
  auto lookup = [&](SlotRef r) -> const RunValue* {
    if (r.depth < 0) return nullptr;
    Frame* f = &frame;
    for (int d = 0; d < r.depth && f; ++d) f = f->parent;
    return f ? &f->slots[r.slot] : nullptr;
  };
  FrameRunner runner(*this, &frame);
  std::vector<RunValue> outs;
  for (const Step& step : plan.steps) {
    std::vector<const RunValue*> ins;
    ins.reserve(step.inputs.size());
    for (const SlotRef& r : step.inputs) ins.push_back(lookup(r));
    outs.assign(step.outputs.size(), RunValue());
    ops::KernelContext ctx(*step.node, std::move(ins), &outs, &runner, options_.num_threads, &pool_);
    const int64_t t0 = options_.profile ? now_us() : 0;
    const int64_t c0 = options_.profile ? thread_cpu_us() : 0;
    Status st = step.kernel->run(ctx);
    if (!st.ok()) {
      // Kernel errors already name the node; add it where a shared helper did not.
      if (st.message().find(step.node->describe()) == std::string::npos) {
        return st.with_context(step.node->describe());
      }
      return st;
    }
    if (options_.profile) {
      events_.push_back({step.node->name(), step.node->op_type(), step.kernel_name, t0 - epoch_us_, now_us() - t0,
                         thread_cpu_us() - c0});
    }
    for (size_t i = 0; i < step.outputs.size(); ++i) {
      if (step.outputs[i] >= 0) frame.slots[step.outputs[i]] = std::move(outs[i]);
    }
    for (int slot : step.release) frame.slots[slot] = RunValue();
  }
  std::vector<RunValue> result;
  result.reserve(plan.output_refs.size());
  for (const SlotRef& r : plan.output_refs) {
    const RunValue* v = lookup(r);
    result.push_back(v ? *v : RunValue());
  }
  return result;
}

Status Session::check_feed(const IoInfo& info, const RunValue& v) const {
  const ir::TypeInfo& t = info.type;
  if (t.kind == ir::TypeInfo::Kind::kTensor) {
    if (!v.is_tensor()) return invalid_input("input '{}' must be a tensor", info.name);
    if (t.dtype != DataType::kUndefined && v.tensor.dtype() != t.dtype) {
      return invalid_input("input '{}' must be {}, got {}", info.name, t.to_string(), v.tensor.type_string());
    }
    if (t.shape) {
      const auto& dims = *t.shape;
      bool ok = static_cast<int64_t>(dims.size()) == v.tensor.rank();
      for (size_t i = 0; ok && i < dims.size(); ++i) ok = !dims[i].known() || dims[i].value == v.tensor.dim(i);
      if (!ok) return invalid_input("input '{}' must have shape {}, got {}", info.name, t.to_string(), v.tensor.type_string());
    }
  } else if (t.kind == ir::TypeInfo::Kind::kSequence && !v.is_sequence()) {
    return invalid_input("input '{}' must be a sequence", info.name);
  }
  return ok_status();
}

Result<std::vector<RunValue>> Session::run(const std::vector<std::pair<std::string, RunValue>>& feeds,
                                           const std::vector<std::string>& output_names) {
  std::vector<RunValue> ins(inputs_.size());
  std::vector<bool> fed(inputs_.size(), false);
  for (const auto& [name, v] : feeds) {
    size_t i = 0;
    while (i < inputs_.size() && inputs_[i].name != name) ++i;
    if (i == inputs_.size()) {
      std::string names;
      for (const auto& in : inputs_) names += (names.empty() ? "" : ", ") + in.name;
      return invalid_input("'{}' is not an input of the model (inputs: {})", name, names);
    }
    PARE_RETURN_IF_ERROR(check_feed(inputs_[i], v));
    ins[i] = v;
    fed[i] = true;
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (!fed[i] && inputs_[i].type.kind != ir::TypeInfo::Kind::kOptional) {
      return invalid_input("input '{}' ({}) was not given", inputs_[i].name, inputs_[i].type.to_string());
    }
  }
  const GraphPlan& plan = *plans_.at(model_->graph.get());
  PARE_ASSIGN_OR_RETURN(auto all, run_plan(plan, nullptr, std::move(ins)));
  if (output_names.empty()) return all;
  std::vector<RunValue> out;
  for (const std::string& name : output_names) {
    size_t i = 0;
    while (i < outputs_.size() && outputs_[i].name != name) ++i;
    if (i == outputs_.size()) return invalid_input("'{}' is not an output of the model", name);
    out.push_back(all[i]);
  }
  return out;
}

Result<std::map<std::string, Tensor>> Session::run_tensors(const std::map<std::string, Tensor>& feeds) {
  std::vector<std::pair<std::string, RunValue>> f;
  for (const auto& [k, v] : feeds) f.emplace_back(k, RunValue(v));
  PARE_ASSIGN_OR_RETURN(auto outs, run(f));
  std::map<std::string, Tensor> m;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i].is_tensor()) return invalid_input("output '{}' is not a tensor", outputs_[i].name);
    m[outputs_[i].name] = outs[i].tensor;
  }
  return m;
}

Status Session::write_profile(const std::string& path) const {
  std::ofstream out(path);
  if (!out) return io_error("cannot write profile '{}'", path);
  auto esc = [](const std::string& s) {
    std::string r;
    for (char c : s) {
      if (c == '"' || c == '\\') r += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) r += c;
    }
    return r;
  };
  out << "{\"traceEvents\":[\n";
  for (size_t i = 0; i < events_.size(); ++i) {
    const auto& e = events_[i];
    out << fmt::format("{{\"name\":\"{}\",\"cat\":\"{}\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":1,"
                       "\"args\":{{\"op\":\"{}\",\"kernel\":\"{}\"}}}}{}\n",
                       esc(e.node.empty() ? e.op : e.node), esc(e.op), e.start_us, e.duration_us, esc(e.op),
                       esc(e.kernel), i + 1 < events_.size() ? "," : "");
  }
  out << "]}\n";
  return out ? ok_status() : io_error("cannot write profile '{}'", path);
}

std::vector<std::pair<std::string, std::string>> Session::kernel_choices() const {
  std::vector<std::pair<std::string, std::string>> out;
  const GraphPlan& plan = *plans_.at(model_->graph.get());
  for (const Step& s : plan.steps) out.emplace_back(s.node->name(), s.kernel_name);
  return out;
}

}  // namespace pare::runtime
