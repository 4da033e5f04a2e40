// NumPy .npy files (format 1.0–3.0, little-endian, C order) and .npz archives of them
// (stored or deflated zip members). Headers are untrusted: the shape and dtype are checked
// against the file size before anything is allocated.
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace pare::eval {

Result<Tensor> npy_read(const std::string& path);
Result<Tensor> npy_parse(const uint8_t* data, size_t size, const std::string& what);
Status npy_write(const Tensor& t, const std::string& path);
// Every array of an .npz (keys without the ".npy" suffix).
Result<std::map<std::string, Tensor>> npz_read(const std::string& path);

}  // namespace pare::eval
