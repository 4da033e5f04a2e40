#include "compress/quant/calib_data.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

#include "eval/npy.h"
#include "onnx/onnx.h"

namespace pare::compress::quant {
namespace fs = std::filesystem;
namespace {

bool is_input_file(const fs::path& p) { return p.extension() == ".npy" || p.extension() == ".pb"; }

Result<Tensor> read_input_file(const fs::path& p) {
  if (p.extension() == ".npy") return eval::npy_read(p.string());
  return onnx::load_tensor_pb(p.string());
}

std::vector<std::string> input_names(const ir::Graph& g) {
  std::vector<std::string> names;
  for (const ir::Value* v : g.inputs())
    if (!v->initializer()) names.push_back(v->name());
  return names;
}

}  // namespace

Result<CalibrationSource> open_calibration(const std::string& spec, const ir::Graph& graph, const CalibDataOptions& o) {
  const std::vector<std::string> inputs = input_names(graph);
  if (inputs.empty()) return invalid_input("the model has no inputs to calibrate");
  std::error_code ec;
  std::vector<fs::path> files, dirs;
  if (fs::is_directory(spec, ec)) {
    if (fs::is_empty(spec, ec)) return invalid_input("calibration set is empty: folder '{}' holds no files", spec);
    for (const auto& e : fs::directory_iterator(spec, ec)) {
      if (e.is_directory()) dirs.push_back(e.path());
      else if (is_input_file(e.path())) files.push_back(e.path());
    }
  }
  if (!files.empty() || !dirs.empty()) {
    // A folder of input files (or of per-sample folders).
    std::sort(files.begin(), files.end());
    std::sort(dirs.begin(), dirs.end());
    if (!files.empty() && inputs.size() != 1)
      return invalid_input("calibration folder '{}': the model has {} inputs, so each sample must be a subfolder of "
                           "INPUT_NAME.npy/.pb files", spec, inputs.size());
    auto items = std::make_shared<std::vector<fs::path>>(files.empty() ? dirs : files);
    if (o.limit > 0 && static_cast<int64_t>(items->size()) > o.limit) items->resize(o.limit);
    auto pos = std::make_shared<size_t>(0);
    const bool flat = !files.empty();
    CalibrationSource src;
    src.size = static_cast<int64_t>(items->size());
    src.reset = [pos] { *pos = 0; };
    src.next = [items, pos, flat, inputs](Sample& out) -> Result<bool> {
      if (*pos >= items->size()) return false;
      const fs::path p = (*items)[(*pos)++];
      if (flat) {
        PARE_ASSIGN_OR_RETURN(Tensor t, read_input_file(p));
        out.emplace_back(inputs[0], std::move(t));
        return true;
      }
      for (const auto& name : inputs) {
        fs::path f = p / (name + ".npy");
        std::error_code e2;
        if (!fs::exists(f, e2)) f = p / (name + ".pb");
        if (!fs::exists(f, e2)) return invalid_input("calibration sample '{}' has no {}.npy or {}.pb", p.string(), name, name);
        PARE_ASSIGN_OR_RETURN(Tensor t, read_input_file(f));
        out.emplace_back(name, std::move(t));
      }
      return true;
    };
    return src;
  }
  // A labelled data set: rows of x, `batch` at a time, for the first input.
  eval::DatasetOptions dso = o.dataset;
  if (o.limit > 0) dso.limit = o.limit;
  PARE_ASSIGN_OR_RETURN(eval::Dataset ds, eval::load_dataset(spec, dso));
  auto x = std::make_shared<Tensor>(ds.x);
  const int64_t rows = x->rank() > 0 ? x->dim(0) : 0;
  int64_t batch = std::max<int64_t>(1, o.batch);
  const ir::Value* in = graph.find_local_value(inputs[0]);
  if (in && in->type().shape && !in->type().shape->empty() && (*in->type().shape)[0].known())
    batch = (*in->type().shape)[0].value;  // a fixed batch dimension
  auto pos = std::make_shared<int64_t>(0);
  CalibrationSource src;
  src.size = (rows + batch - 1) / batch;
  src.reset = [pos] { *pos = 0; };
  const std::string name = inputs[0];
  src.next = [x, pos, rows, batch, name](Sample& out) -> Result<bool> {
    if (*pos >= rows) return false;
    const int64_t n = std::min(batch, rows - *pos);
    Shape shape = x->shape();
    shape[0] = n;
    PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(x->dtype(), shape));
    const size_t row_bytes = x->nbytes() / rows;
    std::memcpy(t.raw_data(), static_cast<const uint8_t*>(x->raw_data()) + *pos * row_bytes, n * row_bytes);
    *pos += n;
    out.emplace_back(name, std::move(t));
    return true;
  };
  return src;
}

}  // namespace pare::compress::quant
