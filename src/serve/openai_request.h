// Parsing and validation of OpenAI completion / chat-completion request bodies.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "llm/chat.h"
#include "llm/generator.h"

namespace pare::serve {

struct OpenAiRequest {
  std::string model;                       // as sent ("" when absent)
  std::string prompt;                      // completions
  std::vector<llm::ChatMessage> messages;  // chat
  llm::GenerateOptions opt;
  bool stream = false, include_usage = false;
};

// Fields: model, prompt (string or [string]) | messages ([{role, content: string or [{type: "text",
// text}]}]), max_tokens / max_completion_tokens (0 … 2^24; default 16 for completions, the
// context for chat), temperature, top_p, top_k, min_p, repeat_penalty, frequency_penalty,
// presence_penalty, seed, stop (string or up to 16 strings), stream, stream_options.include_usage,
// n (1 only), ignore_eos (llama.cpp's extension). Unknown fields are ignored; a known field of the wrong type or range is an error.
Result<OpenAiRequest> parse_openai_request(const std::string& body, bool chat);

}  // namespace pare::serve
