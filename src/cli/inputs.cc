#include <filesystem>
#include <random>

#include "cli/cli.h"
#include "core/dispatch.h"
#include "eval/npy.h"
#include "onnx/onnx.h"

namespace pare::cli {

std::string safe_file_name(const std::string& name) {
  std::string s = name.empty() ? "output" : name;
  for (char& c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  }
  if (s == "." || s == "..") s = "_";
  return s;
}

Result<std::pair<std::string, Shape>> parse_shape_spec(const std::string& s) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return invalid_input("--shape '{}' must look like NAME=d0,d1,...", s);
  Shape shape;
  std::string rest = s.substr(eq + 1);
  size_t pos = 0;
  while (pos <= rest.size() && !rest.empty()) {
    size_t comma = rest.find(',', pos);
    std::string tok = rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char* end = nullptr;
    long long v = std::strtoll(tok.c_str(), &end, 10);
    if (tok.empty() || *end != '\0' || v < 0) return invalid_input("--shape '{}': '{}' is not a non-negative integer", s, tok);
    shape.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return std::make_pair(s.substr(0, eq), shape);
}

namespace {

Result<RunValue> read_input_file(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".npy") {
    PARE_ASSIGN_OR_RETURN(Tensor t, eval::npy_read(path));
    return RunValue(std::move(t));
  }
  if (ext == ".pb") {
    PARE_ASSIGN_OR_RETURN(Tensor t, onnx::load_tensor_pb(path));
    return RunValue(std::move(t));
  }
  return invalid_input("input file '{}' must be .npy or .pb", path);
}

Result<Tensor> random_tensor(const runtime::IoInfo& info, const InputSpec& spec, std::mt19937_64& rng) {
  if (info.type.kind != ir::TypeInfo::Kind::kTensor) {
    return unsupported("cannot generate input '{}' of type {}", info.name, info.type.to_string());
  }
  Shape shape;
  bool overridden = false;
  for (const auto& [n, s] : spec.shapes) {
    if (n == info.name) {
      shape = s;
      overridden = true;
    }
  }
  if (!overridden) {
    if (!info.type.shape) return invalid_input("input '{}' has unknown rank: give --shape {}=...", info.name, info.name);
    for (size_t i = 0; i < info.type.shape->size(); ++i) {
      const auto& d = (*info.type.shape)[i];
      shape.push_back(d.known() ? d.value : (i == 0 && spec.batch > 0 ? spec.batch : 1));
    }
  }
  PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(info.type.dtype, shape));
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  dispatch_float(t.dtype(), [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(u(rng));
  });
  // Integer and bool inputs stay 0: valid indices for embeddings and gathers.
  return t;
}

}  // namespace

Result<std::vector<std::pair<std::string, RunValue>>> make_inputs(const runtime::Session& s, const InputSpec& spec) {
  std::vector<std::pair<std::string, RunValue>> feeds;
  std::vector<bool> bound(s.inputs().size(), false);
  size_t next_positional = 0;
  for (const std::string& f : spec.files) {
    std::string name, path = f;
    size_t eq = f.find('=');
    if (eq != std::string::npos && eq > 0) {
      name = f.substr(0, eq);
      path = f.substr(eq + 1);
    }
    size_t idx;
    if (!name.empty()) {
      idx = 0;
      while (idx < s.inputs().size() && s.inputs()[idx].name != name) ++idx;
      if (idx == s.inputs().size()) return invalid_input("--input {}: the model has no input '{}'", f, name);
    } else {
      while (next_positional < s.inputs().size() && bound[next_positional]) ++next_positional;
      if (next_positional == s.inputs().size()) return invalid_input("--input {}: more files than model inputs", f);
      idx = next_positional;
    }
    PARE_ASSIGN_OR_RETURN(RunValue v, read_input_file(path));
    feeds.emplace_back(s.inputs()[idx].name, std::move(v));
    bound[idx] = true;
  }
  std::mt19937_64 rng(spec.seed);
  for (size_t i = 0; i < s.inputs().size(); ++i) {
    if (bound[i]) continue;
    if (!spec.random) {
      return invalid_input("input '{}' ({}) has no --input file (or use --random)", s.inputs()[i].name,
                           s.inputs()[i].type.to_string());
    }
    PARE_ASSIGN_OR_RETURN(Tensor t, random_tensor(s.inputs()[i], spec, rng));
    feeds.emplace_back(s.inputs()[i].name, RunValue(std::move(t)));
  }
  return feeds;
}

}  // namespace pare::cli
