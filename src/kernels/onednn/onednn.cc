#include "kernels/onednn/onednn.h"

namespace pare::kernels::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

dnnl::memory::dims to_dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

dnnl::memory::desc plain_desc(const Shape& s, dnnl::memory::data_type dt) {
  dnnl::memory::dims strides(s.size(), 1);
  for (int64_t i = static_cast<int64_t>(s.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * std::max<int64_t>(s[i + 1], 1);
  return dnnl::memory::desc(to_dims(s), dt, strides);
}

}  // namespace pare::kernels::onednn
