#!/usr/bin/python3
"""Quantization targets of issue #4, side by side in one run (random weights, seed 0):

  * ResNet-18 / ResNet-50 / MobileNetV2 static int8 (`pare quantize --mode static`, 16 random
    calibration inputs): latency of pare int8 vs pare fp32 vs ONNX Runtime 1.30 on the same QDQ
    file (and ORT fp32 for context), alternating rounds, medians; output SQNR of pare int8
    against pare fp32 over 200 random inputs; calibration peak RSS vs fp32 inference peak RSS.
  * BERT-base-like encoder (bench/models.py) dynamic int8: latency vs fp32.
  * GPT-2-small-like decoder, one-token step (no KV cache: the step's weight-bound GEMVs),
    weight-only int4 (--group-size, default 32): latency vs fp32 and weight bytes.
  * Sizes on disk: the embedding tables (Gather) are quantized too (int4 blocks along the hidden
    axis for GPT-2, int8 per row for BERT's dynamic mode), so the ratios are whole-file ratios.
  * Sizes on disk of every file.

    /usr/bin/python3 bench/quant/run.py [--models resnet18,resnet50,mobilenet_v2,bert,gpt2]
        [--threads 1] [--rounds 3] [--iters 10] [--sqnr-inputs 200] [--out build/bench-quant]
        [--pare build/pare] [--markdown FILE] [--group-size 32]

The Fashion-MNIST accuracy figure is in docs/quantization.md (pare eval, exact commands)."""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)


def sh(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return r.stdout


def run_with_rss(cmd):
    """Runs cmd; returns its peak RSS in bytes: VmHWM of /proc/PID/status, read until it exits (a
    high-water mark, so the last read is the peak). wait4's ru_maxrss would include this
    Python process's own size (Linux carries it over fork and exec)."""
    import tempfile
    import time
    err_file = tempfile.TemporaryFile()  # not a pipe: a full pipe would stall the child while we poll
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file)
    peak = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            pass
        time.sleep(0.005)
    err_file.seek(0)
    err = err_file.read().decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return peak


def export(name, path):
    """Vision models with a dynamic batch axis; BERT as bench/models.py; GPT-2 one-token step."""
    import torch
    import torchvision
    import models
    torch.manual_seed(0)
    if name in ("resnet18", "resnet50", "mobilenet_v2"):
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.rand(1, 3, 224, 224)
        with torch.no_grad():
            torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["output"], opset_version=14,
                              do_constant_folding=True, dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
        return {"input": {"shape": [1, 3, 224, 224], "dtype": "float32"}}
    if name == "bert":
        model, spec = models.build("bert_base")
    else:
        model = models.Gpt2().eval()
        spec = {"input_ids": ([1, 1], "int64")}
    with torch.no_grad():
        torch.onnx.export(model, tuple(models.example_inputs(spec)), path, input_names=list(spec),
                          output_names=["output"], opset_version=14, do_constant_folding=True)
    return {k: {"shape": s, "dtype": d} for k, (s, d) in spec.items()}


def pare_bench(args, model, extra=()):
    j = json.loads(sh([args.pare, "bench", model, "--threads", str(args.threads), "--iters", str(args.iters),
                       "--warmup", "2", "--json", *extra]))
    return j["latency_ms"]["p50"], j["peak_rss_bytes"]


def ort_bench(args, model, meta):
    env = dict(os.environ)
    ort_dir = os.path.join(ROOT, "build", "ort", "node_modules")  # where ctest's quant test installs it
    if not os.path.isdir(os.path.join(BENCH, "node_modules", "onnxruntime-node")):
        if os.path.isdir(ort_dir):
            env["NODE_PATH"] = ort_dir
        else:
            import compare
            compare.ensure_ort()
    j = json.loads(sh(["node", os.path.join(BENCH, "ort_bench.js"), model, meta, str(args.threads), "2", str(args.iters)], env=env))
    return statistics.median(j["latencies_ms"])


def sqnr_db(ref, test):
    ref, test = ref.astype(np.float64), test.astype(np.float64)
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - test) ** 2), 1e-30))


def outputs(args, model, batches, tag):
    outs = []
    for i, b in enumerate(batches):
        d = os.path.join(args.out, f"out_{tag}_{i}")
        sh([args.pare, "run", model, "--input", b, "-d", d, "--threads", str(args.threads)])
        outs.append(np.load(os.path.join(d, "output.npy")))
    return np.concatenate(outs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet18,resnet50,mobilenet_v2,bert,gpt2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--sqnr-inputs", type=int, default=200)
    ap.add_argument("--calib", type=int, default=16)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench-quant"))
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    ap.add_argument("--markdown")
    ap.add_argument("--group-size", type=int, default=32, help="GPT-2 weight-only int4 block size (32|64|128)")
    ap.add_argument("--calib-method", default="minmax,mobilenet_v2=percentile",
                    help="static calibration: METHOD[,MODEL=METHOD...] (percentile: 99.99 of |x|)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    rows, notes = [], []
    for name in args.models.split(","):
        fp32 = os.path.join(args.out, name + ".onnx")
        meta_path = os.path.join(args.out, name + ".json")
        if not os.path.exists(fp32):
            with open(meta_path, "w") as f:
                json.dump({"inputs": export(name, fp32)}, f)
        vision = name in ("resnet18", "resnet50", "mobilenet_v2")
        q = os.path.join(args.out, name + {"bert": "_dynamic", "gpt2": f"_int4_g{args.group_size}"}.get(name, "_int8") + ".onnx")
        calib_rss = None
        method = None
        if vision:
            cal = os.path.join(args.out, "calib")
            os.makedirs(cal, exist_ok=True)
            crng = np.random.default_rng(0)  # the same calibration set for every model and --models list
            for i in range(args.calib):
                np.save(os.path.join(cal, f"{i}.npy"), crng.random((1, 3, 224, 224), dtype=np.float32))
            methods = dict(m.split("=") for m in args.calib_method.split(",")[1:])
            method = methods.get(name, args.calib_method.split(",")[0])
            calib_rss = run_with_rss([args.pare, "quantize", fp32, "-o", q, "--mode", "static", "--calib-data", cal,
                                      "--calib-method", method])
        elif name == "bert":
            sh([args.pare, "quantize", fp32, "-o", q, "--mode", "dynamic"])
        else:
            sh([args.pare, "quantize", fp32, "-o", q, "--mode", "weight-only", "--bits", "4", "--group-size", str(args.group_size)])
        lat = {"fp32": [], "int8": [], "ort_q": [], "ort_fp32": [], "noopt": []}
        rss_fp32 = None
        for r in range(args.rounds):
            order = ["fp32", "int8", "ort_q", "ort_fp32"]
            order = order[r % 4:] + order[:r % 4]
            for k in order:
                if k == "fp32":
                    t, rss_fp32 = pare_bench(args, fp32)
                elif k == "int8":
                    t, _ = pare_bench(args, q)
                elif k == "ort_q":
                    t = ort_bench(args, q, meta_path)
                else:
                    t = ort_bench(args, fp32, meta_path)
                lat[k].append(t)
        med = {k: statistics.median(v) for k, v in lat.items() if v}
        row = {"model": name, "mode": {"bert": "dynamic int8", "gpt2": f"weight-only int4 g{args.group_size}"}.get(name, f"static int8 {method}" if vision else ""),
               "pare_fp32_ms": med["fp32"], "pare_q_ms": med["int8"], "ort_q_ms": med["ort_q"], "ort_fp32_ms": med["ort_fp32"],
               "size_fp32": os.path.getsize(fp32), "size_q": os.path.getsize(q)}
        if vision:
            n = args.sqnr_inputs
            batches = []
            for i in range(0, n, 50):
                p = os.path.join(args.out, f"sqnr_in_{i}.npy")
                np.save(p, np.random.default_rng(1000 + i).random((min(50, n - i), 3, 224, 224), dtype=np.float32))
                batches.append(p)
            ref = outputs(args, fp32, batches, name + "_fp32")
            test = outputs(args, q, batches, name + "_q")
            per = [sqnr_db(ref[i], test[i]) for i in range(len(ref))]
            row["sqnr_db"] = sqnr_db(ref, test)
            row["sqnr_min_db"] = min(per)
            cos = np.sum(ref * test, 1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(test, axis=1))
            row["cos_min"] = float(cos.min())
            row["calib_rss"] = calib_rss
            row["fp32_rss"] = rss_fp32
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = ["| model | mode | pare fp32 ms | pare quant ms | ratio | ORT QDQ ms | pare/ORT | ORT fp32 ms | size fp32 → quant | SQNR dB (all / min) | calib RSS / fp32 RSS |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        sq = f"{r['sqnr_db']:.1f} / {r['sqnr_min_db']:.1f}" if "sqnr_db" in r else "–"
        mem = f"{r['calib_rss'] / 2**20:.0f} / {r['fp32_rss'] / 2**20:.0f} MiB" if r.get("calib_rss") else "–"
        lines.append(f"| {r['model']} | {r['mode']} | {r['pare_fp32_ms']:.1f} | {r['pare_q_ms']:.1f} | "
                     f"{r['pare_q_ms'] / r['pare_fp32_ms']:.2f}× | {r['ort_q_ms']:.1f} | {r['pare_q_ms'] / r['ort_q_ms']:.2f}× | "
                     f"{r['ort_fp32_ms']:.1f} | {r['size_fp32'] / 1e6:.1f} → {r['size_q'] / 1e6:.1f} MB "
                     f"({r['size_q'] / r['size_fp32']:.3f}×) | {sq} | {mem} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
