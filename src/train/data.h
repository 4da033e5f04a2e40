// Training data: the SPEC forms of `pare eval` (IDX pair folder, .npz with x and y), plus
// a folder of class subfolders holding PNG/JPEG/BMP images (decoded by stb, resized to a
// fixed size, scaled to [0,1]) and CSV files (label first, then the features; an optional
// header line). Shuffling with a seed, batching, augmentation (random crop with zero
// padding, horizontal flip) and a held-out validation split.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "eval/dataset.h"

namespace pare::train {

struct DataOptions {
  std::string split = "train";     // IDX folders: train-* or t10k-* ("test")
  int64_t limit = 0;               // first `limit` samples (0: all)
  std::vector<float> mean, std;    // per-channel normalization (after scaling to [0,1])
  int64_t image_height = 0, image_width = 0;  // image folders: resize to (0: first image's size)
  int64_t image_channels = 0;      // image folders: 1 gray, 3 RGB (0: from the first image)
  std::vector<int64_t> sample_shape;  // CSV (and others): reshape each sample to this shape
};

Result<eval::Dataset> load_data(const std::string& spec, const DataOptions& options);

// Moves a seeded random `fraction` of `train` into a validation set.
Result<eval::Dataset> split_validation(eval::Dataset& train, double fraction, uint64_t seed);

struct AugmentOptions {
  int64_t crop_padding = 0;  // > 0: pad by this many zeros, take a random crop of the original size
  bool horizontal_flip = false;
};

// Seeded epochs of shuffled batches (the last batch may be smaller).
class Batcher {
 public:
  Batcher(const eval::Dataset& data, int64_t batch, uint64_t seed, bool shuffle, AugmentOptions augment);
  // Starts epoch `epoch` (its order and augmentation depend only on seed and epoch).
  void start_epoch(int64_t epoch);
  int64_t batches_per_epoch() const { return (data_.size() + batch_ - 1) / batch_; }
  // Fills the next batch; false at the end of the epoch. `indices` are the dataset rows.
  Result<bool> next(Tensor& x, Tensor& y, std::vector<int64_t>& indices);

 private:
  const eval::Dataset& data_;
  int64_t batch_;
  uint64_t seed_;
  bool shuffle_;
  AugmentOptions aug_;
  std::vector<int64_t> order_;
  int64_t pos_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace pare::train
