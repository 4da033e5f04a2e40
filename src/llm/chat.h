// Chat prompts. GGUF files carry a Jinja template (tokenizer.chat_template); ChatTemplate runs it
// with pare's Jinja subset (llm/jinja.h). Without a template, or with one pare cannot parse, it
// uses a built-in format recognised from the template's markers (as llama.cpp's built-in
// templates do), ChatML when nothing matches:
//   chatml   <|im_start|>ROLE\nTEXT<|im_end|>\n …  <|im_start|>assistant\n       (Qwen2.5, SmolLM)
//   llama3   <|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|> …        (Llama 3.x)
//   mistral  [INST] SYSTEM\n\nUSER [/INST]ASSISTANT</s>                             (Mistral, Llama 2)
//   gemma    <start_of_turn>user\nTEXT<end_of_turn>\n … <start_of_turn>model\n   (system folded into user)
//   phi3     <|ROLE|>\nTEXT<|end|>\n … <|assistant|>\n
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace pare::llm {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

enum class ChatFormat { kChatml, kLlama3, kMistral, kGemma, kPhi3 };

ChatFormat detect_chat_format(const std::string& jinja_template);
const char* chat_format_name(ChatFormat f);
// The prompt for MESSAGES, ending with the assistant's turn opened when ADD_GENERATION_PROMPT.
// BOS is not included (the tokenizer adds it).
std::string format_chat(ChatFormat f, const std::vector<ChatMessage>& messages, bool add_generation_prompt = true);

namespace jinja { class Template; }

// A model's prompt builder: its Jinja chat template, or the built-in fallback format.
class ChatTemplate {
 public:
  // SOURCE: tokenizer.chat_template ("" if none); BOS/EOS: the texts of those tokens (bos_token,
  // eos_token in the template). Never fails: a template pare cannot parse falls back to the
  // built-in format detected from it (warning() says why).
  static ChatTemplate create(const std::string& source, std::string bos, std::string eos);
  // A format forced by name (chatml, llama3, mistral, gemma, phi3) or "jinja" for the template.
  Status force(const std::string& name);
  // The prompt for MESSAGES. A leading BOS text is removed (the tokenizer adds BOS). Errors:
  // the template's raise_exception (e.g. a role it does not support) or a limit, as a Status.
  Result<std::string> apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  std::string name() const;  // "jinja" or the built-in format's name
  const std::string& warning() const { return warning_; }
  ChatFormat fallback() const { return fallback_; }
  bool uses_jinja() const { return jinja_ != nullptr; }

 private:
  std::shared_ptr<const jinja::Template> jinja_;
  ChatFormat fallback_ = ChatFormat::kChatml;
  std::string bos_, eos_, warning_;
  std::shared_ptr<const jinja::Template> parsed_;  // kept when a format is forced
};

}  // namespace pare::llm
