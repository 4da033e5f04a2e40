"""End to end: `pare bench` on a two-layer 4096-wide MLP (MatMul+Relu, MatMul) whose weights are
90% zeros (the plan picks the sparse kernel) vs the same model with dense weights (oneDNN),
alternating rounds; medians of p50 latency and peak RSS.
Usage: python3 bench/sparse/e2e.py [PARE] [--sparsity 0.9] [--batch 1,64] [--rounds 5]"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

ap = argparse.ArgumentParser()
ap.add_argument("pare", nargs="?", default="build/pare")
ap.add_argument("--sparsity", type=float, default=0.9)
ap.add_argument("--batch", default="1,64")
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--width", type=int, default=4096)
args = ap.parse_args()
rng = np.random.default_rng(0)
tmp = tempfile.mkdtemp(prefix="pare_sparse_e2e_")
W = args.width


def model(path, sparsity):
    ws = []
    for name in ("w1", "w2"):
        w = rng.standard_normal((W, W)).astype(np.float32) / np.sqrt(W)
        if sparsity > 0:
            w[rng.random(w.shape) < sparsity] = 0
        ws.append(numpy_helper.from_array(w, name))
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                           helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", W])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", W])], ws)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


paths = {"dense": os.path.join(tmp, "dense.onnx"), "sparse": os.path.join(tmp, "sparse.onnx")}
model(paths["dense"], 0.0)
model(paths["sparse"], args.sparsity)
print(f"MLP {W}x{W} x2, sparsity {args.sparsity:.0%}, rounds {args.rounds}\n")
print("| batch | dense p50 ms | sparse p50 ms | dense/sparse | dense peak RSS MB | sparse peak RSS MB |\n|---|---|---|---|---|---|")
for b in map(int, args.batch.split(",")):
    res = {k: [] for k in paths}
    rss = {}
    for _ in range(args.rounds):
        for k, p in paths.items():
            out = subprocess.run([args.pare, "bench", p, "--json", "-n", "20", "-w", "3", "-b", str(b)],
                                 check=True, capture_output=True, text=True).stdout
            j = json.loads(out)
            res[k].append(j["latency_ms"]["p50"])
            rss[k] = j["peak_rss_bytes"] / 1e6
    d, s = statistics.median(res["dense"]), statistics.median(res["sparse"])
    print(f"| {b} | {d:.2f} | {s:.2f} | {d / s:.2f} | {rss['dense']:.0f} | {rss['sparse']:.0f} |")
