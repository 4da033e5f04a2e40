"""Minimal GGUF v3 writer and numpy block codecs, written from the GGUF spec and ggml's block
layouts (independent of pare's C++), used by the LLM tests and bench/llm.

Block layouts (little-endian, d/m/dmin are float16):
  Q4_0 (18 B / 32): d, qs[16]            lo nibbles → x[0:16], hi → x[16:32]; x = (q - 8) d
  Q4_1 (20 B / 32): d, m, qs[16]         x = q d + m
  Q5_0 (22 B / 32): d, qh u32, qs[16]    5th bit of x[j] is bit j of qh; x = (q - 16) d
  Q5_1 (24 B / 32): d, m, qh, qs[16]     x = q d + m
  Q8_0 (34 B / 32): d, int8 qs[32]       x = q d
  Q4_K (144 B / 256): d, dmin, scales[12], qs[128]
  Q5_K (176 B / 256): d, dmin, scales[12], qh[32], qs[128]
  Q6_K (210 B / 256): ql[128], qh[64], int8 scales[16], d
"""
import struct
import numpy as np

TYPES = {  # name: (id, block, bytes)
    "f32": (0, 1, 4), "f16": (1, 1, 2), "q4_0": (2, 32, 18), "q4_1": (3, 32, 20),
    "q5_0": (6, 32, 22), "q5_1": (7, 32, 24), "q8_0": (8, 32, 34), "q4_k": (12, 256, 144),
    "q5_k": (13, 256, 176), "q6_k": (14, 256, 210), "bf16": (30, 1, 2),
}

# metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
        U64: "<Q", I64: "<q", F64: "<d"}


def _s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack("<Q", len(b)) + b


def _val(t, v):
    if t == STRING:
        return _s(v)
    if t == ARRAY:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        if et == STRING:
            return out + b"".join(_s(x) for x in items)
        if et in _FMT and et != ARRAY:
            return out + np.asarray(items, dtype=np.dtype(_FMT[et][1:]).newbyteorder("<")).tobytes()
        return out + b"".join(_val(ARRAY, x) for x in items)
    return struct.pack(_FMT[t], v)


def write_gguf(path, kv, tensors, alignment=32, version=3):
    """kv: list of (key, type, value); tensors: list of (name, type_name, ne list, raw bytes)."""
    head = struct.pack("<IIQQ", 0x46554747, version, len(tensors), len(kv))
    for k, t, v in kv:
        head += _s(k) + struct.pack("<I", t) + _val(t, v)
    off, offs = 0, []
    for name, tn, ne, raw in tensors:
        tid, blk, nbytes = TYPES[tn]
        n = int(np.prod(ne))
        assert len(raw) == n // blk * nbytes, (name, len(raw))
        head += _s(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}Q", *ne)
        head += struct.pack("<IQ", tid, off)
        offs.append(off)
        off = (off + len(raw) + alignment - 1) // alignment * alignment
    with open(path, "wb") as f:
        f.write(head)
        pos = (len(head) + alignment - 1) // alignment * alignment
        f.write(b"\0" * (pos - len(head)))
        base = pos
        for (name, tn, ne, raw), o in zip(tensors, offs):
            f.write(b"\0" * (base + o - pos))
            f.write(raw)
            pos = base + o + len(raw)


def _h(a):  # float16 fields → float32
    return a.view(np.float16).astype(np.float32)


def dequantize(tn, raw, n):
    """Reference dequantization of N values of type TN from bytes RAW, in float32."""
    tid, blk, nbytes = TYPES[tn]
    b = np.frombuffer(raw, dtype=np.uint8)
    if tn == "f32":
        return b.view(np.float32).copy()
    if tn == "f16":
        return b.view(np.float16).astype(np.float32)
    if tn == "bf16":
        return (b.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    b = b.reshape(n // blk, nbytes)
    if tn == "q8_0":
        return (b[:, 2:].view(np.int8).astype(np.float32) * _h(b[:, 0:2].copy())).reshape(-1)
    if tn in ("q4_0", "q4_1", "q5_0", "q5_1"):
        has_m = tn.endswith("_1")
        five = tn.startswith("q5")
        d = _h(b[:, 0:2].copy())
        m = _h(b[:, 2:4].copy()) if has_m else None
        p = 4 if has_m else 2
        if five:
            qh = b[:, p:p + 4].copy().view("<u4").astype(np.uint32)  # (nb, 1)
            p += 4
        qs = b[:, p:p + 16].astype(np.int32)
        q = np.concatenate([qs & 0xF, qs >> 4], axis=1)  # (nb, 32)
        if five:
            bits = (qh >> np.arange(32, dtype=np.uint32)[None, :]) & 1
            q = q | (bits.astype(np.int32) << 4)
        if has_m:
            x = q.astype(np.float32) * d + m
        else:
            x = (q - (16 if five else 8)).astype(np.float32) * d
        return x.reshape(-1)
    if tn in ("q4_k", "q5_k"):
        five = tn == "q5_k"
        d = _h(b[:, 0:2].copy())[:, 0]
        dmin = _h(b[:, 2:4].copy())[:, 0]
        s = b[:, 4:16].astype(np.int32)
        sc = np.zeros((len(b), 8), np.int32)
        mn = np.zeros((len(b), 8), np.int32)
        sc[:, :4] = s[:, 0:4] & 63
        mn[:, :4] = s[:, 4:8] & 63
        sc[:, 4:] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
        mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
        qh = b[:, 16:48].astype(np.int32) if five else None
        qs = b[:, 48:176].astype(np.int32) if five else b[:, 16:144].astype(np.int32)
        out = np.zeros((len(b), 256), np.float32)
        for j in range(8):  # sub-block j: chunk j//2 of 32 bytes, low nibble if j even
            c = j // 2
            q = qs[:, 32 * c:32 * c + 32]
            q = (q & 0xF) if j % 2 == 0 else (q >> 4)
            if five:
                q = q + (((qh >> j) & 1) << 4)
            out[:, 32 * j:32 * j + 32] = (d * sc[:, j]).astype(np.float32)[:, None] * q - (dmin * mn[:, j]).astype(np.float32)[:, None]
        return out.reshape(-1)
    if tn == "q6_k":
        ql = b[:, 0:128].astype(np.int32)
        qh = b[:, 128:192].astype(np.int32)
        sc = b[:, 192:208].view(np.int8).astype(np.float32)
        d = _h(b[:, 208:210].copy())[:, 0]
        out = np.zeros((len(b), 256), np.float32)
        for half in range(2):
            L = ql[:, 64 * half:64 * half + 64]
            H = qh[:, 32 * half:32 * half + 32]
            qs = [(L[:, :32] & 0xF) | ((H & 3) << 4), (L[:, 32:] & 0xF) | (((H >> 2) & 3) << 4),
                  (L[:, :32] >> 4) | (((H >> 4) & 3) << 4), (L[:, 32:] >> 4) | (((H >> 6) & 3) << 4)]
            for k in range(4):
                for l16 in range(2):
                    sub = 8 * half + 2 * k + l16  # 16-value sub-block index
                    q = qs[k][:, 16 * l16:16 * l16 + 16] - 32
                    out[:, 16 * sub:16 * sub + 16] = (d * sc[:, sub]).astype(np.float32)[:, None] * q
        return out.reshape(-1)
    raise ValueError(tn)


def quantize(tn, x):
    """Reference quantizers for the types the tests and bench write directly (f32/f16/q8_0/q4_0)."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if tn == "f32":
        return x.tobytes()
    if tn == "f16":
        return x.astype(np.float16).tobytes()
    xb = x.reshape(-1, 32)
    if tn == "q8_0":
        d = np.abs(xb).max(axis=1) / 127
        idv = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0)
        q = np.rint(xb * idv[:, None]).astype(np.int8)
        out = np.empty((len(xb), 34), np.uint8)
        out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
        out[:, 2:] = q.view(np.uint8)
        return out.tobytes()
    if tn == "q4_0":
        idx = np.abs(xb).argmax(axis=1)
        vmax = xb[np.arange(len(xb)), idx]
        d = vmax / -8
        idv = np.where(d != 0, 1 / np.where(d != 0, d, 1), 0)
        q = np.minimum(15, (xb * idv[:, None] + 8.5).astype(np.int32)).astype(np.uint8)
        out = np.empty((len(xb), 18), np.uint8)
        out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
        out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
        return out.tobytes()
    raise ValueError(tn)


def llama_tensors(rng, V, E, L, H, KVH, FF, wtype="f32", std=0.05, embd_type=None):
    """Random llama weights in GGUF layout: list of (name, type, ne, raw)."""
    HD = E // H
    out = []

    def mat(name, rows, cols, t, s=std):
        w = (rng.standard_normal((rows, cols)) * s).astype(np.float32)
        out.append((name, t, [cols, rows], quantize(t, w)))

    mat("token_embd.weight", V, E, embd_type or wtype, 1.0)
    out.append(("output_norm.weight", "f32", [E], np.ones(E, np.float32).tobytes()))
    mat("output.weight", V, E, embd_type or wtype)
    for i in range(L):
        p = f"blk.{i}."
        out.append((p + "attn_norm.weight", "f32", [E], np.ones(E, np.float32).tobytes()))
        out.append((p + "ffn_norm.weight", "f32", [E], np.ones(E, np.float32).tobytes()))
        mat(p + "attn_q.weight", H * HD, E, wtype)
        mat(p + "attn_k.weight", KVH * HD, E, wtype)
        mat(p + "attn_v.weight", KVH * HD, E, wtype)
        mat(p + "attn_output.weight", E, H * HD, wtype)
        mat(p + "ffn_gate.weight", FF, E, wtype)
        mat(p + "ffn_up.weight", FF, E, wtype)
        mat(p + "ffn_down.weight", E, FF, wtype)
    return out


def llama_kv(E, L, H, KVH, FF, ctx=2048, name="random-llama", ftype=0):
    return [("general.architecture", STRING, "llama"), ("general.name", STRING, name),
            ("general.file_type", U32, ftype),
            ("llama.context_length", U32, ctx), ("llama.embedding_length", U32, E), ("llama.block_count", U32, L),
            ("llama.feed_forward_length", U32, FF), ("llama.attention.head_count", U32, H),
            ("llama.attention.head_count_kv", U32, KVH), ("llama.rope.freq_base", F32, 10000.0),
            ("llama.rope.dimension_count", U32, E // H),
            ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5)]


def spm_tokenizer_kv(tokens, merges):
    """LLaMA SentencePiece metadata; score of a token = −rank of the first merge producing it."""
    score = {}
    for r, m in enumerate(merges):
        a, b = m.split(" ", 1)
        score.setdefault(a + b, -float(r))
    scores = [score.get(t, -1e9) for t in tokens]
    types = [2 if t == "<unk>" else 3 if t in ("<s>", "</s>") else 6 if (len(t) == 6 and t.startswith("<0x")) else 1
             for t in tokens]
    return [("tokenizer.ggml.model", STRING, "llama"), ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
            ("tokenizer.ggml.scores", ARRAY, (F32, scores)), ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
            ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
            ("tokenizer.ggml.unknown_token_id", U32, 0), ("tokenizer.ggml.add_bos_token", BOOL, 1),
            ("tokenizer.ggml.add_eos_token", BOOL, 0)]


def bpe_tokenizer_kv(tokens, merges, pre, n_normal, bos, eos):
    types = [1] * n_normal + [3] * (len(tokens) - n_normal)
    return [("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, pre),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)), ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
            ("tokenizer.ggml.merges", ARRAY, (STRING, merges)), ("tokenizer.ggml.bos_token_id", U32, bos),
            ("tokenizer.ggml.eos_token_id", U32, eos), ("tokenizer.ggml.add_bos_token", BOOL, 1)]
