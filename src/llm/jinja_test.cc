// pare's Jinja subset: semantics beyond what tests/llm/test_chat_template.py compares with
// @huggingface/jinja (Python behaviours that library lacks), and untrusted templates: every bad
// or hostile template ends in a Status naming the problem, within the limits, never a crash/hang.
#include <gtest/gtest.h>

#include "llm/chat.h"
#include "llm/jinja.h"

namespace pare::llm {
namespace {

std::string render(const std::string& src, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object(), jinja::Limits lim = {}) {
  auto t = jinja::Template::parse(src, lim);
  if (!t.ok()) return "PARSE ERROR: " + t.status().message();
  auto r = t->render(ctx);
  return r.ok() ? *r : "ERROR: " + r.status().message();
}

bool fails_with(const std::string& src, const std::string& what, jinja::Limits lim = {}) {
  std::string r = render(src, nlohmann::ordered_json::object(), lim);
  const bool ok = r.rfind("ERROR", 0) == 0 || r.rfind("PARSE ERROR", 0) == 0;
  EXPECT_TRUE(ok) << src.substr(0, 100) << " → " << r.substr(0, 200);
  EXPECT_NE(r.find(what), std::string::npos) << src.substr(0, 100) << " → " << r.substr(0, 200);
  return ok;
}

TEST(LlmJinja, PythonSemantics) {
  EXPECT_EQ(render("{{ -7 % 3 }} {{ -7 // 2 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 'ab' * 3 }}"), "2 -4 1024 3.5 ababab");
  EXPECT_EQ(render("{{ 'xxhixx'.strip('x') }}|{{ 'abc'.lstrip('a') }}|{{ 'hELLO' | capitalize }}"), "hi|bc|Hello");
  EXPECT_EQ(render("{{ 'abc' | first }}{{ 'abc' | last }} {{ range(4) | sum }} {{ [3, 1, 2] | max }}"), "ac 6 3");
  EXPECT_EQ(render("{{ 'a b  c'.split(' ', 1) }}"), R"(["a", "b  c"])");
  EXPECT_EQ(render("{{ 'x' if 'a' < 'b' }}{{ [1, 2, 2, 1] | unique | list }}"), "x[1, 2]");
  EXPECT_EQ(render("{% for c in 'añ' %}[{{ c }}]{% endfor %}"), "[a][ñ]");
  EXPECT_EQ(render("{{ {'b': 2, 'a': 1} | dictsort }}"), R"([["a", 1], ["b", 2]])");
  EXPECT_EQ(render("{{ 'a\nb' | indent(2, true) }}"), "  a\n  b");
}

TEST(LlmJinja, SyntaxErrorsNameTheLine) {
  fails_with("line1\n{% if x %}", "line 2: missing '{% endif %}'");
  fails_with("{{ 1 + }}", "unexpected end of expression");
  fails_with("{% for x in %}{% endfor %}", "unexpected end");
  fails_with("{{ 'unterminated }}", "unclosed");
  fails_with("{% macro m() %}{% endmacro %}", "unsupported or misplaced tag 'macro'");
  fails_with("{{ x | no_such_filter }}", "unknown filter 'no_such_filter'");
  fails_with("{{ x is no_such_test }}", "unknown test 'no_such_test'");
  fails_with("{% endfor %}", "misplaced tag 'endfor'");
  fails_with("{{ 1 / 0 }}", "division by zero");
  fails_with("{{ 99999999999999999999 }}", "integer literal too large");
  fails_with("{% set x.y = 1 %}", "not a namespace");
  fails_with("{{ raise_exception('nope') }}", "raise_exception: nope");
}

TEST(LlmJinja, HostileTemplatesHitLimits) {
  jinja::Limits lim;
  lim.max_output = 1 << 16;
  lim.max_steps = 200000;
  fails_with("{% for i in range(100000000000) %}x{% endfor %}", "range() too long", lim);
  fails_with("{% for i in range(60000) %}{% for j in range(60000) %}{% endfor %}{% endfor %}", "step limit", lim);
  fails_with("{{ 'x' * 100000000000 }}", "output limit", lim);
  fails_with("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}", "output limit", lim);
  fails_with("{% for i in range(50000) %}0123456789{% endfor %}", "output exceeds", lim);
  fails_with("{% set ns = namespace(l=[1]) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "limit", lim);
  fails_with("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", "nested too deeply");
  fails_with("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}", "nested too deeply");
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  fails_with(chain + " }}", "nested too deeply");
  std::string filters = "{{ 'a'";
  for (int i = 0; i < 5000; ++i) filters += " | trim";
  fails_with(filters + " }}", "nested too deeply");
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  fails_with(ifs, "nested too deeply");
  EXPECT_EQ(render("\xff{{ '\xc3' }}"), "\xff\xc3");  // bytes pass through; the tokenizer rejects invalid UTF-8 later
  // garbage never crashes
  for (const char* g : {"{{", "{%", "{#", "{{}}", "{%%}", "{{ ] }}", "{% for %}", "{% set %}", "{{ a.( }}", "{{ a[ }}", "{{ {1: } }}",
                        "{% if %}{% endif %}", "{{ 'a' is }}", "{{ x(y=1, 2) }}", "{% set a = %}"})
    EXPECT_NE(render(g).find("ERROR"), std::string::npos) << g << " → " << render(g);
}

TEST(LlmJinja, ChatTemplateFallbackAndBos) {
  const std::string llama3 =
      "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content | trim }}<|eot_id|>{% endfor %}"
      "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";
  ChatTemplate t = ChatTemplate::create(llama3, "<|begin_of_text|>", "<|eot_id|>");
  EXPECT_TRUE(t.uses_jinja());
  auto p = t.apply({{"user", " hi "}});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(*p, "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");  // BOS removed
  // an unparsable template falls back to the format recognised from its markers
  ChatTemplate bad = ChatTemplate::create("{% if <|im_start|>", "<s>", "</s>");
  EXPECT_FALSE(bad.uses_jinja());
  EXPECT_EQ(bad.name(), "chatml");
  EXPECT_NE(bad.warning().find("line 1"), std::string::npos);
  EXPECT_FALSE(bad.force("jinja").ok());
  // no template: ChatML
  ChatTemplate none = ChatTemplate::create("", "<s>", "</s>");
  EXPECT_EQ(*none.apply({{"user", "x"}}), "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_FALSE(none.force("nope").ok());
  // raise_exception reaches the caller as a Status
  ChatTemplate gemma = ChatTemplate::create("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}", "", "");
  auto r = gemma.apply({{"system", "s"}, {"user", "u"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("System role not supported"), std::string::npos);
}

}  // namespace
}  // namespace pare::llm
