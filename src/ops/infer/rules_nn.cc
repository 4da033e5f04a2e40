// Inference rules for convolution, pooling, matrix products, reductions and normalization.
//   conv/pool output extent: floor-or-ceil((in + pad_begin + pad_end − dilation·(k−1) − 1) / stride) + 1
//   SAME_*: out = ceil(in / stride);  ConvTranspose: stride·(in−1) + out_pad + dilation·(k−1) + 1 − pads
#include <algorithm>
#include <cmath>

#include "ops/infer/rules.h"

namespace pare::ops::infer {
namespace {

using Dims = std::vector<ir::Dim>;

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;
  std::string auto_pad;
  bool ceil_mode = false;
};

// Reads kernel/stride/dilation/pad attributes for `n` spatial dims; false if inconsistent.
bool read_window(const ir::Node& node, size_t n, std::vector<int64_t> kernel, Window& w) {
  w.kernel = node.has_attr("kernel_shape") ? node.attr_ints("kernel_shape") : std::move(kernel);
  w.strides = node.attr_ints("strides", std::vector<int64_t>(n, 1));
  w.dilations = node.attr_ints("dilations", std::vector<int64_t>(n, 1));
  w.pads = node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  w.auto_pad = node.attr_string("auto_pad", "NOTSET");
  w.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  if (w.kernel.size() != n || w.strides.size() != n || w.dilations.size() != n || w.pads.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (w.strides[i] < 1 || w.dilations[i] < 1 || w.kernel[i] < 1) return false;
  }
  return true;
}

ir::Dim window_out(const ir::Dim& in, const Window& w, size_t i) {
  if (!in.known()) return ir::Dim{};
  const int64_t x = in.value, s = w.strides[i];
  if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") return ir::Dim::of((x + s - 1) / s);
  const int64_t k = w.dilations[i] * (w.kernel[i] - 1) + 1;
  const int64_t pads = w.auto_pad == "VALID" ? 0 : w.pads[i] + w.pads[i + w.kernel.size()];
  const int64_t span = x + pads - k;
  if (span < 0) return ir::Dim{};
  const int64_t out = w.ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
  return ir::Dim::of(out);
}

std::optional<std::vector<int64_t>> static_ints(const Dims* d, size_t from) {
  if (!d) return std::nullopt;
  std::vector<int64_t> v;
  for (size_t i = from; i < d->size(); ++i) {
    if (!(*d)[i].known()) return std::nullopt;
    v.push_back((*d)[i].value);
  }
  return v;
}

}  // namespace

void conv(InferContext& c) {
  const Dims* x = c.dims(0);
  const Dims* w = c.dims(1);
  const DataType out_type = c.node().op_type() == "ConvInteger" ? DataType::kInt32 : c.dtype(0);
  if (!x || x->size() < 3) return c.set_tensor(0, out_type, std::nullopt);
  const size_t n = x->size() - 2;
  auto k = static_ints(w, 2);
  Window win;
  if (!read_window(c.node(), n, k ? *k : std::vector<int64_t>{}, win)) return c.set_tensor(0, out_type, Dims(x->size()));
  Dims out{(*x)[0], w && !w->empty() ? (*w)[0] : ir::Dim{}};
  for (size_t i = 0; i < n; ++i) out.push_back(window_out((*x)[i + 2], win, i));
  c.set_tensor(0, out_type, out);
}

void conv_transpose(InferContext& c) {
  const Dims* x = c.dims(0);
  const Dims* w = c.dims(1);
  if (!x || x->size() < 3 || !w || w->size() != x->size()) return c.set_tensor(0, c.dtype(0), std::nullopt);
  const size_t n = x->size() - 2;
  const int64_t group = c.node().attr_int("group", 1);
  Dims out{(*x)[0], (*w)[1].known() ? ir::Dim::of((*w)[1].value * group) : ir::Dim{}};
  if (c.node().has_attr("output_shape")) {
    auto os = c.node().attr_ints("output_shape");
    if (os.size() != n) return;
    for (int64_t v : os) out.push_back(ir::Dim::of(v));
    return c.set_tensor(0, c.dtype(0), out);
  }
  auto k = static_ints(w, 2);
  Window win;
  if (!read_window(c.node(), n, k ? *k : std::vector<int64_t>{}, win)) return c.set_tensor(0, c.dtype(0), Dims(x->size()));
  auto out_pad = c.node().attr_ints("output_padding", std::vector<int64_t>(n, 0));
  if (out_pad.size() != n) return;
  for (size_t i = 0; i < n; ++i) {
    const ir::Dim& d = (*x)[i + 2];
    if (!d.known()) {
      out.push_back(ir::Dim{});
      continue;
    }
    int64_t full = win.strides[i] * (d.value - 1) + out_pad[i] + win.dilations[i] * (win.kernel[i] - 1) + 1;
    if (win.auto_pad == "SAME_UPPER" || win.auto_pad == "SAME_LOWER") full = d.value * win.strides[i];
    else if (win.auto_pad != "VALID") full -= win.pads[i] + win.pads[i + n];
    out.push_back(ir::Dim::of(full));
  }
  c.set_tensor(0, c.dtype(0), out);
}

void pool(InferContext& c) {
  const Dims* x = c.dims(0);
  if (!x || x->size() < 3) return c.set_tensor(0, c.dtype(0), std::nullopt);
  const size_t n = x->size() - 2;
  Window win;
  if (!read_window(c.node(), n, {}, win)) return c.set_tensor(0, c.dtype(0), Dims(x->size()));
  Dims out{(*x)[0], (*x)[1]};
  for (size_t i = 0; i < n; ++i) out.push_back(window_out((*x)[i + 2], win, i));
  c.set_tensor(0, c.dtype(0), out);
  if (c.node().outputs().size() > 1) c.set_tensor(1, DataType::kInt64, out);
}

void global_pool(InferContext& c) {
  const Dims* x = c.dims(0);
  if (!x || x->size() < 2) return c.set_tensor(0, c.dtype(0), std::nullopt);
  Dims out{(*x)[0], (*x)[1]};
  for (size_t i = 2; i < x->size(); ++i) out.push_back(ir::Dim::of(1));
  c.set_tensor(0, c.dtype(0), out);
}

void matmul(InferContext& c) {
  const Dims* a = c.dims(0);
  const Dims* b = c.dims(1);
  const DataType dt = c.node().op_type() == "MatMulInteger" ? DataType::kInt32 : c.dtype(0);
  if (!a || !b || a->empty() || b->empty()) return c.set_tensor(0, dt, std::nullopt);
  Dims aa = *a, bb = *b;
  const bool a1 = aa.size() == 1, b1 = bb.size() == 1;
  if (a1) aa.insert(aa.begin(), ir::Dim::of(1));
  if (b1) bb.push_back(ir::Dim::of(1));
  Dims ab(aa.begin(), aa.end() - 2), bbatch(bb.begin(), bb.end() - 2);
  auto batch = broadcast_dims({&ab, &bbatch});
  if (!batch) return c.set_tensor(0, dt, std::nullopt);
  Dims out = *batch;
  if (!a1) out.push_back(aa[aa.size() - 2]);
  if (!b1) out.push_back(bb.back());
  c.set_tensor(0, dt, out);
}

void gemm(InferContext& c) {
  const Dims* a = c.dims(0);
  const Dims* b = c.dims(1);
  if (!a || !b || a->size() != 2 || b->size() != 2) return c.set_tensor(0, c.dtype(0), std::nullopt);
  const bool ta = c.node().attr_int("transA", 0) != 0, tb = c.node().attr_int("transB", 0) != 0;
  c.set_tensor(0, c.dtype(0), Dims{(*a)[ta ? 1 : 0], (*b)[tb ? 0 : 1]});
}

void reduce(InferContext& c) {
  const Dims* x = c.dims(0);
  const bool keep = c.node().attr_int("keepdims", 1) != 0;
  std::optional<std::vector<int64_t>> axes;
  if (c.node().has_attr("axes")) axes = c.node().attr_ints("axes");
  else if (c.has_input(1)) axes = c.constant_ints(1);
  else axes = std::vector<int64_t>{};
  if (!x || !axes) return c.set_tensor(0, c.dtype(0), std::nullopt);
  if (axes->empty() && c.node().attr_int("noop_with_empty_axes", 0)) return c.set_tensor(0, c.dtype(0), *x);
  std::vector<bool> red(x->size(), axes->empty());
  for (int64_t a : *axes) {
    const int64_t r = static_cast<int64_t>(x->size());
    if (a < -r || a >= r) return;
    red[a < 0 ? a + r : a] = true;
  }
  Dims out;
  for (size_t i = 0; i < x->size(); ++i) {
    if (!red[i]) out.push_back((*x)[i]);
    else if (keep) out.push_back(ir::Dim::of(1));
  }
  c.set_tensor(0, c.dtype(0), out);
}

void arg_reduce(InferContext& c) {
  const Dims* x = c.dims(0);
  if (!x) return c.set_tensor(0, DataType::kInt64, std::nullopt);
  const int64_t r = static_cast<int64_t>(x->size());
  int64_t a = c.node().attr_int("axis", 0);
  if (a < -r || a >= r) return;
  if (a < 0) a += r;
  Dims out = *x;
  if (c.node().attr_int("keepdims", 1)) out[a] = ir::Dim::of(1);
  else out.erase(out.begin() + a);
  c.set_tensor(0, DataType::kInt64, out);
}

void batch_norm(InferContext& c) {
  same_as_input0(c);
  for (size_t i = 1; i < c.node().outputs().size(); ++i) {
    const Dims* s = c.dims(1);
    c.set_tensor(i, c.dtype(1), s ? std::optional(*s) : std::nullopt);
  }
}

void layer_norm(InferContext& c) {
  same_as_input0(c);
  const Dims* x = c.dims(0);
  if (!x || c.node().outputs().size() < 2) return;
  const int64_t r = static_cast<int64_t>(x->size());
  int64_t axis = c.node().attr_int("axis", -1);
  if (axis < -r || axis >= r) return;
  if (axis < 0) axis += r;
  Dims stat(x->begin(), x->begin() + axis);
  stat.resize(x->size(), ir::Dim::of(1));
  for (size_t i = 1; i < c.node().outputs().size(); ++i) c.set_tensor(i, DataType::kFloat32, stat);
}

void dropout(InferContext& c) {
  same_as_input0(c);
  if (c.node().outputs().size() > 1) {
    const Dims* x = c.dims(0);
    c.set_tensor(1, DataType::kBool, x ? std::optional(*x) : std::nullopt);
  }
}

void quantize_linear(InferContext& c) {
  const Dims* x = c.dims(0);
  const DataType dt = c.has_input(2) && c.dtype(2) != DataType::kUndefined ? c.dtype(2) : DataType::kUInt8;
  c.set_tensor(0, dt, x ? std::optional(*x) : std::nullopt);
}

void dequantize_linear(InferContext& c) {
  const Dims* x = c.dims(0);
  c.set_tensor(0, DataType::kFloat32, x ? std::optional(*x) : std::nullopt);
}

}  // namespace pare::ops::infer

// pare's fused and layout ops (domain com.pare, see ops/fused/). A blocked tensor is
// [N, ⌈C/b⌉, spatial…, b] (channels padded to the block b).
namespace pare::ops::infer {
namespace {

// Plain [N, C?, spatial…] dims of a tensor in `block` layout (C unknown when blocked).
std::optional<Dims> plain_dims(const Dims* d, int64_t block) {
  if (!d || d->size() < 3) return std::nullopt;
  if (block <= 0) return *d;
  Dims p{(*d)[0], ir::Dim{}};
  p.insert(p.end(), d->begin() + 2, d->end() - 1);
  return p;
}

Dims with_layout(Dims plain, int64_t block) {
  if (block <= 0) return plain;
  if (plain[1].known()) plain[1] = ir::Dim::of((plain[1].value + block - 1) / block);
  plain.push_back(ir::Dim::of(block));
  return plain;
}

}  // namespace

void fused_conv(InferContext& c) {
  auto x = plain_dims(c.dims(0), c.node().attr_int("input_block", 0));
  const Dims* w = c.dims(1);
  if (!x || !w || w->size() != x->size()) return c.set_tensor(0, c.dtype(0), std::nullopt);
  const size_t n = x->size() - 2;
  auto k = static_ints(w, 2);
  Window win;
  if (!read_window(c.node(), n, k ? *k : std::vector<int64_t>{}, win)) return c.set_tensor(0, c.dtype(0), std::nullopt);
  Dims out{(*x)[0], (*w)[0]};
  for (size_t i = 0; i < n; ++i) out.push_back(window_out((*x)[i + 2], win, i));
  c.set_tensor(0, c.dtype(0), with_layout(out, c.node().attr_int("output_block", 0)));
}

// com.pare.FusedConvDw: the 1×1 convolution's channels, the 3×3 depthwise stride's spatial size.
void fused_conv_dw(InferContext& c) {
  auto x = plain_dims(c.dims(0), c.node().attr_int("input_block", 0));
  const Dims* w = c.dims(1);
  if (!x || !w || x->size() != 4 || w->size() != 4) return c.set_tensor(0, c.dtype(0), std::nullopt);
  const int64_t s = c.node().attr_int("dw_stride", 1);
  Dims out{(*x)[0], (*w)[0]};
  for (size_t i = 2; i < 4; ++i) out.push_back((*x)[i].known() && s > 0 ? ir::Dim::of((*x)[i].value > 0 ? ((*x)[i].value - 1) / s + 1 : 0) : ir::Dim{});
  c.set_tensor(0, c.dtype(0), with_layout(out, c.node().attr_int("output_block", 0)));
}

// com.pare.Attention: [B, Sq, H·Dv] from Q [B, Sq, ·] and V [B, Skv, H·Dv] (packed: [B, S, 3·H·D]).
void attention(InferContext& c) {
  const Dims* q = c.dims(0);
  const Dims* v = c.node().attr_int("qkv_packed", 0) ? q : c.dims(2);
  if (!q || !v || q->size() != 3 || v->size() != 3) return c.set_tensor(0, c.dtype(0), std::nullopt);
  Dims out{(*q)[0], (*q)[1], (*v)[2]};
  if (c.node().attr_int("qkv_packed", 0)) out[2] = (*v)[2].known() ? ir::Dim::of((*v)[2].value / 3) : ir::Dim{};
  c.set_tensor(0, c.dtype(0), out);
}

void blocked_pool(InferContext& c) {
  const int64_t block = c.node().attr_int("block", 0);
  auto x = plain_dims(c.dims(0), block);
  if (!x) return c.set_tensor(0, c.dtype(0), std::nullopt);
  const size_t n = x->size() - 2;
  Dims out{(*x)[0], ir::Dim::of(c.node().attr_int("channels", 0))};
  const std::string op = c.node().attr_string("pool", "");
  Window win;
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    out.resize(x->size(), ir::Dim::of(1));
  } else if (read_window(c.node(), n, {}, win)) {
    for (size_t i = 0; i < n; ++i) out.push_back(window_out((*x)[i + 2], win, i));
  } else {
    return c.set_tensor(0, c.dtype(0), std::nullopt);
  }
  c.set_tensor(0, c.dtype(0), with_layout(out, block));
}

void maxpool_nhwc(InferContext& c) {
  const Dims* x = c.dims(0);
  Window win;
  if (!x || x->size() != 4 || !read_window(c.node(), 2, {}, win)) return c.set_tensor(0, c.dtype(0), std::nullopt);
  c.set_tensor(0, c.dtype(0), Dims{(*x)[0], window_out((*x)[1], win, 0), window_out((*x)[2], win, 1), (*x)[3]});
}

void layout_to_blocked(InferContext& c) {
  const Dims* x = c.dims(0);
  if (!x || x->size() < 3) return c.set_tensor(0, c.dtype(0), std::nullopt);
  c.set_tensor(0, c.dtype(0), with_layout(*x, c.node().attr_int("block", 16)));
}

void layout_to_plain(InferContext& c) {
  auto x = plain_dims(c.dims(0), 1);
  if (!x) return c.set_tensor(0, c.dtype(0), std::nullopt);
  (*x)[1] = ir::Dim::of(c.node().attr_int("channels", 0));
  c.set_tensor(0, c.dtype(0), *x);
}

}  // namespace pare::ops::infer

// Quantized fused ops (ops/fused/quant.h): QConv is a Conv on the plain view of X (N,H,W,C
// with input_nhwc), Y stored N,H,W,C with output_nhwc; Y's type is Y_zero_point's (uint8 when
// only Y_scale is given, float without Y_scale). QMatMul / WeightOnlyMatMul: A[..., K]·W → [..., N].
namespace pare::ops::infer {
namespace {

DataType quant_out_type(InferContext& c, size_t ys) {
  if (!c.has_input(ys)) return DataType::kFloat32;
  return c.has_input(ys + 1) ? c.dtype(ys + 1) : DataType::kUInt8;
}

}  // namespace

void q_conv(InferContext& c) {
  const DataType dt = quant_out_type(c, 6);
  const Dims* xd = c.dims(0);
  const Dims* w = c.dims(3);
  if (!xd || !w || w->size() != xd->size() || xd->size() < 3) return c.set_tensor(0, dt, std::nullopt);
  Dims x = *xd;
  const bool in_nhwc = c.node().attr_int("input_nhwc", 0) != 0, out_nhwc = c.node().attr_int("output_nhwc", 0) != 0;
  if (in_nhwc) x = {x[0], x[3], x[1], x[2]};
  const size_t n = x.size() - 2;
  auto k = static_ints(w, 2);
  Window win;
  if (!read_window(c.node(), n, k ? *k : std::vector<int64_t>{}, win)) return c.set_tensor(0, dt, std::nullopt);
  Dims out{x[0], (*w)[0]};
  for (size_t i = 0; i < n; ++i) out.push_back(window_out(x[i + 2], win, i));
  if (out_nhwc && out.size() == 4) out = {out[0], out[2], out[3], out[1]};
  c.set_tensor(0, dt, out);
}

void q_matmul(InferContext& c) {
  const bool weight_only = c.node().op_type() == "WeightOnlyMatMul";
  const DataType dt = weight_only ? DataType::kFloat32 : quant_out_type(c, 7);
  const Dims* a = c.dims(0);
  const Dims* b = c.dims(weight_only ? 1 : 3);
  if (!a || !b || a->empty() || b->size() != 2) return c.set_tensor(0, dt, std::nullopt);
  Dims out = *a;
  out.back() = (*b)[weight_only && c.node().attr_int("trans_b", 0) ? 0 : 1];
  c.set_tensor(0, dt, out);
}

}  // namespace pare::ops::infer
