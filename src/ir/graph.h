// The intermediate representation: a Model owns a Graph; a Graph owns its Nodes and Values.
// Values are SSA edges: one producer (a Node output, a graph input or an initializer) and a
// list of uses. Subgraphs (If/Loop/Scan bodies) are Graphs owned by a Node attribute; their
// nodes may use Values of enclosing graphs directly (outer-scope capture), as ONNX allows.
//
// Mutation goes through Graph's API (add/erase nodes, replace_all_uses) so use lists stay
// exact; verify() checks the invariants after each pass in tests and debug builds.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace pare::ir {

class Graph;
class Node;

// One extent of a static shape: a known value, a named symbol ("batch"), or unknown.
struct Dim {
  int64_t value = -1;   // >= 0 when known
  std::string symbol;   // non-empty for a symbolic extent
  bool known() const { return value >= 0; }
  static Dim of(int64_t v) { return Dim{v, {}}; }
  static Dim sym(std::string s) { return Dim{-1, std::move(s)}; }
};

// Static type of a Value: a tensor (dtype + optional shape), a sequence or an optional of
// an element type, or unknown.
struct TypeInfo {
  enum class Kind { kUnknown, kTensor, kSequence, kOptional };
  Kind kind = Kind::kUnknown;
  DataType dtype = DataType::kUndefined;    // tensor element type (kTensor)
  std::optional<std::vector<Dim>> shape;    // absent when the rank is unknown
  std::shared_ptr<TypeInfo> elem;           // element type of a sequence / optional

  static TypeInfo tensor(DataType dt, std::optional<std::vector<Dim>> shape = std::nullopt) {
    TypeInfo t;
    t.kind = Kind::kTensor;
    t.dtype = dt;
    t.shape = std::move(shape);
    return t;
  }
  std::string to_string() const;
};

struct Use {
  Node* node;
  int input_index;
};

class Value {
 public:
  const std::string& name() const { return name_; }
  TypeInfo& type() { return type_; }
  const TypeInfo& type() const { return type_; }
  Node* producer() const { return producer_; }
  int producer_output() const { return producer_output_; }
  const std::vector<Use>& uses() const { return uses_; }
  Graph* owner() const { return owner_; }
  bool is_graph_input() const { return is_graph_input_; }
  // Constant data when this value is an initializer.
  const std::optional<Tensor>& initializer() const { return initializer_; }
  void set_initializer(Tensor t) { initializer_ = std::move(t); }
  void clear_initializer() { initializer_.reset(); }

 private:
  friend class Graph;
  friend class Node;
  std::string name_;
  TypeInfo type_;
  Node* producer_ = nullptr;
  int producer_output_ = -1;
  std::vector<Use> uses_;
  Graph* owner_ = nullptr;
  bool is_graph_input_ = false;
  std::optional<Tensor> initializer_;
};

enum class AttrType { kUndefined, kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings,
                      kTensors, kGraphs, kTypeProto, kSparseTensor };

struct Attribute {
  AttrType type = AttrType::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::unique_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::unique_ptr<Graph>> graphs;
  TypeInfo type_proto;  // kTypeProto (e.g. SequenceEmpty's dtype is an int, but Optional's type)

  // Attributes that passes create.
  static Attribute of(int64_t v);
  static Attribute of(float v);
  static Attribute of(std::string v);
  static Attribute of(std::vector<int64_t> v);
  static Attribute of(std::vector<float> v);
  // A copy of a value attribute (everything but subgraphs, which are owned by one node).
  Attribute copy_value() const;
};

class Node {
 public:
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  const std::string& op_type() const { return op_type_; }
  const std::string& domain() const { return domain_; }
  void set_op(std::string domain, std::string op_type) {
    domain_ = std::move(domain);
    op_type_ = std::move(op_type);
  }
  Graph* owner() const { return owner_; }

  // Inputs may be nullptr where an optional input is omitted ("" in ONNX).
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  void set_input(size_t i, Value* v);
  void add_input(Value* v);
  void remove_trailing_inputs(size_t keep);

  std::map<std::string, Attribute>& attributes() { return attrs_; }
  const std::map<std::string, Attribute>& attributes() const { return attrs_; }
  const Attribute* attr(const std::string& name) const;
  bool has_attr(const std::string& name) const { return attrs_.count(name) != 0; }
  // Typed getters with a default for absent attributes (ONNX defaults live in op headers).
  int64_t attr_int(const std::string& name, int64_t def) const;
  float attr_float(const std::string& name, float def) const;
  std::string attr_string(const std::string& name, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& name, std::vector<float> def = {}) const;
  std::vector<std::string> attr_strings(const std::string& name) const;
  // Subgraphs held by this node's attributes, in attribute-name order.
  std::vector<Graph*> subgraphs() const;
  // "node 'conv1' (Conv)" for messages.
  std::string describe() const;

 private:
  friend class Graph;
  std::string name_, op_type_, domain_;
  std::vector<Value*> inputs_, outputs_;
  std::map<std::string, Attribute> attrs_;
  Graph* owner_ = nullptr;
};

struct OpsetImport {
  std::string domain;  // "" is the default ONNX domain
  int64_t version = 0;
};

class Graph {
 public:
  explicit Graph(Graph* parent = nullptr) : parent_(parent) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  Graph* parent() const { return parent_; }
  void set_parent(Graph* p) { parent_ = p; }

  // Values
  Value* add_value(const std::string& name);
  // Finds a value by name in this graph, then in enclosing graphs.
  Value* find_value(const std::string& name) const;
  Value* find_local_value(const std::string& name) const;
  // Renames a value of this graph (keeps the name index exact).
  void rename_value(Value* v, const std::string& name);
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  // A name not used by any value of this graph (for values made by passes).
  std::string unique_name(const std::string& base);

  std::vector<Value*>& inputs() { return inputs_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  std::vector<Value*>& outputs() { return outputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  void add_input(Value* v);
  // Initializers are Values with constant data; listed in insertion order.
  Value* add_initializer(const std::string& name, Tensor t);
  std::vector<Value*> initializers() const;

  // Nodes (kept in insertion order; topological_order() gives an execution order).
  Node* add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                 const std::vector<Value*>& outputs, const std::string& domain = "",
                 const std::string& name = "");
  // Erases a node whose outputs are unused; its inputs' use lists are updated.
  Status erase_node(Node* node);
  // Erases a node but keeps its output Values (with their uses), now without a producer —
  // for a pass that is about to give them another definition (an initializer).
  Status erase_node_keep_outputs(Node* node);
  const std::list<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  size_t num_nodes() const { return nodes_.size(); }
  // Points every use of `from` (in this graph and its subgraphs, and graph outputs) at `to`.
  void replace_all_uses(Value* from, Value* to);
  // Removes values with no producer, no uses and no role (after passes).
  void remove_dead_values();

  // Kahn order over this graph's nodes; an error names a node on a cycle.
  Result<std::vector<Node*>> topological_order() const;
  // Invariants: use lists match inputs, one producer per value, no cycles, every input
  // defined (graph input, initializer, node output, or an enclosing graph's value).
  Status verify() const;

 private:
  friend class Node;
  std::string name_;
  Graph* parent_;
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, Value*> by_name_;
  std::vector<Value*> inputs_, outputs_;
  std::vector<Value*> initializers_;
  std::list<std::unique_ptr<Node>> nodes_;
  int64_t name_counter_ = 0;
};

struct Model {
  int64_t ir_version = 8;
  std::vector<OpsetImport> opsets;
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();
  std::string base_dir;  // folder of the model file (external data is resolved inside it)

  // Opset version imported for `domain` ("" and "ai.onnx" are the same), or -1.
  int64_t opset(const std::string& domain) const;
};

}  // namespace pare::ir
