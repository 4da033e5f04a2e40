// Calibration sources: a labelled data set SPEC (as `pare eval --data`: IDX folder or .npz),
// batched into samples for the model's first input, or a folder of input files (.npy or
// TensorProto .pb): one file per sample for a single-input model, or one subfolder per sample
// holding INPUT_NAME.npy/.pb files. Files are read one sample at a time (streaming).
#pragma once

#include "compress/quant/quantize.h"
#include "eval/dataset.h"

namespace pare::compress::quant {

struct CalibDataOptions {
  eval::DatasetOptions dataset;
  int64_t batch = 32;   // rows per sample for a data set
  int64_t limit = 0;    // at most this many rows (data set) or files/folders (0: all)
};

Result<CalibrationSource> open_calibration(const std::string& spec, const ir::Graph& graph, const CalibDataOptions& options);

}  // namespace pare::compress::quant
