"""Greedy generation: pare and llama.cpp (node-llama-cpp 3.21.1) give the same tokens on the same
GGUF files — tiny random-weight llama models with the real LLaMA vocabulary (from
llama-tokenizer-js) in f32, f16, q8_0 and q4_0, and a Llama 3 vocabulary model (byte-level BPE).
Installs the npm peers into bench/llm/node_modules (npm_peers.py); exits 77 only if npm fails.
Where greedy choices differ (int8 activations make near-ties flip), the test checks along
llama.cpp's tokens that each was within a small logit gap of pare's top choice.
Usage: test_peer.py PARE PARE_LLM_CHECK WORKDIR
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
import npm_peers  # noqa: E402
NM = npm_peers.NM
PROMPTS = ["Once upon a time", "def fibonacci(n):"]
N_GEN = 24
TIE = {"f32": 1e-3, "f16": 1e-3, "q8_0": 0.02, "q4_0": 0.02, "q4_k": 0.05, "q6_k": 0.05}  # of the median max−median logit spread; K-quants: llama.cpp uses int8 activations per 256
CASE_TYPES = os.environ.get("PEER_TYPES", "f32,q8_0,q4_0").split(",")


def main():
    pare, check, work = sys.argv[1], sys.argv[2], sys.argv[3]
    node = shutil.which("node")
    npm_peers.ensure()  # installs the npm peers on first use; exits 77 only if npm fails
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "peer_corpus.json")
    json.dump(["x"], open(corpus, "w"))
    js_out = os.path.join(work, "peer_js.json")
    subprocess.run([node, os.path.join(HERE, "js_tokenizers.mjs"), NM, corpus, js_out], check=True)
    js = json.load(open(js_out))
    dims = (256, 2, 8, 2, 512)
    # the q4_k and q6_k files are made from the f32 one by `pare quantize --type`, which also
    # checks that llama.cpp reads what pare writes.
    cases = [("llama", t) for t in CASE_TYPES] + [("llama", "q4_k"), ("llama", "q6_k"), ("llama3", "q8_0")]
    fails = n_equal = 0
    for vocab, wt in cases:
        rng = np.random.default_rng(11)
        tokens, merges = js[vocab]["tokens"], js[vocab]["merges"]
        tok_kv = (G.spm_tokenizer_kv(tokens, merges) if vocab == "llama" else
                  G.bpe_tokenizer_kv(tokens, merges, "llama-bpe", 128000, 128000, 128009))
        path = os.path.join(work, f"peer_{vocab}_{wt}.gguf")
        if wt in ("q4_k", "q6_k"):
            src = os.path.join(work, f"peer_{vocab}_f32.gguf")
            if not os.path.exists(src):
                G.write_gguf(src, G.llama_kv(*dims) + tok_kv, G.llama_tensors(rng, len(tokens), *dims, wtype="f32", std=0.08))
            subprocess.run([pare, "quantize", src, "--type", wt, "-o", path], check=True, capture_output=True)
        else:
            G.write_gguf(path, G.llama_kv(*dims) + tok_kv, G.llama_tensors(rng, len(tokens), *dims, wtype=wt, std=0.08))
        prompts_path = os.path.join(work, "peer_prompts.json")
        json.dump(PROMPTS, open(prompts_path, "w"))
        out = os.path.join(work, "peer_out.json")
        subprocess.run([node, os.path.join(HERE, "llama_cpp_peer.mjs"), NM, "greedy", path, prompts_path, str(N_GEN), out], check=True)
        peers = json.load(open(out))
        for prompt, peer in zip(PROMPTS, peers):
            r = subprocess.run([pare, "generate", path, "-p", prompt, "-n", str(N_GEN), "--temp", "0", "--json", "-t", "1"],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            mine = json.loads(r.stdout)["tokens"]
            theirs, prompt_ids = peer["tokens"], peer["prompt"]
            ids = prompt_ids[1:]
            bos = prompt_ids[0]
            # Teacher-forced: pare's logits along llama.cpp's tokens; where the greedy choices
            # differ, llama.cpp's token must be a near-tie in pare's logits.
            seq = [bos] + ids + theirs
            lpath = os.path.join(work, "peer_logits.bin")
            subprocess.run([check, "logits", path, lpath, str(len(ids) + 1)] + [str(x) for x in seq[:-1]], check=True,
                           capture_output=True)
            lg = np.fromfile(lpath, dtype=np.float32).reshape(len(seq) - 1, -1)[len(ids):]
            spread = float(np.median(lg.max(-1) - np.median(lg, -1)))
            gaps = [float(lg[i].max() - lg[i][theirs[i]]) / spread for i in range(len(theirs))]
            worst = max(gaps)
            same = next((i for i in range(min(len(mine), len(theirs))) if mine[i] != theirs[i]), min(len(mine), len(theirs)))
            ok = worst <= TIE[wt]
            n_equal += mine == theirs
            print(f"{vocab:6} {wt:5} {prompt!r:28} {same:2}/{N_GEN} greedy tokens equal; along llama.cpp's tokens the "
                  f"largest logit gap to pare's top is {worst:.4f} of the logit spread (bound {TIE[wt]}) {'ok' if ok else 'FAIL'}")
            if mine != theirs:
                print("   pare     ", mine, "\n   llama.cpp", theirs)
            fails += not ok
    print(f"{n_equal}/{len(cases) * len(PROMPTS)} greedy continuations identical")
    assert fails == 0
    print("ok")


main()
