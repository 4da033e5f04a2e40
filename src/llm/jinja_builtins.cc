// Jinja subset: global functions, filters, tests and string/dict methods (see jinja.h for the list).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "llm/jinja_eval.h"

namespace pare::llm::jinja {
namespace {

const char* kPyWhitespace = " \t\n\r\f\v";

std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  const std::string set = chars.t == Value::kStr ? chars.s : kPyWhitespace;
  size_t a = 0, b = s.size();
  if (left) while (a < b && set.find(s[a]) != std::string::npos) ++a;
  if (right) while (b > a && set.find(s[b - 1]) != std::string::npos) --b;
  return s.substr(a, b - a);
}

std::string ascii_case(std::string s, bool upper) {
  for (char& c : s)
    if (upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) c = static_cast<char>(c ^ 0x20);
  return s;
}

std::string title(const std::string& s) {
  std::string o = s;
  bool start = true;
  for (char& c : o) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alpha) c = start ? ascii_case(std::string(1, c), true)[0] : ascii_case(std::string(1, c), false)[0];
    start = !alpha && !(c >= '0' && c <= '9') && !(static_cast<unsigned char>(c) & 0x80);
  }
  return o;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count, Ctx& cx) {
  std::string o;
  if (from.empty()) {  // Python inserts TO between characters
    auto cps = utf8_decode(s);
    for (size_t k = 0; k < cps.size(); ++k) {
      if (count < 0 || static_cast<int64_t>(k) < count) o += to;
      o += utf8_encode(cps, k, k + 1);
      cx.check_size(o.size());
    }
    if (count < 0 || static_cast<int64_t>(cps.size()) < count) o += to;
    return o;
  }
  size_t p = 0;
  for (int64_t n = 0; count < 0 || n < count; ++n) {
    size_t q = s.find(from, p);
    if (q == std::string::npos) break;
    o.append(s, p, q - p);
    o += to;
    cx.check_size(o.size());
    p = q + from.size();
  }
  o.append(s, p, std::string::npos);
  return o;
}

Value split(const std::string& s, const Value& sep, const Value& maxsplit, Ctx& cx) {
  Value out = Value::make_list();
  int64_t limit = maxsplit.t == Value::kInt ? maxsplit.i : -1;
  if (sep.t != Value::kStr) {  // on runs of whitespace
    size_t p = 0;
    while (true) {
      while (p < s.size() && std::strchr(kPyWhitespace, s[p]) && s[p]) ++p;
      if (p >= s.size()) break;
      if (limit == 0) {
        out.list->push_back(Value::str(strip(s.substr(p), Value(), false, true)));
        break;
      }
      size_t q = p;
      while (q < s.size() && !(std::strchr(kPyWhitespace, s[q]) && s[q])) ++q;
      out.list->push_back(Value::str(s.substr(p, q - p)));
      --limit;
      p = q;
    }
    return out;
  }
  if (sep.s.empty()) fail(cx.line, "split: empty separator");
  size_t p = 0;
  while (true) {
    cx.step();
    size_t q = limit == 0 ? std::string::npos : s.find(sep.s, p);
    if (q == std::string::npos) {
      out.list->push_back(Value::str(s.substr(p)));
      break;
    }
    out.list->push_back(Value::str(s.substr(p, q - p)));
    --limit;
    p = q + sep.s.size();
  }
  return out;
}

std::vector<Value> as_items(const Value& v, int line) {
  if (v.t == Value::kList) return *v.list;
  if (v.t == Value::kDict) {
    std::vector<Value> out;
    for (const auto& [k, x] : v.dict->items) out.push_back(Value::str(k));
    return out;
  }
  if (v.t == Value::kStr) {
    auto cps = utf8_decode(v.s);
    std::vector<Value> out;
    for (size_t k = 0; k < cps.size(); ++k) out.push_back(Value::str(utf8_encode(cps, k, k + 1)));
    return out;
  }
  if (v.t == Value::kUndef || v.t == Value::kNone) return {};
  fail(line, "value is not iterable");
}

Value attr_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t p = 0;
  while (p <= path.size()) {
    size_t q = path.find('.', p);
    std::string part = path.substr(p, q == std::string::npos ? std::string::npos : q - p);
    if (cur.t == Value::kDict) {
      const Value* v = cur.dict->find(part);
      cur = v ? *v : Value();
    } else if (cur.t == Value::kList && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit) && part.size() < 10) {
      size_t k = std::stoul(part);
      cur = k < cur.list->size() ? (*cur.list)[k] : Value();
    } else {
      return Value();
    }
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return cur;
}

Value items_of(const Value& v, int line) {
  if (v.t != Value::kDict) fail(line, "items() needs a mapping");
  Value out = Value::make_list();
  for (const auto& [k, x] : v.dict->items) out.list->push_back(Value::make_list({Value::str(k), x}));
  return out;
}

int64_t to_int(const Value& v, int line) {
  if (v.t == Value::kInt) return v.i;
  if (v.t == Value::kBool) return v.b;
  if (v.t == Value::kFloat) return std::isfinite(v.f) && std::fabs(v.f) < 9e18 ? static_cast<int64_t>(v.f) : 0;
  fail(line, "expected an integer");
}

}  // namespace

Value call_global(const std::string& name, const Args& a, Ctx& cx) {
  if (name == "raise_exception") {
    Value m = a.get(0, "message");
    fail(cx.line, "raise_exception: " + to_str(m, cx));
  }
  if (name == "range") {
    int64_t start = 0, stop, step = 1;
    if (a.pos.empty() || a.pos.size() > 3) fail(cx.line, "range() takes 1 to 3 arguments");
    if (a.pos.size() == 1) {
      stop = to_int(a.pos[0], cx.line);
    } else {
      start = to_int(a.pos[0], cx.line), stop = to_int(a.pos[1], cx.line);
      if (a.pos.size() == 3) step = to_int(a.pos[2], cx.line);
    }
    if (step == 0) fail(cx.line, "range() step cannot be zero");
    const double n = std::ceil((double(stop) - double(start)) / double(step));
    if (n > double(cx.lim.max_output)) fail(cx.line, "range() too long");
    cx.step(static_cast<int64_t>(std::max(0.0, n)));
    Value out = Value::make_list();
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) out.list->push_back(Value::integer(k));
    return out;
  }
  if (name == "namespace" || name == "dict") {
    Value ns = Value::make_dict();
    ns.ns = name == "namespace";
    if (!a.pos.empty() && a.pos[0].t == Value::kDict)
      for (const auto& [k, v] : a.pos[0].dict->items) ns.dict->set(k, v);
    for (const auto& [k, v] : a.kw) ns.dict->set(k, v);
    return ns;
  }
  if (name == "strftime_now") {
    // Deterministic: the date is a render input (pass strftime_now's result or date_string in the
    // context); this fallback formats a fixed date for %d %b %Y / %B %d, %Y / %Y-%m-%d.
    std::string f = to_str(a.get(0, "format"), cx), o;
    for (size_t k = 0; k < f.size(); ++k) {
      if (f[k] != '%' || k + 1 >= f.size()) {
        o += f[k];
        continue;
      }
      switch (f[++k]) {
        case 'd': o += "26"; break;
        case 'b': o += "Jul"; break;
        case 'B': o += "July"; break;
        case 'Y': o += "2024"; break;
        case 'm': o += "07"; break;
        default: o += '%', o += f[k];
      }
    }
    return Value::str(o);
  }
  fail(cx.line, "unknown function '" + name + "'");
}

Value call_method(const Value& self, const std::string& m, const Args& a, Ctx& cx) {
  const int line = cx.line;
  if (self.t == Value::kStr) {
    const std::string& s = self.s;
    if (m == "strip") return Value::str(strip(s, a.get(0, "chars"), true, true));
    if (m == "lstrip") return Value::str(strip(s, a.get(0, "chars"), true, false));
    if (m == "rstrip") return Value::str(strip(s, a.get(0, "chars"), false, true));
    if (m == "upper") return Value::str(ascii_case(s, true));
    if (m == "lower") return Value::str(ascii_case(s, false));
    if (m == "title") return Value::str(title(s));
    if (m == "capitalize") return Value::str(s.empty() ? s : ascii_case(s.substr(0, 1), true) + ascii_case(s.substr(1), false));
    if (m == "split") return split(s, a.get(0, "sep"), a.get(1, "maxsplit"), cx);
    if (m == "startswith" || m == "endswith") {
      Value p = a.get(0, "prefix");
      std::vector<Value> opts = p.t == Value::kList ? *p.list : std::vector<Value>{p};
      for (const Value& o : opts) {
        if (o.t != Value::kStr) fail(line, m + "() needs a string");
        if (m == "startswith" ? s.compare(0, o.s.size(), o.s) == 0 && s.size() >= o.s.size()
                              : s.size() >= o.s.size() && s.compare(s.size() - o.s.size(), o.s.size(), o.s) == 0)
          return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (m == "replace") {
      Value from = a.get(0, "old"), to = a.get(1, "new"), count = a.get(2, "count");
      if (from.t != Value::kStr || to.t != Value::kStr) fail(line, "replace() needs two strings");
      return Value::str(replace_all(s, from.s, to.s, count.t == Value::kInt ? count.i : -1, cx));
    }
    if (m == "find" || m == "count") {
      Value sub = a.get(0, "sub");
      if (sub.t != Value::kStr) fail(line, m + "() needs a string");
      if (m == "find") {
        size_t p = s.find(sub.s);
        return Value::integer(p == std::string::npos ? -1 : static_cast<int64_t>(utf8_decode(s.substr(0, p)).size()));
      }
      int64_t n = 0;
      if (sub.s.empty()) return Value::integer(static_cast<int64_t>(utf8_decode(s).size()) + 1);
      for (size_t p = s.find(sub.s); p != std::string::npos; p = s.find(sub.s, p + sub.s.size())) ++n;
      return Value::integer(n);
    }
    if (m == "join") {
      std::string o;
      auto items = as_items(a.get(0, "iterable"), line);
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) o += s;
        o += to_str(items[k], cx);
        cx.check_size(o.size());
      }
      return Value::str(o);
    }
    fail(line, "strings have no method '" + m + "'");
  }
  if (self.t == Value::kDict) {
    if (m == "items") return items_of(self, line);
    if (m == "keys" || m == "values") {
      Value out = Value::make_list();
      for (const auto& [k, v] : self.dict->items) out.list->push_back(m == "keys" ? Value::str(k) : v);
      return out;
    }
    if (m == "get") {
      Value key = a.get(0, "key");
      const Value* v = key.t == Value::kStr ? self.dict->find(key.s) : nullptr;
      return v ? *v : (a.pos.size() > 1 ? a.pos[1] : Value::none());
    }
    if (const Value* f = self.dict->find(m); f && f->t == Value::kFunc) return call_global(f->s, a, cx);
    fail(line, "mappings have no method '" + m + "'");
  }
  if (self.t == Value::kList && m == "append") {
    cx.check_size(self.list->size() + 1);
    self.list->push_back(a.get(0, "item"));
    return Value::none();
  }
  fail(line, self.t == Value::kUndef ? "calling method '" + m + "' of an undefined value" : "value has no method '" + m + "'");
}

Value apply_filter(const std::string& f, const Value& v, const Args& a, Ctx& cx) {
  const int line = cx.line;
  if (f == "length" || f == "count") return Value::integer(static_cast<int64_t>(length_of(v, line)));
  if (f == "trim") return Value::str(strip(to_str(v, cx), a.get(0, "chars"), true, true));
  if (f == "upper" || f == "lower" || f == "title" || f == "capitalize") return call_method(Value::str(to_str(v, cx)), f, a, cx);
  if (f == "string") return v.t == Value::kStr ? v : Value::str(to_str(v, cx));
  if (f == "safe") return v;
  if (f == "tojson") {
    Value ind = a.get(0, "indent");
    std::string o;
    to_json(o, v, ind.t == Value::kInt ? static_cast<int>(std::clamp<int64_t>(ind.i, 0, 64)) : 0, 0, cx);
    cx.check_size(o.size());
    return Value::str(o);
  }
  if (f == "int") {
    if (v.t == Value::kStr) {
      char* end = nullptr;
      long long x = std::strtoll(v.s.c_str(), &end, 10);
      return Value::integer(end && *end == '\0' && !v.s.empty() ? x : 0);
    }
    return is_num(v) ? Value::integer(to_int(v, line)) : Value::integer(0);
  }
  if (f == "float") {
    if (v.t == Value::kStr) return Value::real(std::strtod(v.s.c_str(), nullptr));
    return Value::real(is_num(v) ? num(v) : 0.0);
  }
  if (f == "abs") {
    if (v.t == Value::kInt) return Value::integer(v.i < 0 ? -v.i : v.i);
    if (v.t == Value::kFloat) return Value::real(std::fabs(v.f));
    fail(line, "abs needs a number");
  }
  if (f == "round") {
    Value p = a.get(0, "precision");
    const double scale = std::pow(10.0, p.t == Value::kInt ? static_cast<double>(std::clamp<int64_t>(p.i, 0, 15)) : 0.0);
    return Value::real(std::round(num(v) * scale) / scale);
  }
  if (f == "list") return Value::make_list(as_items(v, line));
  if (f == "first" || f == "last") {
    if (v.t == Value::kStr) {
      auto cps = utf8_decode(v.s);
      if (cps.empty()) return Value();
      const size_t k = f == "first" ? 0 : cps.size() - 1;
      return Value::str(utf8_encode(cps, k, k + 1));
    }
    auto items = as_items(v, line);
    if (items.empty()) return Value();
    return f == "first" ? items.front() : items.back();
  }
  if (f == "reverse") {
    if (v.t == Value::kStr) {
      auto cps = utf8_decode(v.s);
      std::reverse(cps.begin(), cps.end());
      return Value::str(utf8_encode(cps, 0, cps.size()));
    }
    auto items = as_items(v, line);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (f == "join") {
    Value sep = a.get(0, "d"), attr = a.get(1, "attribute");
    std::string o;
    auto items = as_items(v, line);
    for (size_t k = 0; k < items.size(); ++k) {
      if (k) o += to_str(sep, cx);
      o += to_str(attr.t == Value::kStr ? attr_path(items[k], attr.s) : items[k], cx);
      cx.check_size(o.size());
    }
    return Value::str(o);
  }
  if (f == "default" || f == "d") {
    Value dflt = a.get(0, "default_value"), boolean = a.get(1, "boolean");
    const bool use = truthy(boolean) ? !truthy(v) : !v.defined();
    return use ? (dflt.defined() ? dflt : Value::str("")) : v;
  }
  if (f == "selectattr" || f == "rejectattr") {
    Value attr = a.get(0, "attr");
    if (attr.t != Value::kStr) fail(line, f + " needs an attribute name");
    Args targs;
    std::string test = a.pos.size() > 1 ? to_str(a.pos[1], cx) : "";
    for (size_t k = 2; k < a.pos.size(); ++k) targs.pos.push_back(a.pos[k]);
    Value out = Value::make_list();
    for (const Value& item : as_items(v, line)) {
      cx.step();
      Value x = attr_path(item, attr.s);
      const bool ok = test.empty() ? truthy(x) : apply_test(test, x, targs, cx);
      if (ok == (f == "selectattr")) out.list->push_back(item);
    }
    return out;
  }
  if (f == "map") {
    Value attr = a.get(99, "attribute");
    Value out = Value::make_list();
    for (const Value& item : as_items(v, line)) {
      cx.step();
      if (attr.t == Value::kStr) {
        Value x = attr_path(item, attr.s);
        if (!x.defined()) x = a.get(99, "default");
        out.list->push_back(x);
      } else if (!a.pos.empty() && a.pos[0].t == Value::kStr) {
        Args rest;
        rest.pos.assign(a.pos.begin() + 1, a.pos.end());
        out.list->push_back(apply_filter(a.pos[0].s, item, rest, cx));
      } else {
        fail(line, "map needs attribute= or a filter name");
      }
    }
    return out;
  }
  if (f == "items") return items_of(v, line);
  if (f == "dictsort") {
    Value out = items_of(v, line);
    std::stable_sort(out.list->begin(), out.list->end(), [](const Value& x, const Value& y) { return (*x.list)[0].s < (*y.list)[0].s; });
    return out;
  }
  if (f == "unique") {
    Value out = Value::make_list();
    for (const Value& item : as_items(v, line)) {
      cx.step(static_cast<int64_t>(out.list->size()) + 1);
      bool seen = false;
      for (const Value& o : *out.list) seen = seen || equal(o, item);
      if (!seen) out.list->push_back(item);
    }
    return out;
  }
  if (f == "sort") {
    auto items = as_items(v, line);
    Value attr = a.get(2, "attribute");
    const bool rev = truthy(a.get(0, "reverse"));
    cx.step(static_cast<int64_t>(items.size()) * 20);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      const Value kx = attr.t == Value::kStr ? attr_path(x, attr.s) : x, ky = attr.t == Value::kStr ? attr_path(y, attr.s) : y;
      return rev ? compare(ky, kx, line) < 0 : compare(kx, ky, line) < 0;
    });
    return Value::make_list(std::move(items));
  }
  if (f == "sum" || f == "min" || f == "max") {
    auto items = as_items(v, line);
    if (f == "sum") {
      Value acc = a.get(1, "start");
      if (!acc.defined()) acc = Value::integer(0);
      for (const Value& x : items) {
        if (!is_num(x) || !is_num(acc)) fail(line, "sum needs numbers");
        acc = acc.t == Value::kFloat || x.t == Value::kFloat ? Value::real(num(acc) + num(x)) : Value::integer(acc.i + to_int(x, line));
      }
      return acc;
    }
    if (items.empty()) return Value();
    Value best = items[0];
    for (const Value& x : items)
      if (f == "min" ? compare(x, best, line) < 0 : compare(x, best, line) > 0) best = x;
    return best;
  }
  if (f == "indent") {
    Value w = a.get(0, "width"), first = a.get(1, "first");
    const std::string pad = w.t == Value::kStr ? w.s : std::string(static_cast<size_t>(w.t == Value::kInt ? std::clamp<int64_t>(w.i, 0, 256) : 4), ' ');
    std::string s = to_str(v, cx), o;
    for (size_t k = 0; k < s.size(); ++k) {
      o += s[k];
      if (s[k] == '\n' && k + 1 < s.size() && s[k + 1] != '\n') o += pad;
      cx.check_size(o.size());
    }
    return Value::str(truthy(first) ? pad + o : o);
  }
  if (f == "replace") return call_method(Value::str(to_str(v, cx)), "replace", a, cx);
  fail(line, "unknown filter '" + f + "'");
}

bool apply_test(const std::string& t, const Value& v, const Args& a, Ctx& cx) {
  const int line = cx.line;
  if (t == "defined") return v.defined();
  if (t == "undefined") return !v.defined();
  if (t == "none") return v.t == Value::kNone;
  if (t == "string") return v.t == Value::kStr;
  if (t == "number") return v.t == Value::kInt || v.t == Value::kFloat;
  if (t == "integer") return v.t == Value::kInt;
  if (t == "float") return v.t == Value::kFloat;
  if (t == "boolean") return v.t == Value::kBool;
  if (t == "true") return v.t == Value::kBool && v.b;
  if (t == "false") return v.t == Value::kBool && !v.b;
  if (t == "mapping") return v.t == Value::kDict;
  if (t == "iterable") return v.t == Value::kList || v.t == Value::kDict || v.t == Value::kStr;
  if (t == "sequence") return v.t == Value::kList || v.t == Value::kStr;
  if (t == "callable") return v.t == Value::kFunc;
  if (t == "lower" || t == "upper") return v.t == Value::kStr && ascii_case(v.s, t == "upper") == v.s;
  if (t == "even" || t == "odd") {
    if (v.t != Value::kInt) fail(line, "test '" + t + "' needs an integer");
    return (v.i % 2 == 0) == (t == "even");
  }
  if (t == "divisibleby") {
    Value d = a.get(0, "num");
    if (v.t != Value::kInt || d.t != Value::kInt || d.i == 0) fail(line, "divisibleby needs non-zero integers");
    return v.i % d.i == 0;
  }
  Value o = a.get(0, "other");
  if (t == "equalto" || t == "eq" || t == "==" || t == "sameas") return equal(v, o);
  if (t == "ne" || t == "!=") return !equal(v, o);
  if (t == "lt" || t == "lessthan") return compare(v, o, line) < 0;
  if (t == "gt" || t == "greaterthan") return compare(v, o, line) > 0;
  if (t == "le") return compare(v, o, line) <= 0;
  if (t == "ge") return compare(v, o, line) >= 0;
  if (t == "in") return o.t == Value::kList ? std::any_of(o.list->begin(), o.list->end(), [&](const Value& x) { return equal(x, v); })
                                            : o.t == Value::kStr && v.t == Value::kStr && o.s.find(v.s) != std::string::npos;
  fail(line, "unknown test '" + t + "'");
}

}  // namespace pare::llm::jinja
