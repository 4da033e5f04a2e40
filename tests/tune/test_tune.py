#!/usr/bin/env python3
"""pare tune / report / compare end to end on a tiny CNN (seconds per run).

The labelled data is the model's own top-1 on random inputs perturbed with noise, so the fp32
accuracy is known exactly (100%) and quantized candidates lose a measurable amount. Checks:
report.json against an independent recomputation (Pareto front, the chosen model, accuracy of
best.onnx with `pare eval`), the HTML rendered by headless Chromium (no console errors; candidate
rows, front and chosen model in the DOM), resume from the cache, `pare report`, `pare compare`,
unlabelled data (SQNR), distillation + quantization, and the bad inputs of issue 9.
usage: test_tune.py PARE
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

PARE = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="pare_tune_")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, timeout=240):
    p = subprocess.run([PARE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "OMP_WAIT_POLICY": "passive"})
    return p.returncode, p.stdout, p.stderr


def make_model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 3 * 3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 5))
    net.eval()
    path = os.path.join(TMP, "tiny.onnx")
    torch.onnx.export(net, torch.zeros(1, 1, 12, 12), path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    rng = np.random.default_rng(0)
    x = rng.random((400, 1, 12, 12), dtype=np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(x)).argmax(1).numpy().astype(np.int64)
    np.savez(os.path.join(TMP, "data.npz"), x=x, y=y)
    np.savez(os.path.join(TMP, "unlabelled.npz"), x=x[:64])
    np.savez(os.path.join(TMP, "wrong_shape.npz"), x=rng.random((16, 1, 10, 10), dtype=np.float32), y=np.zeros(16, np.int64))
    np.savez(os.path.join(TMP, "bad_labels.npz"), x=x[:16], y=np.full(16, 9, np.int64))
    return path


def pareto(cands):
    m = [c for c in cands if c["status"] == "measured"]
    front = set()
    for c in m:
        q, l, s = c["quality"], c["measure"]["latency_p50_ms"], c["measure"]["size_bytes"]
        dominated = any(d is not c and d["quality"] >= q and d["measure"]["latency_p50_ms"] <= l and d["measure"]["size_bytes"] <= s
                        and (d["quality"] > q or d["measure"]["latency_p50_ms"] < l or d["measure"]["size_bytes"] < s) for d in m)
        if not dominated:
            front.add(c["id"])
    return front


def chromium_dom(html):
    """Renders the page in headless Chromium; returns (DOM, console lines)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        return None, None
    p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                        "--dump-dom", "file://" + html], capture_output=True, text=True, timeout=120)
    console = [l for l in p.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l or "Failed to load" in l]
    return p.stdout, console


model = make_model()
data = os.path.join(TMP, "data.npz")
out = os.path.join(TMP, "out")
common = ["--eval-data", data, "--threads", "1", "--latency-iters", "20", "--calib-size", "64",
          "--recipes", "dynamic-int8,weight-only,static-int8"]

# 1. A search that meets its constraints.
t0 = time.time()
rc, so, se = run("tune", model, *common, "--max-accuracy-drop", "5", "--budget-minutes", "3", "-o", out)
first_s = time.time() - t0
check(rc == 0, f"tune exits 0 (rc {rc}: {se[-400:]})")
rep = json.load(open(os.path.join(out, "report.json")))
cands = rep["candidates"]
ids = [c["id"] for c in cands]
check("fp32" in ids and any(i.startswith("static-int8-") for i in ids) and any(i.startswith("weight-only") for i in ids),
      f"candidates of every requested kind: {ids}")
check(len([i for i in ids if i.startswith("static-int8-")]) == 4, "static int8 with the four calibration methods")
base = next(c for c in cands if c["id"] == "fp32")
check(abs(base["measure"]["quality"]["accuracy"] - 1.0) < 1e-9, "fp32 candidate: 100% on labels made from the model itself")
measured = [c for c in cands if c["status"] == "measured"]
check(all(c["measure"]["latency_p50_ms"] > 0 and c["measure"]["size_bytes"] > 0 and c["measure"]["peak_memory_bytes"] > 0
          for c in measured), "every measured candidate has latency, size and peak memory")
check(all(c["measure"]["size_bytes"] == os.path.getsize(os.path.join(out, "cache", c["id"].replace("+", "_") + ".onnx"))
          for c in measured), "size is the file size on disk")
front = pareto(cands)
check(front == {c["id"] for c in measured if c["pareto"]}, f"Pareto front matches an independent recomputation: {sorted(front)}")
check(sorted(os.listdir(os.path.join(out, "candidates"))) == sorted(i.replace("+", "_") + ".onnx" for i in front),
      "candidates/ holds exactly the Pareto-optimal models")
ok = [c for c in measured if 100 * (1 - c["measure"]["quality"]["accuracy"]) <= 5 + 1e-9]
best = min(ok, key=lambda c: (c["measure"]["latency_p50_ms"], c["measure"]["size_bytes"]))
check(rep["met"] and rep["best"] == best["id"], f"best = fastest within the accuracy constraint ({rep['best']} vs {best['id']})")
check(os.path.exists(os.path.join(out, "best.onnx")), "best.onnx written")
rc, so2, _ = run("eval", os.path.join(out, "best.onnx"), "--data", data, "--json", "--threads", "1")
acc = json.loads(so2)["accuracy"] if rc == 0 else -1
check(abs(acc - best["measure"]["quality"]["accuracy"]) < 1e-9, f"pare eval of best.onnx gives the reported accuracy ({acc})")
check(rep["commands"][0].startswith("pare optimize") and "-o best.onnx" in rep["commands"][-1], f"commands reproduce best.onnx: {rep['commands']}")
# The commands, run as printed (in a scratch folder), give a model of the same accuracy.
work = os.path.join(TMP, "repro")
os.makedirs(work)
for cmd in rep["commands"]:
    p = subprocess.run(cmd.replace("pare ", PARE + " ", 1), shell=True, cwd=work, capture_output=True, text=True)
    check(p.returncode == 0, f"reproduce: {cmd[:80]}")
rc, so3, _ = run("eval", os.path.join(work, "best.onnx"), "--data", data, "--json", "--threads", "1")
check(rc == 0 and abs(json.loads(so3)["accuracy"] - acc) < 0.01, "the reproduced model has the same accuracy")
check(len(rep["sensitivity"]) == 4 and all("sqnr_db" in s for s in rep["sensitivity"]), "per-layer sensitivity of the 4 layers")
check("BEST" in so and "faster" in so, "summary table printed")

# 2. The report in headless Chromium.
dom, console = chromium_dom(os.path.join(out, "report.html"))
if dom is None:
    print("skip chromium checks: no chromium")
else:
    check(console == [], f"no console errors in Chromium: {console}")
    rows = re.findall(r'<tr class="[^"]*" data-id="([^"]+)"', dom)
    check(len(rows) == len(cands), f"candidate rows in the DOM ({len(rows)}) = report.json ({len(cands)})")
    check(f'data-candidates="{len(cands)}"' in dom, "data-candidates attribute")
    check(re.search(r'data-best="([^"]*)"', dom).group(1) == rep["best"], "chosen model in the DOM")
    dom_front = set(re.findall(r'data-id="([^"]+)" data-status="measured" data-pareto="true"', dom))
    check(dom_front == front, "front in the table")
    check(len(re.findall(r'<circle class="pt', dom)) == 2 * len(measured), "one point per measured candidate in each plot")
    check('id="plot-latency"' in dom and 'id="plot-size"' in dom and 'class="front"' in dom, "both plots with their fronts")
    check('id="sensitivity"' in dom and "Chosen model" in dom, "sensitivity bars and verdict")

# 3. Rerun: everything comes from the cache.
t0 = time.time()
rc, so, se = run("tune", model, *common, "--max-accuracy-drop", "5", "--budget-minutes", "3", "-o", out)
check(rc == 0 and all(c["measure"].get("cached") for c in json.load(open(os.path.join(out, "report.json")))["candidates"]
                      if c["status"] == "measured"), "rerun resumes from the cache")
print(f"     first run {first_s:.1f} s, rerun {time.time() - t0:.1f} s")

# 4. pare report re-renders.
html = open(os.path.join(out, "report.html")).read()
os.remove(os.path.join(out, "report.html"))
rc, so, se = run("report", out)
check(rc == 0 and open(os.path.join(out, "report.html")).read() == html and "BEST" in so, "pare report re-renders the same page")
rc, so, se = run("report", TMP)
check(rc == 6 and "report.json" in se, f"pare report of a folder without report.json: exit 6 ({se.strip()})")

# 5. Constraints no candidate meets: exit 1, report says so, best effort shown.
out2 = os.path.join(TMP, "out2")
rc, so, se = run("tune", model, *common, "--max-latency-ms", "0.000001", "--budget-minutes", "2", "--no-sensitivity", "-o", out2)
rep2 = json.load(open(os.path.join(out2, "report.json")))
check(rc == 1 and not rep2["met"] and rep2["best_effort"], f"impossible constraints: exit 1, best effort {rep2['best_effort']}")
check(os.path.exists(os.path.join(out2, "best_effort.onnx")) and not os.path.exists(os.path.join(out2, "best.onnx")), "best_effort.onnx, no best.onnx")
page = open(os.path.join(out2, "report.html")).read()
check("No candidate meets the constraints" in page and "Best effort" in page and "No candidate meets" in so, "report and table say so")

# 6. Eval data not matching the model; labels beyond its outputs; a budget too small for the baseline.
rc, so, se = run("tune", model, "--eval-data", os.path.join(TMP, "wrong_shape.npz"), "-o", os.path.join(TMP, "o3"))
check(rc == 5 and "does not match the model" in se, f"wrong sample shape: exit 5 ({se.strip()})")
rc, so, se = run("tune", model, "--eval-data", os.path.join(TMP, "bad_labels.npz"), "-o", os.path.join(TMP, "o4"))
check(rc == 5 and "label 9" in se, f"labels beyond the outputs: exit 5 ({se.strip()})")
rc, so, se = run("tune", model, *common, "--budget-minutes", "0.00001", "-o", os.path.join(TMP, "o5"))
check(rc == 7 and "too small for even the baseline" in se, f"budget too small: exit 7 ({se.strip()})")
rc, so, se = run("tune", model, "--eval-data", data, "--budget-minutes", "0", "-o", os.path.join(TMP, "o6"))
check(rc == 5 and "budget" in se, f"zero budget: exit 5 ({se.strip()})")

# 7. No labels: SQNR against the original is the quality.
out7 = os.path.join(TMP, "out7")
rc, so, se = run("tune", model, "--eval-data", os.path.join(TMP, "unlabelled.npz"), "--threads", "1", "--latency-iters", "10",
                 "--recipes", "static-int8,weight-only", "--min-sqnr", "15", "--budget-minutes", "2", "--no-sensitivity", "-o", out7)
rep7 = json.load(open(os.path.join(out7, "report.json")))
m7 = [c for c in rep7["candidates"] if c["status"] == "measured"]
check(rc == 0 and rep7["quality_metric"] == "sqnr" and all(c["quality"] == c["measure"]["quality"]["sqnr_db"] for c in m7),
      "unlabelled data: quality is SQNR")
b7 = next(c for c in m7 if c["id"] == rep7["best"])
check(b7["quality"] >= 15, f"chosen model within the SQNR constraint ({b7['quality']:.1f} dB)")

# 8. Distillation and distill → quantize (1 epoch on 400 samples).
out8 = os.path.join(TMP, "out8")
rc, so, se = run("tune", model, "--eval-data", data, "--train-data", data, "--threads", "1", "--latency-iters", "10",
                 "--recipes", "distill,dynamic-int8", "--widths", "0.5,0.25", "--distill-epochs", "1", "--max-accuracy-drop", "100",
                 "--budget-minutes", "3", "--no-sensitivity", "-o", out8)
rep8 = json.load(open(os.path.join(out8, "report.json")))
ids8 = {c["id"]: c for c in rep8["candidates"]}
check(rc == 0 and ids8.get("distill-w0.5", {}).get("status") == "measured" and ids8.get("distill-w0.25", {}).get("status") == "measured",
      f"students at both widths: {list(ids8)}")
check(ids8.get("distill-w0.5+dynamic-int8", {}).get("status") == "measured", "distill → quantize combination")
c8 = ids8["distill-w0.5+dynamic-int8"]["commands"]
check(c8[0].startswith("pare distill") and "student_w0.5_init.onnx" in c8[0] and os.path.exists(os.path.join(out8, "cache", "student_w0.5_init.onnx")) and c8[-1].startswith("pare quantize"), "commands of the combination")
# A student that breaks the constraint is not expanded (narrower widths and its quantized forms are pruned).
out9 = os.path.join(TMP, "out9")
rc, so, se = run("tune", model, "--eval-data", data, "--train-data", data, "--train-limit", "64", "--threads", "1", "--latency-iters", "5",
                 "--recipes", "distill,dynamic-int8", "--widths", "0.5,0.25", "--distill-epochs", "1", "--max-accuracy-drop", "0",
                 "--budget-minutes", "3", "--no-sensitivity", "-o", out9)
ids9 = {c["id"]: c for c in json.load(open(os.path.join(out9, "report.json")))["candidates"]}
s05 = ids9.get("distill-w0.5", {})
if s05.get("status") == "measured" and s05["measure"]["quality"]["accuracy"] < 1.0:
    check(ids9.get("distill-w0.25", {}).get("status") == "pruned" and ids9.get("distill-w0.5+dynamic-int8", {}).get("status") == "pruned",
          "children of a student that breaks the constraint are pruned, not built")
else:
    check(False, f"the 64-sample student was expected to lose accuracy: {s05}")

# 9. pare compare.
rc, so, se = run("compare", model, os.path.join(out, "best.onnx"), "--data", data, "--threads", "1", "--rounds", "3", "--iters", "10", "--json")
j = json.loads(so) if rc == 0 else {}
check(rc == 0 and j["a"]["accuracy"] == 1.0 and abs(j["b"]["accuracy"] - acc) < 1e-9 and j["runs_each"] == 30
      and j["b"]["size_bytes"] == os.path.getsize(os.path.join(out, "best.onnx")), "pare compare: accuracy, runs, size")
rc, so, se = run("compare", model, os.path.join(out, "best.onnx"), "--data", data, "--threads", "1", "--rounds", "2", "--iters", "5")
check(rc == 0 and "agreement" in so and "faster" in so, "pare compare prints the table")
rc, so, se = run("compare", model, model, "--data", os.path.join(TMP, "wrong_shape.npz"))
check(rc == 5 and "does not match" in se, "pare compare: data not matching the model")

shutil.rmtree(TMP, ignore_errors=True)
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
