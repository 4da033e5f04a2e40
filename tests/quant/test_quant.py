#!/usr/bin/python3
"""End-to-end tests of `pare quantize` (issue 4): accuracy on Fashion-MNIST, agreement with
ONNX Runtime (npm onnxruntime-node 1.30, installed here if missing) on the same output file,
each bad input the issue names.

Run by ctest as: /usr/bin/python3 tests/quant/test_quant.py PARE_BINARY ORT_DIR"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

PARE = None
ORT_DIR = None
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FASHION = "/usr/share/datasets/fashion-mnist"
CNN = os.path.join(ROOT, "models", "fashion_mnist_cnn.onnx")


def pare(*args, check=True):
    p = subprocess.run([PARE, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"pare {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
    return p


def ensure_ort():
    """Installs onnxruntime-node@1.30.0 into ORT_DIR (npm, --ignore-scripts: the package ships
    its CPU libonnxruntime.so under bin/); returns an error string if that is impossible.
    Several tests (quant, prune, sparse) call this at once under `ctest -j`: a lock serialises
    them and a marker written after a complete install says when the module is usable (its
    files appear while npm is still extracting)."""
    import fcntl
    os.makedirs(ORT_DIR, exist_ok=True)
    marker = os.path.join(ORT_DIR, ".pare-ort-1.30.0")
    with open(os.path.join(ORT_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(marker):
            return None
        mod = os.path.join(ORT_DIR, "node_modules", "onnxruntime-node", "bin")
        try:
            p = subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ORT_DIR,
                                "onnxruntime-node@1.30.0"], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"npm install onnxruntime-node failed: {e}"
        if p.returncode != 0 or not os.path.isdir(mod):
            return f"npm install onnxruntime-node failed: {p.stderr[-500:]}"
        open(marker, "w").write("ok\n")
    return None


def ort_run(model, feeds, tmp):
    spec = {}
    for i, (name, x) in enumerate(feeds.items()):
        f = os.path.join(tmp, f"ort_in{i}.bin")
        dt = "int64" if x.dtype == np.int64 else "float32"
        np.ascontiguousarray(x, dtype=dt).tofile(f)
        spec[name] = {"shape": list(x.shape), "file": f, "dtype": dt}
    js = os.path.join(tmp, "ort_in.json")
    with open(js, "w") as f:
        json.dump(spec, f)
    prefix = os.path.join(tmp, "ort_out")
    p = subprocess.run(["node", os.path.join(HERE, "ort_run.js"), ORT_DIR, model, js, prefix],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"onnxruntime failed on {model}: {p.stderr}")
    with open(prefix + ".json") as f:
        meta = json.load(f)
    return [np.fromfile(f"{prefix}{i}.bin", dtype=np.float32).reshape(m["shape"]) for i, m in enumerate(meta)]


def pare_run(model, feeds, tmp):
    args = ["run", model, "-d", tmp]
    for name, x in feeds.items():
        f = os.path.join(tmp, f"pare_in_{name}.npy")
        np.save(f, x)
        args += ["-i", f"{name}={f}"]
    pare(*args)
    m = onnx.load(model, load_external_data=False)
    return [np.load(os.path.join(tmp, o.name + ".npy")) for o in m.graph.output]


def fashion_images(n, split="t10k"):
    import gzip
    with gzip.open(os.path.join(FASHION, f"{split}-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return (x[:n].astype(np.float32) / 255.0)


def accuracy(model, limit):
    out = pare("eval", model, "--data", FASHION, "--limit", limit, "--json").stdout
    return json.loads(out)["accuracy"]


def sqnr_db(ref, x):
    return 10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / max(np.sum((ref - x).astype(np.float64) ** 2), 1e-30))


def matmul_model(path, k=100, n=24, nan=False, seed=0):
    """x[2,K] → MatMul W[K,N] → Add → Relu → Gemm(transB) → y: odd K for partial blocks."""
    r = np.random.default_rng(seed)
    w1 = r.standard_normal((k, n)).astype(np.float32)
    if nan:
        w1[3, 4] = np.nan
    w2 = r.standard_normal((10, n)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm"),
         helper.make_node("Add", ["h", "b1"], ["h2"], name="add"),
         helper.make_node("Relu", ["h2"], ["h3"], name="relu"),
         helper.make_node("Gemm", ["h3", "w2", "b2"], ["y"], name="gemm", transB=1),
         helper.make_node("Softmax", ["y"], ["p"], name="softmax")],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10]),
         helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(r.standard_normal(n).astype(np.float32), "b1"),
         numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(r.standard_normal(10).astype(np.float32), "b2")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def embedding_model(path, vocab=300, d=64, seed=0):
    """ids[N,S] → Gather(tok) + Gather(typ, ids % 2) → Mul → MatMul(tok^T as a second, transposed
    initializer: the tied LM head as PyTorch exports it) → logits: the tables to quantize."""
    r = np.random.default_rng(seed)
    tok = (r.standard_normal((vocab, d)) * 0.1).astype(np.float32)
    typ = (r.standard_normal((2, d)) * 0.1).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gather", ["tok", "ids"], ["e"], name="tok_gather"),
         helper.make_node("Mod", ["ids", "two"], ["t"], name="mod"),
         helper.make_node("Gather", ["typ", "t"], ["f"], name="typ_gather"),
         helper.make_node("Add", ["e", "f"], ["h"], name="add"),
         helper.make_node("Mul", ["h", "k"], ["h2"], name="mul"),
         helper.make_node("MatMul", ["h2", "head"], ["y"], name="head")],
        "emb", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", "S"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "S", vocab])],
        [numpy_helper.from_array(tok, "tok"), numpy_helper.from_array(typ, "typ"),
         numpy_helper.from_array(np.array(2, np.int64), "two"), numpy_helper.from_array(np.array(10.0, np.float32), "k"),
         numpy_helper.from_array(np.ascontiguousarray(tok.T), "head")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


class Quantize(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def static_cnn(self, *extra, size=256):
        out = self.path("cnn_int8.onnx")
        pare("quantize", CNN, "-o", out, "--calib-data", FASHION, "--split", "train", "--calib-size", size, *extra)
        return out

    def test_static_fashion_mnist_accuracy_and_format(self):
        out = self.static_cnn("--report", self.path("r.json"))
        m = onnx.load(out)
        onnx.checker.check_model(m, full_check=True)
        ops = [n.op_type for n in m.graph.node]
        self.assertEqual(ops.count("Conv"), 3)
        self.assertGreaterEqual(ops.count("QuantizeLinear"), 5)
        # Weights per channel int8: the DQ feeding each Conv's W has a 1-D scale.
        producers = {o: n for n in m.graph.node for o in n.output}
        inits = {i.name: i for i in m.graph.initializer}
        for n in m.graph.node:
            if n.op_type == "Conv":
                dq = producers[n.input[1]]
                self.assertEqual(dq.op_type, "DequantizeLinear")
                self.assertEqual(inits[dq.input[0]].data_type, TensorProto.INT8)
                self.assertEqual(len(inits[dq.input[1]].dims), 1)
                self.assertEqual(inits[producers[n.input[2]].input[0]].data_type, TensorProto.INT32)
        with open(self.path("r.json")) as f:
            rep = json.load(f)
        self.assertLessEqual(rep["size_ratio"], 0.27)
        a32, a8 = accuracy(CNN, 3000), accuracy(out, 3000)
        self.assertLess(abs(a32 - a8), 0.005, f"fp32 {a32:.4f} int8 {a8:.4f}")

    def test_calibration_methods(self):
        x = fashion_images(32)
        ref = pare_run(CNN, {"input": x}, self.dir)[0]
        for method, act in [("percentile", "int8"), ("entropy", "uint8"), ("mse", "int8")]:
            out = self.static_cnn("--calib-method", method, "--activation-type", act, size=128)
            y = pare_run(out, {"input": x}, self.dir)[0]
            self.assertGreater(sqnr_db(ref, y), 20, method)
            self.assertGreater(np.mean(ref.argmax(1) == y.argmax(1)), 0.9, method)

    def test_accuracy_control_falls_back(self):
        # Entropy with int8 activations clips this CNN hard (several points lost): accuracy
        # control must keep the most sensitive layer(s) float until the drop fits.
        out, rep = self.path("ac.onnx"), self.path("ac.json")
        p = pare("quantize", CNN, "-o", out, "--calib-data", FASHION, "--split", "train", "--calib-size", 128,
                 "--calib-method", "entropy", "--activation-type", "int8", "--eval-data", FASHION,
                 "--eval-limit", 1000, "--max-accuracy-drop", 1.0, "--report", rep)
        with open(rep) as f:
            r = json.load(f)
        self.assertLessEqual(100 * (r["accuracy_before"] - r["accuracy_after"]), 1.0, p.stdout)
        fallback = [l for l in r["layers"] if l["reason"].startswith("fallback")]
        self.assertGreaterEqual(len(fallback), 1)
        # The layers kept float are the least SQNR-robust ones.
        sq = sorted(l["sqnr_db"] for l in r["layers"])
        self.assertEqual(sorted(l["sqnr_db"] for l in fallback), sq[:len(fallback)])
        self.assertEqual(accuracy(out, 1000), r["accuracy_after"])
        self.bad([CNN, "-o", self.path("x.onnx"), "--calib-data", FASHION, "--max-accuracy-drop", 1], 5,
                 "needs --eval-data")

    def test_ort_agrees_static(self):
        err = ensure_ort()
        if err:
            self.skipTest(err)
        out = self.static_cnn()
        x = fashion_images(64)
        p = pare_run(out, {"input": x}, self.dir)[0]
        o = ort_run(out, {"input": x}, self.dir)[0]
        # ORT computes in integers with requantization, pare simulates QDQ in float: they agree
        # within a few output quantization steps.
        self.assertGreater(sqnr_db(o, p), 25)
        self.assertGreaterEqual(np.mean(p.argmax(1) == o.argmax(1)), 0.95)

    def test_ort_agrees_other_modes(self):
        err = ensure_ort()
        if err:
            self.skipTest(err)
        src = self.path("mlp.onnx")
        matmul_model(src)
        x = np.random.default_rng(1).standard_normal((3, 100)).astype(np.float32)
        ref = pare_run(src, {"x": x}, self.dir)[0]
        cases = [("dynamic", ["--mode", "dynamic"], 13, 30), ("fp16", ["--mode", "fp16"], None, 50),
                 ("wo8", ["--mode", "weight-only", "--bits", 8, "--group-size", 32], 21, 30),
                 ("wo4", ["--mode", "weight-only", "--bits", 4, "--group-size", 32], 21, 12),
                 ("wo8pc", ["--mode", "weight-only", "--group-size", 0], 13, 30)]
        for name, args, opset, min_sqnr in cases:
            out = self.path(name + ".onnx")
            pare("quantize", src, "-o", out, *args)
            m = onnx.load(out)
            if opset == 13:  # Debian's onnx 1.12 checker predates opset 21 (block_size, int4)
                onnx.checker.check_model(m)
            if opset:
                self.assertEqual([o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0], opset)
            if name == "wo4":
                self.assertIn(22, [i.data_type for i in m.graph.initializer])  # INT4
            if name == "fp16":
                sm = [n for n in m.graph.node if n.op_type == "Softmax"][0]
                self.assertFalse(sm.input[0].endswith("_fp16"), "Softmax must stay float32")
            p = pare_run(out, {"x": x}, self.dir)
            o = ort_run(out, {"x": x}, self.dir)
            self.assertGreater(sqnr_db(o[0], p[0]), 40, f"{name}: pare and ORT differ")
            self.assertGreater(sqnr_db(ref, p[0]), min_sqnr, f"{name}: too far from fp32")

    def test_ort_agrees_gather_tables(self):
        """Embedding tables quantized (Gather(DequantizeLinear(T_q))), the tied head stored once
        (Transpose of the table's DQ), in every mode; pare (QGather, WeightOnlyMatMul) and ORT agree."""
        err = ensure_ort()
        if err:
            self.skipTest(err)
        src = self.path("emb.onnx")
        embedding_model(src)
        ids = np.random.default_rng(2).integers(0, 300, (2, 5)).astype(np.int64)
        ids[0, 0], ids[1, 4] = 0, 299
        ref = pare_run(src, {"ids": ids}, self.dir)[0]
        fp32_bytes = os.path.getsize(src)
        cases = [("wo4", ["--mode", "weight-only", "--bits", 4, "--group-size", 32], 15, 0.16),
                 ("wo4g64", ["--mode", "weight-only", "--bits", 4, "--group-size", 64], 15, 0.15),
                 ("wo8pr", ["--mode", "weight-only", "--group-size", 0], 30, 0.27),
                 ("dynamic", ["--mode", "dynamic"], 30, 0.3)]  # 64-wide rows: scale overhead
        for name, args, min_sqnr, max_ratio in cases:
            out = self.path(name + ".onnx")
            pare("quantize", src, "-o", out, *args)
            m = onnx.load(out)
            if name in ("wo8pr", "dynamic"):
                onnx.checker.check_model(m)
            big_float = [i.name for i in m.graph.initializer if i.data_type == TensorProto.FLOAT and np.prod(i.dims) > 1000]
            self.assertEqual(big_float, [], f"{name}: float tables left")
            dq = {n.output[0]: n for n in m.graph.node if n.op_type == "DequantizeLinear"}
            gathers = [n for n in m.graph.node if n.op_type == "Gather"]
            self.assertTrue(all(n.input[0] in dq for n in gathers), f"{name}: a Gather table is not quantized")
            tr = [n for n in m.graph.node if n.op_type == "Transpose"]
            if name != "dynamic":  # weight-only: the head reads the table (one copy)
                self.assertEqual(len(tr), 1, name)
                self.assertEqual(tr[0].input[0], gathers[0].input[0])
            self.assertLess(os.path.getsize(out) / fp32_bytes, max_ratio, name)
            p = pare_run(out, {"ids": ids}, self.dir)
            o = ort_run(out, {"ids": ids}, self.dir)
            self.assertGreater(sqnr_db(o[0], p[0]), 40, f"{name}: pare and ORT differ")
            self.assertGreater(sqnr_db(ref, p[0]), min_sqnr, f"{name}: too far from fp32")
            kinds = pare("bench", out, "--iters", 1, "--warmup", 0, "--profile").stdout
            self.assertIn("QGather", kinds, name)
            if name != "dynamic":
                self.assertIn("WeightOnlyMatMul", kinds, name)
        # An index beyond the table: a clear error, not a crash.
        out = self.path("wo4.onnx")
        ids[1, 1] = 300
        np.save(self.path("bad_ids.npy"), ids)
        p = pare("run", out, "-i", f"ids={self.path('bad_ids.npy')}", "-d", self.dir, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("300", p.stderr)
        self.assertIn("out of range", p.stderr)

    # Bad input: each a clear error naming what is wrong, no output file.
    def bad(self, args, code, text):
        p = pare("quantize", *args, check=False)
        self.assertEqual(p.returncode, code, p.stderr)
        self.assertIn(text, p.stderr)

    def test_bad_calibration_data(self):
        src = self.path("mlp.onnx")
        matmul_model(src)
        d = self.path("calib")
        os.makedirs(d)
        np.save(os.path.join(d, "a.npy"), np.zeros((2, 99), np.float32))
        self.bad([src, "-o", self.path("o.onnx"), "--calib-data", d], 5, "has shape")
        np.save(os.path.join(d, "a.npy"), np.zeros((2, 100), np.float64))
        self.bad([src, "-o", self.path("o.onnx"), "--calib-data", d], 5, "the model expects float")
        x = np.zeros((2, 100), np.float32)
        x[0, 0] = np.inf
        np.save(os.path.join(d, "a.npy"), x)
        self.bad([src, "-o", self.path("o.onnx"), "--calib-data", d], 5, "holds inf")
        e = self.path("empty")
        os.makedirs(e)
        self.bad([src, "-o", self.path("o.onnx"), "--calib-data", e], 5, "calibration set is empty")
        self.bad([src, "-o", self.path("o.onnx")], 5, "needs calibration data")
        self.assertFalse(os.path.exists(self.path("o.onnx")))

    def test_bad_models_and_options(self):
        src, nan = self.path("mlp.onnx"), self.path("nan.onnx")
        matmul_model(src)
        matmul_model(nan, nan=True)
        self.bad([nan, "-o", self.path("o.onnx"), "--mode", "dynamic"], 5, "weight 'w1' holds nan")
        q = self.path("q.onnx")
        pare("quantize", src, "-o", q, "--mode", "dynamic")
        self.bad([q, "-o", self.path("o.onnx"), "--mode", "dynamic"], 4, "already quantized")
        self.bad([src, "-o", self.path("o.onnx"), "--mode", "dynamic", "--op-types", "Softmax"], 4, "cannot be quantized")
        self.bad([src, "-o", self.path("o.onnx"), "--mode", "dynamic", "--exclude", "nope"], 5, "no node named 'nope'")
        self.bad([src, "-o", self.path("o.onnx"), "--mode", "weight-only", "--bits", 3], 5, "--bits must be 4 or 8")
        self.assertFalse(os.path.exists(self.path("o.onnx")))

    def test_exclude_and_fp16_overflow_guard(self):
        src = self.path("mlp.onnx")
        matmul_model(src)
        out = self.path("d.onnx")
        pare("quantize", src, "-o", out, "--mode", "dynamic", "--exclude", "gemm", "--report", self.path("r.md"))
        m = onnx.load(out)
        self.assertEqual(sum(n.op_type == "DynamicQuantizeLinear" for n in m.graph.node), 1)
        self.assertIn("excluded by --exclude", open(self.path("r.md")).read())
        # Activations beyond 65504: with calibration data the node stays float32, no Inf appears.
        d = self.path("calib")
        os.makedirs(d)
        big = np.full((2, 100), 30000.0, np.float32)
        np.save(os.path.join(d, "a.npy"), big)
        out = self.path("h.onnx")
        p = pare("quantize", src, "-o", out, "--mode", "fp16", "--calib-data", d)
        self.assertIn("beyond the fp16 range", p.stdout)
        y32 = pare_run(src, {"x": big}, self.dir)[0]
        y16 = pare_run(out, {"x": big}, self.dir)[0]
        self.assertTrue(np.all(np.isfinite(y16)))
        self.assertTrue(np.all(np.isfinite(y32)))


def resnet_like(path):
    """A small ResNet (BatchNorm folded by the exporter, residual blocks with a strided
    downsample, MaxPool, GlobalAveragePool, Linear), dynamic batch, random weights (seed 0)."""
    import torch
    import torch.nn as nn
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
            self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.down = None if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    net = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                        Block(16, 16, 1), Block(16, 32, 2), Block(32, 32, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(32, 10)).eval()
    for m in net.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():
        torch.onnx.export(net, (torch.rand(1, 3, 48, 48),), path, input_names=["input"], output_names=["output"],
                          opset_version=13, dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})


class Lowering(unittest.TestCase):
    """The optimizer lowers QDQ to pare's fused int8 ops (passes/lower_qdq.cc): the same
    quantized file run with lowering (default --opt-level) and without (--opt-level 1: QDQ
    simulated in float by the reference kernels) gives the same outputs within int8 rounding."""

    def test_resnet_like_static_int8_same_with_and_without_lowering(self):
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "r.onnx"), os.path.join(d, "r_int8.onnx")
            resnet_like(src)
            cal = os.path.join(d, "cal")
            os.makedirs(cal)
            r = np.random.default_rng(1)
            for i in range(16):
                np.save(os.path.join(cal, f"{i}.npy"), r.random((1, 3, 48, 48), dtype=np.float32))
            pare("quantize", src, "-o", out, "--calib-data", cal)
            x = r.random((8, 3, 48, 48), dtype=np.float32)
            np.save(os.path.join(d, "x.npy"), x)
            outs = {}
            for name, model, level in [("fp32", src, 3), ("lowered", out, 3), ("qdq", out, 1)]:
                od = os.path.join(d, name)
                pare("run", model, "-i", os.path.join(d, "x.npy"), "-d", od, "--opt-level", level,
                     *(["--profile", os.path.join(d, "prof.json")] if name == "lowered" else []))
                outs[name] = np.load(os.path.join(od, "output.npy"))
            with open(os.path.join(d, "prof.json")) as f:
                ev = json.load(f)
            ev = ev["traceEvents"] if isinstance(ev, dict) else ev
            kernels = {(e.get("cat"), e.get("args", {}).get("kernel")) for e in ev if e.get("ph") == "X"}
            self.assertIn(("QConv", "onednn_int8"), kernels)
            self.assertIn(("QMatMul", "onednn_int8"), kernels)
            self.assertNotIn("Conv", {c for c, _ in kernels})
            self.assertGreater(sqnr_db(outs["qdq"], outs["lowered"]), 30)
            self.assertGreater(sqnr_db(outs["fp32"], outs["lowered"]), 25)
            self.assertGreater(sqnr_db(outs["fp32"], outs["qdq"]), 25)


if __name__ == "__main__":
    PARE = os.path.abspath(sys.argv.pop(1))
    ORT_DIR = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
