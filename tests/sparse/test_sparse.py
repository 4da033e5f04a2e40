"""pare optimize --sparse-initializers end to end: sparse weights are written as ONNX
sparse_initializer, the file is smaller, ONNX Runtime (npm onnxruntime-node 1.30, installed into
ORT_DIR if missing) and pare load it and give the same outputs as the dense model and a numpy
reference; --min-sparsity decides which weights; bad options are refused. And N:M: a model
pruned by `pare prune --method nm` (2:4 and 1:4) runs its MatMul and Gemm on the `nm` kernel
(`pare bench --profile`) with the numpy and ONNX Runtime result of the pruned weights.
Usage: test_sparse.py PARE ORT_DIR"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

PARE = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/pare")
ORT_DIR = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/ort")
HERE = os.path.dirname(os.path.abspath(__file__))
ORT_RUN = os.path.join(os.path.dirname(HERE), "quant", "ort_run.js")
sys.argv = sys.argv[:1]
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "quant"))
import test_quant as q  # noqa: E402  (pare/ORT helpers)

q.PARE, q.ORT_DIR = PARE, ORT_DIR


def sparse(rng, shape, sparsity):
    w = rng.standard_normal(shape).astype(np.float32)
    w[rng.random(shape) < sparsity] = 0.0
    return w


class SparseInitializers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pare_sparse_")
        rng = np.random.default_rng(5)
        cls.w1 = sparse(rng, (512, 384), 0.9)    # MatMul weight, 90% zeros
        cls.b1 = rng.standard_normal(384).astype(np.float32)
        cls.w2 = sparse(rng, (96, 384), 0.8)     # Gemm transB weight, 80% zeros
        cls.b2 = rng.standard_normal(96).astype(np.float32)
        cls.w3 = sparse(rng, (96, 10), 0.0)      # dense
        g = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b1"], ["h2"], name="add"),
             helper.make_node("Relu", ["h2"], ["h3"], name="relu"),
             helper.make_node("Gemm", ["h3", "w2", "b2"], ["h4"], name="gemm", transB=1),
             helper.make_node("MatMul", ["h4", "w3"], ["y"], name="mm3")],
            "sparse_mlp",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 512])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
            [numpy_helper.from_array(cls.w1, "w1"), numpy_helper.from_array(cls.b1, "b1"),
             numpy_helper.from_array(cls.w2, "w2"), numpy_helper.from_array(cls.b2, "b2"),
             numpy_helper.from_array(cls.w3, "w3")])
        cls.dense = os.path.join(cls.tmp, "dense.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), cls.dense)
        cls.x = rng.standard_normal((3, 512)).astype(np.float32)
        h = np.maximum(cls.x.astype(np.float64) @ cls.w1 + cls.b1, 0)
        cls.ref = (h @ cls.w2.T.astype(np.float64) + cls.b2) @ cls.w3

    def optimize(self, out, *extra, check=True):
        return q.pare("optimize", self.dense, "-o", os.path.join(self.tmp, out), *extra, check=check)

    def test_sparse_file_is_smaller_and_runs_in_ort_and_pare(self):
        out = os.path.join(self.tmp, "sparse.onnx")
        p = self.optimize("sparse.onnx", "--sparse-initializers")
        self.assertIn("2 sparse initializers", p.stdout)
        plain = os.path.join(self.tmp, "plain.onnx")
        self.optimize("plain.onnx")
        m = onnx.load(out)
        onnx.checker.check_model(m)
        names = sorted(s.values.name for s in m.graph.sparse_initializer)
        self.assertEqual(names, ["w1", "w2"])
        self.assertNotIn("w1", [t.name for t in m.graph.initializer])
        for s in m.graph.sparse_initializer:
            self.assertEqual(s.indices.data_type, TensorProto.INT64)
        self.assertEqual(len(onnx.load(plain).graph.sparse_initializer), 0)
        sz_sparse, sz_plain = os.path.getsize(out), os.path.getsize(plain)
        print(f"\nsize on disk: dense {sz_plain} B, sparse {sz_sparse} B ({sz_plain / sz_sparse:.2f}x smaller)")
        self.assertLess(sz_sparse * 2, sz_plain)
        err = q.ensure_ort()
        if err:
            self.fail(err)
        for model in (out, plain):
            (y_ort,) = q.ort_run(model, {"x": self.x}, self.tmp)
            np.testing.assert_allclose(y_ort, self.ref, rtol=1e-4, atol=1e-3)
            (y_pare,) = q.pare_run(model, {"x": self.x}, self.tmp)
            np.testing.assert_allclose(y_pare, self.ref, rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose(y_pare, y_ort, rtol=1e-4, atol=1e-3)

    def test_min_sparsity_selects_weights(self):
        out = os.path.join(self.tmp, "s85.onnx")
        self.optimize("s85.onnx", "--sparse-initializers", "--min-sparsity", "0.85")
        self.assertEqual([s.values.name for s in onnx.load(out).graph.sparse_initializer], ["w1"])
        # Round trip through pare keeps the values exactly.
        again = os.path.join(self.tmp, "again.onnx")
        q.pare("optimize", out, "-o", again, "-O", "0")
        w1 = next(numpy_helper.to_array(t) for t in onnx.load(again).graph.initializer if t.name == "w1")
        np.testing.assert_array_equal(w1, self.w1)

    def test_bad_min_sparsity(self):
        for v in ("1.5", "-0.1", "abc"):
            p = self.optimize("bad.onnx", "--sparse-initializers", "--min-sparsity", v, check=False)
            self.assertNotEqual(p.returncode, 0, v)
            self.assertIn("min-sparsity", p.stderr + p.stdout)


class NmPruned(unittest.TestCase):
    def test_pruned_model_runs_on_nm_kernel(self):
        tmp = tempfile.mkdtemp(prefix="pare_nm_")
        rng = np.random.default_rng(8)
        w1 = rng.standard_normal((512, 384)).astype(np.float32)   # MatMul [K, N]
        b1 = rng.standard_normal(384).astype(np.float32)
        w2 = rng.standard_normal((96, 384)).astype(np.float32)    # Gemm transB [N, K]
        b2 = rng.standard_normal(96).astype(np.float32)
        g = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b1"], ["h2"], name="add"),
             helper.make_node("Relu", ["h2"], ["h3"], name="relu"),
             helper.make_node("Gemm", ["h3", "w2", "b2"], ["y"], name="gemm", transB=1)],
            "nm_mlp",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 512])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 96])],
            [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")])
        dense = os.path.join(tmp, "dense.onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), dense)
        x = rng.standard_normal((5, 512)).astype(np.float32)
        err = q.ensure_ort()
        if err:
            self.fail(err)
        for n, m in ((2, 4), (1, 4)):
            pruned = os.path.join(tmp, f"nm{n}{m}.onnx")
            q.pare("prune", dense, "-o", pruned, "--method", "nm", "--nm", f"{n}:{m}")
            ws = {t.name: numpy_helper.to_array(t) for t in onnx.load(pruned).graph.initializer}
            p1, p2 = ws["w1"], ws["w2"]
            # The pattern along the input dimension: K is axis 0 of w1, axis 1 of w2 (transB).
            self.assertLessEqual(int((p1.reshape(512 // m, m, 384) != 0).sum(axis=1).max()), n)
            self.assertLessEqual(int((p2.reshape(96, 384 // m, m) != 0).sum(axis=2).max()), n)
            prof = q.pare("bench", pruned, "-n", "2", "-w", "1", "-b", "5", "--profile").stdout
            self.assertRegex(prof, r"(MatMul|FusedMatMul|Gemm) \[nm\]", prof)
            # The profile groups by op type (MatMul + Add became a Gemm): no matmul on another kernel.
            self.assertNotRegex(prof, r"(MatMul|FusedMatMul|Gemm) \[(?!nm\])", prof)
            ref = np.maximum(x.astype(np.float64) @ p1 + b1, 0) @ p2.T.astype(np.float64) + b2
            (y_pare,) = q.pare_run(pruned, {"x": x}, tmp)
            np.testing.assert_allclose(y_pare, ref, rtol=1e-4, atol=1e-3)
            (y_ort,) = q.ort_run(pruned, {"x": x}, tmp)
            np.testing.assert_allclose(y_pare, y_ort, rtol=1e-4, atol=1e-3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
