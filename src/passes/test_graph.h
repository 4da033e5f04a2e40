// Test helper shared by the pass tests: a fresh copy of a small in-memory model (a Session
// consumes its model, and each test runs the same graph at several optimization levels),
// rebuilt value by value and node by node. Top-level graph only: no subgraph attributes.
#pragma once

#include <map>
#include <memory>

#include "ir/graph.h"

namespace pare::test_util {

inline std::unique_ptr<ir::Model> copy_test_model(const ir::Model& src) {
  auto m = std::make_unique<ir::Model>();
  m->opsets = src.opsets;
  const ir::Graph& from = *src.graph;
  ir::Graph& g = *m->graph;
  std::map<const ir::Value*, ir::Value*> map;
  for (ir::Value* v : from.inputs()) {
    ir::Value* c = g.add_value(v->name());
    c->type() = v->type();
    g.add_input(c);
    map[v] = c;
  }
  for (ir::Value* v : from.initializers()) map[v] = g.add_initializer(v->name(), *v->initializer());
  for (const auto& n : from.nodes()) {
    std::vector<ir::Value*> ins, outs;
    for (ir::Value* v : n->inputs()) ins.push_back(v ? map.at(v) : nullptr);
    for (ir::Value* v : n->outputs()) outs.push_back(map[v] = g.add_value(v->name()));
    ir::Node* c = g.add_node(n->op_type(), ins, outs, n->domain(), n->name());
    for (const auto& [k, a] : n->attributes()) c->attributes()[k] = a.copy_value();
  }
  for (ir::Value* v : from.outputs()) g.outputs().push_back(map.at(v));
  return m;
}

}  // namespace pare::test_util
