#!/bin/bash
# Fourth round of docs/training.md: a teacher much stronger than what the student reaches alone.
# The teacher is make_teacher.py at twice the widths (conv 64/128, hidden 256, dropout 0.4:
# 1,683,338 parameters) trained 15 epochs with augmentation; the student is --shrink 0.49 of it
# (31/63/125: 405,398 parameters, 24.1 %, about the size of run.sh's teacher), written once per
# seed and trained on labels only (--alpha 0) and distilled, same initialization, seed, epochs
# and rate; the test accuracy after each epoch is printed.
#
# usage: examples/fashion-mnist/kd_wide.sh [PARE] [OUT_DIR]
#   env: DATA, SEEDS (default "1 2"), EPOCHS (students, default 8), TEACHER_EPOCHS (default 15),
#        WITH: a second trained teacher (e.g. run.sh's out/teacher.onnx): the teacher is then the
#        ensemble (mean of the logits, make_ensemble.py) of the wide model and it;
#        RUNS: "name distill-args…" lines (default: labels only, T 2 α 0.5);
#        CORES: one core per concurrent run (default "0 1"; runs are pinned with taskset).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PARE="$(realpath "${1:-$HERE/../../build/pare}")"
OUT="${2:-$HERE/out/wide}"
DATA="${DATA:-/usr/share/datasets/fashion-mnist}"
SEEDS="${SEEDS:-1 2}"
EPOCHS="${EPOCHS:-8}"
TEACHER_EPOCHS="${TEACHER_EPOCHS:-15}"
read -r -a CORES <<< "${CORES:-0 1}"
RUNS="${RUNS:-"base --alpha 0
t2a5 --temperature 2 --alpha 0.5"}"
export OMP_WAIT_POLICY=passive
mkdir -p "$OUT"
common=(--data "$DATA" --val-data "$DATA" --batch 64 --optimizer adamw --schedule cosine --weight-decay 0.0001 --threads 1 -q)

if [ ! -f "$OUT/wide.onnx" ]; then
  /usr/bin/python3 "$HERE/make_teacher.py" "$OUT/wide_init.onnx" --c1 64 --c2 128 --hidden 256 --dropout 0.4 --seed 0
  taskset -c "${CORES[0]}" "$PARE" train "$OUT/wide_init.onnx" "${common[@]}" --seed 1 --epochs "$TEACHER_EPOCHS" --lr 0.002 \
    --augment-crop 2 --augment-flip -o "$OUT/wide.onnx"
fi
TEACHER="$OUT/wide.onnx"
if [ -n "${WITH:-}" ]; then
  /usr/bin/python3 "$HERE/make_ensemble.py" "$OUT/ensemble.onnx" "$OUT/wide.onnx" "$WITH"
  TEACHER="$OUT/ensemble.onnx"
fi
for s in $SEEDS; do
  [ -f "$OUT/s49_seed$s.onnx" ] || "$PARE" distill --teacher "$OUT/wide.onnx" --shrink 0.49 --seed "$s" \
    --save-student "$OUT/s49_seed$s.onnx" --data "$DATA" --limit 64 --epochs 1 --threads 1 -q -o "$OUT/scratch.onnx" > /dev/null
done

# Every (seed, run) pair, at most one per core at a time.
jobs_list=()
for s in $SEEDS; do
  while read -r name args; do
    [ -n "$name" ] && jobs_list+=("$s $name $args")
  done <<< "$RUNS"
done
i=0
for job in "${jobs_list[@]}"; do
  read -r s name args <<< "$job"
  core=${CORES[$((i % ${#CORES[@]}))]}
  log="$OUT/${name}_e${EPOCHS}_s$s.log"
  # shellcheck disable=SC2086
  taskset -c "$core" "$PARE" distill --teacher "$TEACHER" --student "$OUT/s49_seed$s.onnx" "${common[@]}" --seed "$s" \
    --epochs "$EPOCHS" --lr 0.004 $args -o "$OUT/${name}_e${EPOCHS}_s$s.onnx" > "$log" 2>&1 &
  i=$((i + 1))
  if [ $((i % ${#CORES[@]})) -eq 0 ]; then wait; fi
done
wait
for m in "$OUT/wide.onnx" ${WITH:+"$WITH" "$TEACHER"}; do
  printf "%-10s %-40s %s\n" teacher "$(basename "$m")" "$("$PARE" eval "$m" --data "$DATA" --threads 1 | head -1)"
done
for job in "${jobs_list[@]}"; do
  read -r s name args <<< "$job"
  printf "%-10s seed %s %-28s %s\n" "$name" "$s" "$args" \
    "$(grep -o 'val acc [0-9.]*%' "$OUT/${name}_e${EPOCHS}_s$s.log" | awk '{printf "%s ", $3}')"
done
