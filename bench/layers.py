#!/usr/bin/python3
"""Where the time goes, layer by layer: pare against ONNX Runtime on one model.

Runs `pare bench MODEL --profile --json` (its `profile_nodes`) and ONNX Runtime with its
profiler (bench/ort_bench.js with a profile prefix), both pinned to the same cores, and prints
  - each runtime's time per op type;
  - for CNNs, the convolutions side by side in execution order (a FusedConvDw against the two
    convolutions it fuses), ONNX Runtime's activation nodes that follow a convolution
    (QuickGelu, …) counted with it, and the ratio.
Pairing is by position: where the two runtimes order a model's branches differently (ResNet's
downsample convolutions) neighbouring rows swap; ONNX Runtime's output shape column shows it.
Transformers fuse differently in each runtime (pare's Attention, packed QKV): compare their
per-op-type totals.
Profiling adds a little to both sides; the per-op sums are not the end-to-end latency.

    /usr/bin/python3 bench/layers.py MODEL [--threads 1] [--iters 30] [--model-dir build/bench-models]
        [--pare build/pare] [--cpus 0]"""
import argparse
import collections
import glob
import json
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONV_OPS = {"Conv", "FusedConv", "FusedConvDw", "QConv"}
FOLLOWERS = {"QuickGelu", "Sigmoid", "Relu", "Clip", "HardSigmoid", "HardSwish"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--model-dir", default=os.path.join(ROOT, "build", "bench-models"))
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    ap.add_argument("--cpus", default="0", help="taskset CPU list for both runtimes")
    a = ap.parse_args()
    model = os.path.join(a.model_dir, a.model + ".onnx")
    meta = os.path.join(a.model_dir, a.model + ".json")
    pin = ["taskset", "-c", a.cpus]
    pj = json.loads(subprocess.run(pin + [a.pare, "bench", model, "--threads", str(a.threads), "--iters", str(a.iters),
                                          "--profile", "--json"], capture_output=True, text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(pin + ["node", os.path.join(HERE, "ort_bench.js"), model, meta, str(a.threads), "2", str(a.iters),
                              os.path.join(tmp, "ort")], capture_output=True, text=True, check=True)
        events = json.load(open(glob.glob(os.path.join(tmp, "ort*.json"))[0]))
    order, durs, op, shape = [], collections.defaultdict(list), {}, {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        k = e["name"][: -len("_kernel_time")]
        if k not in durs:
            order.append(k)
        durs[k].append(e["dur"] / 1000)
        op[k] = e["args"].get("op_name")
        shape[k] = e["args"].get("output_type_shape")
    ort = [(k, op[k], statistics.median(durs[k][3:] or durs[k])) for k in order]  # past the first run and 2 warm-ups
    print(f"{a.model}, {a.threads} thread(s), {a.iters} runs; pare p50 {pj['latency_ms']['p50']:.3f} ms")
    for name, rows in (("ONNX Runtime", [(o, t) for _, o, t in ort]),
                       ("pare", [(n["op"], n["ms_per_run"]) for n in pj["profile_nodes"]])):
        by = collections.Counter()
        for o, t in rows:
            by[o] += t
        print(f"{name}: {sum(by.values()):.3f} ms in nodes — " + ", ".join(f"{o} {t:.3f}" for o, t in by.most_common()))
    layers = []  # ORT: [name, ms incl. following activations]
    for k, o, t in ort:
        if o in CONV_OPS:
            layers.append([k, t])
        elif o in FOLLOWERS and layers:
            layers[-1][1] += t
    ours = [n for n in pj["profile_nodes"] if n["op"] in CONV_OPS]
    if not ours:
        return
    print(f"\n{'pare ms':>8} {'ORT ms':>8} {'ratio':>6}  pare node / ONNX Runtime output shape")
    i = 0
    for n in ours:
        take = 2 if n["op"] == "FusedConvDw" else 1
        if i + take > len(layers):
            print(f"(ONNX Runtime has fewer convolutions than pare: {len(layers)})")
            break
        t = sum(x[1] for x in layers[i:i + take])
        print(f"{n['ms_per_run']:8.3f} {t:8.3f} {n['ms_per_run'] / max(t, 1e-9):6.2f}  {n['node'][-48:]:48} {n['op']:12} "
              f"{shape[layers[i + take - 1][0]]}")
        i += take

if __name__ == "__main__":
    main()
