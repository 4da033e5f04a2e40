// Evaluator internals of the Jinja subset shared by jinja_eval.cc and jinja_builtins.cc.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "llm/jinja_impl.h"

namespace pare::llm::jinja {

[[noreturn]] void fail(int line, std::string msg);

struct Ctx {
  const Limits& lim;
  int64_t steps = 0;
  int line = 0;
  std::string* out = nullptr;
  std::vector<std::vector<std::pair<std::string, Value>>> scopes;

  void step(int64_t n = 1);
  void check_size(size_t n) const;  // fails if a string/list of N bytes/items exceeds the limit
  Value* lookup(const std::string& name);
  void assign(const std::string& name, Value v);  // in the innermost scope
};

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // Positional argument K, or keyword NAME, or undefined.
  Value get(size_t k, const char* name) const {
    for (const auto& [n, v] : kw)
      if (n == name) return v;
    return k < pos.size() ? pos[k] : Value();
  }
};

Value from_json(const nlohmann::ordered_json& j);
void to_json(std::string& o, const Value& v, int indent, int depth, Ctx& cx);
std::string to_str(const Value& v, Ctx& cx);
std::string num_to_string(double f);
bool truthy(const Value& v);
bool is_num(const Value& v);
double num(const Value& v);
bool equal(const Value& a, const Value& b);
int compare(const Value& a, const Value& b, int line);
size_t length_of(const Value& v, int line);
std::vector<uint32_t> utf8_decode(const std::string& s);
std::string utf8_encode(const std::vector<uint32_t>& cps, size_t from, size_t to);

Value eval(const Node& n, Ctx& cx);
Args eval_args(const Node& n, size_t first, Ctx& cx);
// jinja_builtins.cc
Value call_global(const std::string& name, const Args& a, Ctx& cx);
Value call_method(const Value& self, const std::string& name, const Args& a, Ctx& cx);
Value apply_filter(const std::string& name, const Value& v, const Args& a, Ctx& cx);
bool apply_test(const std::string& name, const Value& v, const Args& a, Ctx& cx);

}  // namespace pare::llm::jinja
