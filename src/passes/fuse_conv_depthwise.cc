// FusedConv[1×1] → FusedConv[3×3 depthwise]  ⇒  com.pare.FusedConvDw (ops/fused/fused_conv_dw.cc)
//   M = act(Conv(X, W, B)),  Y = dw_act(DwConv3×3(M, DW, DB; stride 1 or 2, pads 1))
// The expand → depthwise pair of an inverted-residual block (MobileNetV2, EfficientNet): the
// fast kernel computes M a few rows at a time and feeds them straight to the depthwise
// convolution (oneDNN's depthwise post-op), so M — the block's widest tensor, 6× its input —
// never goes out to memory whole. Runs after convert_layout_blocked (opt level 3), on pairs it
// left in the blocked layout: the first conv is 1×1 with stride 1, no padding, no group, no
// residual; the second has group = channels = the first's output channels, 3×3 weights,
// strides 1 or 2 (equal), pads 1, no dilation, no residual; M feeds only the depthwise conv
// and is not a graph output.
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool all_eq(const std::vector<int64_t>& v, int64_t x) {
  for (int64_t e : v)
    if (e != x) return false;
  return true;
}

bool plain_window(const ir::Node& n) {
  const std::string pad = n.attr_string("auto_pad", "NOTSET");
  return (pad == "NOTSET" || pad.empty()) && all_eq(n.attr_ints("dilations"), 1);
}

bool is_fused_conv(const ir::Node& n) { return n.domain() == "com.pare" && n.op_type() == "FusedConv"; }

// The 1×1 expansion: returns its weights' output channels, or 0.
int64_t pointwise_channels(const ir::Node& n) {
  if (!is_fused_conv(n) || n.input(3) || !plain_window(n) || n.attr_int("group", 1) != 1) return 0;
  const Tensor* w = constant_value(n.input(1));
  if (!w || w->rank() != 4 || w->dim(2) != 1 || w->dim(3) != 1) return 0;
  if (!all_eq(n.attr_ints("strides"), 1) || !all_eq(n.attr_ints("pads"), 0)) return 0;
  if (n.input(2) && !constant_value(n.input(2))) return 0;
  return w->dim(0);
}

// The depthwise 3×3 over `c` channels: returns its stride (1 or 2), or 0.
int64_t depthwise_stride(const ir::Node& n, int64_t c) {
  if (!is_fused_conv(n) || n.input(3) || !plain_window(n) || n.attr_int("group", 1) != c) return 0;
  const Tensor* w = constant_value(n.input(1));
  if (!w || w->shape() != Shape{c, 1, 3, 3}) return 0;
  if (n.input(2) && !constant_value(n.input(2))) return 0;
  const std::vector<int64_t> s = n.attr_ints("strides", {1, 1});
  if (s.size() != 2 || s[0] != s[1] || (s[0] != 1 && s[0] != 2)) return 0;
  if (n.attr_ints("pads") != std::vector<int64_t>{1, 1, 1, 1}) return 0;
  return s[0];
}

Result<bool> fuse_at(ir::Graph& g, ir::Node* pw) {
  const int64_t c = pointwise_channels(*pw);
  if (c == 0) return false;
  const int64_t block = pw->attr_int("output_block", 0);
  ir::Node* dw = sole_consumer(pw->output(0));
  if (block == 0 || !dw || dw->input(0) != pw->output(0)) return false;
  const int64_t stride = depthwise_stride(*dw, c);
  if (stride == 0 || dw->attr_int("input_block", 0) != block || dw->attr_int("output_block", 0) != block) return false;
  std::map<std::string, ir::Attribute> attrs;
  auto copy = [&](ir::Node* from, const char* name, const char* as) {
    if (const ir::Attribute* a = from->attr(name)) attrs[as] = a->copy_value();
  };
  copy(pw, "activation", "activation");
  copy(pw, "activation_params", "activation_params");
  copy(dw, "activation", "dw_activation");
  copy(dw, "activation_params", "dw_activation_params");
  copy(pw, "input_block", "input_block");
  copy(dw, "output_block", "output_block");
  attrs["dw_stride"] = ir::Attribute::of(stride);
  std::vector<ir::Value*> ins{pw->input(0), pw->input(1), pw->input(2), dw->input(1), dw->input(2)};
  while (ins.back() == nullptr) ins.pop_back();
  PARE_ASSIGN_OR_RETURN(ir::Node * f, replace_pattern(g, {pw, dw}, dw->output(0), "FusedConvDw", "com.pare", ins, pw->name()));
  f->attributes() = std::move(attrs);
  return true;
}

}  // namespace

Result<bool> fuse_conv_depthwise(ir::Model& model) { return rewrite_to_fixpoint(model, fuse_at); }

}  // namespace pare::passes
