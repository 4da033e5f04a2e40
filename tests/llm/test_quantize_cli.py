"""`pare quantize MODEL.gguf --type T -o OUT.gguf`: a tiny random llama in f32 is requantized to
every target type; the output is parsed here (a GGUF reader written in this test), each matrix
has type T, norms stay f32, metadata is kept with general.file_type set, and the numpy
dequantization (gguf_py.py, independent of pare) of every matrix is within the type's expected
error of the f32 weights. Bad inputs get clear errors. (llama.cpp reading pare's q4_k/q6_k output
is checked by test_peer.py.) Usage: test_quantize_cli.py PARE WORKDIR"""
import os
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_py as G  # noqa: E402

ID2NAME = {v[0]: k for k, v in G.TYPES.items()}
# RMS error of a quantized matrix relative to the RMS of the weights (Gaussian weights)
REL_RMS = {"f32": 0, "f16": 1e-3, "bf16": 5e-3, "q8_0": 0.01, "q6_k": 0.03, "q5_1": 0.05, "q5_0": 0.05, "q5_k": 0.05,
           "q4_1": 0.1, "q4_0": 0.12, "q4_k": 0.1}
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q4_k": 14, "q5_k": 16, "q6_k": 18, "bf16": 32}


def read_gguf(path):
    """Returns (metadata dict of scalars/strings, {name: (type_name, ne, raw bytes)})."""
    b = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = b[pos:pos + n].decode()
        pos += n
        return s

    def value(t):
        if t == G.STRING:
            return string()
        if t == G.ARRAY:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(G._FMT[t])

    magic, version, n_t, n_kv = take("<IIQQ")
    assert magic == 0x46554747 and version == 3
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("<I"))
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, ID2NAME[take("<I")], ne, take("<Q")))
    align = kv.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    out = {}
    for name, tn, ne, off in infos:
        _, blk, nb = G.TYPES[tn]
        n = int(np.prod(ne))
        out[name] = (tn, ne, b[base + off: base + off + n // blk * nb])
    return kv, out


def pare(*args):
    return subprocess.run([PARE, *map(str, args)], capture_output=True, text=True, timeout=300)


def main():
    global PARE
    PARE, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(5)
    dims = (256, 1, 4, 2, 512)
    src = os.path.join(work, "qcli_f32.gguf")
    tensors = G.llama_tensors(rng, 300, *dims, wtype="f32", std=0.05)
    G.write_gguf(src, G.llama_kv(*dims) + [("tokenizer.ggml.model", G.STRING, "llama")], tensors)
    ref = {name: np.frombuffer(raw, np.float32) for name, _, _, raw in tensors}
    for t in REL_RMS:
        out = os.path.join(work, f"qcli_{t}.gguf")
        p = pare("quantize", src, "--type", t, "-o", out, "--threads", 1)
        assert p.returncode == 0, (t, p.stderr)
        kv, got = read_gguf(out)
        assert kv["general.file_type"] == FILE_TYPE[t] and kv["general.name"] == "random-llama", kv
        assert kv["tokenizer.ggml.model"] == "llama"
        worst = 0.0
        for name, w in ref.items():
            tn, ne, raw = got[name]
            want = t if name.endswith(".weight") and len(ne) == 2 else "f32"
            assert tn == want, (t, name, tn)
            x = G.dequantize(tn, raw, w.size)
            err = float(np.sqrt(np.mean((x - w) ** 2)) / np.sqrt(np.mean(w ** 2)))
            worst = max(worst, err)
        assert worst <= REL_RMS[t], (t, worst)
        print(f"{t:5} ok: worst relative RMS error {worst:.5f} (bound {REL_RMS[t]})")
    # bad inputs: each a clear error, no output
    bad = os.path.join(work, "qcli_bad.gguf")
    open(bad, "wb").write(open(src, "rb").read()[:300])
    for args, want in [(["quantize", src, "-o", bad + ".o"], "--type is required"),
                       (["quantize", src, "--type", "q3_k", "-o", bad + ".o"], "unknown tensor type 'q3_k'"),
                       (["quantize", src, "--type", "q4_0", "-o", bad + ".o", "--threads", "-1"], "--threads"),
                       (["quantize", bad, "--type", "q4_0", "-o", bad + ".o"], "qcli_bad.gguf"),
                       (["quantize", src, "--type", "q4_0", "-o", os.path.join(work, "no_such_dir", "x.gguf")], "no_such_dir")]:
        p = pare(*args)
        assert p.returncode != 0 and want in p.stderr, (args, p.returncode, p.stderr)
        assert not os.path.exists(bad + ".o")
        print(f"bad input ok: {p.stderr.strip()[:110]}")
    print("ok")


main()
