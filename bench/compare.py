#!/usr/bin/python3
"""Side-by-side CPU latency: pare vs ONNX Runtime 1.30 (npm onnxruntime-node, CPU EP) vs
PyTorch eager (Debian's python3-torch on OpenBLAS), on the models of bench/models.py, at 1
and 2 threads. Each round runs every runtime once per (model, threads) in rotating order
(alternating, so drift and noise hit all alike); a runtime's figure is the median over rounds
of its per-round median latency. Prints a Markdown table; --markdown FILE also writes it.

    /usr/bin/python3 bench/compare.py [--models a,b] [--threads 1,2] [--rounds 3] [--iters 20]
        [--model-dir build/bench-models] [--pare build/pare] [--no-torch] [--markdown FILE]"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def sh(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return r.stdout


def ensure_ort():
    if not os.path.exists(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        print("installing onnxruntime-node@1.30.0 (npm, --ignore-scripts)", file=sys.stderr)
        sh(["npm", "install", "--prefix", HERE, "--ignore-scripts", "--no-audit", "--no-fund", "onnxruntime-node@1.30.0"])


def peak_gflops():
    exe = os.path.join(ROOT, "build", "peak_flops")
    sh(["cc", "-O2", "-march=native", os.path.join(HERE, "peak_flops.c"), "-o", exe])
    return float(sh([exe]).strip())


def run_pare(args, model, threads):
    out = sh([args.pare, "bench", model, "--threads", str(threads), "--iters", str(args.iters), "--warmup",
              str(args.warmup), "--json"])
    j = json.loads(out)
    return {"p50": j["latency_ms"]["p50"], "load_ms": j["load_ms"], "rss": j["peak_rss_bytes"]}


def run_ort(args, model, meta, threads):
    j = json.loads(sh(["node", os.path.join(HERE, "ort_bench.js"), model, meta, str(threads), str(args.warmup),
                       str(args.iters)]))
    return {"p50": statistics.median(j["latencies_ms"]), "load_ms": j["load_ms"], "rss": j["peak_rss_bytes"]}


def run_torch(args, name, threads):
    env = dict(os.environ, LD_LIBRARY_PATH=OPENBLAS, OMP_NUM_THREADS=str(threads))
    j = json.loads(sh(["/usr/bin/python3", os.path.join(HERE, "torch_bench.py"), name, str(threads),
                       str(args.warmup), str(args.iters)], env=env))
    return {"p50": statistics.median(j["latencies_ms"]), "load_ms": j["load_ms"], "rss": j["peak_rss_bytes"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet18,resnet50,mobilenet_v2,efficientnet_b0,bert_base,gpt2_small")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "build", "bench-models"))
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    names = args.models.split(",")
    sh(["/usr/bin/python3", os.path.join(HERE, "models.py"), args.model_dir, "--only", ",".join(names)])
    ensure_ort()
    peak = peak_gflops()
    runtimes = ["pare", "ort"] + ([] if args.no_torch else ["torch"])
    rows = []
    for name in names:
        model = os.path.join(args.model_dir, name + ".onnx")
        meta_path = os.path.join(args.model_dir, name + ".json")
        macs = json.load(open(meta_path))["macs"]
        for threads in [int(t) for t in args.threads.split(",")]:
            res = {r: [] for r in runtimes}
            for rnd in range(args.rounds):
                order = runtimes[rnd % len(runtimes):] + runtimes[:rnd % len(runtimes)]
                for r in order:
                    if r == "pare":
                        res[r].append(run_pare(args, model, threads))
                    elif r == "ort":
                        res[r].append(run_ort(args, model, meta_path, threads))
                    else:
                        res[r].append(run_torch(args, name, threads))
            med = {r: {k: statistics.median(x[k] for x in res[r]) for k in ("p50", "load_ms", "rss")} for r in runtimes}
            rows.append((name, threads, macs, med))
            print(f"{name} t{threads}: " + ", ".join(f"{r} {med[r]['p50']:.2f} ms" for r in runtimes), file=sys.stderr)
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; one-core fp32 FMA "
             f"peak {peak:.0f} GFLOP/s (bench/peak_flops.c). {args.rounds} rounds × {args.iters} runs, medians.", "",
             "| model | threads | pare ms | ORT ms | " + ("PyTorch ms | " if "torch" in runtimes else "") +
             "pare/ORT | " + ("pare/PyTorch | " if "torch" in runtimes else "") +
             "pare GFLOP/s (% of peak·threads) | load ms pare / ORT | peak RSS MB pare / ORT |",
             "| --- | --- | --- | --- | " + ("--- | " if "torch" in runtimes else "") + "--- | " +
             ("--- | " if "torch" in runtimes else "") + "--- | --- | --- |"]
    for name, threads, macs, med in rows:
        p, o = med["pare"], med["ort"]
        gflops = 2 * macs / (p["p50"] / 1e3) / 1e9
        cells = [name, str(threads), f"{p['p50']:.2f}", f"{o['p50']:.2f}"]
        if "torch" in runtimes:
            cells.append(f"{med['torch']['p50']:.2f}")
        cells.append(f"{p['p50'] / o['p50']:.2f}")
        if "torch" in runtimes:
            cells.append(f"{p['p50'] / med['torch']['p50']:.2f}")
        cells += [f"{gflops:.0f} ({100 * gflops / (peak * threads):.0f}%)", f"{p['load_ms']:.0f} / {o['load_ms']:.0f}",
                  f"{p['rss'] / 2**20:.0f} / {o['rss'] / 2**20:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
