#include "kernels/onednn/onednn.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

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
  // Kernels never run nested on a thread: one growing scratchpad per thread serves them all.
  if (bytes > 0) args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(sd, engine(), thread_buffer(ThreadBuffer::kScratchpad, bytes));
  prim.execute(stream(), args);
  stream().wait();
}

void* thread_buffer(ThreadBuffer slot, size_t bytes) {
  struct Buf {
    std::unique_ptr<void, void (*)(void*)> p{nullptr, std::free};
    size_t cap = 0;
  };
  thread_local Buf bufs[2];
  Buf& b = bufs[static_cast<int>(slot)];
  if (bytes > b.cap) {
    const size_t size = (bytes + 63) / 64 * 64;
    b.p.reset(std::aligned_alloc(64, size));
    if (!b.p) throw std::bad_alloc();
    b.cap = size;
  }
  return b.p.get();
}

Result<dnnl::memory> pack(const dnnl::memory& user, const dnnl::memory::desc& to, Tensor& storage) {
  PARE_ASSIGN_OR_RETURN(storage, Tensor::create(DataType::kUInt8, {static_cast<int64_t>(to.get_size())}));
  dnnl::memory packed(to, engine(), storage.raw_data());
  reorder(user, packed);
  return packed;
}

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
  dnnl::reorder::primitive_desc pd(engine(), src.get_desc(), engine(), dst.get_desc(), scratchpad_attr());
  execute(dnnl::reorder(pd), pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}

double time_conv(const dnnl::convolution_forward::primitive_desc& pd) {
  dnnl::convolution_forward prim(pd);
  // Zeros (no NaN or denormal slow paths) from calloc: large blocks come as fresh zero pages
  // without a memset, and Winograd weights of a 512-channel layer are 38 MB (a memset of every
  // timed buffer was a fifth of ResNet-18's load).
  std::vector<std::unique_ptr<void, void (*)(void*)>> bufs;
  auto zeros = [&](const dnnl::memory::desc& md) {
    bufs.emplace_back(std::calloc(md.get_size() + 64, 1), std::free);
    if (!bufs.back()) throw std::bad_alloc();
    return dnnl::memory(md, engine(), bufs.back().get());
  };
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, zeros(pd.src_desc())}, {DNNL_ARG_WEIGHTS, zeros(pd.weights_desc())},
                                             {DNNL_ARG_DST, zeros(pd.dst_desc())}};
  if (pd.bias_desc().get_size() > 0) args.insert({DNNL_ARG_BIAS, zeros(pd.bias_desc())});
  double best = 1e30;
  for (int i = 0; i < 4; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    execute(prim, pd, args);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) best = std::min(best, ms);
  }
  return best;
}

dnnl::convolution_forward::primitive_desc fastest_conv(const dnnl::convolution_forward::desc& desc, const dnnl::primitive_attr& attr,
                                                       int max_tried) {
  // Walk oneDNN's implementations, timing the first `max_tried` non-reference ones; when only one
  // applies there is nothing to choose and nothing is timed.
  auto walk = [&](bool timing, int& count) {
    dnnl::convolution_forward::primitive_desc pd(desc, attr, engine());
    int index = 0, best_index = 0;
    double best = 1e30;
    count = 0;
    do {
      if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0 && count < max_tried) {
        if (count++ == 0) best_index = index;
        if (timing) {
          const double ms = time_conv(pd);
          if (ms < best) {
            best = ms;
            best_index = index;
          }
        }
      }
      ++index;
    } while (pd.next_impl());
    return best_index;
  };
  int count = 0;
  int best_index = walk(false, count);
  if (count > 1) best_index = walk(true, count);
  dnnl::convolution_forward::primitive_desc chosen(desc, attr, engine());
  for (int i = 0; i < best_index; ++i) chosen.next_impl();
  return chosen;
}

bool may_overwrite_input(const ir::Node& n, const ir::Value* v) {
  if (!v || v->is_graph_input() || v->initializer() || !v->producer()) return false;
  const auto& outs = v->owner()->outputs();
  if (std::find(outs.begin(), outs.end(), v) != outs.end()) return false;
  std::set<const ir::Node*> others;
  int self = 0;
  for (const ir::Use& u : v->uses()) {
    if (u.node == &n) ++self;
    else others.insert(u.node);
  }
  if (self != 1) return false;  // n reads v at another input too
  // Walk n's ancestors (bounded) until every other consumer has been seen.
  std::set<const ir::Node*> seen;
  std::vector<const ir::Node*> todo{&n};
  while (!todo.empty() && !others.empty() && seen.size() < 512) {
    const ir::Node* cur = todo.back();
    todo.pop_back();
    for (const ir::Value* in : cur->inputs()) {
      const ir::Node* p = in ? in->producer() : nullptr;
      if (!p || !seen.insert(p).second) continue;
      others.erase(p);
      todo.push_back(p);
    }
  }
  return others.empty();
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
