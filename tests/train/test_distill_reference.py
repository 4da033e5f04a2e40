#!/usr/bin/python3
"""`pare distill` against PyTorch 1.13 as the independent reference: the same teacher, student,
data and hyper-parameters, and the student's weights and BatchNorm running statistics after
training must match PyTorch's to float tolerance.

What this pins down (each a way distillation can silently go wrong):
  * the loss: alpha*T^2*KL(softmax(z_t/T) || softmax(z_s/T)) (batch mean) + (1-alpha)*CE(y, z_s),
    the T^2 factor and the alpha split included (several T/alpha pairs, alpha 0 and 1);
  * the teacher runs in inference mode: BatchNorm with its running statistics, Dropout off
    (the teacher here has both, with running statistics far from the batch's, so a teacher run
    in training mode gives other targets);
  * the student trains in training mode: BatchNorm on batch statistics, its running mean and
    (unbiased) variance updated with PyTorch's momentum 1 - ONNX momentum;
  * SGD and AdamW steps over several epochs (whole-data batches, so shuffling cannot matter).

usage: test_distill_reference.py PARE"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

PARE = sys.argv[1]
N, C_IN, HW, K = 48, 2, 6, 4


def teacher_model(path, rng):
    """Conv(2→5) BN ReLU Flatten Gemm(180→16) ReLU Dropout(0.5) Gemm(16→4), BN statistics set."""
    w = {"cw": rng.normal(0, 0.4, (5, C_IN, 3, 3)), "cb": rng.normal(0, 0.1, 5),
         "g": rng.uniform(0.5, 1.5, 5), "b": rng.normal(0, 0.2, 5),
         "rm": rng.normal(0.5, 0.5, 5), "rv": rng.uniform(0.3, 3.0, 5),
         "w1": rng.normal(0, 0.2, (16, 5 * 4 * 4)), "b1": rng.normal(0, 0.1, 16),
         "w2": rng.normal(0, 0.5, (K, 16)), "b2": rng.normal(0, 0.1, K)}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    w["ratio"] = np.array(0.5, np.float32)
    w["shape"] = np.array([0, -1], np.int64)
    nodes = [helper.make_node("Conv", ["x", "cw", "cb"], ["c"], name="conv"),
             helper.make_node("BatchNormalization", ["c", "g", "b", "rm", "rv"], ["n"], name="bn", epsilon=1e-5, momentum=0.9),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w1", "b1"], ["h"], name="fc1", transB=1),
             helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
             helper.make_node("Dropout", ["hr", "ratio"], ["hd"], name="drop"),
             helper.make_node("Gemm", ["hd", "w2", "b2"], ["z"], name="fc2", transB=1)]
    save(path, nodes, w)
    return w


def student_model(path, rng):
    """Conv(2→3, no bias: before BatchNorm its gradient is 0 up to rounding, which Adam would
    scale up to full steps in both implementations differently) BN(momentum 0.8) ReLU Flatten Gemm(48→4)."""
    w = {"cw": rng.normal(0, 0.4, (3, C_IN, 3, 3)),
         "g": rng.uniform(0.5, 1.5, 3), "b": rng.normal(0, 0.2, 3),
         "rm": np.zeros(3), "rv": np.ones(3),
         "w1": rng.normal(0, 0.2, (K, 3 * 4 * 4)), "b1": rng.normal(0, 0.1, K)}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    w["shape"] = np.array([0, -1], np.int64)
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"], name="conv"),
             helper.make_node("BatchNormalization", ["c", "g", "b", "rm", "rv"], ["n"], name="bn", epsilon=1e-5, momentum=0.8),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w1", "b1"], ["z"], name="fc", transB=1)]
    save(path, nodes, w)
    return w


def save(path, nodes, w):
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C_IN, HW, HW])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", K])],
                          [numpy_helper.from_array(v, k) for k, v in w.items()])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def t(a):
    return torch.tensor(np.asarray(a, np.float32).copy())


def torch_teacher(w, x):
    """The teacher in inference mode: BatchNorm on running statistics, no dropout."""
    c = F.conv2d(x, t(w["cw"]), t(w["cb"]))
    n = F.batch_norm(c, t(w["rm"]), t(w["rv"]), t(w["g"]), t(w["b"]), training=False, eps=1e-5)
    h = F.relu(F.linear(F.relu(n).flatten(1), t(w["w1"]), t(w["b1"])))
    return F.linear(h, t(w["w2"]), t(w["b2"]))


def torch_distill(tw, sw, x, y, T, alpha, optimizer, lr, epochs):
    """Reference: the student trained in PyTorch with the distillation loss; returns its weights."""
    params = {k: t(sw[k]).requires_grad_() for k in ("cw", "g", "b", "w1", "b1")}
    rm, rv = t(sw["rm"]), t(sw["rv"])
    opt = (torch.optim.SGD(params.values(), lr=lr) if optimizer == "sgd"
           else torch.optim.AdamW(params.values(), lr=lr, weight_decay=0))
    with torch.no_grad():
        zt = torch_teacher(tw, x)
    for _ in range(epochs):
        c = F.conv2d(x, params["cw"])
        # PyTorch's momentum is the weight of the new batch statistic: 1 - ONNX momentum (0.8).
        n = F.batch_norm(c, rm, rv, params["g"], params["b"], training=True, momentum=0.2, eps=1e-5)
        zs = F.linear(F.relu(n).flatten(1), params["w1"], params["b1"])
        kd = F.kl_div(F.log_softmax(zs / T, 1), F.softmax(zt / T, 1), reduction="batchmean") * T * T
        loss = alpha * kd + (1 - alpha) * F.cross_entropy(zs, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = {k: v.detach().numpy() for k, v in params.items()}
    out["rm"], out["rv"] = rm.numpy(), rv.numpy()
    return out


def main():
    rng = np.random.default_rng(5)
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        j = lambda n: os.path.join(d, n)
        tw = teacher_model(j("teacher.onnx"), rng)
        sw = student_model(j("student.onnx"), rng)
        x = rng.normal(0, 1, (N, C_IN, HW, HW)).astype(np.float32)
        y = rng.integers(0, K, N).astype(np.int64)
        np.savez(j("data.npz"), x=x, y=y)
        # The teacher in training mode (batch statistics, dropout) would give other targets: the
        # check below would then fail, so it can tell the two modes apart.
        with torch.no_grad():
            zt = torch_teacher(tw, t(x))
            c = F.conv2d(t(x), t(tw["cw"]), t(tw["cb"]))
            n = F.batch_norm(c, None, None, t(tw["g"]), t(tw["b"]), training=True)
            zt_train = F.linear(F.relu(F.linear(F.relu(n).flatten(1), t(tw["w1"]), t(tw["b1"]))), t(tw["w2"]), t(tw["b2"]))
        assert (zt - zt_train).abs().max() > 0.5, "the test's teacher does not tell inference from training mode"

        cases = [(4.0, 0.9, "sgd", 0.5, 1), (2.0, 0.5, "sgd", 0.5, 3), (1.0, 0.3, "adamw", 0.01, 4),
                 (3.0, 1.0, "adamw", 0.01, 2), (4.0, 0.0, "sgd", 0.5, 2)]
        for T, alpha, opt, lr, epochs in cases:
            what = f"T {T} alpha {alpha} {opt} lr {lr}, {epochs} epoch(s)"
            args = ["distill", "--teacher", j("teacher.onnx"), "--student", j("student.onnx"), "--data", j("data.npz"),
                    "--batch", str(N), "--epochs", str(epochs), "--optimizer", opt, "--lr", str(lr), "--momentum", "0",
                    "--temperature", str(T), "--alpha", str(alpha), "--seed", "1", "--threads", "1", "-q", "-o", j("out.onnx")]
            r = subprocess.run([PARE, *args], capture_output=True, text=True)
            if r.returncode != 0:
                fails += 1
                print(f"FAIL: {what}: pare distill exited {r.returncode}: {r.stderr}")
                continue
            got = {i.name: numpy_helper.to_array(i) for i in onnx.load(j("out.onnx")).graph.initializer}
            want = torch_distill(tw, sw, t(x), torch.tensor(y), T, alpha, opt, lr, epochs)
            worst = max(float(np.max(np.abs(got[k] - v)) / (1e-3 + float(np.max(np.abs(v))))) for k, v in want.items())
            moved = max(float(np.max(np.abs(v - sw[k]))) for k, v in want.items())
            ok = worst < 2e-4 and moved > 1e-2
            fails += not ok
            print(f"{'ok' if ok else 'FAIL'}: {what}: weights and running statistics vs PyTorch, "
                  f"max relative difference {worst:.2e} (training moved them by up to {moved:.3f})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
