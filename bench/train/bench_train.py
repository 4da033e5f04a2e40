#!/usr/bin/python3
"""Training throughput, pare vs PyTorch 1.13, same model (examples/fashion-mnist teacher CNN),
batch, optimizer and threads, on Fashion-MNIST images. Prints the median images/s of each
over --repeats runs of --images images, and the ratio pare / PyTorch.

PyTorch runs on OpenBLAS (this machine's default BLAS is the slow reference one):
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp (set by this script for its child).

usage: bench_train.py PARE_BINARY [--threads 1] [--batch 64] [--images 3200] [--repeats 3]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = "/usr/share/datasets/fashion-mnist"

TORCH_CODE = r'''
import gzip, sys, time
import numpy as np, torch, torch.nn as nn
threads, batch, images = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
with gzip.open(sys.argv[4] + "/train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:images].astype(np.float32) / 255
with gzip.open(sys.argv[4] + "/train-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)[:images].astype(np.int64)
x, y = torch.from_numpy(x), torch.from_numpy(y)
def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
model = nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 49, 128), nn.ReLU(),
                      nn.Dropout(0.25), nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=0.002, weight_decay=1e-4)
loss_fn = nn.CrossEntropyLoss()
model.train()
perm = torch.randperm(images)
def epoch():
    for i in range(0, images, batch):
        idx = perm[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
epoch()  # warm-up
t = time.perf_counter()
epoch()
print(images / (time.perf_counter() - t))
'''


def run_torch(a):
    env = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp", OMP_NUM_THREADS=str(a.threads))
    out = subprocess.run([sys.executable, "-c", TORCH_CODE, str(a.threads), str(a.batch), str(a.images), DATA],
                         env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def run_pare(a, model):
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
        out = subprocess.run([a.pare, "train", model, "--data", DATA, "--limit", str(a.images), "--epochs", "2",
                              "--batch", str(a.batch), "--optimizer", "adamw", "--lr", "0.002", "--weight-decay", "0.0001",
                              "--threads", str(a.threads), "-q", "-o", os.path.join(d, "out.onnx")],
                             env=env, check=True, capture_output=True, text=True).stdout
        # The second epoch (the first warms up kernels and buffers).
        rates = re.findall(r"([0-9.]+) img/s", out)
        return float(rates[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pare")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=3200)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "teacher.onnx")
        subprocess.run([sys.executable, os.path.join(ROOT, "examples/fashion-mnist/make_teacher.py"), model], check=True)
        pare, torch = [], []
        for _ in range(a.repeats):  # interleaved, so both see the same machine load
            pare.append(run_pare(a, model))
            torch.append(run_torch(a))
    mp, mt = statistics.median(pare), statistics.median(torch)
    print(f"training images/s, batch {a.batch}, {a.threads} thread(s), {a.images} images, median of {a.repeats}")
    print(f"  pare           {mp:8.0f}   runs {', '.join(f'{v:.0f}' for v in pare)}")
    print(f"  PyTorch 1.13   {mt:8.0f}   runs {', '.join(f'{v:.0f}' for v in torch)}")
    print(f"  ratio pare / PyTorch: {mp / mt:.2f}")


if __name__ == "__main__":
    main()
