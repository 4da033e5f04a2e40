// Model repository: DIR/<model>/<version>/model.onnx + optional DIR/<model>/config.toml, or a
// single model file. Names are restricted to [A-Za-z0-9_.-] (no "." / ".."), and every resolved
// path must stay inside DIR after symlinks are followed. Versions are held by shared_ptr, so a
// swap or unload never fails a request already holding the old version.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "serve/model.h"

namespace pare::serve {

struct ModelEntry {
  std::string state = "UNAVAILABLE";  // READY, UNAVAILABLE
  std::string reason;                 // why it is not ready
  std::map<int64_t, std::shared_ptr<ServedModel>> versions;
};

bool is_safe_model_name(const std::string& name);

class Repository {
 public:
  // A repository over DIR (empty: single-model mode, see add_single).
  explicit Repository(std::string dir) : dir_(std::move(dir)) {}
  Status add_single(const std::string& name, const std::string& path, const ModelConfig& config);
  // Loads every model in DIR (failures are recorded per model, never fatal).
  void load_all();
  // Loads (or reloads) one model's newest version from DIR.
  Status load(const std::string& name);
  Status unload(const std::string& name);
  // Loads versions that appeared since the last scan beside the old ones, then drops the old.
  void poll();
  // version empty: the newest ready version. On failure `http` is 404 (unknown) or 503 (not ready).
  struct Lookup {
    std::shared_ptr<ServedModel> model;
    int http = 200;
    std::string error;
  };
  Lookup get(const std::string& name, const std::string& version) const;
  std::map<std::string, ModelEntry> snapshot() const;
  bool all_ready() const;
  bool has_dir() const { return !dir_.empty(); }

 private:
  Result<std::string> resolve(const std::string& name, const std::string& sub) const;
  Result<std::pair<int64_t, std::string>> newest_version(const std::string& name) const;
  std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, ModelEntry> models_;
};

}  // namespace pare::serve
