#!/usr/bin/python3
"""pare prune end to end (issue #6), against PyTorch and ONNX Runtime:

- channel: a PyTorch CNN with BatchNorm, a depthwise conv, a residual Add, a Concat and
  Flatten→Linear is exported, channel-pruned by pare, and run by pare and ONNX Runtime (npm
  onnxruntime-node 1.30, installed into ORT_DIR if missing). The reference is the PyTorch model
  with the consumer weights of the removed channels (named in the report) zeroed: removing a
  channel must equal making it contribute nothing.
- magnitude / N:M: exact sparsity and patterns checked with numpy on the saved weights; biases
  and BatchNorm parameters untouched.
- fine-tuning: zeroed weights stay zero (masks), gradual schedule reaches its sparsity.
- bad inputs: sparsity outside [0, 1), N:M with M not dividing the dimension, an op that cannot
  be rewired (--strict), an already-quantized model.

    test_prune.py PARE ORT_DIR"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import torch
import torch.nn as nn

PARE = sys.argv[1] if len(sys.argv) > 1 else "build/pare"
ORT_DIR = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/ort")
HERE = os.path.dirname(os.path.abspath(__file__))
ORT_RUN = os.path.join(HERE, "..", "quant", "ort_run.js")
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "quant"))
import test_quant as q  # noqa: E402  (ensure_ort: the ONNX Runtime peer, shared)

q.ORT_DIR = ORT_DIR
ensure_ort = q.ensure_ort


def pare(*args, ok=True):
    p = subprocess.run([PARE, *args], capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        raise AssertionError(f"pare {' '.join(args)} failed ({p.returncode}): {p.stdout[-2000:]} {p.stderr[-2000:]}")
    return p


class Net(nn.Module):
    """c1 → BN → ReLU = a; depthwise → BN → ReLU → c2 → BN, + a (residual); c3; Concat; c4
    (stride 2); Flatten → fc1 → ReLU → fc2."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.dw, self.bdw = nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16)
        self.c2, self.b2 = nn.Conv2d(16, 16, 1), nn.BatchNorm2d(16)
        self.c3 = nn.Conv2d(16, 8, 3, padding=1)
        self.c4 = nn.Conv2d(24, 12, 3, stride=2, padding=1)
        self.fc1, self.fc2 = nn.Linear(12 * 8 * 8, 20), nn.Linear(20, 5)

    def forward(self, x):
        a = torch.relu(self.b1(self.c1(x)))
        c = self.b2(self.c2(torch.relu(self.bdw(self.dw(a))))) + a
        e = torch.cat([c, self.c3(c)], 1)
        f = torch.relu(self.c4(e))
        return self.fc2(torch.relu(self.fc1(torch.flatten(f, 1))))


def make_net(seed=0):
    torch.manual_seed(seed)
    net = Net()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def export(net, path):
    x = torch.zeros(1, 3, 16, 16)
    torch.onnx.export(net, x, path, input_names=["x"], output_names=["y"], opset_version=13,
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)  # keeps BatchNormalization nodes (eval semantics)


def ort_run(model, x, tmp):
    f = os.path.join(tmp, "ort_in.bin")
    np.ascontiguousarray(x, dtype=np.float32).tofile(f)
    js = os.path.join(tmp, "ort_in.json")
    with open(js, "w") as fh:
        json.dump({"x": {"shape": list(x.shape), "file": f}}, fh)
    prefix = os.path.join(tmp, "ort_out")
    p = subprocess.run(["node", ORT_RUN, ORT_DIR, model, js, prefix], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"onnxruntime failed on {model}: {p.stderr}")
    with open(prefix + ".json") as fh:
        meta = json.load(fh)
    return np.fromfile(f"{prefix}0.bin", dtype=np.float32).reshape(meta[0]["shape"])


def pare_run(model, x, tmp):
    f = os.path.join(tmp, "in.npy")
    np.save(f, x)
    pare("run", model, "-i", f"x={f}", "-d", tmp)
    return np.load(os.path.join(tmp, "y.npy"))


def weights(path):
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def load_json(path):
    with open(path) as f:
        return json.load(f)


def layer(report, name_part):
    hits = [l for l in report["layers"] if name_part in l["node"]]
    assert len(hits) == 1, (name_part, [l["node"] for l in report["layers"]])
    return hits[0]


class PruneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pare_prune_")
        cls.net = make_net()
        cls.model = os.path.join(cls.tmp, "net.onnx")
        export(cls.net, cls.model)
        rng = np.random.default_rng(0)
        cls.x = rng.standard_normal((4, 3, 16, 16)).astype(np.float32)
        # A tiny labelled set for fine-tuning (labels from the model itself, so it is learnable).
        xs = rng.standard_normal((96, 3, 16, 16)).astype(np.float32)
        with torch.no_grad():
            ys = cls.net(torch.from_numpy(xs)).argmax(1).numpy().astype(np.int64)
        cls.data = os.path.join(cls.tmp, "data.npz")
        np.savez(cls.data, x=xs, y=ys)

    def test_channel_matches_pytorch_with_zeroed_consumers_and_ort(self):
        out = os.path.join(self.tmp, "ch.onnx")
        rep_path = os.path.join(self.tmp, "ch.json")
        p = pare("prune", self.model, "-o", out, "--method", "channel", "--channels-fraction", "0.5", "--report", rep_path)
        self.assertIn("FLOPs kept", p.stdout)
        rep = load_json(rep_path)
        c1, c2, c3, c4, fc1, fc2 = (layer(rep, n) for n in ("/c1/", "/c2/", "/c3/", "/c4/", "/fc1/", "/fc2/"))
        dw = layer(rep, "/dw/")
        self.assertEqual(c1["removed_channels"], c2["removed_channels"])  # residual Add: one group
        self.assertEqual(len(c1["removed_channels"]), 8)
        self.assertEqual(dw["channels_after"], 8)  # depthwise follows its input
        self.assertEqual(len(c4["removed_channels"]), 6)
        self.assertEqual(fc2["channels_after"], 5)  # logits kept
        self.assertLess(rep["totals"]["flops_after"], rep["totals"]["flops_before"] * 0.5)
        # Reference: zero every consumer's input weights of the removed channels.
        ref = make_net()
        r1, r3, r4, r5 = (c1["removed_channels"], c3["removed_channels"], c4["removed_channels"],
                          fc1["removed_channels"])
        with torch.no_grad():
            ref.c2.weight[:, r1] = 0
            ref.c3.weight[:, r1] = 0
            ref.c4.weight[:, r1] = 0
            ref.c4.weight[:, [16 + c for c in r3]] = 0
            for c in r4:
                ref.fc1.weight[:, c * 64:(c + 1) * 64] = 0
            ref.fc2.weight[:, r5] = 0
            want = ref(torch.from_numpy(self.x)).numpy()
        got = pare_run(out, self.x, self.tmp)
        self.assertEqual(got.shape, (4, 5))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        # The pruned file is a smaller ordinary ONNX model that ONNX's checker accepts.
        onnx.checker.check_model(onnx.load(out))
        self.assertLess(os.path.getsize(out), os.path.getsize(self.model) * 0.6)
        err = ensure_ort()
        if err:
            print("skipping the ONNX Runtime check:", err)
            return
        np.testing.assert_allclose(ort_run(out, self.x, self.tmp), want, rtol=1e-4, atol=1e-4)

    def test_channel_flops_target_and_bn_criterion(self):
        out = os.path.join(self.tmp, "chf.onnx")
        rep_path = os.path.join(self.tmp, "chf.json")
        pare("prune", self.model, "-o", out, "--method", "channel", "--target-flops", "0.5", "--criterion", "bn",
             "--report", rep_path)
        rep = load_json(rep_path)
        self.assertLessEqual(rep["totals"]["flops_after"], 0.5 * rep["totals"]["flops_before"])
        self.assertGreater(rep["totals"]["flops_after"], 0.3 * rep["totals"]["flops_before"])
        # bn: c1's kept channels are those with the largest Σ|gamma| of the BatchNorms on its
        # channels (b1, bdw after the depthwise conv, b2 of the residual partner c2).
        gamma = sum(np.abs(b.weight.detach().numpy()) for b in (self.net.b1, self.net.bdw, self.net.b2))
        removed = layer(rep, "/c1/")["removed_channels"]
        kept = sorted(set(range(16)) - set(removed))
        self.assertGreaterEqual(gamma[kept].min(), gamma[removed].max())
        self.assertEqual(pare_run(out, self.x, self.tmp).shape, (4, 5))

    def test_magnitude_global_and_layer(self):
        for scope in ("global", "layer"):
            out = os.path.join(self.tmp, f"mag_{scope}.onnx")
            rep_path = os.path.join(self.tmp, f"mag_{scope}.json")
            pare("prune", self.model, "-o", out, "--sparsity", "0.7", "--scope", scope, "--report", rep_path,
                 "--exclude", "fc2")
            w0, w1 = weights(self.model), weights(out)
            rep = load_json(rep_path)
            pruned = [l["weight"] for l in rep["layers"] if l["pruned"]]
            self.assertNotIn(layer(rep, "/fc2/")["weight"], pruned)
            self.assertEqual(len(pruned), 6)
            total = sum(w0[n].size for n in pruned)
            zeros = sum(int((w1[n] == 0).sum()) for n in pruned)
            per_layer = sum(int(np.floor(0.7 * w0[n].size + 0.5)) for n in pruned)
            self.assertEqual(zeros, per_layer if scope == "layer" else int(np.floor(0.7 * total + 0.5)))
            if scope == "layer":
                for n in pruned:
                    self.assertEqual(int((w1[n] == 0).sum()), int(np.floor(0.7 * w0[n].size + 0.5)), n)
            else:  # one threshold: every kept |w| ≥ every zeroed original |w|
                kept = np.concatenate([np.abs(w1[n][w1[n] != 0]) for n in pruned])
                gone = np.concatenate([np.abs(w0[n][w1[n] == 0]) for n in pruned])
                self.assertGreaterEqual(kept.min(), gone.max())
            for n, a in w0.items():  # biases, BN parameters and the excluded layer untouched
                if n not in pruned:
                    np.testing.assert_array_equal(a, w1[n], n)
        out = os.path.join(self.tmp, "thr.onnx")
        pare("prune", self.model, "-o", out, "--threshold", "0.05")
        w0, w1 = weights(self.model), weights(out)
        for n, a in w0.items():
            if a.ndim >= 2 and n in w1:
                np.testing.assert_array_equal(w1[n], np.where(np.abs(a) < 0.05, 0, a))

    def test_nm_pattern(self):
        out = os.path.join(self.tmp, "nm.onnx")
        p = pare("prune", self.model, "-o", out, "--method", "nm", "--nm", "2:4")
        self.assertIn("not a multiple of M = 4", p.stdout)  # c1 (3 input channels) and the depthwise conv skipped
        w0, w1 = weights(self.model), weights(out)
        checked = 0
        for name in ("c2", "c3", "c4", "fc1"):
            a, b = w0[name + ".weight"], w1[name + ".weight"]
            # Runs of 4 along the input dimension (axis 1 of Conv [O, I, kh, kw] and of Linear [O, I]).
            a4 = np.moveaxis(a, 1, -1).reshape(-1, 4)
            b4 = np.moveaxis(b, 1, -1).reshape(-1, 4)
            self.assertTrue(((b4 != 0).sum(1) == 2).all(), name)
            top2 = np.sort(np.abs(a4), 1)[:, 2]
            self.assertTrue((np.abs(b4).max(1) >= top2).all() and (np.where(b4 != 0, np.abs(a4), np.inf).min(1) >= top2).all(), name)
            checked += 1
        self.assertEqual(checked, 4)

    def test_finetune_keeps_masks_and_gradual(self):
        one = os.path.join(self.tmp, "mag_once.onnx")
        pare("prune", self.model, "-o", one, "--sparsity", "0.6")
        out = os.path.join(self.tmp, "mag_ft.onnx")
        rep_path = os.path.join(self.tmp, "ft.json")
        pare("prune", self.model, "-o", out, "--sparsity", "0.6", "--finetune-epochs", "2", "--data", self.data, "--batch", "32",
             "--lr", "0.05", "--eval-data", self.data, "--report", rep_path, "-q", "--seed", "1")
        w_once, w_ft, w0 = weights(one), weights(out), weights(self.model)
        rep = load_json(rep_path)
        self.assertIn("accuracy_after", rep)
        changed = 0
        for n, a in w_once.items():
            if (a == 0).any() and a.ndim >= 2:
                np.testing.assert_array_equal(w_ft[n][a == 0], 0, n)  # masks held
                changed += int(not np.array_equal(w_ft[n], a))
        self.assertGreater(changed, 0)  # the weights did train
        out = os.path.join(self.tmp, "grad.onnx")
        pare("prune", self.model, "-o", out, "--sparsity", "0.5", "--prune-schedule", "gradual", "--finetune-epochs", "2",
             "--data", self.data, "--batch", "16", "--lr", "0.01", "-q", "--report", rep_path)
        rep = load_json(rep_path)
        self.assertAlmostEqual(rep["totals"]["nonzero_after"] / rep["totals"]["nonzero_before"], 0.5, delta=0.06)
        out = os.path.join(self.tmp, "ch_ft.onnx")
        pare("prune", self.model, "-o", out, "--method", "channel", "--target-flops", "0.5", "--finetune-epochs", "1",
             "--data", self.data, "--teacher", self.model, "-q")
        self.assertEqual(pare_run(out, self.x, self.tmp).shape, (4, 5))

    def test_bad_inputs(self):
        out = os.path.join(self.tmp, "bad.onnx")
        for s in ("1", "1.5", "-0.1"):
            p = pare("prune", self.model, "-o", out, "--sparsity", s, ok=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("--sparsity must be in [0, 1)", p.stderr)
        p = pare("prune", self.model, "-o", out, "--method", "nm", "--nm", "2:5", "--include", "/c4/", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("needs M to divide the input dimension", p.stderr)
        self.assertIn("/c4/Conv", p.stderr)
        p = pare("prune", self.model, "-o", out, "--method", "nm", "--nm", "4:4", ok=False)
        self.assertIn("1 <= N < M", p.stderr)
        p = pare("prune", self.model, "-o", out, "--method", "channel", "--target-flops", "1.5", ok=False)
        self.assertIn("--target-flops must be in (0, 1]", p.stderr)
        # An op pare cannot rewire: Softmax over the channels of a Conv that is a graph output's input.
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5, 5])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 5, 5])
        rng = np.random.default_rng(1)
        w1 = numpy_helper.from_array(rng.standard_normal((6, 4, 1, 1)).astype(np.float32), "w1")
        w2 = numpy_helper.from_array(rng.standard_normal((2, 6, 1, 1)).astype(np.float32), "w2")
        nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="conv_a"),
                 helper.make_node("Softmax", ["a"], ["s"], name="soft", axis=1),
                 helper.make_node("Conv", ["s", "w2"], ["y"], name="conv_b")]
        m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w1, w2]), opset_imports=[helper.make_opsetid("", 13)])
        soft = os.path.join(self.tmp, "softmax.onnx")
        onnx.save(m, soft)
        p = pare("prune", soft, "-o", out, "--method", "channel", "--channels-fraction", "0.5", "--strict", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("'soft' (Softmax)", p.stderr)
        p = pare("prune", soft, "-o", out, "--method", "channel", "--channels-fraction", "0.5", ok=False)
        self.assertNotEqual(p.returncode, 0)  # nothing else is prunable: the error lists why
        self.assertIn("no channel group can be pruned", p.stderr)
        self.assertIn("'soft' (Softmax)", p.stderr)
        # An already-quantized (QDQ) model.
        q = numpy_helper.from_array(rng.integers(-100, 100, (6, 4, 1, 1)).astype(np.int8), "q")
        sc = numpy_helper.from_array(np.array(0.01, np.float32), "sc")
        nodes = [helper.make_node("DequantizeLinear", ["q", "sc"], ["w"], name="dq"),
                 helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
        y6 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 5, 5])
        m = helper.make_model(helper.make_graph(nodes, "g", [x], [y6], [q, sc]), opset_imports=[helper.make_opsetid("", 13)])
        qpath = os.path.join(self.tmp, "qdq.onnx")
        onnx.save(m, qpath)
        p = pare("prune", qpath, "-o", out, "--sparsity", "0.5", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("already quantized", p.stderr)
        self.assertIn("'dq' (DequantizeLinear)", p.stderr)
        p = pare("prune", self.model, "-o", out, "--finetune-epochs", "1", "--sparsity", "0.5", ok=False)
        self.assertIn("--finetune-epochs needs --data", p.stderr)

    def test_help_explains_options(self):
        p = pare("prune", "--help")
        for opt in ("--method", "--sparsity", "--threshold", "--scope", "--nm", "--op-types", "--include", "--exclude",
                    "--criterion", "--target-flops", "--channels-fraction", "--finetune-epochs", "--prune-schedule",
                    "--teacher", "--report", "--eval-data", "--lr", "--data"):
            self.assertIn(opt, p.stdout)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
