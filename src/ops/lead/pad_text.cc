// Pad (2: attributes pads/value; 11, 13: inputs pads, constant_value; modes constant,
// reflect, edge; negative pads crop). StringNormalizer (10): case_change_action
// LOWER/UPPER/NONE, stopwords removed (case-insensitively unless is_case_sensitive), an
// all-removed input yields [""] (shape [1] or [1, 1]). ASCII case mapping.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class Pad final : public Kernel {
 public:
  explicit Pad(const KernelInit& init) : opset_(init.opset), node_(init.node) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const std::string mode = node_.attr_string("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge") return ctx.error("mode '{}' not supported", mode);
    std::vector<int64_t> pads;
    double value = 0;
    if (opset_ < 11) {
      pads = node_.attr_ints("pads");
      value = node_.attr_float("value", 0.0f);
    } else {
      PARE_ASSIGN_OR_RETURN(const Tensor* p, ctx.required_input(1));
      PARE_ASSIGN_OR_RETURN(pads, p->to_int64_vector("pads"));
      if (const Tensor* v = ctx.input(2); v && v->numel() > 0 && v->dtype() != DataType::kString) value = v->float_at(0);
    }
    const int64_t r = x->rank();
    if (static_cast<int64_t>(pads.size()) != 2 * r) return ctx.error("pads has {} values for rank {}", pads.size(), r);
    Shape ys(static_cast<size_t>(r));
    for (int64_t d = 0; d < r; ++d) {
      ys[d] = x->dim(d) + pads[d] + pads[d + r];
      if (ys[d] < 0) return ctx.error("pads make dim {} negative", d);
      if (mode != "constant" && x->dim(d) == 0 && ys[d] > 0) return ctx.error("cannot {}-pad an empty dim", mode);
      if (mode == "reflect" && (pads[d] >= x->dim(d) || pads[d + r] >= x->dim(d)) && (pads[d] > 0 || pads[d + r] > 0)) {
        return ctx.error("reflect pads must be smaller than the dim");
      }
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
    const auto xs = shape_strides(x->shape());
    const size_t es = dtype_size(x->dtype());
    std::vector<int64_t> c(static_cast<size_t>(r));
    bool ok = dispatch_numeric_bool(x->dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < y->numel(); ++i) {
        int64_t rem = i;
        for (int64_t d = r - 1; d >= 0; --d) {
          c[d] = rem % ys[d];
          rem /= ys[d];
        }
        int64_t off = 0;
        bool inside = true;
        for (int64_t d = 0; d < r; ++d) {
          int64_t p = c[d] - pads[d];
          const int64_t n = x->dim(d);
          if (p < 0 || p >= n) {
            if (mode == "constant") inside = false;
            else if (mode == "edge") p = std::clamp<int64_t>(p, 0, n - 1);
            else {
              while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
            }
          }
          off += p * xs[d];
        }
        if (inside) std::memcpy(static_cast<uint8_t*>(y->raw_data()) + i * es, static_cast<const uint8_t*>(x->raw_data()) + off * es, es);
        else if constexpr (std::is_same_v<T, bool>) y->data<bool>()[i] = value != 0;
        else y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>(value));
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  int64_t opset_;
  const ir::Node& node_;
};

Status run_string_normalizer(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->dtype() != DataType::kString) return ctx.error("input must be strings");
  if (x->rank() > 2 || (x->rank() == 2 && x->dim(0) != 1)) return ctx.error("input must be [C] or [1, C], got {}", x->type_string());
  const std::string action = ctx.node().attr_string("case_change_action", "NONE");
  const bool sensitive = ctx.node().attr_int("is_case_sensitive", 0) != 0;
  auto lower = [](std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  std::set<std::string> stop;
  for (const auto& w : ctx.node().attr_strings("stopwords")) stop.insert(sensitive ? w : lower(w));
  std::vector<std::string> kept;
  for (int64_t i = 0; i < x->numel(); ++i) {
    const std::string& s = x->data<std::string>()[i];
    if (stop.count(sensitive ? s : lower(s))) continue;
    std::string t = s;
    for (char& ch : t) {
      if (action == "LOWER") ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      else if (action == "UPPER") ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    kept.push_back(t);
  }
  if (kept.empty()) kept.push_back("");
  const int64_t n = static_cast<int64_t>(kept.size());
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kString, x->rank() == 2 ? Shape{1, n} : Shape{n}));
  for (int64_t i = 0; i < n; ++i) y->data<std::string>()[i] = kept[i];
  return ok_status();
}

}  // namespace

void register_Pad(KernelRegistry& r) { r.add({"Pad", "", 2, kMaxOpset, &make_kernel<Pad>}); }
void register_StringNormalizer(KernelRegistry& r) { add_fn<run_string_normalizer>(r, "StringNormalizer"); }

}  // namespace pare::ops
