#include "serve/repository.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace pare::serve {
namespace fs = std::filesystem;

bool is_safe_model_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

Result<std::string> Repository::resolve(const std::string& name, const std::string& sub) const {
  if (!is_safe_model_name(name)) return invalid_input("invalid model name '{}'", name);
  std::error_code ec;
  fs::path root = fs::weakly_canonical(dir_, ec);
  fs::path p = fs::weakly_canonical(fs::path(dir_) / name / sub, ec);
  if (ec) return io_error("cannot resolve model '{}'", name);
  auto rel = p.lexically_relative(root);
  if (rel.empty() || *rel.begin() == "..") return invalid_input("model '{}' resolves outside the repository", name);
  return p.string();
}

Result<std::pair<int64_t, std::string>> Repository::newest_version(const std::string& name) const {
  PARE_ASSIGN_OR_RETURN(std::string mdir, resolve(name, ""));
  std::error_code ec;
  int64_t best = -1;
  for (const auto& e : fs::directory_iterator(mdir, ec)) {
    std::string v = e.path().filename().string();
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) continue;
    auto file = resolve(name, v + "/model.onnx");
    if (!file.ok() || !fs::is_regular_file(*file)) continue;
    best = std::max<int64_t>(best, std::stoll(v));
  }
  if (ec) return io_error("cannot list model '{}'", name);
  if (best < 0) return invalid_model("model '{}' has no <version>/model.onnx", name);
  PARE_ASSIGN_OR_RETURN(std::string file, resolve(name, std::to_string(best) + "/model.onnx"));
  return std::make_pair(best, file);
}

Status Repository::add_single(const std::string& name, const std::string& path, const ModelConfig& config) {
  if (!is_safe_model_name(name)) return invalid_input("invalid model name '{}'", name);
  PARE_ASSIGN_OR_RETURN(auto m, ServedModel::load(name, "1", path, config));
  std::lock_guard lk(mu_);
  auto& e = models_[name];
  e.state = "READY";
  e.versions[1] = m;
  return ok_status();
}

Status Repository::load(const std::string& name) {
  auto record_failure = [&](const Status& st) {
    std::lock_guard lk(mu_);
    auto& e = models_[name];
    e.state = "UNAVAILABLE";
    e.reason = st.to_string();
    e.versions.clear();
    return st;
  };
  if (!has_dir()) return unsupported("no model repository (single-model mode)");
  if (!is_safe_model_name(name)) return invalid_input("invalid model name '{}'", name);
  auto nv = newest_version(name);
  if (!nv.ok()) return record_failure(nv.status());
  ModelConfig config;
  auto cfg_path = resolve(name, "config.toml");
  if (!cfg_path.ok()) return record_failure(cfg_path.status());
  if (fs::exists(*cfg_path)) {
    std::ifstream f(*cfg_path);
    std::stringstream ss;
    ss << f.rdbuf();
    auto c = parse_model_config(ss.str());
    if (!c.ok()) return record_failure(c.status());
    config = *c;
  }
  auto m = ServedModel::load(name, std::to_string(nv->first), nv->second, config);
  if (!m.ok()) return record_failure(m.status().with_context("version " + std::to_string(nv->first)));
  std::lock_guard lk(mu_);
  auto& e = models_[name];
  e.state = "READY";
  e.reason.clear();
  e.versions.clear();  // in-flight requests keep the old version alive through their shared_ptr
  e.versions[nv->first] = *m;
  return ok_status();
}

Status Repository::unload(const std::string& name) {
  std::lock_guard lk(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return invalid_input("unknown model '{}'", name);
  it->second.versions.clear();
  it->second.state = "UNAVAILABLE";
  it->second.reason = "unloaded";
  return ok_status();
}

void Repository::load_all() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory() || !is_safe_model_name(name)) continue;
    (void)load(name);
  }
}

void Repository::poll() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory() || !is_safe_model_name(name)) continue;
    auto nv = newest_version(name);
    int64_t current = -1;
    bool unloaded = false;
    {
      std::lock_guard lk(mu_);
      auto it = models_.find(name);
      if (it != models_.end()) {
        unloaded = it->second.reason == "unloaded";
        if (!it->second.versions.empty()) current = it->second.versions.rbegin()->first;
      }
    }
    if (unloaded || !nv.ok() || nv->first == current) continue;
    (void)load(name);
  }
}

Repository::Lookup Repository::get(const std::string& name, const std::string& version) const {
  std::lock_guard lk(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return {nullptr, 404, fmt::format("unknown model '{}'", name)};
  const auto& e = it->second;
  if (e.versions.empty())
    return {nullptr, 503, fmt::format("model '{}' is not ready: {}", name, e.reason)};
  if (version.empty()) return {e.versions.rbegin()->second, 200, {}};
  for (const auto& [v, m] : e.versions)
    if (std::to_string(v) == version) return {m, 200, {}};
  return {nullptr, 404, fmt::format("unknown version '{}' of model '{}'", version, name)};
}

std::map<std::string, ModelEntry> Repository::snapshot() const {
  std::lock_guard lk(mu_);
  return models_;
}

bool Repository::all_ready() const {
  std::lock_guard lk(mu_);
  return !models_.empty();
}

}  // namespace pare::serve
