#!/usr/bin/python3
"""`pare train` / `pare distill` end to end on tiny data (seconds): training improves accuracy
on separable blobs, the output is an inference model numpy-checked against its weights, and
the bad inputs of issue 5 fail with a clear message and exit code.

usage: test_train_cli.py PARE"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PARE = sys.argv[1]


def mlp(path, extra="Relu"):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (8, 4)).astype(np.float32), "w1"),
             numpy_helper.from_array(np.zeros(8, np.float32), "b1"),
             numpy_helper.from_array(rng.normal(0, 0.5, (3, 8)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.zeros(3, np.float32), "b2")]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
             helper.make_node(extra, ["h"], ["r"], name="act"),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["z"], name="fc2", transB=1)]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def blobs(path, n=300, seed=0, bad_label=False, features=4):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centers = np.array([[2, 0, 0, 1], [0, 2, 1, 0], [-1, -1, 2, -2]], np.float32)
    x = centers[y] + rng.normal(0, 0.5, (n, 4)).astype(np.float32)
    if features != 4:
        x = np.concatenate([x, np.zeros((n, features - 4), np.float32)], 1)
    y = y.astype(np.int64)
    if bad_label:
        y[5] = 7
    np.savez(path, x=x, y=y)


def run(*args):
    return subprocess.run([PARE, *args], capture_output=True, text=True)


def main():
    fails = 0

    def check(cond, what, r=None):
        nonlocal fails
        if not cond:
            fails += 1
            print("FAIL:", what, "" if r is None else f"(rc {r.returncode}) {r.stdout} {r.stderr}")
        else:
            print("ok:", what)

    with tempfile.TemporaryDirectory() as d:
        j = lambda n: os.path.join(d, n)
        mlp(j("m.onnx"))
        blobs(j("train.npz"))
        blobs(j("val.npz"), 90, 1)
        r = run("train", j("m.onnx"), "--data", j("train.npz"), "--val-data", j("val.npz"), "--epochs", "3", "--batch", "16",
                "--lr", "0.1", "--seed", "3", "--threads", "1", "-o", j("out.onnx"))
        check(r.returncode == 0 and "val acc" in r.stdout and os.path.exists(j("out.onnx.ckpt.onnx")), "train runs, checkpoints", r)
        # The output is an inference model: numpy forward with its weights reaches > 90 %.
        m = onnx.load(j("out.onnx"))
        w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
        check(set(w) == {"w1", "b1", "w2", "b2"}, "output holds only the model's initializers")
        v = np.load(j("val.npz"))
        z = np.maximum(v["x"] @ w["w1"].T + w["b1"], 0) @ w["w2"].T + w["b2"]
        check((z.argmax(1) == v["y"]).mean() > 0.9, "trained weights classify the blobs (numpy forward)")
        r2 = run("train", j("m.onnx"), "--data", j("train.npz"), "--epochs", "3", "--batch", "16", "--lr", "0.1", "--seed", "3",
                 "--threads", "1", "-o", j("out2.onnx"))
        w2 = {t.name: numpy_helper.to_array(t) for t in onnx.load(j("out2.onnx")).graph.initializer}
        check(r2.returncode == 0 and all(np.array_equal(w[k], w2[k]) for k in w), "deterministic with --seed at 1 thread", r2)
        r = run("train", j("m.onnx"), "--data", j("train.npz"), "--epochs", "4", "--batch", "16", "--lr", "0.1", "--seed", "3",
                "--threads", "1", "--resume", "-o", j("out2.onnx"))
        check(r.returncode == 0 and "resuming" in r.stderr and r.stdout.count("epoch ") == 1, "--resume continues after 3 epochs", r)
        r = run("distill", "--teacher", j("out.onnx"), "--shrink", "0.5", "--data", j("train.npz"), "--val-data", j("val.npz"),
                "--epochs", "3", "--batch", "16", "--lr", "0.1", "--threads", "1", "-o", j("student.onnx"))
        check(r.returncode == 0 and "epoch 3/3" in r.stdout and os.path.exists(j("student.onnx")), "distill --shrink (a trained teacher: epochs start at 0)", r)
        # Hint loss between the teachers's and the student's hidden layers ('r', [N, 8] and [N, 4]).
        r = run("distill", "--teacher", j("out.onnx"), "--shrink", "0.5", "--hint", "r:r", "--hint-weight", "0.5", "--data", j("train.npz"),
                "--val-data", j("val.npz"), "--epochs", "3", "--batch", "16", "--lr", "0.1", "--threads", "1",
                "--save-student", j("s0.onnx"), "-o", j("hinted.onnx"))
        acc = [float(l.split("val acc ")[1].split("%")[0]) for l in r.stdout.splitlines() if "val acc" in l]
        names = lambda f: sorted(t.name for t in onnx.load(j(f)).graph.initializer)
        check(r.returncode == 0 and acc and acc[-1] > 90 and names("hinted.onnx") == names("s0.onnx"),
              "distill --hint trains; the projection stays out of the output", r)
        for hint, msg in (("nope:r", "the teacher model has no value named 'nope'"), ("r:nope", "no feature value named 'nope'"),
                          ("r", "expected TEACHER_VALUE:STUDENT_VALUE"), ("w1:r", "the teacher model has no value named 'w1'"),
                          ("r:r --hint-weight -1", "the hint weight must be finite and ≥ 0")):
            r = run("distill", "--teacher", j("out.onnx"), "--shrink", "0.5", "--hint", *hint.split(" "), "--data", j("train.npz"),
                    "--epochs", "1", "--threads", "1", "-o", j("x.onnx"))
            check(r.returncode == 5 and msg in r.stderr, f"--hint {hint}: {msg}", r)
        # Ctrl-C: a checkpoint is saved, exit code 130, and --resume continues from it.
        blobs(j("big.npz"), 30000)
        p = subprocess.Popen([PARE, "train", j("m.onnx"), "--data", j("big.npz"), "--epochs", "1000", "--batch", "8", "--threads", "1",
                              "-o", j("int.onnx")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        import time
        time.sleep(1.5)
        p.send_signal(2)
        out, err = p.communicate(timeout=60)
        check(p.returncode == 130 and os.path.exists(j("int.onnx.ckpt.onnx")) and "--resume" in err, "Ctrl-C saves a checkpoint")
        # Bad inputs.
        blobs(j("badlabel.npz"), bad_label=True)
        r = run("train", j("m.onnx"), "--data", j("badlabel.npz"), "-o", j("x.onnx"))
        check(r.returncode == 5 and "label 7 of sample 5 is out of range [0, 3)" in r.stderr, "labels out of range", r)
        blobs(j("wide.npz"), features=6)
        r = run("train", j("m.onnx"), "--data", j("wide.npz"), "-o", j("x.onnx"))
        check(r.returncode == 5 and "samples of shape [6] do not match the model input 'x'" in r.stderr, "data shape mismatch", r)
        r = run("train", j("m.onnx"), "--data", j("train.npz"), "--lr", "1e30", "--momentum", "0", "--epochs", "2", "-o", j("nan.onnx"))
        check(r.returncode == 5 and "loss became" in r.stderr and not os.path.exists(j("nan.onnx")), "NaN loss stops clearly", r)
        mlp(j("cos.onnx"), "Cos")
        r = run("train", j("cos.onnx"), "--data", j("train.npz"), "-o", j("x.onnx"))
        check(r.returncode == 4 and "node 'act' (Cos)" in r.stderr, "op without gradient names node and op", r)
        r = run("distill", "--teacher", j("out.onnx"), "--data", j("train.npz"), "-o", j("x.onnx"))
        check(r.returncode == 5 and "exactly one of --student" in r.stderr, "distill needs --student or --shrink", r)
        r = run("train", j("m.onnx"), "--data", j("train.npz"), "--resume", "--checkpoint", j("none.onnx"), "-o", j("x.onnx"))
        check(r.returncode == 6 and "no checkpoint" in r.stderr, "--resume without a checkpoint", r)
    print("failures:", fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
