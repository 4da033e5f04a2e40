// Window geometry shared by the Conv / pooling gradient kernels (reference here, oneDNN in
// kernels/onednn/conv_train.cc): explicit or auto padding resolved for one input shape.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace pare::ops {

struct WindowAttrs {
  std::vector<int64_t> kernel, strides, dilations, pads;
  std::string auto_pad = "NOTSET";
  int64_t group = 1;
  bool ceil_mode = false;

  // kernel: taken from the node, or `fallback_kernel` (Conv: the weights' spatial dims).
  static Result<WindowAttrs> from(const ir::Node& n, std::vector<int64_t> fallback_kernel) {
    WindowAttrs a;
    a.kernel = n.attr_ints("kernel_shape", std::move(fallback_kernel));
    const size_t sp = a.kernel.size();
    a.strides = n.attr_ints("strides", std::vector<int64_t>(sp, 1));
    a.dilations = n.attr_ints("dilations", std::vector<int64_t>(sp, 1));
    a.pads = n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
    a.auto_pad = n.attr_string("auto_pad", "NOTSET");
    a.group = n.attr_int("group", 1);
    a.ceil_mode = n.attr_int("ceil_mode", 0) != 0;
    if (sp == 0 || a.strides.size() != sp || a.dilations.size() != sp || a.pads.size() != 2 * sp) {
      return invalid_input("{}: kernel_shape/strides/dilations/pads do not match", n.describe());
    }
    for (size_t i = 0; i < sp; ++i) {
      if (a.kernel[i] < 1 || a.strides[i] < 1 || a.dilations[i] < 1 || a.pads[i] < 0 || a.pads[i + sp] < 0) {
        return invalid_input("{}: invalid kernel_shape, strides, dilations or pads", n.describe());
      }
    }
    if (a.group < 1) return invalid_input("{}: group must be ≥ 1", n.describe());
    return a;
  }

  // Padding at the start and end of spatial dim i for input extent `in`.
  void pads_for(size_t i, int64_t in, int64_t& begin, int64_t& end) const {
    const size_t sp = kernel.size();
    const int64_t k = dilations[i] * (kernel[i] - 1) + 1, s = strides[i];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
      begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    } else if (auto_pad == "VALID") {
      begin = end = 0;
    } else {
      begin = pads[i];
      end = pads[i + sp];
    }
  }
};

}  // namespace pare::ops
