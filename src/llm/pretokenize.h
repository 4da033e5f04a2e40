// Pre-tokenizer regexes of byte-level BPE vocabularies, as hand-written matchers over code points
// (leftmost alternative wins, quantifiers greedy with the regex's backtracking reproduced):
//   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
//           |\s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2:  as llama3 with \p{N} (single digits)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pare::llm {

enum class PreTokenizer { kGpt2, kLlama3, kQwen2 };

bool is_letter(uint32_t cp);
bool is_number(uint32_t cp);
bool is_space(uint32_t cp);
// Decodes valid UTF-8 (callers validate first) into code points.
std::vector<uint32_t> utf8_decode(std::string_view s);
void utf8_append(uint32_t cp, std::string& out);
// Splits TEXT (valid UTF-8) into pre-tokens.
std::vector<std::string> pretokenize(std::string_view text, PreTokenizer kind);

}  // namespace pare::llm
