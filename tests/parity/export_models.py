#!/usr/bin/python3
"""Exports the real-model parity set with Debian's PyTorch (random weights, seed 0, eval mode):
OUTDIR/<name>/model.onnx, input_<i>.npy, output_<i>.npy (PyTorch's outputs) and meta.json.
`pare_parity OUTDIR` then checks pare's outputs against them.

    /usr/bin/python3 tests/parity/export_models.py OUTDIR [--force]"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision


class LstmClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=16, hidden_size=32, num_layers=2, batch_first=True)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y[:, -1, :])


class GeluMlp(nn.Module):
    """Exercises the LayerNorm, GELU (erf and tanh) and MatMul+bias fusions on 3-D inputs."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(24, 40), nn.Linear(40, 24), nn.Linear(24, 7)
        self.ln1, self.ln2 = nn.LayerNorm(24), nn.LayerNorm(24)

    def forward(self, x):
        y = self.ln1(x + self.fc2(nn.functional.gelu(self.fc1(x))))
        y = self.ln2(nn.functional.gelu(y, approximate="tanh"))
        return self.fc3(y)


class AttentionBlocks(nn.Module):
    """Exercises the attention fusion: a BERT-style layer (additive [B,1,1,S] mask input, Div
    scaling) then a GPT-2-style layer (constant causal mask, Mul scaling); 4 heads of 8."""

    def __init__(self, d=32, heads=4):
        super().__init__()
        self.heads = heads
        self.proj = nn.ModuleList(nn.Linear(d, d) for _ in range(8))
        self.register_buffer("causal", torch.triu(torch.full((7, 7), -1e4), diagonal=1))

    def attend(self, x, q, k, v, o, mask, divide):
        b, s, d = x.shape
        h = self.heads
        qh = q(x).view(b, s, h, d // h).transpose(1, 2)
        kh = k(x).view(b, s, h, d // h).transpose(1, 2)
        vh = v(x).view(b, s, h, d // h).transpose(1, 2)
        kt = kh.transpose(-1, -2)
        scores = torch.matmul(qh, kt) / (d // h) ** 0.5 if divide else torch.matmul(qh, kt) * (d // h) ** -0.5
        ctx = torch.matmul(torch.softmax(scores + mask, dim=-1), vh)
        return o(ctx.transpose(1, 2).reshape(b, s, d))

    def forward(self, x, keep):
        mask = (1.0 - keep[:, None, None, :]) * -10000.0
        x = x + self.attend(x, *self.proj[:4], mask, True)
        return x + self.attend(x, *self.proj[4:], self.causal, False)


def models():
    enc_layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0, batch_first=True)
    return {
        "resnet18": (lambda: torchvision.models.resnet18(weights=None), [torch.rand(1, 3, 224, 224)]),
        "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), [torch.rand(1, 3, 224, 224)]),
        "transformer_encoder": (lambda: nn.TransformerEncoder(enc_layer, num_layers=2), [torch.randn(2, 16, 64)]),
        "lstm": (LstmClassifier, [torch.randn(3, 10, 16)]),
        "gelu_mlp": (GeluMlp, [torch.randn(2, 9, 24)]),
        # expected fusions: op type -> count in pare's planned graph (pare_parity checks them)
        "attention": (AttentionBlocks, [torch.randn(2, 7, 32), torch.randn(2, 7)], {"Attention": 2, "Softmax": 0}),
    }


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: export_models.py OUTDIR [--force]")
    out_dir, force = sys.argv[1], "--force" in sys.argv
    torch.set_num_threads(1)
    for name, (make, inputs, *expect) in models().items():
        d = os.path.join(out_dir, name)
        if os.path.exists(os.path.join(d, "meta.json")) and not force:
            continue
        os.makedirs(d, exist_ok=True)
        torch.manual_seed(0)
        model = make().eval()
        torch.manual_seed(1)
        inputs = [torch.rand_like(x) if x.dtype.is_floating_point else x for x in inputs]
        with torch.no_grad():
            ref = model(*inputs)
        refs = list(ref) if isinstance(ref, (tuple, list)) else [ref]
        in_names = [f"input_{i}" for i in range(len(inputs))]
        out_names = [f"output_{i}" for i in range(len(refs))]
        torch.onnx.export(model, tuple(inputs), os.path.join(d, "model.onnx"), input_names=in_names,
                          output_names=out_names, opset_version=14, do_constant_folding=True)
        for i, x in enumerate(inputs):
            np.save(os.path.join(d, f"input_{i}.npy"), x.numpy())
        for i, r in enumerate(refs):
            np.save(os.path.join(d, f"output_{i}.npy"), r.numpy().astype(np.float32))
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump({"inputs": in_names, "outputs": out_names, "expect_ops": expect[0] if expect else {}}, f)
        print(f"exported {name}")


if __name__ == "__main__":
    main()
