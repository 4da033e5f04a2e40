"""Size on disk of a 4096×4096 MatMul weight at several sparsities: plain ONNX (dense
initializer) vs `pare optimize --sparse-initializers` (ONNX sparse_initializer), both .onnx files.
Usage: python3 bench/sparse/disk_size.py [PARE] [--k 4096] [--n 4096]"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

ap = argparse.ArgumentParser()
ap.add_argument("pare", nargs="?", default="build/pare")
ap.add_argument("--k", type=int, default=4096)
ap.add_argument("--n", type=int, default=4096)
args = ap.parse_args()
rng = np.random.default_rng(0)
tmp = tempfile.mkdtemp(prefix="pare_sparse_size_")
print("| sparsity | plain ONNX MB | sparse_initializer MB | ratio |\n|---|---|---|---|")
for sp in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
    w = rng.standard_normal((args.k, args.n)).astype(np.float32)
    w[rng.random(w.shape) < sp] = 0
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, args.k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, args.n])],
                          [numpy_helper.from_array(w, "w")])
    dense = os.path.join(tmp, "dense.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), dense)
    out = os.path.join(tmp, "sparse.onnx")
    subprocess.run([args.pare, "optimize", dense, "-o", out, "--sparse-initializers", "--min-sparsity", "0"],
                   check=True, capture_output=True)
    a, b = os.path.getsize(dense) / 1e6, os.path.getsize(out) / 1e6
    print(f"| {sp:.0%} | {a:.1f} | {b:.1f} | {a / b:.2f} |")
