// Tokenizers from GGUF metadata (tokenizer.ggml.*):
//   "llama": SentencePiece-style — spaces become ▁ (a ▁ is prefixed at the start and after each
//            special token when add_space_prefix), then the adjacent pair whose merge is a vocab
//            token with the highest score is merged repeatedly; leftover characters fall back to
//            <0xXX> byte tokens (else <unk>).
//   "gpt2":  byte-level BPE — the text is split by the pre-tokenizer regex of tokenizer.ggml.pre
//            (gpt2 default, llama-3, qwen2; Unicode letter/number classes), each piece's bytes are
//            mapped to printable code points and merged by merge rank (lowest first).
// Control, user-defined and unknown tokens written literally in the text are matched first
// (longest first) when parse_special is set; user-defined ones always.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/gguf.h"

namespace pare::llm {

class Tokenizer {
 public:
  enum class Kind { kSpm, kBpe };
  enum class Pre { kGpt2, kLlama3, kQwen2 };
  static Result<Tokenizer> from_gguf(const gguf::File& f);

  // Fails on invalid UTF-8 (names the byte offset).
  Result<std::vector<int32_t>> encode(std::string_view text, bool add_special = true, bool parse_special = false) const;
  // Bytes a token stands for; control tokens give "" unless RENDER_SPECIAL.
  std::string piece(int32_t id, bool render_special = false) const;
  std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

  int64_t n_vocab() const { return static_cast<int64_t>(tokens_.size()); }
  const std::string& token_text(int32_t id) const { return tokens_[id]; }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  bool add_bos() const { return add_bos_; }
  bool is_eog(int32_t id) const;  // end of generation: eos, eot, or an end-of-turn control token
  bool is_control(int32_t id) const { return id >= 0 && id < n_vocab() && types_[id] == kControl; }
  Kind kind() const { return kind_; }

 private:
  static constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;
  void encode_spm(std::string text, std::vector<int32_t>& out) const;
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void bpe_word(const std::string& mapped, std::vector<int32_t>& out) const;
  int32_t lookup(const std::string& s) const;

  Kind kind_ = Kind::kSpm;
  Pre pre_ = Pre::kGpt2;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<int32_t> types_;
  std::unordered_map<std::string, int32_t> index_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "left right" → rank
  std::vector<int32_t> specials_;                        // sorted longest first
  std::vector<int32_t> eog_;
  int32_t byte_tokens_[256];
  bool special_first_[256] = {};  // first bytes of special tokens, to skip most positions fast
  int32_t bos_ = -1, eos_ = -1, unk_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = true, ignore_merges_ = false;
};

// UTF-8 helpers shared with the sampler's stop strings and the CLI.
bool utf8_valid(std::string_view s, size_t* bad_offset = nullptr);
// Length of the longest prefix of S that ends on a complete UTF-8 character.
size_t utf8_complete_prefix(std::string_view s);

}  // namespace pare::llm
