#!/usr/bin/python3
"""MobileNetV2 (or another bench/quant model) static int8 output SQNR against fp32 for several
calibration settings (issue #4: ≥ 30 dB over 200 random inputs), as bench/quant/run.py measures it
(same 16 random calibration inputs, same 200 inputs in batches of 50):

    /usr/bin/python3 bench/quant/calib_sqnr.py [--model mobilenet_v2] [--out build/bench-quant]
        [--settings "minmax;percentile --percentile 99.99;mse;entropy"]

Needs build/bench-quant/MODEL.onnx (bench/quant/run.py exports it); writes the calibration set
as run.py does (16 inputs of numpy's default_rng(0)) into OUT/calib_sqnr."""
import argparse
import os
import shlex
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return r.stdout


def sqnr_db(ref, test):
    ref, test = ref.astype(np.float64), test.astype(np.float64)
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - test) ** 2), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench-quant"))
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    ap.add_argument("--inputs", type=int, default=200)
    ap.add_argument("--calib", type=int, default=16)
    ap.add_argument("--settings", default="minmax;percentile --percentile 99.9;percentile --percentile 99.99;"
                                          "percentile --percentile 99.999;mse;entropy")
    args = ap.parse_args()
    fp32 = os.path.join(args.out, args.model + ".onnx")
    cal = os.path.join(args.out, "calib_sqnr")  # bench/quant/run.py's calibration set: 16 inputs of default_rng(0)
    os.makedirs(cal, exist_ok=True)
    crng = np.random.default_rng(0)
    for i in range(args.calib):
        np.save(os.path.join(cal, f"{i}.npy"), crng.random((1, 3, 224, 224), dtype=np.float32))
    batches = []
    for i in range(0, args.inputs, 50):  # the inputs of bench/quant/run.py's SQNR
        p = os.path.join(args.out, f"sqnr_in_{i}.npy")
        if not os.path.exists(p):
            np.save(p, np.random.default_rng(1000 + i).random((min(50, args.inputs - i), 3, 224, 224), dtype=np.float32))
        batches.append(p)

    def outputs(model, tag):
        outs = []
        for i, b in enumerate(batches):
            d = os.path.join(args.out, f"cs_{tag}_{i}")
            sh([args.pare, "run", model, "--input", b, "-d", d, "--threads", "1"])
            outs.append(np.load(os.path.join(d, "output.npy")))
        return np.concatenate(outs)

    ref = outputs(fp32, "fp32")
    for k, setting in enumerate(args.settings.split(";")):
        extra = shlex.split(setting)
        extra = ["--calib-method", extra[0], *extra[1:]]
        q = os.path.join(args.out, f"{args.model}_cs{k}.onnx")
        sh([args.pare, "quantize", fp32, "-o", q, "--mode", "static", "--calib-data", cal, *extra])
        test = outputs(q, f"q{k}")
        per = [sqnr_db(ref[i], test[i]) for i in range(len(ref))]
        print(f"{setting:40s} SQNR all {sqnr_db(ref, test):.2f} dB, worst input {min(per):.2f} dB, "
              f"top-1 agreement {np.mean(ref.argmax(1) == test.argmax(1)):.3f}", flush=True)


if __name__ == "__main__":
    main()
