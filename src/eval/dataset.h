// Labelled data sets for evaluation: a folder of IDX files (MNIST / Fashion-MNIST names,
// gzipped or not) or an .npz with arrays x and y. Images become float tensors scaled to [0,1]
// (then optionally normalized per channel), labels int64.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace pare::eval {

struct DatasetOptions {
  std::string split = "test";  // "test" (t10k-*) or "train" (train-*)
  float scale = 1.0f / 255.0f; // applied to integer pixel data
  std::vector<float> mean;     // per channel (or one value); empty: none
  std::vector<float> std;      // per channel (or one value); empty: none
  int64_t limit = 0;           // use only the first `limit` samples (0: all)
};

struct Dataset {
  Tensor x;  // float32 [N, C, H, W] for images (C = 1 for IDX), or as stored for .npz
  Tensor y;  // int64 [N]
  int64_t size() const { return y.defined() ? y.dim(0) : 0; }
};

Result<Dataset> load_dataset(const std::string& spec, const DatasetOptions& options = {});
// Reads one IDX file (.gz or raw): magic 0x0000 <type> <rank>, big-endian dims, data.
Result<Tensor> idx_read(const std::string& path);

}  // namespace pare::eval
