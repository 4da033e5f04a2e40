#include "kernels/onednn/onednn.h"

#include <cstdlib>
#include <memory>

namespace pare::kernels::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

dnnl::primitive_attr scratchpad_attr(dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void execute(const dnnl::primitive& prim, const dnnl::primitive_desc_base& pd, std::unordered_map<int, dnnl::memory> args) {
  const dnnl::memory::desc sd = pd.scratchpad_desc();
  const size_t bytes = sd.get_size();
  if (bytes > 0) {
    // One growing buffer per thread: kernels never run nested on a thread.
    thread_local std::unique_ptr<uint8_t, void (*)(void*)> buf(nullptr, std::free);
    thread_local size_t cap = 0;
    if (bytes > cap) {
      const size_t size = (bytes + 63) / 64 * 64;
      buf.reset(static_cast<uint8_t*>(std::aligned_alloc(64, size)));
      if (!buf) throw std::bad_alloc();
      cap = size;
    }
    args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(sd, engine(), buf.get());
  }
  prim.execute(stream(), args);
  stream().wait();
}

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
  dnnl::reorder::primitive_desc pd(engine(), src.get_desc(), engine(), dst.get_desc(), scratchpad_attr());
  execute(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}

dnnl::memory::dims to_dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

dnnl::memory::desc plain_desc(const Shape& s, dnnl::memory::data_type dt) {
  dnnl::memory::dims strides(s.size(), 1);
  for (int64_t i = static_cast<int64_t>(s.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * std::max<int64_t>(s[i + 1], 1);
  return dnnl::memory::desc(to_dims(s), dt, strides);
}

dnnl::memory::desc layout_desc(const Shape& s, int64_t block) {
  using tag = dnnl::memory::format_tag;
  if (block == 0) return plain_desc(s);
  static const tag k16[] = {tag::nCw16c, tag::nChw16c, tag::nCdhw16c};
  static const tag k8[] = {tag::nCw8c, tag::nChw8c, tag::nCdhw8c};
  const size_t r = s.size() - 3;  // rank 3..5 (callers check)
  return dnnl::memory::desc(to_dims(s), dnnl::memory::data_type::f32, block == 16 ? k16[r] : k8[r]);
}

Shape plain_dims(const Shape& stored, int64_t channels, int64_t block) {
  if (block == 0) return stored;
  Shape p{stored[0], channels};
  p.insert(p.end(), stored.begin() + 2, stored.end() - 1);
  return p;
}

}  // namespace pare::kernels::onednn
