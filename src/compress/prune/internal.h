// Shared by the pruning methods (prune.cc, magnitude.cc, channel.cc, stats.cc).
#pragma once

#include <regex>
#include <span>
#include <string>
#include <vector>

#include "compress/prune/prune.h"

namespace pare::prune::internal {

// A compute layer: Conv, Gemm or MatMul whose input 1 is a constant float initializer.
struct Layer {
  ir::Node* node = nullptr;
  ir::Value* weight = nullptr;
  ir::Value* bias = nullptr;  // Conv/Gemm input 2 when a constant initializer
};

// The compute layer `n` is, if any.
bool as_layer(ir::Node* n, Layer* out);

// Compiled selection (op types, include/exclude regexes).
class Selector {
 public:
  static Result<Selector> create(const Options& o);
  bool selected(const ir::Node& n) const;
  bool has_include() const { return !include_.empty(); }

 private:
  std::vector<std::string> ops_;
  std::vector<std::regex> include_, exclude_;
};

// Unstructured pruning of float spans: zeroes exactly round(sparsity·total) of the smallest
// |w| over all spans together (global) or in each span (per layer).
void zero_smallest(const std::vector<std::span<float>>& spans, double sparsity, Scope scope);

// N:M along the input dimension: runs of m along the middle extent of [outer, k, inner].
void zero_nm(std::span<float> w, int64_t outer, int64_t k, int64_t inner, int64_t n, int64_t m);

// [outer, k, inner] of a weight whose runs go along the input dimension (see prune.h).
struct InputLayout {
  int64_t outer = 1, k = 1, inner = 1;
};
InputLayout input_layout(const Layer& l);

std::span<float> float_span(Tensor& t);

// Channel pruning (channel.cc): prunes `model` in place, filling removed-channel lists by
// node name and notes.
Status prune_channels(ir::Model& model, const Options& o, std::map<std::string, std::vector<int64_t>>& removed,
                      std::vector<std::string>& notes);

}  // namespace pare::prune::internal
