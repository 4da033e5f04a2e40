// Jinja subset: preprocessing, tag splitting, expression tokens and the recursive-descent parser
// (precedence as Jinja2: ternary < or < and < not < comparisons/in < + - ~ < * / // % < ** <
// unary < postfix (.attr, [i], [a:b], (args), | filter, is test)).
#include <algorithm>
#include <cctype>
#include <cstring>

#include "llm/jinja_impl.h"

namespace pare::llm::jinja {
namespace {

[[noreturn]] void fail(int line, std::string msg) { throw Error{std::move(msg), line}; }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The preprocessing @huggingface/jinja and transformers apply: drop one final newline,
// lstrip_blocks (spaces/tabs before a block or comment tag at a line start) and trim_blocks
// (the newline after a block or comment tag).
std::string preprocess(std::string_view in) {
  if (!in.empty() && in.back() == '\n') in.remove_suffix(1);
  std::string a;
  a.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (i == 0 || in[i - 1] == '\n' || in[i - 1] == '\r') {
      size_t j = i;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
      if (j + 1 < in.size() && in[j] == '{' && std::strchr("#%-", in[j + 1]) && in[j + 1] != '\0') i = j;
    }
    a += in[i++];
  }
  std::string b;
  b.reserve(a.size());
  for (size_t i = 0; i < a.size();) {
    if (i + 2 < a.size() && std::strchr("#%-", a[i]) && a[i] != '\0' && a[i + 1] == '}' && a[i + 2] == '\n') {
      b += a[i];
      b += '}';
      i += 3;
    } else {
      b += a[i++];
    }
  }
  return b;
}

enum class TT { kName, kStr, kInt, kFloat, kOp, kEnd };
struct Tok {
  TT t;
  std::string s;
  int64_t i = 0;
  double f = 0;
};

std::vector<Tok> tokenize(std::string_view src, int line) {
  std::vector<Tok> out;
  size_t p = 0;
  while (true) {
    while (p < src.size() && is_space(src[p])) ++p;
    if (p >= src.size()) break;
    const char c = src[p];
    if (c == '\'' || c == '"') {
      std::string s;
      ++p;
      while (true) {
        if (p >= src.size()) fail(line, "unterminated string literal");
        char d = src[p++];
        if (d == c) break;
        if (d == '\\') {
          if (p >= src.size()) fail(line, "unterminated string literal");
          d = src[p++];
          switch (d) {
            case 'n': s += '\n'; break;
            case 't': s += '\t'; break;
            case 'r': s += '\r'; break;
            case 'b': s += '\b'; break;
            case 'f': s += '\f'; break;
            case 'v': s += '\v'; break;
            case '\\': case '\'': case '"': s += d; break;
            default: s += '\\', s += d;
          }
        } else {
          s += d;
        }
      }
      out.push_back({TT::kStr, std::move(s)});
    } else if (c >= '0' && c <= '9') {
      size_t q = p;
      while (q < src.size() && src[q] >= '0' && src[q] <= '9') ++q;
      bool is_float = q + 1 < src.size() && src[q] == '.' && src[q + 1] >= '0' && src[q + 1] <= '9';
      if (is_float) {
        ++q;
        while (q < src.size() && src[q] >= '0' && src[q] <= '9') ++q;
      }
      std::string num(src.substr(p, q - p));
      Tok t{is_float ? TT::kFloat : TT::kInt, num};
      if (is_float) {
        t.f = std::strtod(num.c_str(), nullptr);
      } else {
        if (num.size() > 18) fail(line, "integer literal too large: " + num);
        t.i = std::stoll(num);
      }
      out.push_back(std::move(t));
      p = q;
    } else if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      size_t q = p;
      while (q < src.size() && (src[q] == '_' || std::isalnum(static_cast<unsigned char>(src[q])))) ++q;
      out.push_back({TT::kName, std::string(src.substr(p, q - p))});
      p = q;
    } else {
      static const char* two[] = {"==", "!=", "<=", ">=", "//", "**"};
      std::string op(1, c);
      for (const char* t : two)
        if (src.substr(p, 2) == t) op = t;
      if (op.size() == 1 && !std::strchr("+-*/%<>()[]{},.:|~=!", c)) fail(line, std::string("unexpected character '") + c + "'");
      out.push_back({TT::kOp, op});
      p += op.size();
    }
  }
  out.push_back({TT::kEnd, ""});
  return out;
}

struct Segment {
  enum Kind { kText, kExpr, kStmt } kind;
  std::string text;
  int line;
};

std::vector<Segment> split(const std::string& src) {
  std::vector<Segment> segs;
  size_t p = 0;
  int line = 1;
  bool strip_next = false;
  auto count_lines = [&](size_t from, size_t to) {
    for (size_t k = from; k < to; ++k) line += src[k] == '\n';
  };
  while (p < src.size()) {
    size_t open = src.find('{', p);
    while (open != std::string::npos && open + 1 < src.size() && !std::strchr("{%#", src[open + 1])) open = src.find('{', open + 1);
    if (open + 1 >= src.size()) open = std::string::npos;
    std::string text = src.substr(p, open == std::string::npos ? std::string::npos : open - p);
    if (strip_next) {
      size_t k = 0;
      while (k < text.size() && is_space(text[k])) ++k;
      text.erase(0, k);
    }
    strip_next = false;
    const int text_line = line;
    count_lines(p, open == std::string::npos ? src.size() : open);
    if (open == std::string::npos) {
      if (!text.empty()) segs.push_back({Segment::kText, std::move(text), text_line});
      break;
    }
    const char kind = src[open + 1];
    size_t q = open + 2;
    const bool lstrip = q < src.size() && src[q] == '-';
    if (lstrip) {
      ++q;
      while (!text.empty() && is_space(text.back())) text.pop_back();
    }
    if (!text.empty()) segs.push_back({Segment::kText, std::move(text), text_line});
    const int tag_line = line;
    const char close = kind == '{' ? '}' : kind;
    size_t end = std::string::npos;
    if (kind == '#') {
      end = src.find("#}", q);
    } else {
      int braces = 0;  // dict literals inside {{ }}: `}}` closes only outside them
      for (size_t k = q; k < src.size(); ++k) {
        if (kind == '{' && src[k] == '{') {
          ++braces;
        } else if (kind == '{' && src[k] == '}' && braces > 0) {
          --braces;
        } else if (src[k] == '\'' || src[k] == '"') {
          const char quote = src[k];
          for (++k; k < src.size() && src[k] != quote; ++k)
            if (src[k] == '\\') ++k;
          if (k >= src.size()) break;
        } else if (src[k] == close && k + 1 < src.size() && src[k + 1] == '}') {
          end = k;
          break;
        }
      }
    }
    if (end == std::string::npos) fail(tag_line, kind == '#' ? "unclosed comment" : kind == '{' ? "unclosed '{{'" : "unclosed '{%'");
    size_t body_end = end;
    if (end > q && src[end - 1] == '-') {
      strip_next = true;
      --body_end;
    }
    if (kind != '#') segs.push_back({kind == '{' ? Segment::kExpr : Segment::kStmt, src.substr(q, body_end - q), tag_line});
    count_lines(open, end + 2);
    p = end + 2;
  }
  return segs;
}

class Parser {
 public:
  Parser(std::vector<Segment> segs, const Limits& lim) : segs_(std::move(segs)), lim_(lim) {}

  Body parse_all() {
    std::string end;
    Body b = parse_body({}, &end);
    return b;
  }

 private:
  std::vector<Segment> segs_;
  size_t si_ = 0;
  const Limits& lim_;
  // tokens of the current tag
  std::vector<Tok> toks_;
  size_t ti_ = 0;
  int line_ = 1;
  int depth_ = 0;

  struct Depth {
    Parser* p;
    explicit Depth(Parser* x) : p(x) {
      if (++p->depth_ > p->lim_.max_depth) fail(p->line_, "template nested too deeply");
    }
    ~Depth() { --p->depth_; }
  };

  std::shared_ptr<Node> node(NK k) {
    auto n = std::make_shared<Node>();
    n->kind = k;
    n->line = line_;
    return n;
  }

  const Tok& peek(size_t ahead = 0) const { return toks_[std::min(ti_ + ahead, toks_.size() - 1)]; }
  bool is_op(const char* op, size_t ahead = 0) const { return peek(ahead).t == TT::kOp && peek(ahead).s == op; }
  bool is_name(const char* n, size_t ahead = 0) const { return peek(ahead).t == TT::kName && peek(ahead).s == n; }
  Tok next() { return toks_[std::min(ti_++, toks_.size() - 1)]; }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(line_, std::string("expected '") + op + "', found '" + peek().s + "'");
    ++ti_;
  }
  std::string expect_name() {
    if (peek().t != TT::kName) fail(line_, "expected a name, found '" + peek().s + "'");
    return next().s;
  }
  void expect_end() {
    if (peek().t != TT::kEnd) fail(line_, "unexpected '" + peek().s + "'");
  }

  // Parses statements until one of the tags in ENDS (returned in *END; empty at end of input).
  Body parse_body(std::initializer_list<const char*> ends, std::string* end) {
    Depth d(this);
    Body body;
    while (si_ < segs_.size()) {
      Segment& sg = segs_[si_++];
      line_ = sg.line;
      if (sg.kind == Segment::kText) {
        auto n = node(NK::kText);
        n->str = std::move(sg.text);
        body.push_back(n);
        continue;
      }
      toks_ = tokenize(sg.text, sg.line);
      ti_ = 0;
      if (sg.kind == Segment::kExpr) {
        auto n = node(NK::kOutput);
        n->kids.push_back(expr());
        expect_end();
        body.push_back(n);
        continue;
      }
      const std::string tag = expect_name();
      for (const char* e : ends)
        if (tag == e) {
          *end = tag;
          return body;
        }
      body.push_back(statement(tag));
    }
    if (ends.size() != 0) fail(line_, std::string("missing '{% ") + *(ends.end() - 1) + " %}' at the end of the template");
    end->clear();
    return body;
  }

  NodeP statement(const std::string& tag) {
    if (tag == "if") {
      auto n = node(NK::kIf);
      n->kids.push_back(expr());
      expect_end();
      while (true) {
        std::string end;
        n->bodies.push_back(parse_body({"elif", "else", "endif"}, &end));
        if (end == "endif") break;
        if (end == "elif") {
          n->kids.push_back(expr());
          expect_end();
          continue;
        }
        expect_end();
        n->bodies.push_back(parse_body({"endif"}, &end));
        break;
      }
      expect_end();
      return n;
    }
    if (tag == "for") {
      auto n = node(NK::kFor);
      n->names.push_back(expect_name());
      while (is_op(",")) {
        ++ti_;
        n->names.push_back(expect_name());
      }
      if (!is_name("in")) fail(line_, "expected 'in' in for loop");
      ++ti_;
      n->kids.push_back(or_expr());
      n->kids.push_back(nullptr);
      if (is_name("if")) {
        ++ti_;
        n->kids[1] = expr();
      }
      expect_end();
      std::string end;
      n->bodies.push_back(parse_body({"else", "endfor"}, &end));
      if (end == "else") {
        expect_end();
        n->bodies.push_back(parse_body({"endfor"}, &end));
      }
      expect_end();
      return n;
    }
    if (tag == "set") {
      std::string name = expect_name();
      std::vector<std::string> target{name};
      if (is_op(".")) {
        ++ti_;
        target.push_back(expect_name());
      }
      if (peek().t == TT::kEnd && target.size() == 1) {
        auto n = node(NK::kSetBlock);
        n->names = target;
        std::string end;
        n->bodies.push_back(parse_body({"endset"}, &end));
        expect_end();
        return n;
      }
      auto n = node(NK::kSet);
      n->names = target;
      expect_op("=");
      n->kids.push_back(expr());
      expect_end();
      return n;
    }
    if (tag == "break" || tag == "continue") {
      expect_end();
      return node(tag == "break" ? NK::kBreak : NK::kContinue);
    }
    fail(line_, "unsupported or misplaced tag '" + tag + "'");
  }

  // ---- expressions
  NodeP expr() {
    Depth d(this);
    NodeP a = or_expr();
    if (is_name("if")) {
      ++ti_;
      auto n = node(NK::kTernary);
      n->kids.push_back(or_expr());
      n->kids.push_back(a);
      n->kids.push_back(nullptr);
      if (is_name("else")) {
        ++ti_;
        n->kids[2] = expr();
      }
      return n;
    }
    return a;
  }
  // Height of a node built by the loops below (operator chains, postfix chains), which the
  // recursion guard does not see; evaluation recursion follows it.
  NodeP grown(std::shared_ptr<Node> n) {
    for (const NodeP& k : n->kids)
      if (k) n->height = std::max(n->height, k->height + 1);
    if (n->height > lim_.max_depth * 2) fail(line_, "expression nested too deeply");
    return n;
  }
  NodeP binary(const std::string& op, NodeP l, NodeP r) {
    auto n = node(NK::kBinary);
    n->str = op;
    n->kids = {std::move(l), std::move(r)};
    return grown(n);
  }
  NodeP or_expr() {
    NodeP l = and_expr();
    while (is_name("or")) ++ti_, l = binary("or", l, and_expr());
    return l;
  }
  NodeP and_expr() {
    NodeP l = not_expr();
    while (is_name("and")) ++ti_, l = binary("and", l, not_expr());
    return l;
  }
  NodeP not_expr() {
    Depth d(this);
    if (is_name("not")) {
      ++ti_;
      auto n = node(NK::kUnary);
      n->str = "not";
      n->kids.push_back(not_expr());
      return n;
    }
    return compare();
  }
  NodeP compare() {
    NodeP l = additive();
    while (true) {
      static const char* ops[] = {"==", "!=", "<", ">", "<=", ">="};
      std::string op;
      for (const char* o : ops)
        if (is_op(o)) op = o;
      if (!op.empty()) {
        ++ti_;
      } else if (is_name("in")) {
        op = "in", ++ti_;
      } else if (is_name("not") && is_name("in", 1)) {
        op = "not in", ti_ += 2;
      } else {
        return l;
      }
      l = binary(op, l, additive());
    }
  }
  NodeP additive() {
    NodeP l = multiplicative();
    while (is_op("+") || is_op("-") || is_op("~")) {
      std::string op = next().s;
      l = binary(op, l, multiplicative());
    }
    return l;
  }
  NodeP multiplicative() {
    NodeP l = power();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = next().s;
      l = binary(op, l, power());
    }
    return l;
  }
  NodeP power() {
    NodeP l = unary();
    while (is_op("**")) ++ti_, l = binary("**", l, unary());
    return l;
  }
  NodeP unary() {
    Depth d(this);
    if (is_op("-") || is_op("+")) {
      auto n = node(NK::kUnary);
      n->str = next().s;
      n->kids.push_back(unary());
      return n;
    }
    return postfix(primary());
  }
  // ( args ) with keyword arguments; the opening '(' is consumed.
  void call_args(Node& n) {
    while (!is_op(")")) {
      if (peek().t == TT::kName && is_op("=", 1)) {
        n.names.push_back(next().s);
        ++ti_;
        n.kw.push_back(expr());
      } else {
        if (!n.kw.empty()) fail(line_, "positional argument after keyword argument");
        n.kids.push_back(expr());
      }
      if (!is_op(",")) break;
      ++ti_;
    }
    expect_op(")");
  }
  NodeP postfix(NodeP e) {
    while (true) {
      if (is_op(".")) {
        ++ti_;
        auto n = node(NK::kAttr);
        n->kids.push_back(e);
        n->str = expect_name();
        e = grown(n);
      } else if (is_op("[")) {
        ++ti_;
        NodeP a, b, c;
        bool slice = false;
        if (!is_op(":")) a = expr();
        if (is_op(":")) {
          slice = true, ++ti_;
          if (!is_op(":") && !is_op("]")) b = expr();
          if (is_op(":")) {
            ++ti_;
            if (!is_op("]")) c = expr();
          }
        }
        expect_op("]");
        auto n = node(slice ? NK::kSlice : NK::kIndex);
        n->kids = slice ? std::vector<NodeP>{e, a, b, c} : std::vector<NodeP>{e, a};
        if (!slice && !a) fail(line_, "empty index");
        e = grown(n);
      } else if (is_op("(")) {
        ++ti_;
        auto n = node(NK::kCall);
        n->kids.push_back(e);
        call_args(*n);
        e = grown(n);
      } else if (is_op("|")) {
        ++ti_;
        auto n = node(NK::kFilter);
        n->kids.push_back(e);
        n->str = expect_name();
        if (is_op("(")) ++ti_, call_args(*n);
        e = grown(n);
      } else if (is_name("is")) {
        ++ti_;
        auto n = node(NK::kTest);
        if (is_name("not")) n->neg = true, ++ti_;
        n->kids.push_back(e);
        n->str = peek().t == TT::kName ? next().s : (is_op("==") ? next().s : expect_name());
        if (is_op("(")) {
          ++ti_;
          call_args(*n);
        } else if (peek().t == TT::kStr || peek().t == TT::kInt || peek().t == TT::kFloat ||
                   (peek().t == TT::kName && !is_name("and") && !is_name("or") && !is_name("else") && !is_name("if") &&
                    !is_name("in") && !is_name("not") && !is_name("is"))) {
          n->kids.push_back(primary());  // `is divisibleby 3`, `is equalto 'x'`
        }
        e = grown(n);
      } else {
        return e;
      }
    }
  }
  NodeP primary() {
    Depth d(this);
    Tok t = next();
    auto lit = [&](Value v) {
      auto n = node(NK::kLit);
      n->lit = std::move(v);
      return n;
    };
    switch (t.t) {
      case TT::kStr: {
        std::string s = t.s;
        while (peek().t == TT::kStr) s += next().s;  // adjacent literals concatenate
        return lit(Value::str(std::move(s)));
      }
      case TT::kInt: return lit(Value::integer(t.i));
      case TT::kFloat: return lit(Value::real(t.f));
      case TT::kName: {
        if (t.s == "true" || t.s == "True") return lit(Value::boolean(true));
        if (t.s == "false" || t.s == "False") return lit(Value::boolean(false));
        if (t.s == "none" || t.s == "None") return lit(Value::none());
        auto n = node(NK::kVar);
        n->str = t.s;
        return n;
      }
      case TT::kOp:
        if (t.s == "(") {
          NodeP e = expr();
          if (is_op(",")) {  // tuple
            auto n = node(NK::kList);
            n->kids.push_back(e);
            while (is_op(",")) {
              ++ti_;
              if (is_op(")")) break;
              n->kids.push_back(expr());
            }
            e = n;
          }
          expect_op(")");
          return e;
        }
        if (t.s == "[") {
          auto n = node(NK::kList);
          while (!is_op("]")) {
            n->kids.push_back(expr());
            if (!is_op(",")) break;
            ++ti_;
          }
          expect_op("]");
          return n;
        }
        if (t.s == "{") {
          auto n = node(NK::kDict);
          while (!is_op("}")) {
            n->kids.push_back(expr());
            expect_op(":");
            n->kids.push_back(expr());
            if (!is_op(",")) break;
            ++ti_;
          }
          expect_op("}");
          return n;
        }
        [[fallthrough]];
      default:
        fail(line_, t.t == TT::kEnd ? "unexpected end of expression" : "unexpected '" + t.s + "'");
    }
  }
};

}  // namespace

Body parse_template(std::string_view source, const Limits& limits) {
  if (source.size() > limits.max_output) fail(0, "template larger than the output limit");
  Parser p(split(preprocess(source)), limits);
  return p.parse_all();
}

Result<Template> Template::parse(std::string_view source, const Limits& limits) {
  try {
    auto root = std::make_shared<Node>();
    root->kind = NK::kText;
    root->bodies.push_back(parse_template(source, limits));
    Template t;
    t.root_ = root;
    t.limits_ = limits;
    return t;
  } catch (const Error& e) {
    return invalid_input("chat template: line {}: {}", e.line, e.msg);
  } catch (const std::exception& e) {
    return invalid_input("chat template: {}", e.what());
  }
}

}  // namespace pare::llm::jinja
