#!/usr/bin/python3
"""The benchmark models (issue #3), in plain PyTorch with random weights (seed 0):
torchvision ResNet-18, ResNet-50, MobileNetV2, EfficientNet-B0 at 1x3x224x224; a BERT-base-like
encoder (12 layers, hidden 768, 12 heads, FFN 3072, sequence 128); a GPT-2-small-like decoder
prefill of 128 tokens (12 layers, hidden 768, vocab 50257, causal, tanh GELU).

    /usr/bin/python3 bench/models.py OUTDIR [--only NAME,...] [--force]

writes OUTDIR/<name>.onnx (opset 14, the decomposed LayerNorm/GELU PyTorch 1.13 exports) and
OUTDIR/<name>.json with the input shapes/dtypes and the MAC count of Conv/MatMul/Gemm."""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Block(nn.Module):
    """A transformer layer: post-LN (BERT) or pre-LN (GPT-2) with erf or tanh GELU."""

    def __init__(self, d, heads, ffn, pre_ln, causal):
        super().__init__()
        self.heads, self.pre_ln, self.causal = heads, pre_ln, causal
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def attention(self, x, mask):
        b, s, d = x.shape
        h = self.heads
        q = self.q(x).view(b, s, h, d // h).transpose(1, 2)
        k = self.k(x).view(b, s, h, d // h).transpose(1, 2)
        v = self.v(x).view(b, s, h, d // h).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // h) + mask
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.o(ctx.transpose(1, 2).reshape(b, s, d))

    def mlp(self, x):
        y = self.fc1(x)
        y = F.gelu(y, approximate="tanh") if self.pre_ln else F.gelu(y)
        return self.fc2(y)

    def forward(self, x, mask):
        if self.pre_ln:
            x = x + self.attention(self.ln1(x), mask)
            return x + self.mlp(self.ln2(x))
        x = self.ln1(x + self.attention(x, mask))
        return self.ln2(x + self.mlp(x))


class Bert(nn.Module):
    def __init__(self, vocab=30522, d=768, layers=12, heads=12, ffn=3072, seq=128):
        super().__init__()
        self.tok, self.pos, self.typ = nn.Embedding(vocab, d), nn.Embedding(seq, d), nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList(Block(d, heads, ffn, False, False) for _ in range(layers))

    def forward(self, input_ids, attention_mask):
        s = input_ids.shape[1]
        pos = torch.arange(s).unsqueeze(0)
        x = self.ln(self.tok(input_ids) + self.pos(pos) + self.typ(torch.zeros_like(input_ids)))
        mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            x = layer(x, mask)
        return x


class Gpt2(nn.Module):
    def __init__(self, vocab=50257, d=768, layers=12, heads=12, seq=128):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(1024, d)
        self.layers = nn.ModuleList(Block(d, heads, 4 * d, True, True) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.register_buffer("causal", torch.triu(torch.full((seq, seq), -1e4), diagonal=1))

    def forward(self, input_ids):
        s = input_ids.shape[1]
        x = self.tok(input_ids) + self.pos(torch.arange(s).unsqueeze(0))
        mask = self.causal[:s, :s]
        for layer in self.layers:
            x = layer(x, mask)
        return self.head(self.ln(x))


def image(make):
    return make, {"input": ([1, 3, 224, 224], "float32")}


MODELS = {
    "resnet18": image(lambda: torchvision.models.resnet18(weights=None)),
    "resnet50": image(lambda: torchvision.models.resnet50(weights=None)),
    "mobilenet_v2": image(lambda: torchvision.models.mobilenet_v2(weights=None)),
    "efficientnet_b0": image(lambda: torchvision.models.efficientnet_b0(weights=None)),
    "bert_base": (Bert, {"input_ids": ([1, 128], "int64"), "attention_mask": ([1, 128], "int64")}),
    "gpt2_small": (Gpt2, {"input_ids": ([1, 128], "int64")}),
}


def example_inputs(spec):
    out = []
    for name, (shape, dtype) in spec.items():
        if dtype == "int64":
            x = torch.ones(shape, dtype=torch.int64) if name == "attention_mask" else torch.randint(0, 1000, shape)
        else:
            x = torch.rand(shape)
        out.append(x)
    return out


def build(name):
    torch.manual_seed(0)
    make, spec = MODELS[name]
    return make().eval(), spec


def count_macs(path):
    """Multiply-accumulates of Conv/MatMul/Gemm from ONNX shape inference."""
    import onnx
    from onnx import shape_inference
    m = shape_inference.infer_shapes(onnx.load(path))
    g = m.graph
    shapes = {}
    for v in list(g.value_info) + list(g.input) + list(g.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    macs = 0
    for n in g.node:
        if n.op_type == "Conv":
            w, y = shapes.get(n.input[1]), shapes.get(n.output[0])
            if w and y:
                macs += math.prod(y) * math.prod(w[1:])
        elif n.op_type in ("MatMul", "Gemm"):
            a, y = shapes.get(n.input[0]), shapes.get(n.output[0])
            if a and y:
                trans_a = any(at.name == "transA" and at.i for at in n.attribute)
                k = a[-2] if trans_a else a[-1]
                macs += math.prod(y) * k
    return macs


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir, force = sys.argv[1], "--force" in sys.argv
    only = None
    if "--only" in sys.argv:
        only = sys.argv[sys.argv.index("--only") + 1].split(",")
    os.makedirs(out_dir, exist_ok=True)
    for name in MODELS:
        if only and name not in only:
            continue
        path = os.path.join(out_dir, name + ".onnx")
        if os.path.exists(path) and not force:
            continue
        model, spec = build(name)
        with torch.no_grad():
            torch.onnx.export(model, tuple(example_inputs(spec)), path, input_names=list(spec),
                              output_names=["output"], opset_version=14, do_constant_folding=True)
        meta = {"inputs": {k: {"shape": s, "dtype": d} for k, (s, d) in spec.items()}, "macs": count_macs(path)}
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(meta, f)
        print(f"exported {name}: {meta['macs'] / 1e9:.2f} GMAC", flush=True)


if __name__ == "__main__":
    main()
