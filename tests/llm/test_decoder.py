"""pare's llama and qwen2 decoders against a plain PyTorch implementation of the architectures.

Tiny random-weight models (fixed seed) are written as GGUF in each weight type; the reference
runs in float64 on the weights as stored (dequantized by tests/llm/gguf_py.py), so the remaining
differences are pare's f16 KV cache, its int8 activations for Q8_0/Q4_0, and summation order.
A prompt is evaluated as one batch, then tokens one at a time (KV cache); every row of logits
is compared. Usage: test_decoder.py PARE_LLM_CHECK WORKDIR [ISA...]
"""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import gguf_py as G  # noqa: E402

E, L, H, KVH, FF, V = 256, 2, 8, 2, 512, 300
HD = E // H
TOKENS = [1, 17, 250, 3, 99, 42, 7, 7, 123, 5]
N_PROMPT = 6
# Relative error bounds: max |Δlogit| / max |logit|. int8 activations (Q8_0, Q4_0, K-quants) cost ~1e-2.
BOUNDS = {"f32": 3e-3, "f16": 3e-3, "bf16": 3e-3, "q4_1": 3e-3, "q5_0": 3e-3, "q5_1": 3e-3,
          "q4_k": 2.5e-2, "q5_k": 2.5e-2, "q6_k": 2.5e-2, "q8_0": 2.5e-2, "q4_0": 2.5e-2}
KV_Q8_BOUND = 3e-2  # q8_0 keys/values: about the error of int8 activations
SCALES = {"q4_0": [0], "q4_1": [0], "q5_0": [0], "q5_1": [0], "q8_0": [0], "q4_k": [0, 2], "q5_k": [0, 2], "q6_k": [208]}
MINS = {"q4_1": (2, 7.5), "q5_1": (2, 15.5)}


def make_weight(rng, tn, rows, cols, std=0.05):
    """Raw bytes of a rows×cols weight of type TN and the float64 values they hold."""
    n = rows * cols
    if tn in ("f32", "f16", "bf16"):
        w = (rng.standard_normal(n) * std).astype(np.float32)
        raw = {"f32": w.tobytes(), "f16": w.astype(np.float16).tobytes(),
               "bf16": (w.view(np.uint32) >> 16).astype(np.uint16).tobytes()}[tn]
    else:
        _, blk, nb = G.TYPES[tn]
        b = rng.integers(0, 256, size=(n // blk, nb), dtype=np.uint8)
        for off in SCALES[tn]:
            b[:, off:off + 2] = np.float16(1.0).reshape(1).view(np.uint8)
        if tn in MINS:
            off, c = MINS[tn]
            b[:, off:off + 2] = np.float16(-c).reshape(1).view(np.uint8)
        s = float(G.dequantize(tn, b.tobytes(), n).std())
        f = np.float16(std / s)
        for off in SCALES[tn]:
            b[:, off:off + 2] = np.float16(f).reshape(1).view(np.uint8)
        if tn in MINS:
            off, c = MINS[tn]
            b[:, off:off + 2] = np.float16(-c * f).reshape(1).view(np.uint8)
        raw = b.tobytes()
    vals = G.dequantize(tn, raw, n).astype(np.float64).reshape(rows, cols)
    return raw, vals


def build(path, arch, tn, seed, rope_scale=None, tie=False):
    rng = np.random.default_rng(seed)
    W, tensors = {}, []

    def add(name, tname, rows, cols, std=0.05):
        raw, vals = make_weight(rng, tname, rows, cols, std)
        tensors.append((name, tname, [cols, rows] if rows > 1 else [cols], raw))
        W[name] = vals if rows > 1 else vals[0]

    add("token_embd.weight", tn, V, E, 1.0)
    add("output_norm.weight", "f32", 1, E, 1.0)
    W["output_norm.weight"] = 1 + 0.1 * W["output_norm.weight"]
    tensors[-1] = ("output_norm.weight", "f32", [E], W["output_norm.weight"].astype(np.float32).tobytes())
    if not tie:
        add("output.weight", tn, V, E)
    for i in range(L):
        p = f"blk.{i}."
        for nm in ("attn_norm", "ffn_norm"):
            w = 1 + 0.1 * rng.standard_normal(E)
            W[p + nm + ".weight"] = w.astype(np.float32).astype(np.float64)
            tensors.append((p + nm + ".weight", "f32", [E], w.astype(np.float32).tobytes()))
        add(p + "attn_q.weight", tn, H * HD, E)
        add(p + "attn_k.weight", tn, KVH * HD, E)
        add(p + "attn_v.weight", tn, KVH * HD, E)
        add(p + "attn_output.weight", tn, E, H * HD)
        add(p + "ffn_gate.weight", tn, FF, E)
        add(p + "ffn_up.weight", tn, FF, E)
        add(p + "ffn_down.weight", tn, E, FF)
        if arch == "qwen2":
            for nm, n in (("attn_q", H * HD), ("attn_k", KVH * HD), ("attn_v", KVH * HD)):
                bias = (rng.standard_normal(n) * 0.1).astype(np.float32)
                W[p + nm + ".bias"] = bias.astype(np.float64)
                tensors.append((p + nm + ".bias", "f32", [n], bias.tobytes()))
    a = arch + "."
    kv = [("general.architecture", G.STRING, arch), ("general.name", G.STRING, "tiny-" + arch),
          (a + "context_length", G.U32, 128), (a + "embedding_length", G.U32, E), (a + "block_count", G.U32, L),
          (a + "feed_forward_length", G.U32, FF), (a + "attention.head_count", G.U32, H),
          (a + "attention.head_count_kv", G.U32, KVH), (a + "rope.freq_base", G.F32, 10000.0 if arch == "llama" else 1e6),
          (a + "attention.layer_norm_rms_epsilon", G.F32, 1e-5 if arch == "llama" else 1e-6)]
    if rope_scale:
        kv += [(a + "rope.scaling.type", G.STRING, "linear"), (a + "rope.scaling.factor", G.F32, rope_scale)]
    G.write_gguf(path, kv, tensors)
    cfg = dict(arch=arch, base=10000.0 if arch == "llama" else 1e6, eps=np.float32(1e-5 if arch == "llama" else 1e-6).item(),
               scale=rope_scale or 1.0, tie=tie)
    return W, cfg


def reference(W, cfg, tokens):
    """Plain PyTorch float64 forward of the whole sequence (causal), logits of every position."""
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in W.items()}
    T = len(tokens)
    x = t["token_embd.weight"][tokens]

    def rms(v, g):
        return v / torch.sqrt((v * v).mean(-1, keepdim=True) + cfg["eps"]) * g

    pos = torch.arange(T, dtype=torch.float64) / cfg["scale"]
    inv = cfg["base"] ** (-torch.arange(0, HD, 2, dtype=torch.float64) / HD)
    ang = pos[:, None] * inv[None, :]  # T × HD/2
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]

    def rope(v):  # v: T × heads × HD
        if cfg["arch"] == "qwen2":  # halves
            a, b = v[..., :HD // 2], v[..., HD // 2:]
            return torch.cat([a * cos - b * sin, a * sin + b * cos], -1)
        a, b = v[..., 0::2], v[..., 1::2]  # adjacent pairs
        out = torch.empty_like(v)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(L):
        p = f"blk.{i}."
        h = rms(x, t[p + "attn_norm.weight"])
        q, k, v = h @ t[p + "attn_q.weight"].T, h @ t[p + "attn_k.weight"].T, h @ t[p + "attn_v.weight"].T
        if cfg["arch"] == "qwen2":
            q, k, v = q + t[p + "attn_q.bias"], k + t[p + "attn_k.bias"], v + t[p + "attn_v.bias"]
        q, k, v = rope(q.view(T, H, HD)), rope(k.view(T, KVH, HD)), v.view(T, KVH, HD)
        k, v = k.repeat_interleave(H // KVH, dim=1), v.repeat_interleave(H // KVH, dim=1)
        att = torch.einsum("thd,shd->hts", q, k) / HD ** 0.5 + mask
        o = torch.einsum("hts,shd->thd", torch.softmax(att, -1), v).reshape(T, H * HD)
        x = x + o @ t[p + "attn_output.weight"].T
        h = rms(x, t[p + "ffn_norm.weight"])
        x = x + (torch.nn.functional.silu(h @ t[p + "ffn_gate.weight"].T) * (h @ t[p + "ffn_up.weight"].T)) @ t[p + "ffn_down.weight"].T
    out_w = t["token_embd.weight"] if cfg["tie"] else t["output.weight"]
    return (rms(x, t["output_norm.weight"]) @ out_w.T).numpy()


def main():
    tool, work = sys.argv[1], sys.argv[2]
    isas = sys.argv[3:] or [""]
    os.makedirs(work, exist_ok=True)
    fails = []
    cases = [("llama", tn, dict(rope_scale=2.0 if tn == "f32" else None)) for tn in BOUNDS]
    cases += [("qwen2", tn, dict(tie=tn == "q8_0")) for tn in ("f32", "q8_0", "q4_0", "q6_k")]
    # q8_0 KV cache (--kv-type q8_0): the same f32 / q4_0 models, keys and values stored as q8_0
    cases += [(arch, tn, dict(kv="q8_0")) for arch in ("llama", "qwen2") for tn in ("f32", "q4_0")]
    for seed, (arch, tn, kw) in enumerate(cases):
        kv = kw.pop("kv", "f16")
        bound = KV_Q8_BOUND if kv == "q8_0" else BOUNDS[tn]
        path = os.path.join(work, f"tiny_{arch}_{tn}.gguf")
        W, cfg = build(path, arch, tn, seed, **kw)
        ref = reference(W, cfg, TOKENS)
        for isa in isas:
            env = dict(os.environ, PARE_KV_TYPE=kv, **({"PARE_LLM_ISA": isa} if isa else {}))
            out = os.path.join(work, "logits.bin")
            r = subprocess.run([tool, "logits", path, out, str(N_PROMPT)] + [str(x) for x in TOKENS],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                fails.append(f"{arch} {tn} {isa}: {r.stderr}")
                continue
            got = np.fromfile(out, dtype=np.float32).reshape(len(TOKENS), V)
            rel = np.abs(got - ref).max() / np.abs(ref).max()
            same_argmax = (got.argmax(-1) == ref.argmax(-1)).mean()
            ok = rel < bound and (kv == "f16" or same_argmax >= 0.9)
            print(f"{arch:6} {tn:5} kv {kv:4} {r.stdout.split()[-1]:8} rel err {rel:.2e} (bound {bound:.1e}) argmax agree {same_argmax:.2f} {'ok' if ok else 'FAIL'}")
            if not ok:
                fails.append(f"{arch} {tn} {isa}: rel err {rel}")
    assert not fails, fails
    print("ok")


main()
