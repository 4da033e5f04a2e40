#!/bin/sh
# Fashion-MNIST pruning targets (docs/pruning.md): channel pruning to 50% FLOPs, 80% magnitude
# sparsity and 2:4, each fine-tuned on the 60,000 training images (distilled from the unpruned
# model) and evaluated on the 10,000 test images. Reports go to OUT/*.json.
#   bench/prune/fashion_mnist.sh [PARE] [OUT]
set -e
PARE=${1:-build/pare}
OUT=${2:-build/prune_fashion}
DATA=/usr/share/datasets/fashion-mnist
MODEL=$(dirname "$0")/../../models/fashion_mnist_cnn.onnx
mkdir -p "$OUT"
COMMON="--data $DATA --eval-data $DATA --teacher $MODEL --temperature 2 --alpha 0.5 --optimizer sgd --momentum 0.9 --schedule cosine -q"
$PARE prune "$MODEL" -o "$OUT/channel50.onnx" --method channel --target-flops 0.5 --round-to 16 --finetune-epochs 2 --lr 0.02 $COMMON --report "$OUT/channel50.json"
$PARE prune "$MODEL" -o "$OUT/magnitude80.onnx" --method magnitude --sparsity 0.8 --finetune-epochs 2 --lr 0.005 $COMMON --report "$OUT/magnitude80.json"
$PARE prune "$MODEL" -o "$OUT/nm24.onnx" --method nm --nm 2:4 --finetune-epochs 2 --lr 0.005 $COMMON --report "$OUT/nm24.json"
