#!/usr/bin/python3
"""Pruned vs unpruned latency, side by side (docs/pruning.md).

For each model: channel-prune to --target-flops (default 0.5) with `pare prune`, check that pare
and ONNX Runtime both run the pruned model with the unpruned model's output shape (and agree
with each other), then time the unpruned and pruned models in alternating rounds with
`pare bench` (and ONNX Runtime, bench/ort_bench.js) and report the medians of the per-round
p50 latencies and their ratios.

    bench/prune/bench_prune.py [--pare build/pare] [--ort-dir build/ort] [--out build/prune_bench]
        [--models fashion,resnet18,mobilenet_v2] [--fashion-pruned FILE] [--rounds 5] [--iters 20]
        [--threads 2] [--fashion-batch 64] [--no-ort]

resnet18 / mobilenet_v2 (random weights, batch 1×3×224×224) are exported by bench/models.py into
OUT/models. --fashion-pruned times an already pruned (e.g. fine-tuned, bench/prune/fashion_mnist.sh)
Fashion-MNIST model instead of pruning it here. ONNX Runtime is npm onnxruntime-node in
ORT_DIR/node_modules (tests install it there)."""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def sh(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    ap.add_argument("--ort-dir", default=os.path.join(ROOT, "build", "ort"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "prune_bench"))
    ap.add_argument("--models", default="fashion,resnet18,mobilenet_v2")
    ap.add_argument("--fashion-pruned")
    ap.add_argument("--target-flops", default="0.5")
    ap.add_argument("--round-to", default="1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fashion-batch", type=int, default=64)
    ap.add_argument("--no-ort", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, NODE_PATH=os.path.join(os.path.abspath(a.ort_dir), "node_modules"), OMP_WAIT_POLICY="passive")
    use_ort = not a.no_ort and os.path.isdir(os.path.join(a.ort_dir, "node_modules", "onnxruntime-node"))
    if not use_ort and not a.no_ort:
        print(f"(no onnxruntime-node under {a.ort_dir}: pare only)")
    results = []
    for name in a.models.split(","):
        if name == "fashion":
            model = os.path.join(ROOT, "models", "fashion_mnist_cnn.onnx")
            meta = {"inputs": {"input": {"shape": [a.fashion_batch, 1, 28, 28], "dtype": "float32"}}}
        else:
            mdir = os.path.join(a.out, "models")
            model = os.path.join(mdir, name + ".onnx")
            if not os.path.exists(model):
                sh(["/usr/bin/python3", os.path.join(ROOT, "bench", "models.py"), mdir, "--only", name])
            meta = json.load(open(os.path.join(mdir, name + ".json")))
        meta_path = os.path.join(a.out, name + ".meta.json")
        with open(meta_path, "w") as f:
            json.dump(meta, f)
        (in_name, spec), = meta["inputs"].items()
        shape_arg = f"{in_name}=" + ",".join(map(str, spec["shape"]))
        pruned = a.fashion_pruned if name == "fashion" and a.fashion_pruned else os.path.join(a.out, name + ".pruned.onnx")
        if pruned == os.path.join(a.out, name + ".pruned.onnx"):
            sh([a.pare, "prune", model, "-o", pruned, "--method", "channel", "--target-flops", a.target_flops,
                "--round-to", a.round_to, "--report", os.path.join(a.out, name + ".report.json")])
        # Shapes: pare on both models, ONNX Runtime on the pruned one, same random input.
        x = np.random.default_rng(0).random(spec["shape"], dtype=np.float32)
        xin = os.path.join(a.out, "x.npy")
        np.save(xin, x)
        outs = {}
        for tag, m in (("unpruned", model), ("pruned", pruned)):
            d = os.path.join(a.out, f"{name}.{tag}.out")
            os.makedirs(d, exist_ok=True)
            sh([a.pare, "run", m, "-i", f"{in_name}={xin}", "-d", d, "-t", str(a.threads)])
            outs[tag] = np.load(os.path.join(d, sorted(os.listdir(d))[0]))
        assert outs["pruned"].shape == outs["unpruned"].shape, (outs["pruned"].shape, outs["unpruned"].shape)
        row = {"model": name, "output_shape": list(outs["pruned"].shape), "flops_fraction": None}
        rp = os.path.join(a.out, name + ".report.json")
        if os.path.exists(rp) and pruned.startswith(a.out):
            row["flops_fraction"] = json.load(open(rp))["totals"]["flops_fraction"]
        if use_ort:
            f = os.path.join(a.out, "x.bin")
            x.tofile(f)
            js = os.path.join(a.out, "ort_in.json")
            with open(js, "w") as fh:
                json.dump({in_name: {"shape": spec["shape"], "file": f}}, fh)
            prefix = os.path.join(a.out, "ort_out")
            sh(["node", os.path.join(ROOT, "tests", "quant", "ort_run.js"), os.path.abspath(a.ort_dir), pruned, js, prefix], env)
            ort_meta = json.load(open(prefix + ".json"))
            y = np.fromfile(prefix + "0.bin", dtype=np.float32).reshape(ort_meta[0]["shape"])
            assert y.shape == outs["pruned"].shape, (y.shape, outs["pruned"].shape)
            row["pare_vs_ort_max_abs_diff"] = float(np.abs(y - outs["pruned"]).max())
            row["ort_output_scale"] = float(np.abs(y).max())
        # Latency: alternating rounds.
        lat = {k: [] for k in ("pare_unpruned", "pare_pruned", "ort_unpruned", "ort_pruned")}
        for _ in range(a.rounds):
            for tag, m in (("unpruned", model), ("pruned", pruned)):
                j = json.loads(sh([a.pare, "bench", m, "--threads", str(a.threads), "--iters", str(a.iters), "--warmup", "3",
                                   "--shape", shape_arg, "--json"], env))
                lat["pare_" + tag].append(j["latency_ms"]["p50"])
                if use_ort:
                    j = json.loads(sh(["node", os.path.join(ROOT, "bench", "ort_bench.js"), m, meta_path, str(a.threads), "3",
                                       str(a.iters)], env))
                    lat["ort_" + tag].append(statistics.median(j["latencies_ms"]))
        for k, v in lat.items():
            if v:
                row[k + "_ms"] = statistics.median(v)
        row["pare_speedup"] = row["pare_unpruned_ms"] / row["pare_pruned_ms"]
        if use_ort:
            row["ort_speedup"] = row["ort_unpruned_ms"] / row["ort_pruned_ms"]
        results.append(row)
        print(json.dumps(row), flush=True)
    print("\n| model | output | FLOPs kept | pare unpruned | pare pruned | pare speed-up | ORT unpruned | ORT pruned | ORT speed-up | pare vs ORT max diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        ff = f"{100 * r['flops_fraction']:.1f}%" if r["flops_fraction"] else "-"
        ort = (f"{r['ort_unpruned_ms']:.2f} ms | {r['ort_pruned_ms']:.2f} ms | {r['ort_speedup']:.2f}× | {r['pare_vs_ort_max_abs_diff']:.2g}"
               if "ort_speedup" in r else "- | - | - | -")
        print(f"| {r['model']} | {r['output_shape']} | {ff} | {r['pare_unpruned_ms']:.2f} ms | {r['pare_pruned_ms']:.2f} ms | "
              f"{r['pare_speedup']:.2f}× | {ort} |")
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
