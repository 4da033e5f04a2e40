#include "llm/pretokenize.h"

#include <algorithm>

namespace pare::llm {
namespace {
#include "llm/unicode_tables.inc"

template <size_t N>
bool in_ranges(const uint32_t (&r)[N][2], uint32_t cp) {
  size_t lo = 0, hi = N;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (cp < r[mid][0]) hi = mid;
    else if (cp > r[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
bool is_nl(uint32_t c) { return c == '\r' || c == '\n'; }
bool is_other(uint32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

// Length of a contraction ('s 't 're 've 'm 'll 'd) at I, or 0.
size_t contraction(const std::vector<uint32_t>& c, size_t i, bool icase) {
  if (c[i] != '\'' || i + 1 >= c.size()) return 0;
  auto at = [&](size_t k) { return k < c.size() ? (icase ? lower(c[k]) : c[k]) : 0u; };
  const uint32_t a = at(i + 1), b = at(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

size_t run(const std::vector<uint32_t>& c, size_t i, bool (*pred)(uint32_t)) {
  size_t j = i;
  while (j < c.size() && pred(c[j])) ++j;
  return j - i;
}

// \s+(?!\S) then \s+ : whitespace not followed by a non-space keeps its last char for the next token.
size_t spaces(const std::vector<uint32_t>& c, size_t i) {
  const size_t n = run(c, i, is_space);
  if (n == 0) return 0;
  if (i + n == c.size() || n == 1) return n;
  return n - 1;
}

size_t match_gpt2(const std::vector<uint32_t>& c, size_t i) {
  if (size_t n = contraction(c, i, false)) return n;
  const size_t sp = c[i] == ' ' && i + 1 < c.size() ? 1 : 0;
  if (size_t n = run(c, i + sp, is_letter)) return sp + n;
  if (size_t n = run(c, i + sp, is_number)) return sp + n;
  if (size_t n = run(c, i + sp, is_other)) return sp + n;
  if (size_t n = spaces(c, i)) return n;
  return 1;
}

size_t match_llama3(const std::vector<uint32_t>& c, size_t i, size_t max_digits) {
  if (size_t n = contraction(c, i, true)) return n;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!is_nl(c[i]) && !is_letter(c[i]) && !is_number(c[i]) && i + 1 < c.size() && is_letter(c[i + 1]))
    return 1 + run(c, i + 1, is_letter);
  if (size_t n = run(c, i, is_letter)) return n;
  if (is_number(c[i])) return std::min(max_digits, run(c, i, is_number));
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const size_t sp = c[i] == ' ' ? 1 : 0;
  if (size_t n = run(c, i + sp, is_other)) return sp + n + run(c, i + sp + n, is_nl);
  // \s*[\r\n]+ : up to and including the last newline of the whitespace run
  const size_t ws = run(c, i, is_space);
  for (size_t k = ws; k > 0; --k)
    if (is_nl(c[i + k - 1])) return k;
  if (size_t n = spaces(c, i)) return n;
  return 1;
}

}  // namespace

bool is_letter(uint32_t cp) { return in_ranges(kLetterRanges, cp); }
bool is_number(uint32_t cp) { return in_ranges(kNumberRanges, cp); }
bool is_space(uint32_t c) {
  return (c >= 9 && c <= 13) || c == ' ' || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<uint32_t> utf8_decode(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4;
    if (i + len > s.size()) len = 1;
    uint32_t cp = len == 1 ? b : len == 2 ? b & 0x1F : len == 3 ? b & 0x0F : b & 0x07;
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

void utf8_append(uint32_t cp, std::string& o) {
  if (cp < 0x80) {
    o += static_cast<char>(cp);
  } else if (cp < 0x800) {
    o += static_cast<char>(0xC0 | (cp >> 6));
    o += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    o += static_cast<char>(0xE0 | (cp >> 12));
    o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    o += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    o += static_cast<char>(0xF0 | (cp >> 18));
    o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    o += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<std::string> pretokenize(std::string_view text, PreTokenizer kind) {
  const std::vector<uint32_t> c = utf8_decode(text);
  std::vector<std::string> out;
  for (size_t i = 0; i < c.size();) {
    const size_t n = kind == PreTokenizer::kGpt2 ? match_gpt2(c, i) : match_llama3(c, i, kind == PreTokenizer::kLlama3 ? 3 : 1);
    std::string piece;
    for (size_t k = i; k < i + n; ++k) utf8_append(c[k], piece);
    out.push_back(std::move(piece));
    i += n;
  }
  return out;
}

}  // namespace pare::llm
