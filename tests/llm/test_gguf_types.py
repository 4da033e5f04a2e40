"""Dequantization of every GGUF tensor type against numpy (tests/llm/gguf_py.py), bit-exact.

Random blocks (random bytes, finite random float16 scales) are written with their numpy
dequantization as NAME.ref (f32); `pare_llm_check dequant` compares pare's values bit for bit.
Usage: test_gguf_types.py PARE_LLM_CHECK WORKDIR
"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import gguf_py as G  # noqa: E402

SCALE_FIELDS = {  # byte offsets of float16 fields inside a block
    "q4_0": [0], "q4_1": [0, 2], "q5_0": [0], "q5_1": [0, 2], "q8_0": [0],
    "q4_k": [0, 2], "q5_k": [0, 2], "q6_k": [208],
}


def main():
    tool, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(1234)
    tensors = []
    for tn, (tid, blk, nbytes) in G.TYPES.items():
        n = 256 * 6
        if tn in ("f32", "f16", "bf16"):
            vals = rng.standard_normal(n).astype(np.float32) * 3
            raw = {"f32": vals.tobytes(), "f16": vals.astype(np.float16).tobytes(),
                   "bf16": (vals.view(np.uint32) >> 16).astype(np.uint16).tobytes()}[tn]
        else:
            b = rng.integers(0, 256, size=(n // blk, nbytes), dtype=np.uint8)
            for off in SCALE_FIELDS[tn]:
                h = (rng.standard_normal(len(b)) * 0.05).astype(np.float16)
                b[:, off:off + 2] = h.view(np.uint8).reshape(-1, 2)
            raw = b.tobytes()
        ref = G.dequantize(tn, raw, n)
        assert np.all(np.isfinite(ref)), tn
        tensors.append((f"t.{tn}", tn, [256, 6], raw))
        tensors.append((f"t.{tn}.ref", "f32", [256, 6], ref.astype(np.float32).tobytes()))
    path = os.path.join(work, "types.gguf")
    G.write_gguf(path, [("general.architecture", G.STRING, "test"), ("general.alignment", G.U32, 64)],
                 tensors, alignment=64)
    r = subprocess.run([tool, "dequant", path], capture_output=True, text=True)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, "dequantization differs from numpy"
    assert r.stdout.count("exact") == len(G.TYPES), r.stdout
    print("ok")


main()
