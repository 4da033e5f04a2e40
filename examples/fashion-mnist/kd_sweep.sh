#!/bin/bash
# Distillation against the label-only baseline for several students and settings, all from
# the same trained teacher (run.sh's teacher.onnx), same seed and epochs per pair; prints the
# test accuracy per epoch of each run. The runs recorded in docs/training.md are these.
#
# usage: examples/fashion-mnist/kd_sweep.sh TEACHER.onnx [PARE] [OUT_DIR]
#   env: SEED (default 1), THREADS (default 1), DATA, PARALLEL (runs at once, default 1),
#        RUNS: "name shrink|student.onnx epochs distill-args…" lines (default: the set below)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
TEACHER="$1"
PARE="${2:-$HERE/../../build/pare}"
OUT="${3:-$HERE/out/sweep}"
DATA="${DATA:-/usr/share/datasets/fashion-mnist}"
SEED="${SEED:-1}"
THREADS="${THREADS:-1}"
PARALLEL="${PARALLEL:-1}"
RUNS="${RUNS:-"s45e2_base 0.45 2 --temperature 2 --alpha 0
s45e2_t2a5 0.45 2 --temperature 2 --alpha 0.5
s49e2_base 0.49 2 --temperature 2 --alpha 0
s49e2_t2a5 0.49 2 --temperature 2 --alpha 0.5
s45e3_base 0.45 3 --temperature 2 --alpha 0
s45e3_t2a5 0.45 3 --temperature 2 --alpha 0.5
s30_base 0.3 4 --alpha 0
s30_t4a9 0.3 4 --temperature 4 --alpha 0.9
s30_t2a5 0.3 4 --temperature 2 --alpha 0.5
s30_hint 0.3 4 --temperature 4 --alpha 0.9 --hint pool2:pool2
s30_aug_t4a9 0.3 4 --temperature 4 --alpha 0.9 --augment-crop 2
s25_base 0.25 4 --alpha 0
s25_t4a9 0.25 4 --temperature 4 --alpha 0.9"}"
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive

one() {
  local name=$1 shrink=$2 epochs=$3 student
  shift 3
  # The second field is a width factor (--shrink) or a student ONNX file (--student).
  if [[ $shrink == *.onnx ]]; then student=(--student "$shrink"); else student=(--shrink "$shrink"); fi
  "$PARE" distill --teacher "$TEACHER" "${student[@]}" --data "$DATA" --val-data "$DATA" --batch 64 --optimizer adamw \
    --schedule cosine --weight-decay 0.0001 --seed "$SEED" --threads "$THREADS" -q --epochs "$epochs" --lr 0.004 \
    "$@" -o "$OUT/$name.onnx" > "$OUT/$name.log" 2>&1 || echo "$name failed (see $OUT/$name.log)"
}

while read -r line; do
  [ -z "$line" ] && continue
  # shellcheck disable=SC2086
  one $line &
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n; done
done <<< "$RUNS"
wait

printf "%-14s %s\n" run "test accuracy per epoch (%)"
while read -r line; do
  [ -z "$line" ] && continue
  name=${line%% *}
  printf "%-14s %s\n" "$name" "$(grep -o 'val acc [0-9.]*' "$OUT/$name.log" | cut -d' ' -f3 | tr '\n' ' ')"
done <<< "$RUNS"
