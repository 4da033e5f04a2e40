// Jinja subset: the evaluator (statements, expressions, tests, globals). Filters and methods are
// in jinja_builtins.cc.
#include <cmath>

#include "llm/jinja_eval.h"

namespace pare::llm::jinja {

[[noreturn]] void fail(int line, std::string msg) { throw Error{std::move(msg), line}; }

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: return Value::integer(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float: return Value::real(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::str(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Value v = Value::make_list();
      for (const auto& x : j) v.list->push_back(from_json(x));
      return v;
    }
    case nlohmann::ordered_json::value_t::object: {
      Value v = Value::make_dict();
      for (auto it = j.begin(); it != j.end(); ++it) v.dict->items.emplace_back(it.key(), from_json(it.value()));
      return v;
    }
    default: return Value();
  }
}

namespace {

void json_escape(std::string& o, const std::string& s) {
  o += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      case '\b': o += "\\b"; break;
      case '\f': o += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  o += '"';
}

}  // namespace

std::string num_to_string(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
  if (f == std::floor(f) && std::fabs(f) < 1e16) return fmt::format("{:.1f}", f);
  std::string s = fmt::format("{}", f);  // shortest round-trip, like JavaScript
  return s;
}

void to_json(std::string& o, const Value& v, int indent, int depth, Ctx& cx) {
  if (depth > cx.lim.max_depth) fail(cx.line, "tojson: value nested too deeply");
  if (o.size() > cx.lim.max_output) fail(cx.line, "tojson: output too large");
  switch (v.t) {
    case Value::kUndef: case Value::kNone: case Value::kFunc: o += "null"; return;
    case Value::kBool: o += v.b ? "true" : "false"; return;
    case Value::kInt: o += std::to_string(v.i); return;
    case Value::kFloat: {
      if (v.f == std::floor(v.f) && std::fabs(v.f) < 1e16) o += fmt::format("{}", static_cast<int64_t>(v.f));
      else o += num_to_string(v.f);
      return;
    }
    case Value::kStr: json_escape(o, v.s); return;
    case Value::kList: case Value::kDict: {
      const bool list = v.t == Value::kList;
      const size_t n = list ? v.list->size() : v.dict->items.size();
      const std::string pad = indent > 0 ? "\n" + std::string(static_cast<size_t>(indent) * depth, ' ') : "";
      const std::string child = indent > 0 ? pad + std::string(indent, ' ') : "";
      const char* sep = indent > 0 ? "," : ", ";
      o += list ? '[' : '{';
      for (size_t k = 0; k < n; ++k) {
        if (k) o += sep;
        o += child;
        if (list) {
          to_json(o, (*v.list)[k], indent, depth + 1, cx);
        } else {
          json_escape(o, v.dict->items[k].first);
          o += ": ";
          to_json(o, v.dict->items[k].second, indent, depth + 1, cx);
        }
      }
      if (n && indent > 0) o += pad;
      o += list ? ']' : '}';
      return;
    }
  }
}

std::string to_str(const Value& v, Ctx& cx) {
  switch (v.t) {
    case Value::kUndef: case Value::kNone: return "";
    case Value::kBool: return v.b ? "true" : "false";
    case Value::kInt: return std::to_string(v.i);
    case Value::kFloat: return num_to_string(v.f);
    case Value::kStr: return v.s;
    case Value::kFunc: return "[function " + v.s + "]";
    default: {
      std::string o;
      to_json(o, v, 0, 0, cx);
      return o;
    }
  }
}

bool truthy(const Value& v) {
  switch (v.t) {
    case Value::kUndef: case Value::kNone: return false;
    case Value::kBool: return v.b;
    case Value::kInt: return v.i != 0;
    case Value::kFloat: return v.f != 0;
    case Value::kStr: return !v.s.empty();
    case Value::kList: return !v.list->empty();
    case Value::kDict: return v.ns || !v.dict->items.empty();
    default: return true;
  }
}

bool is_num(const Value& v) { return v.t == Value::kInt || v.t == Value::kFloat || v.t == Value::kBool; }
double num(const Value& v) { return v.t == Value::kInt ? double(v.i) : v.t == Value::kFloat ? v.f : v.t == Value::kBool ? double(v.b) : 0; }

bool equal(const Value& a, const Value& b) {
  if (is_num(a) && is_num(b)) return num(a) == num(b);
  if ((a.t == Value::kNone || a.t == Value::kUndef) && (b.t == Value::kNone || b.t == Value::kUndef)) return true;
  if (a.t != b.t) return false;
  switch (a.t) {
    case Value::kStr: case Value::kFunc: return a.s == b.s;
    case Value::kList: {
      if (a.list == b.list) return true;
      if (a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!equal((*a.list)[k], (*b.list)[k])) return false;
      return true;
    }
    case Value::kDict: {
      if (a.dict == b.dict) return true;
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& [k, v] : a.dict->items) {
        const Value* w = b.dict->find(k);
        if (!w || !equal(v, *w)) return false;
      }
      return true;
    }
    default: return false;
  }
}

// <0, 0, >0 (numbers or strings); throws for other types.
int compare(const Value& a, const Value& b, int line) {
  if (is_num(a) && is_num(b)) return num(a) < num(b) ? -1 : num(a) > num(b) ? 1 : 0;
  if (a.t == Value::kStr && b.t == Value::kStr) return a.s.compare(b.s) < 0 ? -1 : a.s == b.s ? 0 : 1;
  fail(line, "cannot compare these values");
}

std::vector<uint32_t> utf8_decode(const std::string& s) {
  std::vector<uint32_t> cps;
  for (size_t k = 0; k < s.size();) {
    const unsigned char c = s[k];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (k + n > s.size()) n = 1;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int j = 1; j < n; ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[k + j]) & 0x3F);
    cps.push_back(cp);
    k += n;
  }
  return cps;
}

std::string utf8_encode(const std::vector<uint32_t>& cps, size_t from, size_t to) {
  std::string o;
  for (size_t k = from; k < to; ++k) {
    uint32_t c = cps[k];
    if (c < 0x80) {
      o += static_cast<char>(c);
    } else if (c < 0x800) {
      o += static_cast<char>(0xC0 | (c >> 6)), o += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      o += static_cast<char>(0xE0 | (c >> 12)), o += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), o += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      o += static_cast<char>(0xF0 | (c >> 18)), o += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      o += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), o += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return o;
}

size_t length_of(const Value& v, int line) {
  switch (v.t) {
    case Value::kStr: return utf8_decode(v.s).size();
    case Value::kList: return v.list->size();
    case Value::kDict: return v.dict->items.size();
    default: fail(line, "length of a value that has none");
  }
}

void Ctx::step(int64_t n) {
  steps += n;
  if (steps > lim.max_steps) fail(line, "template evaluation exceeds the step limit");
}

void Ctx::check_size(size_t n) const {
  if (n > lim.max_output) fail(line, "template builds a value larger than the output limit");
}

Value* Ctx::lookup(const std::string& name) {
  for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
    for (auto& [k, v] : *it)
      if (k == name) return &v;
  return nullptr;
}

void Ctx::assign(const std::string& name, Value v) {
  auto& top = scopes.back();
  for (auto& [k, old] : top)
    if (k == name) return void(old = std::move(v));
  top.emplace_back(name, std::move(v));
}

namespace {

Value index_value(const Value& obj, const Value& idx, int line) {
  if (obj.t == Value::kDict) {
    if (idx.t != Value::kStr) return Value();
    const Value* v = obj.dict->find(idx.s);
    return v ? *v : Value();
  }
  if (obj.t == Value::kList || obj.t == Value::kStr) {
    if (idx.t != Value::kInt) fail(line, "list and string indices must be integers");
    if (obj.t == Value::kList) {
      const int64_t n = static_cast<int64_t>(obj.list->size());
      const int64_t k = idx.i < 0 ? idx.i + n : idx.i;
      return k >= 0 && k < n ? (*obj.list)[static_cast<size_t>(k)] : Value();
    }
    auto cps = utf8_decode(obj.s);
    const int64_t n = static_cast<int64_t>(cps.size());
    const int64_t k = idx.i < 0 ? idx.i + n : idx.i;
    return k >= 0 && k < n ? Value::str(utf8_encode(cps, static_cast<size_t>(k), static_cast<size_t>(k) + 1)) : Value();
  }
  return Value();
}

Value slice_value(const Value& obj, const Value* a, const Value* b, const Value* c, int line) {
  int64_t step = c && c->defined() && c->t != Value::kNone ? (c->t == Value::kInt ? c->i : (fail(line, "slice step must be an integer"), 0)) : 1;
  if (step == 0) fail(line, "slice step cannot be zero");
  std::vector<uint32_t> cps;
  int64_t n;
  if (obj.t == Value::kList) {
    n = static_cast<int64_t>(obj.list->size());
  } else if (obj.t == Value::kStr) {
    cps = utf8_decode(obj.s);
    n = static_cast<int64_t>(cps.size());
  } else {
    fail(line, "only lists and strings can be sliced");
  }
  auto bound = [&](const Value* v, int64_t dflt) -> int64_t {
    if (!v || !v->defined() || v->t == Value::kNone) return dflt;
    if (v->t != Value::kInt) fail(line, "slice bounds must be integers");
    int64_t k = v->i < 0 ? v->i + n : v->i;
    return step > 0 ? std::clamp<int64_t>(k, 0, n) : std::clamp<int64_t>(k, -1, n - 1);
  };
  const int64_t from = bound(a, step > 0 ? 0 : n - 1), to = bound(b, step > 0 ? n : -1);
  std::vector<size_t> picks;
  for (int64_t k = from; step > 0 ? k < to : k > to; k += step) picks.push_back(static_cast<size_t>(k));
  if (obj.t == Value::kList) {
    Value out = Value::make_list();
    for (size_t k : picks) out.list->push_back((*obj.list)[k]);
    return out;
  }
  std::vector<uint32_t> sel;
  for (size_t k : picks) sel.push_back(cps[k]);
  return Value::str(utf8_encode(sel, 0, sel.size()));
}

Value arith(const std::string& op, const Value& l, const Value& r, Ctx& cx) {
  const int line = cx.line;
  if (op == "~") {
    std::string s = to_str(l, cx) + to_str(r, cx);
    cx.check_size(s.size());
    return Value::str(std::move(s));
  }
  if (op == "+") {
    if (l.t == Value::kList && r.t == Value::kList) {
      cx.check_size(l.list->size() + r.list->size());
      cx.step(static_cast<int64_t>(l.list->size() + r.list->size()));
      Value out = Value::make_list(*l.list);
      out.list->insert(out.list->end(), r.list->begin(), r.list->end());
      return out;
    }
    if (l.t == Value::kStr || r.t == Value::kStr) {
      if (!l.defined() || !r.defined()) fail(line, "cannot add an undefined value to a string");
      std::string s = to_str(l, cx) + to_str(r, cx);
      cx.check_size(s.size());
      cx.step(static_cast<int64_t>(s.size() / 64));
      return Value::str(std::move(s));
    }
  }
  if (op == "*" && ((l.t == Value::kStr && r.t == Value::kInt) || (l.t == Value::kInt && r.t == Value::kStr))) {
    const Value& s = l.t == Value::kStr ? l : r;
    const int64_t times = std::max<int64_t>(0, l.t == Value::kInt ? l.i : r.i);
    if (times > 0 && s.s.size() * static_cast<size_t>(std::min<int64_t>(times, 1 << 30)) > cx.lim.max_output) cx.check_size(cx.lim.max_output + 1);
    std::string o;
    for (int64_t k = 0; k < times; ++k) o += s.s;
    return Value::str(std::move(o));
  }
  if (!is_num(l) || !is_num(r)) fail(line, "unsupported operand types for '" + op + "'");
  const bool ints = l.t != Value::kFloat && r.t != Value::kFloat;
  const double a = num(l), b = num(r);
  if (op == "/") {
    if (b == 0) fail(line, "division by zero");
    return Value::real(a / b);
  }
  if (ints) {
    const int64_t x = l.t == Value::kBool ? l.b : l.i, y = r.t == Value::kBool ? r.b : r.i;
    if (op == "+") return Value::integer(static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y)));
    if (op == "-") return Value::integer(static_cast<int64_t>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y)));
    if (op == "*") return Value::integer(static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y)));
    if (op == "//" || op == "%") {
      if (y == 0) fail(line, "division by zero");
      if (x == INT64_MIN && y == -1) fail(line, "integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) --q, m += y;
      return Value::integer(op == "//" ? q : m);
    }
    if (op == "**" && y >= 0 && y < 64) {
      const double p = std::pow(a, b);
      if (std::fabs(p) < 9e18) return Value::integer(static_cast<int64_t>(p));
    }
    if (op == "**") return Value::real(std::pow(a, b));
  }
  if (op == "+") return Value::real(a + b);
  if (op == "-") return Value::real(a - b);
  if (op == "*") return Value::real(a * b);
  if (op == "//" || op == "%") {
    if (b == 0) fail(line, "division by zero");
    const double q = std::floor(a / b);
    return Value::real(op == "//" ? q : a - q * b);
  }
  if (op == "**") return Value::real(std::pow(a, b));
  fail(line, "unknown operator " + op);
}

bool contains(const Value& hay, const Value& needle, int line) {
  switch (hay.t) {
    case Value::kStr:
      if (needle.t != Value::kStr) fail(line, "'in <string>' requires a string on the left");
      return hay.s.find(needle.s) != std::string::npos;
    case Value::kList:
      for (const Value& x : *hay.list)
        if (equal(x, needle)) return true;
      return false;
    case Value::kDict: return needle.t == Value::kStr && hay.dict->find(needle.s) != nullptr;
    case Value::kUndef: case Value::kNone: return false;
    default: fail(line, "'in' needs a string, list or mapping on the right");
  }
}

}  // namespace

Value eval(const Node& n, Ctx& cx) {
  cx.step();
  cx.line = n.line;
  switch (n.kind) {
    case NK::kLit: return n.lit;
    case NK::kVar: {
      if (const Value* v = cx.lookup(n.str)) return *v;
      static const char* globals[] = {"range", "namespace", "raise_exception", "strftime_now", "dict"};
      for (const char* g : globals)
        if (n.str == g) return Value::func(g);
      return Value();
    }
    case NK::kAttr: {
      Value obj = eval(*n.kids[0], cx);
      if (obj.t == Value::kDict) {
        const Value* v = obj.dict->find(n.str);
        return v ? *v : Value();
      }
      if (obj.t == Value::kList && n.str == "length") return Value::integer(static_cast<int64_t>(obj.list->size()));
      return Value();
    }
    case NK::kIndex: {
      Value obj = eval(*n.kids[0], cx);
      Value idx = eval(*n.kids[1], cx);
      cx.line = n.line;
      return index_value(obj, idx, n.line);
    }
    case NK::kSlice: {
      Value obj = eval(*n.kids[0], cx);
      Value v[3];
      for (int k = 0; k < 3; ++k)
        if (n.kids[k + 1]) v[k] = eval(*n.kids[k + 1], cx);
      return slice_value(obj, n.kids[1] ? &v[0] : nullptr, n.kids[2] ? &v[1] : nullptr, n.kids[3] ? &v[2] : nullptr, n.line);
    }
    case NK::kCall: {
      Args args = eval_args(n, 1, cx);
      const Node& callee = *n.kids[0];
      if (callee.kind == NK::kAttr) {
        Value self = eval(*callee.kids[0], cx);
        cx.line = n.line;
        return call_method(self, callee.str, args, cx);
      }
      Value f = eval(callee, cx);
      cx.line = n.line;
      if (f.t != Value::kFunc) fail(n.line, callee.kind == NK::kVar ? "'" + callee.str + "' is not a function" : "calling a value that is not a function");
      return call_global(f.s, args, cx);
    }
    case NK::kFilter: {
      Value v = eval(*n.kids[0], cx);
      Args args = eval_args(n, 1, cx);
      cx.line = n.line;
      return apply_filter(n.str, v, args, cx);
    }
    case NK::kTest: {
      Value v = eval(*n.kids[0], cx);
      Args args = eval_args(n, 1, cx);
      cx.line = n.line;
      return Value::boolean(apply_test(n.str, v, args, cx) != n.neg);
    }
    case NK::kUnary: {
      Value v = eval(*n.kids[0], cx);
      if (n.str == "not") return Value::boolean(!truthy(v));
      if (!is_num(v)) fail(n.line, "unary " + n.str + " needs a number");
      if (n.str == "+") return v;
      return v.t == Value::kFloat ? Value::real(-v.f) : Value::integer(-(v.t == Value::kBool ? int64_t(v.b) : v.i));
    }
    case NK::kBinary: {
      const std::string& op = n.str;
      Value l = eval(*n.kids[0], cx);
      if (op == "and") return truthy(l) ? eval(*n.kids[1], cx) : l;
      if (op == "or") return truthy(l) ? l : eval(*n.kids[1], cx);
      Value r = eval(*n.kids[1], cx);
      cx.line = n.line;
      if (op == "==") return Value::boolean(equal(l, r));
      if (op == "!=") return Value::boolean(!equal(l, r));
      if (op == "<") return Value::boolean(compare(l, r, n.line) < 0);
      if (op == ">") return Value::boolean(compare(l, r, n.line) > 0);
      if (op == "<=") return Value::boolean(compare(l, r, n.line) <= 0);
      if (op == ">=") return Value::boolean(compare(l, r, n.line) >= 0);
      if (op == "in") return Value::boolean(contains(r, l, n.line));
      if (op == "not in") return Value::boolean(!contains(r, l, n.line));
      return arith(op, l, r, cx);
    }
    case NK::kTernary:
      if (truthy(eval(*n.kids[0], cx))) return eval(*n.kids[1], cx);
      return n.kids[2] ? eval(*n.kids[2], cx) : Value();
    case NK::kList: {
      Value out = Value::make_list();
      for (const NodeP& k : n.kids) out.list->push_back(eval(*k, cx));
      return out;
    }
    case NK::kDict: {
      Value out = Value::make_dict();
      for (size_t k = 0; k + 1 < n.kids.size(); k += 2) {
        Value key = eval(*n.kids[k], cx);
        if (key.t != Value::kStr) fail(n.line, "dictionary keys must be strings");
        out.dict->set(key.s, eval(*n.kids[k + 1], cx));
      }
      return out;
    }
    default: fail(n.line, "statement used as an expression");
  }
}

Args eval_args(const Node& n, size_t first, Ctx& cx) {
  Args a;
  for (size_t k = first; k < n.kids.size(); ++k) a.pos.push_back(eval(*n.kids[k], cx));
  for (size_t k = 0; k < n.kw.size(); ++k) a.kw.emplace_back(n.names[k], eval(*n.kw[k], cx));
  return a;
}

namespace {

enum class Flow { kNormal, kBreak, kContinue };

Flow exec(const Body& body, Ctx& cx);

void out(Ctx& cx, const std::string& s) {
  cx.out->append(s);
  if (cx.out->size() > cx.lim.max_output) fail(cx.line, "template output exceeds the limit");
}

Flow exec_for(const Node& n, Ctx& cx) {
  Value it = eval(*n.kids[0], cx);
  std::vector<Value> items;
  if (it.t == Value::kList) {
    items = *it.list;
  } else if (it.t == Value::kDict) {
    for (const auto& [k, v] : it.dict->items) items.push_back(Value::str(k));
  } else if (it.t == Value::kStr) {
    auto cps = utf8_decode(it.s);
    for (size_t k = 0; k < cps.size(); ++k) items.push_back(Value::str(utf8_encode(cps, k, k + 1)));
  } else if (it.t != Value::kUndef && it.t != Value::kNone) {
    fail(n.line, "for loop over a value that is not iterable");
  }
  cx.scopes.emplace_back();
  auto bind = [&](const Value& item) {
    if (n.names.size() == 1) return cx.assign(n.names[0], item);
    if (item.t != Value::kList || item.list->size() != n.names.size())
      fail(n.line, "cannot unpack a loop item into " + std::to_string(n.names.size()) + " names");
    for (size_t k = 0; k < n.names.size(); ++k) cx.assign(n.names[k], (*item.list)[k]);
  };
  if (n.kids[1]) {  // `for x in xs if cond`: filter first, as Jinja does
    std::vector<Value> kept;
    for (const Value& item : items) {
      cx.step();
      bind(item);
      if (truthy(eval(*n.kids[1], cx))) kept.push_back(item);
    }
    items.swap(kept);
  }
  const int64_t len = static_cast<int64_t>(items.size());
  for (int64_t k = 0; k < len; ++k) {
    cx.step();
    cx.scopes.back().clear();
    bind(items[static_cast<size_t>(k)]);
    Value loop = Value::make_dict();
    loop.dict->set("index", Value::integer(k + 1));
    loop.dict->set("index0", Value::integer(k));
    loop.dict->set("revindex", Value::integer(len - k));
    loop.dict->set("revindex0", Value::integer(len - k - 1));
    loop.dict->set("first", Value::boolean(k == 0));
    loop.dict->set("last", Value::boolean(k == len - 1));
    loop.dict->set("length", Value::integer(len));
    loop.dict->set("previtem", k > 0 ? items[static_cast<size_t>(k - 1)] : Value());
    loop.dict->set("nextitem", k + 1 < len ? items[static_cast<size_t>(k + 1)] : Value());
    cx.assign("loop", loop);
    if (exec(n.bodies[0], cx) == Flow::kBreak) break;
  }
  cx.scopes.pop_back();
  if (len == 0 && n.bodies.size() > 1) return exec(n.bodies[1], cx);
  return Flow::kNormal;
}

Flow exec(const Body& body, Ctx& cx) {
  for (const NodeP& np : body) {
    const Node& n = *np;
    cx.step();
    cx.line = n.line;
    switch (n.kind) {
      case NK::kText: out(cx, n.str); break;
      case NK::kOutput: out(cx, to_str(eval(*n.kids[0], cx), cx)); break;
      case NK::kIf: {
        size_t k = 0;
        for (; k < n.kids.size(); ++k)
          if (truthy(eval(*n.kids[k], cx))) break;
        if (k < n.bodies.size()) {
          Flow f = exec(n.bodies[k], cx);
          if (f != Flow::kNormal) return f;
        }
        break;
      }
      case NK::kFor: exec_for(n, cx); break;
      case NK::kSet: {
        Value v = eval(*n.kids[0], cx);
        if (n.names.size() == 1) {
          cx.assign(n.names[0], std::move(v));
        } else {
          Value* obj = cx.lookup(n.names[0]);
          if (!obj || obj->t != Value::kDict || !obj->ns) fail(n.line, "cannot set '" + n.names[1] + "' on '" + n.names[0] + "', which is not a namespace");
          obj->dict->set(n.names[1], std::move(v));
        }
        break;
      }
      case NK::kSetBlock: {
        std::string buf;
        std::string* saved = cx.out;
        cx.out = &buf;
        exec(n.bodies[0], cx);
        cx.out = saved;
        cx.assign(n.names[0], Value::str(std::move(buf)));
        break;
      }
      case NK::kBreak: return Flow::kBreak;
      case NK::kContinue: return Flow::kContinue;
      default: fail(n.line, "expression used as a statement");
    }
  }
  return Flow::kNormal;
}

}  // namespace

std::string render_body(const Body& body, const nlohmann::ordered_json& context, const Limits& limits) {
  std::string result;
  Ctx cx{limits};
  cx.out = &result;
  cx.scopes.emplace_back();
  if (context.is_object())
    for (auto it = context.begin(); it != context.end(); ++it) cx.scopes[0].emplace_back(it.key(), from_json(it.value()));
  exec(body, cx);
  return result;
}

Result<std::string> Template::render(const nlohmann::ordered_json& context) const {
  if (!root_) return invalid_input("chat template: not parsed");
  try {
    return render_body(root_->bodies[0], context, limits_);
  } catch (const Error& e) {
    return invalid_input("chat template: line {}: {}", e.line, e.msg);
  } catch (const std::exception& e) {
    return invalid_input("chat template: {}", e.what());
  }
}

}  // namespace pare::llm::jinja
