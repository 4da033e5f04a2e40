#include "llm/tokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <queue>

#include "llm/pretokenize.h"

namespace pare::llm {
namespace {

// GPT-2's byte → code point map: printable bytes map to themselves, the rest to 256 + n.
struct ByteMap {
  uint32_t to_cp[256];
  int16_t from_cp[512];
  ByteMap() {
    std::memset(from_cp, -1, sizeof(from_cp));
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      to_cp[b] = printable ? b : 256 + n++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

const std::string kSpace = "\xE2\x96\x81";  // ▁ U+2581

size_t utf8_len(uint8_t b) { return b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4; }

// Linked-list symbol and the merge candidate between two neighbours (shared by SPM and BPE).
struct Sym {
  int prev, next;
  size_t off, len;
};
struct Bigram {
  int left, right;
  double prio;  // SPM: score (higher first); BPE: −rank
  size_t size;
  bool operator<(const Bigram& o) const { return prio < o.prio || (prio == o.prio && left > o.left); }
};

std::vector<Sym> split_chars(const std::string& s) {
  std::vector<Sym> syms;
  for (size_t i = 0; i < s.size();) {
    const size_t n = std::min(utf8_len(static_cast<uint8_t>(s[i])), s.size() - i);
    syms.push_back({static_cast<int>(syms.size()) - 1, static_cast<int>(syms.size()) + 1, i, n});
    i += n;
  }
  if (!syms.empty()) syms.back().next = -1;
  return syms;
}

// Repeatedly merges the best-priority adjacent pair; PRIO returns false if the pair cannot merge.
template <typename Prio>
void merge_symbols(const std::string& s, std::vector<Sym>& syms, Prio prio) {
  std::priority_queue<Bigram> q;
  auto add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    double p;
    if (prio(std::string_view(s).substr(syms[l].off, syms[l].len), std::string_view(s).substr(syms[r].off, syms[r].len), &p))
      q.push({l, r, p, syms[l].len + syms[r].len});
  };
  for (size_t i = 1; i < syms.size(); ++i) add(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!q.empty()) {
    Bigram b = q.top();
    q.pop();
    Sym &l = syms[b.left], &r = syms[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size || l.next != b.right) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    add(l.prev, b.left);
    add(b.left, l.next);
  }
}

}  // namespace

bool utf8_valid(std::string_view s, size_t* bad) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    uint32_t cp = n == 1 ? b : n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
    for (size_t k = 1; ok && k < n; ++k) {
      const uint8_t c = static_cast<uint8_t>(s[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    // no overlong forms, surrogates or code points past U+10FFFF
    if (ok) ok = !(n == 2 && cp < 0x80) && !(n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) && !(n == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    if (!ok) {
      if (bad) *bad = i;
      return false;
    }
    i += n;
  }
  return true;
}

size_t utf8_complete_prefix(std::string_view s) {
  // Walk back over at most 3 continuation bytes to the last lead byte.
  size_t i = s.size(), k = 0;
  while (i > 0 && k < 4 && (static_cast<uint8_t>(s[i - 1]) & 0xC0) == 0x80) --i, ++k;
  if (i == 0) return k == 0 ? 0 : s.size();
  const uint8_t lead = static_cast<uint8_t>(s[i - 1]);
  if (lead < 0x80) return s.size();
  return utf8_len(lead) <= k + 1 ? s.size() : i - 1;
}

Result<Tokenizer> Tokenizer::from_gguf(const gguf::File& f) {
  Tokenizer t;
  PARE_ASSIGN_OR_RETURN(std::string model, f.get_string("tokenizer.ggml.model"));
  if (model == "llama") t.kind_ = Kind::kSpm;
  else if (model == "gpt2") t.kind_ = Kind::kBpe;
  else return unsupported("tokenizer model '{}' (pare supports llama and gpt2)", model);
  const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
  if (!toks || toks->type != gguf::ValueType::kArray || toks->elem != gguf::ValueType::kString || toks->strings.empty())
    return invalid_model("gguf: tokenizer.ggml.tokens must be a non-empty array of strings");
  t.tokens_ = toks->strings;
  const size_t n = t.tokens_.size();
  if (n > (1u << 24)) return invalid_model("gguf: vocabulary of {} tokens is too large", n);
  t.scores_.assign(n, 0.0f);
  if (const gguf::Value* s = f.find("tokenizer.ggml.scores")) {
    if (s->array_size() != n || s->floats.size() != n) return invalid_model("gguf: tokenizer.ggml.scores must hold {} floats", n);
    for (size_t i = 0; i < n; ++i) t.scores_[i] = static_cast<float>(s->floats[i]);
  }
  t.types_.assign(n, kNormal);
  if (const gguf::Value* s = f.find("tokenizer.ggml.token_type")) {
    if (s->ints.size() != n) return invalid_model("gguf: tokenizer.ggml.token_type must hold {} integers", n);
    for (size_t i = 0; i < n; ++i) t.types_[i] = static_cast<int32_t>(s->ints[i]);
  }
  for (size_t i = 0; i < n; ++i) t.index_[t.tokens_[i]] = static_cast<int32_t>(i);
  if (t.kind_ == Kind::kBpe) {
    const gguf::Value* m = f.find("tokenizer.ggml.merges");
    if (!m || m->elem != gguf::ValueType::kString) return invalid_model("gguf: gpt2 tokenizer needs tokenizer.ggml.merges (strings)");
    for (size_t i = 0; i < m->strings.size(); ++i) t.merge_rank_.emplace(m->strings[i], static_cast<int32_t>(i));
    const std::string pre = f.get_string_or("tokenizer.ggml.pre", "default");
    if (pre == "llama-bpe" || pre == "llama3" || pre == "smaug-bpe") t.pre_ = Pre::kLlama3, t.ignore_merges_ = true;
    else if (pre == "qwen2" || pre == "deepseek-r1-qwen") t.pre_ = Pre::kQwen2;
    else if (pre == "default" || pre == "gpt2" || pre == "gpt-2") t.pre_ = Pre::kGpt2;
    else return unsupported("tokenizer pre-tokenizer '{}' (pare supports default/gpt2, llama-bpe, qwen2)", pre);
  }
  auto id = [&](const char* key, int32_t dflt) -> int32_t {
    const int64_t v = f.get_int_or(key, dflt);
    return v >= 0 && v < static_cast<int64_t>(n) ? static_cast<int32_t>(v) : -1;
  };
  const bool spm = t.kind_ == Kind::kSpm;
  t.bos_ = id("tokenizer.ggml.bos_token_id", spm ? 1 : -1);
  t.eos_ = id("tokenizer.ggml.eos_token_id", spm ? 2 : -1);
  t.unk_ = id("tokenizer.ggml.unknown_token_id", spm ? 0 : -1);
  const gguf::Value* ab = f.find("tokenizer.ggml.add_bos_token");
  t.add_bos_ = ab ? ab->u != 0 : spm;
  const gguf::Value* ae = f.find("tokenizer.ggml.add_eos_token");
  t.add_eos_ = ae && ae->u != 0;
  const gguf::Value* sp = f.find("tokenizer.ggml.add_space_prefix");
  t.add_space_prefix_ = sp ? sp->u != 0 : spm;
  for (int b = 0; b < 256; ++b) {
    if (spm) t.byte_tokens_[b] = t.lookup(fmt::format("<0x{:02X}>", b));
    else {
      std::string s;
      utf8_append(byte_map().to_cp[b], s);
      t.byte_tokens_[b] = t.lookup(s);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const int32_t ty = t.types_[i];
    if ((ty == kControl || ty == kUserDefined || ty == kUnknown) && !t.tokens_[i].empty()) t.specials_.push_back(static_cast<int32_t>(i));
    static const char* const kEnds[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>"};
    if (ty == kControl)
      for (const char* e : kEnds)
        if (t.tokens_[i] == e) t.eog_.push_back(static_cast<int32_t>(i));
  }
  for (int32_t s : t.specials_) t.special_first_[static_cast<unsigned char>(t.tokens_[s][0])] = true;
  std::stable_sort(t.specials_.begin(), t.specials_.end(), [&](int32_t a, int32_t b) { return t.tokens_[a].size() > t.tokens_[b].size(); });
  for (const char* k : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (int32_t e = id(k, -1); e >= 0) t.eog_.push_back(e);
  if (t.eos_ >= 0) t.eog_.push_back(t.eos_);
  return t;
}

int32_t Tokenizer::lookup(const std::string& s) const {
  auto it = index_.find(s);
  return it == index_.end() ? -1 : it->second;
}

bool Tokenizer::is_eog(int32_t id) const { return std::find(eog_.begin(), eog_.end(), id) != eog_.end(); }

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  size_t bad = 0;
  if (!utf8_valid(text, &bad)) return invalid_input("text is not valid UTF-8 (byte {} of {})", bad, text.size());
  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_ >= 0) out.push_back(bos_);
  // Split on literal special tokens (longest first at each position).
  size_t start = 0, i = 0;
  bool prev_special = true;
  auto flush = [&](size_t end) {
    if (end > start) {
      if (kind_ == Kind::kSpm) {
        std::string frag(text.substr(start, end - start));
        if (add_space_prefix_ && prev_special) frag = " " + frag;
        encode_spm(std::move(frag), out);
      } else {
        encode_bpe(text.substr(start, end - start), out);
      }
      prev_special = false;
    }
  };
  while (i < text.size()) {
    int32_t hit = -1;
    if (special_first_[static_cast<unsigned char>(text[i])]) {
      for (int32_t s : specials_) {
        if (!parse_special && types_[s] != kUserDefined) continue;
        const std::string& st = tokens_[s];
        if (text.compare(i, st.size(), st) == 0) {
          hit = s;
          break;
        }
      }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    flush(i);
    out.push_back(hit);
    prev_special = true;
    i += tokens_[hit].size();
    start = i;
  }
  flush(text.size());
  if (add_special && add_eos_ && eos_ >= 0) out.push_back(eos_);
  return out;
}

void Tokenizer::encode_spm(std::string text, std::vector<int32_t>& out) const {
  std::string s;
  s.reserve(text.size() * 2);
  for (char c : text) {
    if (c == ' ') s += kSpace;
    else s += c;
  }
  std::vector<Sym> syms = split_chars(s);
  merge_symbols(s, syms, [&](std::string_view a, std::string_view b, double* p) {
    std::string m;
    m.reserve(a.size() + b.size());
    m.append(a).append(b);
    const int32_t id = lookup(m);
    if (id < 0) return false;
    *p = scores_[id];
    return true;
  });
  for (int k = syms.empty() ? -1 : 0; k >= 0; k = syms[k].next) {
    const std::string piece = s.substr(syms[k].off, syms[k].len);
    const int32_t id = lookup(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char c : piece) {
      const int32_t b = byte_tokens_[c];
      if (b >= 0) out.push_back(b);
      else if (unk_ >= 0) out.push_back(unk_);
    }
  }
}

void Tokenizer::bpe_word(const std::string& w, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    if (int32_t id = lookup(w); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<Sym> syms = split_chars(w);
  merge_symbols(w, syms, [&](std::string_view a, std::string_view b, double* p) {
    std::string key;
    key.reserve(a.size() + b.size() + 1);
    key.append(a).append(" ").append(b);
    auto it = merge_rank_.find(key);
    if (it == merge_rank_.end()) return false;
    *p = -static_cast<double>(it->second);
    return true;
  });
  for (int k = syms.empty() ? -1 : 0; k >= 0; k = syms[k].next) {
    const std::string piece = w.substr(syms[k].off, syms[k].len);
    int32_t id = lookup(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Unmergeable piece: one token per mapped character (each stands for one byte).
    for (uint32_t cp : utf8_decode(piece)) {
      std::string ch;
      utf8_append(cp, ch);
      id = lookup(ch);
      if (id >= 0) out.push_back(id);
      else if (unk_ >= 0) out.push_back(unk_);
    }
  }
}

void Tokenizer::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  const PreTokenizer kind = pre_ == Pre::kLlama3 ? PreTokenizer::kLlama3 : pre_ == Pre::kQwen2 ? PreTokenizer::kQwen2 : PreTokenizer::kGpt2;
  const ByteMap& bm = byte_map();
  for (const std::string& word : pretokenize(text, kind)) {
    std::string mapped;
    for (unsigned char c : word) utf8_append(bm.to_cp[c], mapped);
    bpe_word(mapped, out);
  }
}

std::string Tokenizer::piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return "";
  const std::string& t = tokens_[id];
  const int32_t ty = types_[id];
  if (ty == kControl || ty == kUnknown || ty == kUnused) return render_special ? t : "";
  if (ty == kUserDefined) return t;
  if (kind_ == Kind::kSpm) {
    if (ty == kByte && t.size() == 6 && t.compare(0, 3, "<0x") == 0) return std::string(1, static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16)));
    std::string o;
    for (size_t i = 0; i < t.size();) {
      if (t.compare(i, 3, kSpace) == 0) o += ' ', i += 3;
      else o += t[i++];
    }
    return o;
  }
  std::string o;
  for (uint32_t cp : utf8_decode(t)) {
    const int b = cp < 512 ? byte_map().from_cp[cp] : -1;
    if (b >= 0) o += static_cast<char>(b);
    else utf8_append(cp, o);
  }
  return o;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  std::string o;
  for (int32_t id : ids) o += piece(id, render_special);
  return o;
}

}  // namespace pare::llm
