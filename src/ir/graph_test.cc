#include "ir/graph.h"

#include <gtest/gtest.h>

namespace pare::ir {
namespace {

// x → Relu → a → Neg → y, plus b = Relu(x) unused.
struct Chain {
  Graph g;
  Value *x, *a, *b, *y;
  Node *relu, *neg, *dead;
  Chain() {
    x = g.add_value("x");
    g.add_input(x);
    a = g.add_value("a");
    b = g.add_value("b");
    y = g.add_value("y");
    // Inserted out of order on purpose: the topological order must fix it.
    neg = g.add_node("Neg", {a}, {y}, "", "neg");
    relu = g.add_node("Relu", {x}, {a}, "", "relu");
    dead = g.add_node("Relu", {x}, {b}, "", "dead");
    g.outputs().push_back(y);
  }
};

TEST(Graph, TopologicalOrderAndUseLists) {
  Chain c;
  ASSERT_TRUE(c.g.verify().ok());
  auto order = c.g.topological_order();
  ASSERT_TRUE(order.ok());
  auto pos = [&](Node* n) { return std::find(order->begin(), order->end(), n) - order->begin(); };
  EXPECT_LT(pos(c.relu), pos(c.neg));
  EXPECT_EQ(c.x->uses().size(), 2u);
  EXPECT_EQ(c.a->producer(), c.relu);
}

TEST(Graph, ReplaceAllUsesAndEraseKeepTheGraphValid) {
  Chain c;
  // Bypass the Relu: Neg reads x directly; then the Relu has no uses and can go.
  c.g.replace_all_uses(c.a, c.x);
  EXPECT_TRUE(c.a->uses().empty());
  EXPECT_EQ(c.neg->input(0), c.x);
  ASSERT_TRUE(c.g.erase_node(c.relu).ok());
  ASSERT_TRUE(c.g.erase_node(c.dead).ok());
  EXPECT_EQ(c.g.num_nodes(), 1u);
  EXPECT_EQ(c.x->uses().size(), 1u);
  c.g.remove_dead_values();
  EXPECT_EQ(c.g.find_value("a"), nullptr);
  EXPECT_TRUE(c.g.verify().ok());
}

TEST(Graph, EraseRefusesANodeWhoseOutputIsUsed) {
  Chain c;
  Status st = c.g.erase_node(c.relu);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("still has uses"), std::string::npos);
}

TEST(Graph, VerifierFindsCyclesAndUndefinedInputs) {
  Graph g;
  Value* p = g.add_value("p");
  Value* q = g.add_value("q");
  g.add_node("Relu", {q}, {p}, "", "n1");
  g.add_node("Relu", {p}, {q}, "", "n2");
  Status st = g.verify();
  EXPECT_EQ(st.code(), StatusCode::kInvalidModel);
  EXPECT_NE(st.message().find("cycle"), std::string::npos);

  Graph h;
  Value* orphan = h.add_value("orphan");
  Value* out = h.add_value("out");
  h.add_node("Relu", {orphan}, {out}, "", "n");
  EXPECT_NE(h.verify().message().find("not produced"), std::string::npos);
}

TEST(Graph, SubgraphsCaptureOuterValuesAndOrderAfterTheirProducers) {
  Graph g;
  Value* x = g.add_value("x");
  g.add_input(x);
  Value* cond = g.add_value("cond");
  g.add_input(cond);
  Value* outer = g.add_value("outer");
  Value* r = g.add_value("r");
  // The If comes first in the list but reads `outer` inside its branch.
  Node* iff = g.add_node("If", {cond}, {r}, "", "if");
  Node* prod = g.add_node("Neg", {x}, {outer}, "", "prod");
  auto branch = std::make_unique<Graph>(&g);
  Value* inner = branch->add_value("inner");
  branch->add_node("Relu", {outer}, {inner}, "", "inside");
  branch->outputs().push_back(inner);
  Attribute a;
  a.type = AttrType::kGraph;
  a.g = std::move(branch);
  iff->attributes()["then_branch"] = std::move(a);
  g.outputs().push_back(r);
  ASSERT_TRUE(g.verify().ok());
  auto order = g.topological_order();
  ASSERT_TRUE(order.ok());
  EXPECT_EQ((*order)[0], prod);
  EXPECT_EQ(iff->subgraphs().size(), 1u);
  EXPECT_EQ(iff->subgraphs()[0]->find_value("x"), x);  // lookup through the parent
}

TEST(Graph, UniqueNamesAndRename) {
  Graph g;
  g.add_value("t");
  std::string n = g.unique_name("t");
  EXPECT_NE(n, "t");
  Value* v = g.add_value(n);
  g.rename_value(v, "renamed");
  EXPECT_EQ(g.find_value("renamed"), v);
  EXPECT_EQ(g.find_value(n), nullptr);
}

}  // namespace
}  // namespace pare::ir
