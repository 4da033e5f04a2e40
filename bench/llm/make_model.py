"""Writes a random-weight llama GGUF with TinyLlama-1.1B's shape (22 layers, hidden 2048, 32 heads,
4 KV heads, FFN 5632, vocab 32000) in Q4_0 or Q8_0 (norms f32; token embedding and output in the
same type, as llama.cpp's pure quantization does), with a synthetic SentencePiece vocabulary so
that llama.cpp loads it.  Usage: make_model.py q4_0|q8_0 OUT.gguf [--layers N]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "llm"))
import gguf_py as G  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("type", choices=["q4_0", "q8_0", "f16"])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=22)
    a = ap.parse_args()
    E, L, H, KVH, FF, V = 2048, a.layers, 32, 4, 5632, 32000
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581w{i}" for i in range(V - len(tokens))]
    merges = []  # scores only; the synthetic pieces never merge from characters
    tok_kv = G.spm_tokenizer_kv(tokens, merges)
    ftype = {"q4_0": 2, "q8_0": 7, "f16": 1}[a.type]
    rng = np.random.default_rng(0)
    tensors = G.llama_tensors(rng, V, E, L, H, KVH, FF, wtype=a.type, std=0.02)
    G.write_gguf(a.out, G.llama_kv(E, L, H, KVH, FF, ctx=2048, name=f"random-tinyllama-{a.type}", ftype=ftype) + tok_kv, tensors)
    print(a.out, os.path.getsize(a.out) / 1e6, "MB")


main()
