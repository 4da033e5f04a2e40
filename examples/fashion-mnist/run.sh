#!/bin/bash
# Fashion-MNIST end to end with pare only: build the teacher CNN (make_teacher.py), train it
# with `pare train`, distill it into a student with under 1/4 of its parameters
# (`pare distill --shrink`), train the same student without the teacher (alpha 0: same
# initialization, epochs and seed), then evaluate all three and print a table.
#
# usage: examples/fashion-mnist/run.sh [PARE] [OUT_DIR]
#   env: EPOCHS (teacher, default 5), STUDENT_EPOCHS (default 4), THREADS (default 1),
#        SHRINK (default 0.45), DATA (default /usr/share/datasets/fashion-mnist)
# Measured (docs/training.md): about 22 minutes on the shared 2-core machine under load
# (load average 5-8); the per-epoch rates give about 11.5 minutes on 2 idle cores.
# EPOCHS=4 STUDENT_EPOCHS=3 shortens it.
# The distillation experiments of docs/training.md: kd_sweep.sh (2-4 epochs) and kd_long.sh
# (10 epochs, an ensemble teacher), both from this script's out/teacher.onnx.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PARE="${1:-$HERE/../../build/pare}"
OUT="${2:-$HERE/out}"
DATA="${DATA:-/usr/share/datasets/fashion-mnist}"
EPOCHS="${EPOCHS:-5}"
STUDENT_EPOCHS="${STUDENT_EPOCHS:-4}"
THREADS="${THREADS:-1}"
SHRINK="${SHRINK:-0.45}"
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive

/usr/bin/python3 "$HERE/make_teacher.py" "$OUT/teacher_init.onnx"

COMMON=(--data "$DATA" --val-data "$DATA" --batch 64 --optimizer adamw --schedule cosine
        --weight-decay 0.0001 --seed 1 --threads "$THREADS" -q)
echo "== teacher: pare train ($EPOCHS epochs)"
"$PARE" train "$OUT/teacher_init.onnx" "${COMMON[@]}" --epochs "$EPOCHS" --lr 0.002 -o "$OUT/teacher.onnx"
echo "== student: pare distill --shrink $SHRINK (T 2, alpha 0.5, $STUDENT_EPOCHS epochs)"
"$PARE" distill --teacher "$OUT/teacher.onnx" --shrink "$SHRINK" --temperature 2 --alpha 0.5 \
  "${COMMON[@]}" --epochs "$STUDENT_EPOCHS" --lr 0.004 -o "$OUT/student_distilled.onnx"
echo "== same student without the teacher (alpha 0)"
"$PARE" distill --teacher "$OUT/teacher.onnx" --shrink "$SHRINK" --temperature 2 --alpha 0 \
  "${COMMON[@]}" --epochs "$STUDENT_EPOCHS" --lr 0.004 -o "$OUT/student_alone.onnx"

echo
printf "%-20s %10s %10s %10s %12s %14s\n" model accuracy params "size KiB" "eval img/s" "p50 ms/batch"
for m in teacher student_distilled student_alone; do
  json=$("$PARE" eval "$OUT/$m.onnx" --data "$DATA" --threads "$THREADS" --json)
  /usr/bin/python3 - "$OUT/$m.onnx" "$m" "$json" <<'PY'
import json, os, sys
import onnx
path, name, res = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
m = onnx.load(path)
params = sum(int(__import__("numpy").prod(t.dims)) for t in m.graph.initializer if t.data_type == 1)
lat = res["latency_ms"]["p50"]
print(f"{name:<20s} {100 * res['accuracy']:9.2f}% {params:10d} {os.path.getsize(path) / 1024:10.1f} "
      f"{res['images_per_s']:12.0f} {lat:14.2f}")
PY
done
