#include "ir/graph.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <set>
#include <unordered_map>

namespace pare::ir {

Attribute Attribute::of(int64_t v) {
  Attribute a;
  a.type = AttrType::kInt;
  a.i = v;
  return a;
}
Attribute Attribute::of(float v) {
  Attribute a;
  a.type = AttrType::kFloat;
  a.f = v;
  return a;
}
Attribute Attribute::of(std::string v) {
  Attribute a;
  a.type = AttrType::kString;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::of(std::vector<int64_t> v) {
  Attribute a;
  a.type = AttrType::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::of(std::vector<float> v) {
  Attribute a;
  a.type = AttrType::kFloats;
  a.floats = std::move(v);
  return a;
}

Attribute Attribute::copy_value() const {
  Attribute c;
  c.type = type;
  c.f = f;
  c.i = i;
  c.s = s;
  c.t = t;
  c.floats = floats;
  c.ints = ints;
  c.strings = strings;
  c.tensors = tensors;
  c.type_proto = type_proto;
  return c;
}

std::string TypeInfo::to_string() const {
  switch (kind) {
    case Kind::kUnknown: return "unknown";
    case Kind::kSequence: return "seq(" + (elem ? elem->to_string() : "?") + ")";
    case Kind::kOptional: return "optional(" + (elem ? elem->to_string() : "?") + ")";
    case Kind::kTensor: break;
  }
  std::string s = dtype_name(dtype);
  if (!shape) return s + "[?]";
  s += "[";
  for (size_t i = 0; i < shape->size(); ++i) {
    if (i) s += ", ";
    const Dim& d = (*shape)[i];
    s += d.known() ? std::to_string(d.value) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s + "]";
}

// ---- Node ----

void Node::set_input(size_t i, Value* v) {
  if (i >= inputs_.size()) inputs_.resize(i + 1, nullptr);
  Value* old = inputs_[i];
  if (old != nullptr) {
    auto& u = old->uses_;
    for (auto it = u.begin(); it != u.end(); ++it) {
      if (it->node == this && it->input_index == static_cast<int>(i)) {
        u.erase(it);
        break;
      }
    }
  }
  inputs_[i] = v;
  if (v != nullptr) v->uses_.push_back({this, static_cast<int>(i)});
}

void Node::add_input(Value* v) { set_input(inputs_.size(), v); }

void Node::remove_trailing_inputs(size_t keep) {
  while (inputs_.size() > keep) {
    set_input(inputs_.size() - 1, nullptr);
    inputs_.pop_back();
  }
}

const Attribute* Node::attr(const std::string& name) const {
  auto it = attrs_.find(name);
  return it == attrs_.end() ? nullptr : &it->second;
}

int64_t Node::attr_int(const std::string& name, int64_t def) const {
  const Attribute* a = attr(name);
  return a && a->type == AttrType::kInt ? a->i : def;
}

float Node::attr_float(const std::string& name, float def) const {
  const Attribute* a = attr(name);
  if (a && a->type == AttrType::kFloat) return a->f;
  if (a && a->type == AttrType::kInt) return static_cast<float>(a->i);
  return def;
}

std::string Node::attr_string(const std::string& name, const std::string& def) const {
  const Attribute* a = attr(name);
  return a && a->type == AttrType::kString ? a->s : def;
}

std::vector<int64_t> Node::attr_ints(const std::string& name, std::vector<int64_t> def) const {
  const Attribute* a = attr(name);
  if (a && a->type == AttrType::kInts) return a->ints;
  if (a && a->type == AttrType::kInt) return {a->i};
  return def;
}

std::vector<float> Node::attr_floats(const std::string& name, std::vector<float> def) const {
  const Attribute* a = attr(name);
  if (a && a->type == AttrType::kFloats) return a->floats;
  if (a && a->type == AttrType::kFloat) return {a->f};
  return def;
}

std::vector<std::string> Node::attr_strings(const std::string& name) const {
  const Attribute* a = attr(name);
  return a && a->type == AttrType::kStrings ? a->strings : std::vector<std::string>{};
}

std::vector<Graph*> Node::subgraphs() const {
  std::vector<Graph*> out;
  for (const auto& [name, a] : attrs_) {
    if (a.g) out.push_back(a.g.get());
    for (const auto& g : a.graphs) out.push_back(g.get());
  }
  return out;
}

std::string Node::describe() const {
  return "node '" + name_ + "' (" + (domain_.empty() ? "" : domain_ + ".") + op_type_ + ")";
}

// ---- Graph ----

Value* Graph::add_value(const std::string& name) {
  auto v = std::make_unique<Value>();
  v->name_ = name;
  v->owner_ = this;
  Value* p = v.get();
  values_.push_back(std::move(v));
  if (!name.empty()) by_name_[name] = p;
  return p;
}

Value* Graph::find_local_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

Value* Graph::find_value(const std::string& name) const {
  for (const Graph* g = this; g != nullptr; g = g->parent_) {
    if (Value* v = g->find_local_value(name)) return v;
  }
  return nullptr;
}

void Graph::rename_value(Value* v, const std::string& name) {
  auto it = by_name_.find(v->name_);
  if (it != by_name_.end() && it->second == v) by_name_.erase(it);
  v->name_ = name;
  if (!name.empty()) by_name_[name] = v;
}

std::string Graph::unique_name(const std::string& base) {
  std::string n = base;
  while (find_value(n) != nullptr) n = base + "_" + std::to_string(++name_counter_);
  return n;
}

void Graph::add_input(Value* v) {
  v->is_graph_input_ = true;
  inputs_.push_back(v);
}

Value* Graph::add_initializer(const std::string& name, Tensor t) {
  Value* v = find_local_value(name);
  if (v == nullptr) v = add_value(name);
  v->type_ = TypeInfo::tensor(t.dtype());
  std::vector<Dim> dims;
  for (int64_t d : t.shape()) dims.push_back(Dim::of(d));
  v->type_.shape = dims;
  v->initializer_ = std::move(t);
  initializers_.push_back(v);
  return v;
}

std::vector<Value*> Graph::initializers() const {
  std::vector<Value*> out;
  for (Value* v : initializers_) {
    if (v->initializer_) out.push_back(v);
  }
  return out;
}

Node* Graph::add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                      const std::vector<Value*>& outputs, const std::string& domain,
                      const std::string& name) {
  auto n = std::make_unique<Node>();
  n->op_type_ = op_type;
  n->domain_ = domain;
  n->name_ = name;
  n->owner_ = this;
  Node* p = n.get();
  for (Value* v : inputs) p->add_input(v);
  for (size_t i = 0; i < outputs.size(); ++i) {
    p->outputs_.push_back(outputs[i]);
    if (outputs[i] != nullptr) {
      outputs[i]->producer_ = p;
      outputs[i]->producer_output_ = static_cast<int>(i);
    }
  }
  nodes_.push_back(std::move(n));
  return p;
}

Status Graph::erase_node(Node* node) {
  for (Value* out : node->outputs_) {
    if (out != nullptr && !out->uses_.empty()) {
      return internal_error("cannot erase {}: output '{}' still has uses", node->describe(),
                            out->name());
    }
  }
  for (size_t i = 0; i < node->inputs_.size(); ++i) node->set_input(i, nullptr);
  for (Value* out : node->outputs_) {
    if (out != nullptr) out->producer_ = nullptr;
  }
  for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
    if (it->get() == node) {
      nodes_.erase(it);
      return ok_status();
    }
  }
  return internal_error("{} is not in graph '{}'", node->describe(), name_);
}

Status Graph::erase_node_keep_outputs(Node* node) {
  for (size_t i = 0; i < node->inputs_.size(); ++i) node->set_input(i, nullptr);
  for (Value* out : node->outputs_) {
    if (out != nullptr) {
      out->producer_ = nullptr;
      out->producer_output_ = -1;
    }
  }
  node->outputs_.clear();
  for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
    if (it->get() == node) {
      nodes_.erase(it);
      return ok_status();
    }
  }
  return internal_error("{} is not in graph '{}'", node->describe(), name_);
}

void Graph::replace_all_uses(Value* from, Value* to) {
  std::vector<Use> uses = from->uses_;
  for (const Use& u : uses) u.node->set_input(static_cast<size_t>(u.input_index), to);
  for (Value*& o : outputs_) {
    if (o == from) o = to;
  }
}

void Graph::remove_dead_values() {
  std::set<const Value*> keep(inputs_.begin(), inputs_.end());
  keep.insert(outputs_.begin(), outputs_.end());
  std::vector<std::unique_ptr<Value>> live;
  for (auto& v : values_) {
    if (v->producer_ || !v->uses_.empty() || keep.count(v.get()) ||
        (v->initializer_ && !v->uses_.empty())) {
      live.push_back(std::move(v));
    } else {
      by_name_.erase(v->name_);
      initializers_.erase(std::remove(initializers_.begin(), initializers_.end(), v.get()),
                          initializers_.end());
    }
  }
  values_ = std::move(live);
}

Result<std::vector<Node*>> Graph::topological_order() const {
  // In-degree counts only edges between nodes of this graph. A node in a subgraph that
  // captures an outer value does not constrain this graph's order: the node holding the
  // subgraph must run after the producer, handled by counting captured values as inputs of
  // the holding node.
  std::unordered_map<const Node*, int> indeg;
  std::unordered_map<const Node*, std::vector<Node*>> succ;
  std::function<void(const Graph*, Node*)> add_captures;
  for (const auto& n : nodes_) indeg[n.get()] = 0;
  auto add_edge = [&](const Value* v, Node* consumer) {
    if (v && v->producer_ && v->producer_->owner_ == this && indeg.count(v->producer_)) {
      succ[v->producer_].push_back(consumer);
      indeg[consumer]++;
    }
  };
  add_captures = [&](const Graph* g, Node* holder) {
    for (const auto& sn : g->nodes_) {
      for (Value* v : sn->inputs_) {
        if (v && v->owner_ != g) add_edge(v, holder);
      }
      for (Graph* sg : sn->subgraphs()) add_captures(sg, holder);
    }
    for (Value* v : g->outputs_) {
      if (v && v->owner_ != g) add_edge(v, holder);
    }
  };
  for (const auto& n : nodes_) {
    for (Value* v : n->inputs_) add_edge(v, n.get());
    for (Graph* sg : n->subgraphs()) add_captures(sg, n.get());
  }
  std::deque<Node*> ready;
  for (const auto& n : nodes_) {
    if (indeg[n.get()] == 0) ready.push_back(n.get());
  }
  std::vector<Node*> order;
  order.reserve(nodes_.size());
  while (!ready.empty()) {
    Node* n = ready.front();
    ready.pop_front();
    order.push_back(n);
    for (Node* s : succ[n]) {
      if (--indeg[s] == 0) ready.push_back(s);
    }
  }
  if (order.size() != nodes_.size()) {
    for (const auto& n : nodes_) {
      if (indeg[n.get()] > 0) {
        return invalid_model("graph '{}' has a cycle through {}", name_, n->describe());
      }
    }
  }
  return order;
}

Status Graph::verify() const {
  for (const auto& n : nodes_) {
    if (n->owner_ != this) return internal_error("{} has the wrong owner", n->describe());
    for (size_t i = 0; i < n->inputs_.size(); ++i) {
      Value* v = n->inputs_[i];
      if (v == nullptr) continue;
      bool visible = false;
      for (const Graph* g = this; g; g = g->parent_) visible |= (v->owner_ == g);
      if (!visible) {
        return invalid_model("{} input '{}' is not visible in graph '{}'", n->describe(),
                             v->name(), name_);
      }
      if (!v->producer_ && !v->is_graph_input_ && !v->initializer_) {
        return invalid_model("{} input '{}' is not produced by any node, graph input or "
                             "initializer", n->describe(), v->name());
      }
      int count = 0;
      for (const Use& u : v->uses_) count += (u.node == n.get() && u.input_index == (int)i);
      if (count != 1) {
        return internal_error("use list of '{}' does not match {} input {}", v->name(),
                              n->describe(), i);
      }
    }
    for (size_t i = 0; i < n->outputs_.size(); ++i) {
      Value* v = n->outputs_[i];
      if (v && (v->producer_ != n.get() || v->producer_output_ != (int)i)) {
        return invalid_model("value '{}' has more than one producer (second: {})", v->name(),
                             n->describe());
      }
    }
    for (Graph* sg : n->subgraphs()) PARE_RETURN_IF_ERROR(sg->verify());
  }
  for (Value* v : outputs_) {
    if (v == nullptr) return invalid_model("graph '{}' has an undefined output", name_);
    if (!v->producer_ && !v->is_graph_input_ && !v->initializer_) {
      bool outer = v->owner_ != this;
      if (!outer) return invalid_model("graph output '{}' is never produced", v->name());
    }
  }
  PARE_ASSIGN_OR_RETURN(auto order, topological_order());
  (void)order;
  return ok_status();
}

int64_t Model::opset(const std::string& domain) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  for (const auto& o : opsets) {
    const std::string od = o.domain == "ai.onnx" ? "" : o.domain;
    if (od == d) return o.version;
  }
  return -1;
}

}  // namespace pare::ir
