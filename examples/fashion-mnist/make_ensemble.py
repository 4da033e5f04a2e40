#!/usr/bin/python3
"""Writes one ONNX model that averages the logits of several classifiers with the same input
(an ensemble teacher for `pare distill`, as in Hinton et al. 2015, "Distilling the knowledge
in a neural network", where the teacher is an ensemble).

    logits = (m1(x) + m2(x) + ... + mk(x)) / k

Each model's nodes, initializers and intermediate values are renamed with a prefix m<i>/, so
its values stay addressable (e.g. `--hint m1/pool2:pool2`). All models must take one input of
the same shape and give logits [N, K] as their first output.

usage: make_ensemble.py OUT.onnx MODEL1.onnx MODEL2.onnx [...]
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, paths = sys.argv[1], sys.argv[2:]
    models = [onnx.load(p) for p in paths]
    first = models[0].graph.input[0]
    nodes, inits, sums = [], [], []
    for i, m in enumerate(models, 1):
        g = m.graph
        if len(g.input) != 1 or g.input[0].type != first.type:
            print(f"{paths[i - 1]}: needs one input of the first model's type", file=sys.stderr)
            return 2
        inp, logits = g.input[0].name, g.output[0].name
        ren = lambda n: first.name if n == inp else (n if n == "" else f"m{i}/{n}")
        for t in g.initializer:
            t2 = onnx.TensorProto()
            t2.CopyFrom(t)
            t2.name = ren(t.name)
            inits.append(t2)
        for n in g.node:
            n2 = onnx.NodeProto()
            n2.CopyFrom(n)
            n2.name = ren(n.name or f"node{len(nodes)}")
            n2.input[:] = [ren(v) for v in n.input]
            n2.output[:] = [ren(v) for v in n.output]
            nodes.append(n2)
        sums.append(ren(logits))
    total = sums[0]
    for j, s in enumerate(sums[1:], 1):
        nodes.append(helper.make_node("Add", [total, s], [f"ensemble/sum{j}"], name=f"ensemble/add{j}"))
        total = f"ensemble/sum{j}"
    inits.append(numpy_helper.from_array(np.array(1.0 / len(models), np.float32), "ensemble/scale"))
    nodes.append(helper.make_node("Mul", [total, "ensemble/scale"], ["logits"], name="ensemble/mean"))
    out_info = onnx.ValueInfoProto()
    out_info.CopyFrom(models[0].graph.output[0])
    out_info.name = "logits"
    g = helper.make_graph(nodes, "ensemble", [first], [out_info], inits)
    opset = max(o.version for m in models for o in m.opset_import if o.domain in ("", "ai.onnx"))
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    onnx.save(model, out)
    params = sum(int(np.prod(t.dims)) for t in inits if t.data_type == onnx.TensorProto.FLOAT)
    print(f"wrote {out}: the mean of {len(models)} models, {params} float values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
