// Internals of the Jinja subset (jinja.h): values, syntax tree, and the parser/evaluator entry
// points. Errors inside parse/eval are thrown as jinja::Error and turned into a Status at the
// edge (Template::parse/render); nothing escapes the library.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "llm/jinja.h"

namespace pare::llm::jinja {

struct Error {
  std::string msg;
  int line = 0;
};

struct Object;
struct Value {
  enum T : uint8_t { kUndef, kNone, kBool, kInt, kFloat, kStr, kList, kDict, kFunc } t = kUndef;
  bool ns = false;  // a namespace() object (attributes may be set)
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // string value, or the name of a global function
  std::shared_ptr<std::vector<Value>> list;
  std::shared_ptr<Object> dict;

  static Value none() { Value v; v.t = kNone; return v; }
  static Value boolean(bool x) { Value v; v.t = kBool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.t = kInt; v.i = x; return v; }
  static Value real(double x) { Value v; v.t = kFloat; v.f = x; return v; }
  static Value str(std::string x) { Value v; v.t = kStr; v.s = std::move(x); return v; }
  static Value make_list(std::vector<Value> x = {}) { Value v; v.t = kList; v.list = std::make_shared<std::vector<Value>>(std::move(x)); return v; }
  static Value make_dict();
  static Value func(std::string name) { Value v; v.t = kFunc; v.s = std::move(name); return v; }
  bool defined() const { return t != kUndef; }
};

struct Object {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(const std::string& k) const {
    for (const auto& [key, v] : items) if (key == k) return &v;
    return nullptr;
  }
  void set(const std::string& k, Value v) {
    for (auto& [key, old] : items) if (key == k) return void(old = std::move(v));
    items.emplace_back(k, std::move(v));
  }
};
inline Value Value::make_dict() { Value v; v.t = kDict; v.dict = std::make_shared<Object>(); return v; }

enum class NK : uint8_t {
  kText, kOutput, kIf, kFor, kSet, kSetBlock, kBreak, kContinue,                                 // statements
  kLit, kVar, kAttr, kIndex, kSlice, kCall, kFilter, kTest, kUnary, kBinary, kTernary, kList, kDict  // expressions
};

struct Node;
using NodeP = std::shared_ptr<const Node>;
using Body = std::vector<NodeP>;

// One node type for statements and expressions (fields used per kind; see jinja_parse.cc).
struct Node {
  NK kind;
  int line = 0;
  std::string str;                 // text, name, operator
  Value lit;                       // kLit
  std::vector<NodeP> kids;         // operands / conditions / positional arguments (may hold nullptr)
  std::vector<std::string> names;  // for-loop targets, set target, keyword argument names
  std::vector<NodeP> kw;           // keyword argument values (parallel to names for calls/filters)
  std::vector<Body> bodies;        // if branches (+ else), for body + else, set block body
  bool neg = false;                // `is not`
  int height = 1;                  // expression tree height (bounded by Limits::max_depth)
};

// Parses SOURCE (after trim_blocks/lstrip_blocks preprocessing) into a body; throws Error.
Body parse_template(std::string_view source, const Limits& limits);
// Renders BODY with the variables in CONTEXT; throws Error.
std::string render_body(const Body& body, const nlohmann::ordered_json& context, const Limits& limits);

}  // namespace pare::llm::jinja
