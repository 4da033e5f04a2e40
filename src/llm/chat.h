// Chat prompt formats. GGUF files carry a Jinja template (tokenizer.chat_template); pare does not
// run Jinja yet (TODO(#8)): it recognises the template family by its markers, as llama.cpp's
// built-in templates do, and formats messages itself; unknown templates fall back to ChatML.
//   chatml   <|im_start|>ROLE\nTEXT<|im_end|>\n …  <|im_start|>assistant\n       (Qwen2.5, SmolLM)
//   llama3   <|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|> …        (Llama 3.x)
//   mistral  [INST] SYSTEM\n\nUSER [/INST]ASSISTANT</s>                             (Mistral, Llama 2)
//   gemma    <start_of_turn>user\nTEXT<end_of_turn>\n … <start_of_turn>model\n   (system folded into user)
//   phi3     <|ROLE|>\nTEXT<|end|>\n … <|assistant|>\n
#pragma once

#include <string>
#include <vector>

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

}  // namespace pare::llm
