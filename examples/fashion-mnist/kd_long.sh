#!/bin/bash
# Third round of docs/training.md: distillation over 10 student epochs (the regime where the
# label-only student could overfit), from run.sh's 5-epoch teacher alone and from an ensemble
# of it and a second teacher trained 12 epochs with augmentation; each distilled student is
# compared with the same student (same initialization file, seed, epochs, rate) on labels only.
#
# usage: examples/fashion-mnist/kd_long.sh TEACHER5.onnx [PARE] [OUT_DIR]
#   TEACHER5.onnx: run.sh's teacher (out/teacher.onnx).   env: DATA, THREADS (default 1),
#   PARALLEL (runs at once, default 2), SEEDS (default "1 2"), RUNS (kd_sweep.sh's format; the
#   second field names the student file students/s45_seedS.onnx through @S).
# Steps: the second teacher (12 epochs, --augment-crop 2 --augment-flip, about 20 min of one
# core unloaded) → the ensemble (make_ensemble.py: mean of the two teachers' logits) → for
# each seed the 0.45 student saved once (pare distill --save-student) → kd_sweep.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
TEACHER5="$1"
PARE="${2:-$HERE/../../build/pare}"
OUT="${3:-$HERE/out/long}"
DATA="${DATA:-/usr/share/datasets/fashion-mnist}"
THREADS="${THREADS:-1}"
SEEDS="${SEEDS:-1 2}"
export OMP_WAIT_POLICY=passive PARALLEL="${PARALLEL:-2}" DATA THREADS
mkdir -p "$OUT/students"

if [ ! -f "$OUT/teacher12a.onnx" ]; then
  /usr/bin/python3 "$HERE/make_teacher.py" "$OUT/teacher_init.onnx"
  "$PARE" train "$OUT/teacher_init.onnx" --data "$DATA" --val-data "$DATA" --batch 64 --optimizer adamw --schedule cosine \
    --weight-decay 0.0001 --seed 1 --threads "$THREADS" -q --epochs 12 --lr 0.002 --augment-crop 2 --augment-flip \
    -o "$OUT/teacher12a.onnx"
fi
/usr/bin/python3 "$HERE/make_ensemble.py" "$OUT/ensemble.onnx" "$TEACHER5" "$OUT/teacher12a.onnx"
for s in $SEEDS; do
  # The student of --shrink 0.45 with this seed, written once so that runs from either teacher
  # (the ensemble cannot be shrunk into the same student) start from the same weights.
  "$PARE" distill --teacher "$TEACHER5" --shrink 0.45 --seed "$s" --save-student "$OUT/students/s45_seed$s.onnx" \
    --data "$DATA" --limit 64 --epochs 1 --threads "$THREADS" -q -o "$OUT/students/scratch.onnx" > /dev/null
done

RUNS_T="${RUNS:-"base_s@S @S 10 --alpha 0
ens_t4a9_s@S @S 10 --temperature 4 --alpha 0.9 ens
ens_t2a5_s@S @S 10 --temperature 2 --alpha 0.5 ens
t5_t4a9_s@S @S 10 --temperature 4 --alpha 0.9
t5_t2a5_s@S @S 10 --temperature 2 --alpha 0.5"}"
for s in $SEEDS; do
  runs=${RUNS_T//@S/$s}
  runs=$(sed "s#^\([^ ]*\) $s #\1 $OUT/students/s45_seed$s.onnx #" <<< "$runs")
  # Lines ending in "ens" use the ensemble, the others the 5-epoch teacher (alpha 0: either).
  ens=$(grep ' ens$' <<< "$runs" | sed 's/ ens$//' || true)
  t5=$(grep -v ' ens$' <<< "$runs" || true)
  [ -z "$ens" ] || SEED=$s RUNS="$ens" "$HERE/kd_sweep.sh" "$OUT/ensemble.onnx" "$PARE" "$OUT/ens"
  [ -z "$t5" ] || SEED=$s RUNS="$t5" "$HERE/kd_sweep.sh" "$TEACHER5" "$PARE" "$OUT/t5"
done
for m in "$TEACHER5" "$OUT/teacher12a.onnx" "$OUT/ensemble.onnx"; do
  printf "%-40s %s\n" "$(basename "$m")" "$("$PARE" eval "$m" --data "$DATA" --threads "$THREADS" | head -1)"
done
