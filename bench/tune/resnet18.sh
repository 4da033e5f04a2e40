#!/bin/bash
# pare tune on ResNet-18 with random weights (torchvision, exported here): no labels, so the
# quality is the output SQNR against the original model (top-1 agreement means nothing with
# random weights). Checks that the search finishes within its budget and picks a model within
# the constraints; prints the summary table.
# usage: bench/tune/resnet18.sh [PARE] [OUT]   env: BUDGET (minutes, default 8), THREADS (2), SQNR (20)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PARE="${1:-$HERE/../../build/pare}"
OUT="${2:-/tmp/pare_tune_resnet18}"
BUDGET="${BUDGET:-8}"
THREADS="${THREADS:-2}"
SQNR="${SQNR:-20}"
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive
[ -f "$OUT/resnet18.onnx" ] || /usr/bin/python3 - "$OUT/resnet18.onnx" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet18().eval()
torch.onnx.export(m, torch.zeros(1, 3, 224, 224), sys.argv[1], input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
PY
start=$(date +%s)
set +e
"$PARE" tune "$OUT/resnet18.onnx" --eval-data random:16 --calib-size 16 --min-sqnr "$SQNR" --objective latency \
  --budget-minutes "$BUDGET" --threads "$THREADS" --latency-iters 10 -o "$OUT/tune"
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
/usr/bin/python3 - "$OUT/tune/report.json" "$BUDGET" "$elapsed" "$SQNR" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); budget = float(sys.argv[2]) * 60; elapsed = int(sys.argv[3]); sqnr = float(sys.argv[4])
best = next((c for c in r["candidates"] if c["id"] == r["best"]), None)
print(f"wall time {elapsed} s for a budget of {budget:.0f} s (search {r['elapsed_minutes'] * 60:.0f} s): "
      f"{'within' if r['elapsed_minutes'] * 60 <= budget else 'OVER'} budget")
if best:
    print(f"chosen {best['id']}: SQNR {best['quality']:.1f} dB (>= {sqnr}: {best['quality'] >= sqnr}), "
          f"p50 {best['measure']['latency_p50_ms']:.2f} ms, {best['measure']['size_bytes'] / 1e6:.2f} MB")
PY
exit $rc
