// Add, Sub, Mul, Div, and two-input Max/Min on float32 with full numpy broadcasting.
// The output shape is collapsed to the fewest dims where each operand is either full or
// broadcast (e.g. [1,C,H,W]·[1,C,1,1] → [C, H·W] with the second broadcast along H·W); the
// innermost dim then runs a vectorized loop (vector·vector, vector·scalar or scalar·vector),
// compiled per ISA and picked at run time (GCC target_clones: AVX-512, AVX2, baseline), and
// the outer dims are split across OpenMP threads. A short innermost dim that both operands
// hold in full, under a broadcast one (blocked tensors: [N,Cb,H,W,16]·[N,Cb,1,1,16], a
// squeeze-excite scale) runs as blocks of rows in one call, not one call per 16 floats.
// Tested against the reference kernels.
#include <omp.h>

#include <algorithm>

#include "ops/kernel.h"

namespace pare::kernels {
namespace {

enum class BinOp { kAdd, kSub, kMul, kDiv, kMax, kMin };

#define PARE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define PARE_BINARY_LOOPS(NAME, EXPR)                                                        \
  PARE_CLONES void NAME##_vv(float* y, const float* a, const float* b, int64_t n) {          \
    for (int64_t i = 0; i < n; ++i) {                                                        \
      const float x = a[i], z = b[i];                                                        \
      y[i] = EXPR;                                                                           \
    }                                                                                        \
  }                                                                                          \
  PARE_CLONES void NAME##_vs(float* y, const float* a, const float* b, int64_t n) {          \
    const float z = *b;                                                                      \
    for (int64_t i = 0; i < n; ++i) {                                                        \
      const float x = a[i];                                                                  \
      y[i] = EXPR;                                                                           \
    }                                                                                        \
  }                                                                                          \
  PARE_CLONES void NAME##_sv(float* y, const float* a, const float* b, int64_t n) {          \
    const float x = *a;                                                                      \
    for (int64_t i = 0; i < n; ++i) {                                                        \
      const float z = b[i];                                                                  \
      y[i] = EXPR;                                                                           \
    }                                                                                        \
  }                                                                                          \
  /* `rows` rows of n: each operand advances by its row stride (0: broadcast row). */        \
  PARE_CLONES void NAME##_rows_vv(float* y, const float* a, const float* b, int64_t n,       \
                                  int64_t rows, int64_t ra, int64_t rb) {                     \
    for (int64_t r = 0; r < rows; ++r, y += n, a += ra, b += rb) {                           \
      for (int64_t i = 0; i < n; ++i) {                                                      \
        const float x = a[i], z = b[i];                                                      \
        y[i] = EXPR;                                                                         \
      }                                                                                      \
    }                                                                                        \
  }

PARE_BINARY_LOOPS(add, x + z)
PARE_BINARY_LOOPS(sub, x - z)
PARE_BINARY_LOOPS(mul, x* z)
PARE_BINARY_LOOPS(div, x / z)
PARE_BINARY_LOOPS(max, x > z ? x : (z != z ? z : (x != x ? x : z)))
PARE_BINARY_LOOPS(min, x < z ? x : (z != z ? z : (x != x ? x : z)))

using Loop = void (*)(float*, const float*, const float*, int64_t);
using RowsLoop = void (*)(float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t);
struct Loops {
  Loop vv, vs, sv;
  RowsLoop rows_vv;
};

Loops loops(BinOp op) {
  switch (op) {
    case BinOp::kAdd: return {add_vv, add_vs, add_sv, add_rows_vv};
    case BinOp::kSub: return {sub_vv, sub_vs, sub_sv, sub_rows_vv};
    case BinOp::kMul: return {mul_vv, mul_vs, mul_sv, mul_rows_vv};
    case BinOp::kDiv: return {div_vv, div_vs, div_sv, div_rows_vv};
    case BinOp::kMax: return {max_vv, max_vs, max_sv, max_rows_vv};
    case BinOp::kMin: return {min_vv, min_vs, min_sv, min_rows_vv};
  }
  return {add_vv, add_vs, add_sv, add_rows_vv};
}

// The collapsed iteration space of a broadcast: dims with each operand's stride (0 where it
// is broadcast), innermost last.
struct Space {
  std::vector<int64_t> dims, sa, sb;
};

Space collapse(const Shape& ys, const Shape& as, const Shape& bs) {
  // Per output dim: is each operand full (extent = output's) there? Extent-1 output dims drop.
  std::vector<int64_t> dims;
  std::vector<std::pair<bool, bool>> full;
  for (size_t i = 0; i < ys.size(); ++i) {
    if (ys[i] == 1) continue;
    const std::pair<bool, bool> f{as[i] == ys[i], bs[i] == ys[i]};
    if (!dims.empty() && full.back() == f) {
      dims.back() *= ys[i];
    } else {
      dims.push_back(ys[i]);
      full.push_back(f);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    full.push_back({true, true});
  }
  Space s{dims, std::vector<int64_t>(dims.size()), std::vector<int64_t>(dims.size())};
  int64_t ra = 1, rb = 1;
  for (int64_t i = static_cast<int64_t>(dims.size()) - 1; i >= 0; --i) {
    s.sa[i] = full[i].first ? ra : 0;
    s.sb[i] = full[i].second ? rb : 0;
    if (full[i].first) ra *= dims[i];
    if (full[i].second) rb *= dims[i];
  }
  return s;
}

class CpuBinary final : public ops::Kernel {
 public:
  explicit CpuBinary(const ops::KernelInit& init) {
    const std::string& op = init.node.op_type();
    op_ = op == "Add" ? BinOp::kAdd : op == "Sub" ? BinOp::kSub : op == "Mul" ? BinOp::kMul : op == "Div" ? BinOp::kDiv
        : op == "Max" ? BinOp::kMax : BinOp::kMin;
  }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
    if (a->dtype() != DataType::kFloat32 || b->dtype() != DataType::kFloat32) {
      return ctx.error("expected float inputs, got {} and {}", a->type_string(), b->type_string());
    }
    auto out = broadcast_shapes(a->shape(), b->shape());
    if (!out.ok()) return ctx.error("{} and {} do not broadcast", a->type_string(), b->type_string());
    const Shape& ys = *out;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_uninitialized(0, DataType::kFloat32, ys));  // every element written
    if (y->numel() == 0) return ok_status();
    auto padded = [&](const Shape& s) {
      Shape p(ys.size() - s.size(), 1);
      p.insert(p.end(), s.begin(), s.end());
      return p;
    };
    const Space sp = collapse(ys, padded(a->shape()), padded(b->shape()));
    const size_t r = sp.dims.size();
    const Loops l = loops(op_);
    const float* pa = a->data<float>();
    const float* pb = b->data<float>();
    float* py = y->data<float>();
    const int threads = y->numel() >= (1 << 15) ? std::max(1, ctx.num_threads() > 0 ? ctx.num_threads() : omp_get_max_threads()) : 1;
    // A short innermost dim where both operands are full (a blocked tensor's 16 channels, scaled
    // per channel along H·W) runs as rows: one call per row block instead of one per 16 floats.
    const bool rows = r >= 2 && sp.dims[r - 1] < 64 && sp.sa[r - 1] == 1 && sp.sb[r - 1] == 1;
    const size_t od = rows ? r - 2 : r - 1;  // outer dims walked by the odometer
    const int64_t inner = sp.dims[r - 1];
    const int64_t nrows = rows ? sp.dims[r - 2] : 1;
    // Rows split into chunks so that a single outer index still spreads over the threads.
    const int64_t chunk = rows ? std::max<int64_t>(1, 4096 / inner) : 1;
    const int64_t chunks = (nrows + chunk - 1) / chunk;
    const int64_t outer = y->numel() / (inner * nrows);
    const Loop loop = sp.sa[r - 1] && sp.sb[r - 1] ? l.vv : sp.sa[r - 1] ? l.vs : sp.sb[r - 1] ? l.sv : l.vv;
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t units = outer * chunks;
      const int64_t begin = units * t / nt, end = units * (t + 1) / nt;
      // Odometer over the outer dims, started at the outer index of `begin`.
      std::vector<int64_t> idx(r, 0);
      int64_t o = begin / chunks, c = begin % chunks;
      int64_t oa = 0, ob = 0;
      for (int64_t rem = o, d = static_cast<int64_t>(od) - 1; d >= 0; --d) {
        idx[d] = rem % sp.dims[d];
        rem /= sp.dims[d];
        oa += idx[d] * sp.sa[d];
        ob += idx[d] * sp.sb[d];
      }
      for (int64_t u = begin; u < end; ++u) {
        if (rows) {
          const int64_t r0 = c * chunk, n = std::min(chunk, nrows - r0);
          const int64_t ra = sp.sa[r - 2], rb = sp.sb[r - 2];
          l.rows_vv(py + (o * nrows + r0) * inner, pa + oa + r0 * ra, pb + ob + r0 * rb, inner, n, ra, rb);
          if (++c < chunks) continue;
          c = 0;
        } else {
          loop(py + o * inner, pa + oa, pb + ob, inner);
        }
        ++o;
        for (int64_t d = static_cast<int64_t>(od) - 1; d >= 0; --d) {
          oa += sp.sa[d];
          ob += sp.sb[d];
          if (++idx[d] < sp.dims[d]) break;
          oa -= sp.sa[d] * sp.dims[d];
          ob -= sp.sb[d] * sp.dims[d];
          idx[d] = 0;
        }
      }
    }
    return ok_status();
  }

 private:
  BinOp op_ = BinOp::kAdd;
};

bool applies(const ops::KernelInit& init) {
  return init.num_inputs() == 2 && init.input_is(0, DataType::kFloat32) && init.input_is(1, DataType::kFloat32);
}

}  // namespace

void register_cpu_binary(ops::KernelRegistry& r) {
  // Add/Sub/Mul/Div before opset 7 have legacy broadcast attributes: left to the reference.
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    r.add({op, "", 7, ops::kMaxOpset, &ops::make_kernel<CpuBinary>, "cpu", 10, applies});
  }
  for (const char* op : {"Max", "Min"}) {
    r.add({op, "", 8, ops::kMaxOpset, &ops::make_kernel<CpuBinary>, "cpu", 10, applies});
  }
}

}  // namespace pare::kernels
