#include "llm/model.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>

namespace pare::llm {
namespace {

Result<WeightRef> weight(const gguf::File& f, const std::string& name, int64_t k, int64_t n) {
  const gguf::TensorInfo* t = f.tensor(name);
  if (!t) return invalid_model("gguf: missing tensor '{}'", name);
  const int64_t rows = t->ne.size() >= 2 ? t->ne[1] : 1;
  if (t->ne.size() > 2 || t->ne.empty() || t->ne[0] != k || rows != n)
    return invalid_model("gguf: tensor '{}' has shape [{}], expected [{}, {}]", name, fmt::join(t->ne, ", "), k, n);
  const gguf::TypeTraits* tr = gguf::type_traits(static_cast<uint32_t>(t->type));
  if (!tr->supported) return unsupported("gguf: tensor '{}' has type {}, which pare cannot compute with", name, tr->name);
  WeightRef w;
  w.type = t->type;
  w.data = t->data;
  w.k = k;
  w.n = n;
  w.row_bytes = gguf::row_bytes(t->type, k);
  return w;
}

Result<std::vector<float>> vec(const gguf::File& f, const std::string& name, int64_t n, bool required = true) {
  const gguf::TensorInfo* t = f.tensor(name);
  if (!t) {
    if (!required) return std::vector<float>{};
    return invalid_model("gguf: missing tensor '{}'", name);
  }
  if (t->n_elements() != n) return invalid_model("gguf: tensor '{}' has {} values, expected {}", name, t->n_elements(), n);
  std::vector<float> v(n);
  PARE_RETURN_IF_ERROR(gguf::dequantize(t->type, t->data, v.data(), n));
  return v;
}

void rms_norm(const float* x, const float* g, float* y, int64_t n, double eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float s = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s * g[i];
}

}  // namespace

Result<std::shared_ptr<Model>> Model::load(const std::string& path) {
  PARE_ASSIGN_OR_RETURN(auto f, gguf::File::open(path));
  auto m = from_file(std::move(f));
  if (!m.ok()) return m.status().with_context(fmt::format("while loading {}", path));
  return m;
}

Result<std::shared_ptr<Model>> Model::from_file(std::shared_ptr<gguf::File> file) {
  std::shared_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  PARE_RETURN_IF_ERROR(m->build());
  return m;
}

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += t.nbytes;
  return n;
}

Status Model::build() {
  const gguf::File& f = *file_;
  ModelConfig& c = cfg_;
  PARE_ASSIGN_OR_RETURN(c.arch, f.get_string("general.architecture"));
  if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "mistral")
    return unsupported("gguf: architecture '{}' (pare runs llama, mistral and qwen2)", c.arch);
  const std::string a = c.arch + ".";
  c.name = f.get_string_or("general.name", "");
  PARE_ASSIGN_OR_RETURN(c.n_embd, f.get_int(a + "embedding_length"));
  PARE_ASSIGN_OR_RETURN(c.n_layer, f.get_int(a + "block_count"));
  PARE_ASSIGN_OR_RETURN(c.n_ff, f.get_int(a + "feed_forward_length"));
  PARE_ASSIGN_OR_RETURN(c.n_head, f.get_int(a + "attention.head_count"));
  c.n_head_kv = f.get_int_or(a + "attention.head_count_kv", c.n_head);
  c.n_ctx_train = f.get_int_or(a + "context_length", 2048);
  c.rope_base = f.get_float_or(a + "rope.freq_base", 10000.0);
  c.rms_eps = f.get_float_or(a + "attention.layer_norm_rms_epsilon", 1e-5);
  const std::string scaling = f.get_string_or(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    c.rope_scale = f.get_float_or(a + "rope.scaling.factor", 1.0);
  } else if (scaling != "none") {
    return unsupported("gguf: rope scaling '{}' (pare supports none and linear)", scaling);
  }
  if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_ff <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.n_layer > 4096 ||
      c.n_head % c.n_head_kv != 0 || c.n_embd % c.n_head != 0)
    return invalid_model("gguf: inconsistent hyper-parameters: embedding {}, layers {}, ffn {}, heads {}, kv heads {}", c.n_embd,
                         c.n_layer, c.n_ff, c.n_head, c.n_head_kv);
  c.head_dim = f.get_int_or(a + "attention.key_length", c.n_embd / c.n_head);
  c.n_rot = f.get_int_or(a + "rope.dimension_count", c.head_dim);
  if (c.head_dim <= 0 || c.head_dim > 1024 || c.n_rot <= 0 || c.n_rot > c.head_dim || c.n_rot % 2)
    return invalid_model("gguf: head dim {} / rope dims {} are invalid", c.head_dim, c.n_rot);
  if (!(c.rope_base > 0) || !(c.rope_scale > 0) || !(c.rms_eps >= 0))
    return invalid_model("gguf: rope base {}, rope scale {}, rms eps {} must be positive", c.rope_base, c.rope_scale, c.rms_eps);
  c.rope_neox = c.arch == "qwen2";

  const gguf::TensorInfo* te = f.tensor("token_embd.weight");
  if (!te) return invalid_model("gguf: missing tensor 'token_embd.weight'");
  if (te->ne.size() != 2) return invalid_model("gguf: token_embd.weight must be 2-D");
  c.n_vocab = te->ne[1];
  PARE_ASSIGN_OR_RETURN(tok_embd_, weight(f, "token_embd.weight", c.n_embd, c.n_vocab));
  if (f.tensor("output.weight")) {
    PARE_ASSIGN_OR_RETURN(output_, weight(f, "output.weight", c.n_embd, c.n_vocab));
  } else {
    output_ = tok_embd_;
  }
  PARE_ASSIGN_OR_RETURN(output_norm_, vec(f, "output_norm.weight", c.n_embd));
  PARE_ASSIGN_OR_RETURN(rope_factors_, vec(f, "rope_freqs.weight", c.n_rot / 2, false));
  const int64_t q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
  layers_.resize(c.n_layer);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    LayerWeights& l = layers_[i];
    const std::string p = fmt::format("blk.{}.", i);
    PARE_ASSIGN_OR_RETURN(l.attn_norm, vec(f, p + "attn_norm.weight", c.n_embd));
    PARE_ASSIGN_OR_RETURN(l.ffn_norm, vec(f, p + "ffn_norm.weight", c.n_embd));
    PARE_ASSIGN_OR_RETURN(l.wq, weight(f, p + "attn_q.weight", c.n_embd, q_dim));
    PARE_ASSIGN_OR_RETURN(l.wk, weight(f, p + "attn_k.weight", c.n_embd, kv_dim));
    PARE_ASSIGN_OR_RETURN(l.wv, weight(f, p + "attn_v.weight", c.n_embd, kv_dim));
    PARE_ASSIGN_OR_RETURN(l.wo, weight(f, p + "attn_output.weight", q_dim, c.n_embd));
    PARE_ASSIGN_OR_RETURN(l.gate, weight(f, p + "ffn_gate.weight", c.n_embd, c.n_ff));
    PARE_ASSIGN_OR_RETURN(l.up, weight(f, p + "ffn_up.weight", c.n_embd, c.n_ff));
    PARE_ASSIGN_OR_RETURN(l.down, weight(f, p + "ffn_down.weight", c.n_ff, c.n_embd));
    const bool bias_required = c.arch == "qwen2";
    PARE_ASSIGN_OR_RETURN(l.bq, vec(f, p + "attn_q.bias", q_dim, bias_required));
    PARE_ASSIGN_OR_RETURN(l.bk, vec(f, p + "attn_k.bias", kv_dim, bias_required));
    PARE_ASSIGN_OR_RETURN(l.bv, vec(f, p + "attn_v.bias", kv_dim, bias_required));
  }
  pack_weights();
  return ok_status();
}

Model::HugeBuffer& Model::HugeBuffer::operator=(HugeBuffer&& o) noexcept {
  std::swap(data, o.data);
  std::swap(size, o.size);
  return *this;
}

Model::HugeBuffer::HugeBuffer(size_t n) {
  constexpr size_t kHuge = size_t{2} << 20;
  size = (n + kHuge - 1) / kHuge * kHuge;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP the pages are just 4 KiB
  data = static_cast<uint8_t*>(p);
}

Model::HugeBuffer::~HugeBuffer() {
  if (data) munmap(data, size);
}

// With the VNNI kernels, Q4_0/Q8_0 matrices are repacked 16 rows at a time; the source pages are
// then released so that resident memory stays about the size of the file.
void Model::pack_weights() {
  if (&active_kernels() != &vnni::table()) return;
  std::vector<std::pair<WeightRef*, bool>> todo;  // weight, release its source pages
  for (LayerWeights& l : layers_)
    for (WeightRef* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) todo.emplace_back(w, true);
  todo.emplace_back(&output_, output_.data != tok_embd_.data);  // a tied output still serves embedding rows
  // One mapping for all of them, so that rounding to huge pages wastes at most one.
  size_t total = 0;
  for (auto& [w, release] : todo) total += (static_cast<size_t>(vnni::packed_bytes(*w)) + 63) / 64 * 64;
  if (total == 0) return;
  packed_ = HugeBuffer(total);
  uint8_t* at = packed_.data;
  for (auto& [w, release] : todo) {
    const int64_t n = vnni::packed_bytes(*w);
    if (n == 0) continue;
    vnni::pack(*w, at);
    w->packed = at;
    at += (static_cast<size_t>(n) + 63) / 64 * 64;
    if (release) file_->drop_pages(w->data, static_cast<size_t>(w->n / 16 * 16 * w->row_bytes));
  }
}

Result<KvType> parse_kv_type(const std::string& s) {
  if (s == "f16") return KvType::kF16;
  if (s == "q8_0") return KvType::kQ8_0;
  return invalid_input("unknown KV cache type '{}' (expected f16 or q8_0)", s);
}

Result<std::unique_ptr<Context>> Context::create(std::shared_ptr<const Model> model, int64_t n_ctx, KvType kv_type) {
  const ModelConfig& c = model->config();
  if (n_ctx <= 0) n_ctx = std::min<int64_t>(c.n_ctx_train, 4096);
  if (n_ctx > (int64_t{1} << 20)) return invalid_input("context of {} tokens is too large (at most 2^20)", n_ctx);
  std::unique_ptr<Context> ctx(new Context());
  ctx->model_ = std::move(model);
  ctx->kern_ = &active_kernels();
  ctx->n_ctx_ = n_ctx;
  if (kv_type == KvType::kQ8_0 && c.head_dim % 32 != 0)
    return invalid_input("--kv-type q8_0 needs a head size that is a multiple of 32 (this model's is {})", c.head_dim);
  ctx->kv_type_ = kv_type;
  const int64_t kv_dim = c.n_head_kv * c.head_dim;
  ctx->kv_row_ = kv_type == KvType::kQ8_0 ? kv_dim / 32 * 34 : kv_dim * 2;
  const int64_t kv = c.n_layer * n_ctx * ctx->kv_row_;
  ctx->k_.assign(kv, 0);
  ctx->v_.assign(kv, 0);
  return ctx;
}

void Context::truncate(int64_t n_past) { n_past_ = std::clamp<int64_t>(n_past, 0, n_past_); }

// One forward pass over ROWS (each a token of some sequence at some position).
struct Forward {
  struct Row {
    Context* ctx;
    int64_t pos;
  };
  const Model& m;
  const KernelTable& kt;
  Scratch& s;

  void matmul(const WeightRef& w, const float* x, int64_t T, float* y, bool reuse_acts) {
    const QActs* qa = nullptr;
    if (uses_qacts(w.type)) {
      if (!(reuse_acts && s.qa_src == x && s.qa.k == w.k && s.qa.rows == T)) {
        kt.quantize_acts(x, T, w.k, &s.qa);
        s.qa_src = x;
      }
      qa = &s.qa;
    }
    kt.matmul(w, x, qa, T, y);
  }

  // Row t attends to positions 0..pos of its own sequence's cache (its own key included: the
  // keys and values of this pass are stored before).
  void attention(int64_t layer, const std::vector<Row>& rows, const float* q, float* out) {
    const ModelConfig& c = m.config();
    const int64_t T = static_cast<int64_t>(rows.size());
    const int64_t hd = c.head_dim, group = c.n_head / c.n_head_kv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    int64_t max_keys = 0;
    for (const Row& r : rows) max_keys = std::max(max_keys, r.pos + 1);
#pragma omp parallel if (T * c.n_head * max_keys * hd >= (1 << 16))
    {
      std::vector<float> sc(max_keys);
#pragma omp for schedule(static)
      for (int64_t th = 0; th < T * c.n_head; ++th) {
        const int64_t t = th / c.n_head, h = th % c.n_head, kvh = h / group;
        const Context& cx = *rows[t].ctx;
        const bool q8 = cx.kv_type_ == KvType::kQ8_0;
        const int64_t row = cx.kv_row_, head_bytes = q8 ? hd / 32 * 34 : hd * 2;
        const uint8_t* K = cx.k_.data() + layer * cx.n_ctx_ * row;
        const uint8_t* V = cx.v_.data() + layer * cx.n_ctx_ * row;
        const int64_t n_keys = rows[t].pos + 1;  // causal: positions ≤ this token's
        const float* qv = q + t * c.n_head * hd + h * hd;
        float mx = -INFINITY;
        for (int64_t p = 0; p < n_keys; ++p) {
          const uint8_t* kp = K + p * row + kvh * head_bytes;
          sc[p] = (q8 ? kt.dot_q8(kp, qv, hd) : kt.dot_f16(reinterpret_cast<const uint16_t*>(kp), qv, hd)) * scale;
          mx = std::max(mx, sc[p]);
        }
        float sum = 0;
        for (int64_t p = 0; p < n_keys; ++p) sum += (sc[p] = std::exp(sc[p] - mx));
        float* o = out + t * c.n_head * hd + h * hd;
        std::fill(o, o + hd, 0.0f);
        const float inv = 1.0f / sum;
        for (int64_t p = 0; p < n_keys; ++p) {
          const uint8_t* vp = V + p * row + kvh * head_bytes;
          if (q8) kt.axpy_q8(sc[p] * inv, vp, o, hd);
          else kt.axpy_f16(sc[p] * inv, reinterpret_cast<const uint16_t*>(vp), o, hd);
        }
      }
    }
  }

  // Logits of the rows OUT_ROWS, [out_rows × n_vocab] in s.logits.
  Status run(const int32_t* tokens, const std::vector<Row>& rows, const std::vector<int64_t>& out_rows) {
    const ModelConfig& c = m.config();
    const int64_t T = static_cast<int64_t>(rows.size());
    const int64_t E = c.n_embd, hd = c.head_dim, q_dim = c.n_head * hd, kv_dim = c.n_head_kv * hd;
    s.x.resize(T * E);
    s.h.resize(T * std::max(E, q_dim));
    s.q.resize(T * q_dim);
    s.k_cur.resize(T * kv_dim);
    s.v_cur.resize(T * kv_dim);
    s.attn.resize(T * q_dim);
    s.gate.resize(T * c.n_ff);
    s.up.resize(T * c.n_ff);
    s.qa_src = nullptr;
    for (int64_t t = 0; t < T; ++t)
      PARE_RETURN_IF_ERROR(gguf::dequantize(m.tok_embd_.type, m.tok_embd_.data + tokens[t] * m.tok_embd_.row_bytes, &s.x[t * E], E));

    // RoPE angles per (token, pair): θᵢ = pos/scale · base^(−2i/n_rot) / fᵢ.
    const int64_t n_pairs = c.n_rot / 2;
    std::vector<float> cosv(T * n_pairs), sinv(T * n_pairs);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < n_pairs; ++i) {
        double theta = rows[t].pos / c.rope_scale * std::pow(c.rope_base, -2.0 * i / c.n_rot);
        if (!m.rope_factors_.empty()) theta /= m.rope_factors_[i];
        cosv[t * n_pairs + i] = static_cast<float>(std::cos(theta));
        sinv[t * n_pairs + i] = static_cast<float>(std::sin(theta));
      }
    auto rope = [&](float* v, int64_t heads) {
      for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < heads; ++h) {
          float* x = v + (t * heads + h) * hd;
          for (int64_t i = 0; i < n_pairs; ++i) {
            const int64_t i0 = c.rope_neox ? i : 2 * i, i1 = c.rope_neox ? i + hd / 2 : 2 * i + 1;
            const float cs = cosv[t * n_pairs + i], sn = sinv[t * n_pairs + i];
            const float a = x[i0], b = x[i1];
            x[i0] = a * cs - b * sn;
            x[i1] = a * sn + b * cs;
          }
        }
    };
    if (c.rope_neox && c.n_rot != hd) return unsupported("partial rotary dims with neox-style rope");

    for (int64_t li = 0; li < c.n_layer; ++li) {
      const LayerWeights& L = m.layers_[li];
      for (int64_t t = 0; t < T; ++t) rms_norm(&s.x[t * E], L.attn_norm.data(), &s.h[t * E], E, c.rms_eps);
      matmul(L.wq, s.h.data(), T, s.q.data(), false);
      matmul(L.wk, s.h.data(), T, s.k_cur.data(), true);
      matmul(L.wv, s.h.data(), T, s.v_cur.data(), true);
      if (!L.bq.empty())
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t i = 0; i < q_dim; ++i) s.q[t * q_dim + i] += L.bq[i];
          for (int64_t i = 0; i < kv_dim; ++i) s.k_cur[t * kv_dim + i] += L.bk[i], s.v_cur[t * kv_dim + i] += L.bv[i];
        }
      rope(s.q.data(), c.n_head);
      rope(s.k_cur.data(), c.n_head_kv);
      for (int64_t t = 0; t < T; ++t) {  // this pass's keys and values into each row's cache
        Context& cx = *rows[t].ctx;
        uint8_t* K = cx.k_.data() + (li * cx.n_ctx_ + rows[t].pos) * cx.kv_row_;
        uint8_t* V = cx.v_.data() + (li * cx.n_ctx_ + rows[t].pos) * cx.kv_row_;
        if (cx.kv_type_ == KvType::kQ8_0) {
          (void)gguf::quantize(gguf::GgmlType::kQ8_0, &s.k_cur[t * kv_dim], K, kv_dim);  // kv_dim % 32 == 0 checked in create
          (void)gguf::quantize(gguf::GgmlType::kQ8_0, &s.v_cur[t * kv_dim], V, kv_dim);
        } else {
          kt.store_f16(&s.k_cur[t * kv_dim], reinterpret_cast<uint16_t*>(K), kv_dim);
          kt.store_f16(&s.v_cur[t * kv_dim], reinterpret_cast<uint16_t*>(V), kv_dim);
        }
      }
      attention(li, rows, s.q.data(), s.attn.data());
      matmul(L.wo, s.attn.data(), T, s.h.data(), false);
      for (int64_t i = 0; i < T * E; ++i) s.x[i] += s.h[i];

      for (int64_t t = 0; t < T; ++t) rms_norm(&s.x[t * E], L.ffn_norm.data(), &s.h[t * E], E, c.rms_eps);
      matmul(L.gate, s.h.data(), T, s.gate.data(), false);
      matmul(L.up, s.h.data(), T, s.up.data(), true);
      for (int64_t i = 0; i < T * c.n_ff; ++i) {
        const float g = s.gate[i];
        s.gate[i] = g / (1.0f + std::exp(-g)) * s.up[i];
      }
      matmul(L.down, s.gate.data(), T, s.h.data(), false);
      for (int64_t i = 0; i < T * E; ++i) s.x[i] += s.h[i];
    }
    const int64_t n_out = static_cast<int64_t>(out_rows.size());
    for (int64_t j = 0; j < n_out; ++j) rms_norm(&s.x[out_rows[j] * E], m.output_norm_.data(), &s.h[j * E], E, c.rms_eps);
    s.logits.resize(n_out * c.n_vocab);
    matmul(m.output_, s.h.data(), n_out, s.logits.data(), false);
    return ok_status();
  }
};

namespace {

Status check_tokens(const Context& ctx, const int32_t* tokens, int64_t T) {
  const ModelConfig& c = ctx.model().config();
  if (T <= 0) return invalid_input("eval: no tokens");
  if (ctx.n_past() + T > ctx.n_ctx())
    return invalid_input("{} tokens do not fit in the context: {} already used of {}", T, ctx.n_past(), ctx.n_ctx());
  for (int64_t t = 0; t < T; ++t)
    if (tokens[t] < 0 || tokens[t] >= c.n_vocab) return invalid_input("token id {} is outside the vocabulary (0..{})", tokens[t], c.n_vocab - 1);
  return ok_status();
}

}  // namespace

Result<const float*> Context::eval(const int32_t* tokens, int64_t T, bool all_logits) {
  PARE_RETURN_IF_ERROR(check_tokens(*this, tokens, T));
  std::vector<Forward::Row> rows(T);
  for (int64_t t = 0; t < T; ++t) rows[t] = {this, n_past_ + t};
  std::vector<int64_t> out_rows;
  for (int64_t t = all_logits ? 0 : T - 1; t < T; ++t) out_rows.push_back(t);
  PARE_RETURN_IF_ERROR((Forward{*model_, *kern_, scratch_}.run(tokens, rows, out_rows)));
  n_past_ += T;
  return scratch_.logits.data();
}

Result<std::vector<const float*>> eval_batch(const std::vector<SeqTokens>& seqs, Scratch& scratch) {
  if (seqs.empty()) return invalid_input("eval_batch: no sequences");
  const Model* model = seqs[0].ctx ? seqs[0].ctx->model_.get() : nullptr;
  std::vector<int32_t> tokens;
  std::vector<Forward::Row> rows;
  std::vector<int64_t> out_rows;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const SeqTokens& e = seqs[i];
    if (!e.ctx || e.ctx->model_.get() != model) return invalid_input("eval_batch: entry {} has no context or another model", i);
    for (size_t j = 0; j < i; ++j)
      if (seqs[j].ctx == e.ctx) return invalid_input("eval_batch: a context appears twice (entries {} and {})", j, i);
    PARE_RETURN_IF_ERROR(check_tokens(*e.ctx, e.tokens, e.n));
    for (int64_t t = 0; t < e.n; ++t) {
      tokens.push_back(e.tokens[t]);
      rows.push_back({e.ctx, e.ctx->n_past_ + t});
    }
    out_rows.push_back(static_cast<int64_t>(rows.size()) - 1);
  }
  PARE_RETURN_IF_ERROR((Forward{*model, *seqs[0].ctx->kern_, scratch}.run(tokens.data(), rows, out_rows)));
  std::vector<const float*> out;
  for (size_t i = 0; i < seqs.size(); ++i) {
    seqs[i].ctx->n_past_ += seqs[i].n;
    out.push_back(scratch.logits.data() + i * model->config().n_vocab);
  }
  return out;
}

}  // namespace pare::llm
