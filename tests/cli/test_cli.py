#!/usr/bin/python3
"""End-to-end tests of the `pare` command (issue #2 §8): each subcommand on real files.

Run by ctest as: /usr/bin/python3 tests/cli/test_cli.py PARE_BINARY
Uses ONNX's own test cases and expected outputs as the reference."""
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
NODE = "/usr/share/libonnx-testdata/data/node"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASHION = "/usr/share/datasets/fashion-mnist"


def pare(*args, check=True):
    p = subprocess.run([PARE, *args], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"pare {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_check_good_and_bad(self):
        self.assertIn("ok", pare("check", f"{NODE}/test_add/model.onnx").stdout)
        bad = os.path.join(self.dir, "bad.onnx")
        with open(bad, "wb") as f:
            f.write(open(f"{NODE}/test_add/model.onnx", "rb").read()[:40])
        p = pare("check", bad, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("invalid model", p.stderr)
        p = pare("check", os.path.join(self.dir, "missing.onnx"), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot open", p.stderr)

    def test_run_with_pb_inputs_in_order(self):
        case = f"{NODE}/test_add"
        out = os.path.join(self.dir, "out")
        pare("run", f"{case}/model.onnx", "--input", f"{case}/test_data_set_0/input_0.pb",
             "--input", f"{case}/test_data_set_0/input_1.pb", "--output-dir", out)
        got = np.load(os.path.join(out, "sum.npy"))
        np.testing.assert_allclose(got, load_pb(f"{case}/test_data_set_0/output_0.pb"), rtol=1e-6)

    def test_run_with_named_npy_inputs_and_safe_output_names(self):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
        z = helper.make_tensor_value_info("out/a:0", TensorProto.FLOAT, [2, 3])
        g = helper.make_graph([helper.make_node("Add", ["x", "y"], ["out/a:0"])], "g", [x, y], [z])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        path = os.path.join(self.dir, "m.onnx")
        onnx.save(m, path)
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        b = np.full((2, 3), 0.5, dtype=np.float32)
        np.save(os.path.join(self.dir, "a.npy"), a)
        np.save(os.path.join(self.dir, "b.npy"), b)
        # Named binding in the opposite order of the graph inputs.
        pare("run", path, "--input", f"y={self.dir}/b.npy", "--input", f"x={self.dir}/a.npy", "-d", self.dir)
        np.testing.assert_array_equal(np.load(os.path.join(self.dir, "out_a_0.npy")), a + b)
        p = pare("run", path, "--input", f"nope={self.dir}/b.npy", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no input 'nope'", p.stderr)
        p = pare("run", path, "--input", f"{self.dir}/a.npy", check=False)
        self.assertIn("input 'y'", p.stderr)

    def test_run_random(self):
        pare("run", f"{NODE}/test_add/model.onnx", "--random", "-d", self.dir)
        self.assertEqual(np.load(os.path.join(self.dir, "sum.npy")).shape, (3, 4, 5))

    def test_convert_with_external_data_round_trips(self):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 64])
        w = numpy_helper.from_array(np.random.RandomState(0).randn(4, 64).astype(np.float32), "w")
        g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
        src = os.path.join(self.dir, "src.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), src)
        dst = os.path.join(self.dir, "dst.onnx")
        pare("convert", src, "-o", dst, "--external-data")
        self.assertTrue(os.path.exists(dst + ".data"))
        onnx.checker.check_model(dst)  # ONNX itself accepts what pare wrote
        loaded = onnx.load(dst)  # and loads the external data
        np.testing.assert_array_equal(numpy_helper.to_array(loaded.graph.initializer[0]), numpy_helper.to_array(w))
        pare("run", dst, "--random", "-d", self.dir)

    def test_inspect_json(self):
        j = json.loads(pare("inspect", f"{NODE}/test_conv_with_strides_padding/model.onnx", "--json").stdout)
        self.assertEqual(j["ops"], {"Conv": 1})
        self.assertEqual(j["inputs"][0]["shape"], [1, 1, 7, 5])
        # Conv 1x1x7x5, kernel 3x3, stride 2, pad 1 → 1x1x4x3 outputs × 9 MACs × 2
        self.assertEqual(j["flops"], 2 * 12 * 9)
        self.assertIn("ai.onnx", j["opsets"])

    def test_help_explains_every_subcommand(self):
        out = pare("--help").stdout
        for cmd in ["check", "inspect", "run", "convert", "eval"]:
            self.assertIn(cmd, out)
        self.assertIn("--output-dir", pare("run", "--help").stdout)

    @unittest.skipUnless(os.path.isdir(FASHION), "dataset-fashion-mnist not installed")
    def test_eval_json_on_fashion_mnist(self):
        model = os.path.join(ROOT, "models", "fashion_mnist_cnn.onnx")
        j = json.loads(pare("eval", model, "--data", FASHION, "--limit", "500", "--json").stdout)
        self.assertEqual(j["count"], 500)
        self.assertGreater(j["accuracy"], 0.85)
        self.assertGreater(j["images_per_s"], 0)
        p = pare("eval", model, "--data", self.dir, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("t10k", p.stderr)

    def test_eval_npz(self):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
        g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
        path = os.path.join(self.dir, "id.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
        xs = np.array([[0, 1, 0], [2, 0, 0], [0, 0, 3], [1, 0, 0]], dtype=np.float32)
        ys = np.array([1, 0, 2, 2], dtype=np.int64)  # last one wrong
        np.savez_compressed(os.path.join(self.dir, "d.npz"), x=xs, y=ys)
        j = json.loads(pare("eval", path, "--data", os.path.join(self.dir, "d.npz"), "--json").stdout)
        self.assertAlmostEqual(j["accuracy"], 0.75)
        self.assertEqual(j["count"], 4)


if __name__ == "__main__":
    PARE = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
