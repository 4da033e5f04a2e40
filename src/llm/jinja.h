// A Jinja subset for the chat templates stored in GGUF metadata (tokenizer.chat_template):
// enough for the templates of Llama 3.x, Qwen2.5, Mistral, Phi-3, Gemma and SmolLM.
//
// Syntax: {{ expr }}, {% if/elif/else/endif %}, {% for a[, b] in expr [if cond] %} … {% else %}
// {% endfor %} with loop.index/index0/revindex/revindex0/first/last/length/previtem/nextitem,
// {% break %}/{% continue %}, {% set x = expr %}, {% set ns.attr = expr %}, {% set x %}…{% endset %},
// {# comments #}, whitespace control ({%- -%}), and the trim_blocks/lstrip_blocks preprocessing
// that transformers and @huggingface/jinja apply to chat templates.
// Expressions: literals (strings with escapes, ints, floats, lists, dicts, true/false/none),
// attribute/index/slice access, calls with keyword arguments, filters, `is [not]` tests,
// arithmetic, comparisons, in/not in, and/or/not, ~, ternary `a if c else b`.
// Globals: range, namespace, raise_exception, strftime_now (fixed date unless overridden).
// Filters: length count trim upper lower title capitalize tojson string int float list first
// last join default/d selectattr rejectattr map items reverse replace abs safe unique sort
// dictsort indent round sum min max. String methods: strip lstrip rstrip split startswith endswith
// upper lower title capitalize replace find count join; dict methods: items keys values get.
// Printing follows @huggingface/jinja (the reference the tests compare with): none/undefined
// print nothing, booleans print true/false, lists and dicts print as JSON.
//
// Untrusted templates: parsing and rendering are bounded (nesting depth, evaluation steps,
// value and output sizes); every failure is a Status naming the line, never a crash or hang.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pare::llm::jinja {

struct Limits {
  size_t max_output = size_t(4) << 20;  // bytes of output and of any string or list built
  int64_t max_steps = 20'000'000;       // evaluated nodes and loop iterations
  int max_depth = 128;                  // nesting of expressions and blocks
};

struct Node;

class Template {
 public:
  static Result<Template> parse(std::string_view source, const Limits& limits = {});
  // CONTEXT is a JSON object whose members become template variables (member order is kept,
  // as tojson and items() show it).
  Result<std::string> render(const nlohmann::ordered_json& context) const;

 private:
  std::shared_ptr<const Node> root_;
  Limits limits_;
};

}  // namespace pare::llm::jinja
