#include "train/data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "stb/stb_image.h"

namespace pare::train {
namespace fs = std::filesystem;
namespace {

bool has_suffix(const std::string& s, const std::string& suf) {
  if (s.size() < suf.size()) return false;
  std::string tail = s.substr(s.size() - suf.size());
  std::transform(tail.begin(), tail.end(), tail.begin(), ::tolower);
  return tail == suf;
}

bool is_image(const fs::path& p) {
  const std::string s = p.string();
  return has_suffix(s, ".png") || has_suffix(s, ".jpg") || has_suffix(s, ".jpeg") || has_suffix(s, ".bmp");
}

bool is_image_folder(const std::string& spec) {
  if (!fs::is_directory(spec)) return false;
  for (const auto& e : fs::directory_iterator(spec)) {
    if (!e.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(e.path())) {
      if (is_image(f.path())) return true;
    }
  }
  return false;
}

// Bilinear resize of one HWC uint8 image into CHW floats in [0,1].
void resize_into(const uint8_t* src, int sh, int sw, int c, int64_t dh, int64_t dw, float* dst) {
  for (int64_t y = 0; y < dh; ++y) {
    const double fy = std::max(0.0, (y + 0.5) * sh / dh - 0.5);
    const int y0 = std::min(static_cast<int>(fy), sh - 1), y1 = std::min(y0 + 1, sh - 1);
    const double wy = fy - y0;
    for (int64_t x = 0; x < dw; ++x) {
      const double fx = std::max(0.0, (x + 0.5) * sw / dw - 0.5);
      const int x0 = std::min(static_cast<int>(fx), sw - 1), x1 = std::min(x0 + 1, sw - 1);
      const double wx = fx - x0;
      for (int ch = 0; ch < c; ++ch) {
        auto at = [&](int yy, int xx) { return static_cast<double>(src[(static_cast<size_t>(yy) * sw + xx) * c + ch]); };
        const double v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        dst[(ch * dh + y) * dw + x] = static_cast<float>(v / 255.0);
      }
    }
  }
}

Result<eval::Dataset> load_image_folder(const std::string& spec, const DataOptions& o) {
  std::vector<fs::path> classes;
  for (const auto& e : fs::directory_iterator(spec)) {
    if (e.is_directory()) classes.push_back(e.path());
  }
  std::sort(classes.begin(), classes.end());
  std::vector<std::pair<fs::path, int64_t>> files;
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<fs::path> in_class;
    for (const auto& f : fs::directory_iterator(classes[k])) {
      if (is_image(f.path())) in_class.push_back(f.path());
    }
    std::sort(in_class.begin(), in_class.end());
    for (auto& p : in_class) files.push_back({p, static_cast<int64_t>(k)});
  }
  if (files.empty()) return invalid_input("'{}' has no images in class subfolders", spec);
  if (o.limit > 0 && static_cast<int64_t>(files.size()) > o.limit) files.resize(static_cast<size_t>(o.limit));
  int64_t h = o.image_height, w = o.image_width, c = o.image_channels;
  eval::Dataset d;
  for (size_t i = 0; i < files.size(); ++i) {
    int iw = 0, ih = 0, ic = 0;
    const int want = static_cast<int>(c);
    uint8_t* px = stbi_load(files[i].first.c_str(), &iw, &ih, &ic, want);
    if (!px) return invalid_input("cannot decode image '{}': {}", files[i].first.string(), stbi_failure_reason());
    if (i == 0) {
      if (c == 0) c = ic;
      if (h == 0) h = ih;
      if (w == 0) w = iw;
      if (c != 1 && c != 3 && c != 4) {
        stbi_image_free(px);
        return invalid_input("images must be gray or RGB(A), '{}' has {} channels", files[i].first.string(), c);
      }
      auto x = Tensor::create(DataType::kFloat32, {static_cast<int64_t>(files.size()), c, h, w});
      if (!x.ok()) {
        stbi_image_free(px);
        return x.status();
      }
      d.x = *x;
      d.y = Tensor::create(DataType::kInt64, {static_cast<int64_t>(files.size())}).value();
    }
    if (want == 0 && ic != c) {
      stbi_image_free(px);
      return invalid_input("image '{}' has {} channels, the first image {} (use --image-channels)", files[i].first.string(), ic, c);
    }
    resize_into(px, ih, iw, static_cast<int>(c), h, w, d.x.data<float>() + static_cast<int64_t>(i) * c * h * w);
    stbi_image_free(px);
    d.y.data<int64_t>()[i] = files[i].second;
  }
  return d;
}

Result<eval::Dataset> load_csv(const std::string& spec, const DataOptions& o) {
  std::ifstream in(spec);
  if (!in) return io_error("cannot open '{}'", spec);
  std::vector<float> xs;
  std::vector<int64_t> ys;
  std::string line;
  int64_t features = -1, line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string cell;
    std::vector<std::string> cells;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    std::vector<double> vals;
    bool numeric = true;
    for (const auto& s : cells) {
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (end == s.c_str() || !std::isfinite(v)) {
        numeric = false;
        break;
      }
      vals.push_back(v);
    }
    if (!numeric) {
      if (line_no == 1) continue;  // header
      return invalid_input("'{}' line {}: not a number in '{}'", spec, line_no, line);
    }
    if (vals.size() < 2) return invalid_input("'{}' line {}: need a label and at least one feature", spec, line_no);
    if (features < 0) features = static_cast<int64_t>(vals.size()) - 1;
    if (static_cast<int64_t>(vals.size()) - 1 != features) {
      return invalid_input("'{}' line {}: {} features, earlier lines {}", spec, line_no, vals.size() - 1, features);
    }
    if (vals[0] != std::floor(vals[0])) return invalid_input("'{}' line {}: label {} is not an integer", spec, line_no, vals[0]);
    ys.push_back(static_cast<int64_t>(vals[0]));
    for (size_t i = 1; i < vals.size(); ++i) xs.push_back(static_cast<float>(vals[i]));
    if (o.limit > 0 && static_cast<int64_t>(ys.size()) >= o.limit) break;
  }
  if (ys.empty()) return invalid_input("'{}' has no data rows", spec);
  eval::Dataset d;
  d.x = Tensor::from_vector<float>({static_cast<int64_t>(ys.size()), features}, xs);
  d.y = Tensor::from_vector<int64_t>({static_cast<int64_t>(ys.size())}, ys);
  return d;
}

}  // namespace

Result<eval::Dataset> load_data(const std::string& spec, const DataOptions& o) {
  eval::Dataset d;
  if (is_image_folder(spec)) {
    PARE_ASSIGN_OR_RETURN(d, load_image_folder(spec, o));
  } else if (has_suffix(spec, ".csv")) {
    PARE_ASSIGN_OR_RETURN(d, load_csv(spec, o));
  } else {
    eval::DatasetOptions eo;
    eo.split = o.split;
    eo.limit = o.limit;
    PARE_ASSIGN_OR_RETURN(d, eval::load_dataset(spec, eo));
  }
  if (d.x.dtype() != DataType::kFloat32) return invalid_input("'{}': samples must be float or 8-bit images, got {}", spec, d.x.type_string());
  if (d.y.dtype() != DataType::kInt64 || d.y.rank() != 1 || d.y.dim(0) != d.x.dim(0)) {
    return invalid_input("'{}': labels must be int64 [{}], got {}", spec, d.x.dim(0), d.y.type_string());
  }
  if (!o.sample_shape.empty()) {
    int64_t n = 1;
    for (int64_t s : o.sample_shape) n *= s;
    if (n * d.x.dim(0) != d.x.numel()) return invalid_input("samples of {} do not reshape to {}", d.x.type_string(), shape_to_string(o.sample_shape));
    Shape s{d.x.dim(0)};
    s.insert(s.end(), o.sample_shape.begin(), o.sample_shape.end());
    PARE_ASSIGN_OR_RETURN(Tensor r, Tensor::create(DataType::kFloat32, s));
    std::copy_n(d.x.data<float>(), d.x.numel(), r.data<float>());
    d.x = r;
  }
  if (!o.mean.empty() || !o.std.empty()) {
    const int64_t n = d.x.dim(0), c = d.x.rank() >= 2 ? d.x.dim(1) : 1, inner = d.x.numel() / std::max<int64_t>(1, n * c);
    auto pick = [&](const std::vector<float>& v, int64_t ch, float def) { return v.empty() ? def : v.size() == 1 ? v[0] : v[ch]; };
    if ((o.mean.size() > 1 && static_cast<int64_t>(o.mean.size()) != c) || (o.std.size() > 1 && static_cast<int64_t>(o.std.size()) != c)) {
      return invalid_input("normalization values do not match {} channels", c);
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const float m = pick(o.mean, ch, 0.0f), s = pick(o.std, ch, 1.0f);
        if (!(s > 0)) return invalid_input("std must be > 0");
        float* p = d.x.data<float>() + (i * c + ch) * inner;
        for (int64_t k = 0; k < inner; ++k) p[k] = (p[k] - m) / s;
      }
    }
  }
  return d;
}

Result<eval::Dataset> split_validation(eval::Dataset& train, double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction < 1)) return invalid_input("validation fraction must be in (0, 1), got {}", fraction);
  const int64_t n = train.size(), nv = static_cast<int64_t>(std::llround(n * fraction));
  if (nv < 1 || nv >= n) return invalid_input("validation split of {} leaves no training or validation data ({} samples)", fraction, n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed ^ 0x5eedull));
  const int64_t row = train.x.numel() / n;
  auto take = [&](int64_t from, int64_t count) -> Result<eval::Dataset> {
    Shape s = train.x.shape();
    s[0] = count;
    eval::Dataset d;
    PARE_ASSIGN_OR_RETURN(d.x, Tensor::create(DataType::kFloat32, s));
    PARE_ASSIGN_OR_RETURN(d.y, Tensor::create(DataType::kInt64, {count}));
    std::vector<int64_t> rows(order.begin() + from, order.begin() + from + count);
    std::sort(rows.begin(), rows.end());
    for (int64_t i = 0; i < count; ++i) {
      std::copy_n(train.x.data<float>() + rows[i] * row, row, d.x.data<float>() + i * row);
      d.y.data<int64_t>()[i] = train.y.data<int64_t>()[rows[i]];
    }
    return d;
  };
  PARE_ASSIGN_OR_RETURN(eval::Dataset val, take(0, nv));
  PARE_ASSIGN_OR_RETURN(eval::Dataset rest, take(nv, n - nv));
  train = std::move(rest);
  return val;
}

Batcher::Batcher(const eval::Dataset& data, int64_t batch, uint64_t seed, bool shuffle, AugmentOptions augment)
    : data_(data), batch_(std::max<int64_t>(1, batch)), seed_(seed), shuffle_(shuffle), aug_(augment) {}

void Batcher::start_epoch(int64_t epoch) {
  order_.resize(static_cast<size_t>(data_.size()));
  std::iota(order_.begin(), order_.end(), 0);
  rng_.seed(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  if (shuffle_) std::shuffle(order_.begin(), order_.end(), rng_);
  pos_ = 0;
}

Result<bool> Batcher::next(Tensor& x, Tensor& y, std::vector<int64_t>& indices) {
  const int64_t n = std::min(batch_, data_.size() - pos_);
  if (n <= 0) return false;
  Shape s = data_.x.shape();
  s[0] = n;
  PARE_ASSIGN_OR_RETURN(x, Tensor::create(DataType::kFloat32, s));
  PARE_ASSIGN_OR_RETURN(y, Tensor::create(DataType::kInt64, {n}));
  indices.assign(order_.begin() + pos_, order_.begin() + pos_ + n);
  pos_ += n;
  const int64_t row = data_.x.numel() / std::max<int64_t>(1, data_.size());
  const bool spatial = data_.x.rank() == 4;
  const int64_t c = spatial ? s[1] : 1, h = spatial ? s[2] : 1, w = spatial ? s[3] : 1;
  for (int64_t i = 0; i < n; ++i) {
    const float* src = data_.x.data<float>() + indices[i] * row;
    float* dst = x.data<float>() + i * row;
    y.data<int64_t>()[i] = data_.y.data<int64_t>()[indices[i]];
    if (!spatial || (aug_.crop_padding <= 0 && !aug_.horizontal_flip)) {
      std::copy_n(src, row, dst);
      continue;
    }
    const int64_t p = std::max<int64_t>(0, aug_.crop_padding);
    const int64_t dy = p ? static_cast<int64_t>(rng_() % (2 * p + 1)) - p : 0;
    const int64_t dx = p ? static_cast<int64_t>(rng_() % (2 * p + 1)) - p : 0;
    const bool flip = aug_.horizontal_flip && (rng_() & 1);
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t yy = 0; yy < h; ++yy) {
        for (int64_t xx = 0; xx < w; ++xx) {
          const int64_t sy = yy + dy, sx0 = xx + dx, sx = flip ? w - 1 - sx0 : sx0;
          const bool inside = sy >= 0 && sy < h && sx0 >= 0 && sx0 < w;
          dst[(ch * h + yy) * w + xx] = inside ? src[(ch * h + sy) * w + sx] : 0.0f;
        }
      }
    }
  }
  return true;
}

}  // namespace pare::train
