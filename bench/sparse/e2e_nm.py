"""End to end, N:M: `pare bench` on a two-layer 4096-wide MLP (MatMul+Relu, MatMul) with dense
random weights vs the same model pruned by `pare prune --method nm --nm N:M` (the plan runs the
pruned MatMuls on the `nm` kernel), alternating rounds; medians of the p50 latency, their ratio,
and the file sizes. With --fashion, also the Fashion-MNIST CNN (models/fashion_mnist_cnn.onnx)
against its N:M-pruned copy (the first conv, 1 input channel, excluded).
Usage: python3 bench/sparse/e2e_nm.py [PARE] [--nm 2:4,1:4] [--batch 1,8,64] [--rounds 5]
                                      [--threads 2] [--width 4096] [--fashion MODEL]"""
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
ap.add_argument("--nm", default="2:4,1:4")
ap.add_argument("--batch", default="1,8,64")
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--width", type=int, default=4096)
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--fashion", default="")
args = ap.parse_args()
rng = np.random.default_rng(0)
tmp = tempfile.mkdtemp(prefix="pare_nm_e2e_")
W = args.width


def mlp(path):
    ws = [numpy_helper.from_array((rng.standard_normal((W, W)) / np.sqrt(W)).astype(np.float32), n) for n in ("w1", "w2")]
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
                           helper.make_node("Relu", ["h"], ["r"], name="relu"),
                           helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")], "mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", W])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", W])], ws)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def prune(src, dst, pattern, extra=()):
    subprocess.run([args.pare, "prune", src, "-o", dst, "--method", "nm", "--nm", pattern, *extra], check=True,
                   capture_output=True, text=True)


def bench(path, batch):
    out = subprocess.run([args.pare, "bench", path, "--json", "-n", str(args.iters), "-w", "3", "-b", str(batch),
                          "-t", str(args.threads)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["latency_ms"]["p50"]


def compare(name, paths, batches):
    print(f"\n{name}, threads {args.threads}, rounds {args.rounds}\n")
    keys = list(paths)
    head = " | ".join(f"{k} p50 ms" for k in keys)
    ratios = " | ".join(f"dense/{k}" for k in keys[1:])
    print(f"| batch | {head} | {ratios} |\n|---|{'---|' * (2 * len(keys) - 1)}")
    for b in batches:
        res = {k: [] for k in keys}
        for _ in range(args.rounds):
            for k in keys:
                res[k].append(bench(paths[k], b))
        med = {k: statistics.median(v) for k, v in res.items()}
        cells = " | ".join(f"{med[k]:.3f}" for k in keys)
        rs = " | ".join(f"{med[keys[0]] / med[k]:.2f}" for k in keys[1:])
        print(f"| {b} | {cells} | {rs} |", flush=True)


batches = [int(b) for b in args.batch.split(",")]
paths = {"dense": os.path.join(tmp, "dense.onnx")}
mlp(paths["dense"])
for p in args.nm.split(","):
    paths[p] = os.path.join(tmp, f"nm{p.replace(':', '_')}.onnx")
    prune(paths["dense"], paths[p], p)
sizes = ", ".join(f"{k} {os.path.getsize(v) / 1e6:.1f} MB" for k, v in paths.items())
compare(f"MLP {W}x{W} x2 (files: {sizes})", paths, batches)

if args.fashion:
    fp = {"dense": args.fashion, "2:4": os.path.join(tmp, "fashion_nm.onnx")}
    prune(fp["dense"], fp["2:4"], "2:4", ["--exclude", "features\\.0/"])
    compare("Fashion-MNIST CNN, 2:4 (convs stay dense: nm covers MatMul/Gemm)", fp, batches)
