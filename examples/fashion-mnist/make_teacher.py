#!/usr/bin/python3
"""Writes the Fashion-MNIST teacher CNN as an ONNX graph with freshly initialized weights
(PyTorch's default initialization: U(±1/sqrt(fan_in)); BatchNorm scale 1, bias 0).

    conv3x3(1→C1) BN ReLU maxpool2 → conv3x3(C1→C2) BN ReLU maxpool2 → flatten
    → Gemm(C2·7·7 → H) ReLU Dropout(p) → Gemm(H → 10)

usage: make_teacher.py OUT.onnx [--c1 32 --c2 64 --hidden 128 --dropout 0.25 --seed 0]
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(c1, c2, hidden, dropout, seed, batch="batch"):
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def param(name, shape, fan_in):
        b = 1.0 / np.sqrt(fan_in)
        inits.append(numpy_helper.from_array(rng.uniform(-b, b, shape).astype(np.float32), name))
        return name

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def conv_block(i, x, cin, cout):
        w = param(f"conv{i}.weight", (cout, cin, 3, 3), cin * 9)
        b = param(f"conv{i}.bias", (cout,), cin * 9)
        nodes.append(helper.make_node("Conv", [x, w, b], [f"conv{i}"], name=f"conv{i}", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        bn = [const(f"bn{i}.{k}", np.full(cout, v, np.float32)) for k, v in (("scale", 1), ("bias", 0), ("mean", 0), ("var", 1))]
        nodes.append(helper.make_node("BatchNormalization", [f"conv{i}"] + bn, [f"bn{i}"], name=f"bn{i}", epsilon=1e-5, momentum=0.9))
        nodes.append(helper.make_node("Relu", [f"bn{i}"], [f"relu{i}"], name=f"relu{i}"))
        nodes.append(helper.make_node("MaxPool", [f"relu{i}"], [f"pool{i}"], name=f"pool{i}", kernel_shape=[2, 2], strides=[2, 2]))
        return f"pool{i}"

    x = conv_block(1, "input", 1, c1)
    x = conv_block(2, x, c1, c2)
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
    feat = c2 * 7 * 7
    nodes.append(helper.make_node("Gemm", ["flat", param("fc1.weight", (hidden, feat), feat), param("fc1.bias", (hidden,), feat)],
                                  ["fc1"], name="fc1", transB=1))
    nodes.append(helper.make_node("Relu", ["fc1"], ["relu_fc1"], name="relu_fc1"))
    last = "relu_fc1"
    if dropout > 0:
        nodes.append(helper.make_node("Dropout", ["relu_fc1", const("dropout.ratio", np.float32(dropout))], ["drop"], name="dropout"))
        last = "drop"
    nodes.append(helper.make_node("Gemm", [last, param("fc2.weight", (10, hidden), hidden), param("fc2.bias", (10,), hidden)],
                                  ["logits"], name="fc2", transB=1))
    graph = helper.make_graph(nodes, "fashion_mnist_cnn",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_teacher.py")
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--c1", type=int, default=32)
    ap.add_argument("--c2", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    onnx.save(build(a.c1, a.c2, a.hidden, a.dropout, a.seed), a.out)
