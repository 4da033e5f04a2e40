#include "llm/chat.h"

namespace pare::llm {

ChatFormat detect_chat_format(const std::string& t) {
  if (t.find("<|start_header_id|>") != std::string::npos) return ChatFormat::kLlama3;
  if (t.find("<start_of_turn>") != std::string::npos) return ChatFormat::kGemma;
  if (t.find("<|im_start|>") != std::string::npos) return ChatFormat::kChatml;
  if (t.find("<|user|>") != std::string::npos && t.find("<|end|>") != std::string::npos) return ChatFormat::kPhi3;
  if (t.find("[INST]") != std::string::npos) return ChatFormat::kMistral;
  return ChatFormat::kChatml;
}

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::kLlama3: return "llama3";
    case ChatFormat::kMistral: return "mistral";
    case ChatFormat::kGemma: return "gemma";
    case ChatFormat::kPhi3: return "phi3";
    default: return "chatml";
  }
}

std::string format_chat(ChatFormat f, const std::vector<ChatMessage>& msgs, bool gen) {
  std::string o;
  switch (f) {
    case ChatFormat::kChatml:
      for (const auto& m : msgs) o += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (gen) o += "<|im_start|>assistant\n";
      break;
    case ChatFormat::kLlama3:
      for (const auto& m : msgs) o += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      if (gen) o += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatFormat::kPhi3:
      for (const auto& m : msgs) o += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (gen) o += "<|assistant|>\n";
      break;
    case ChatFormat::kGemma: {
      std::string system;
      for (const auto& m : msgs) {
        if (m.role == "system") {
          system += m.content + "\n\n";
          continue;
        }
        const std::string role = m.role == "assistant" ? "model" : "user";
        o += "<start_of_turn>" + role + "\n" + (role == "user" ? system : "") + m.content + "<end_of_turn>\n";
        if (role == "user") system.clear();
      }
      if (gen) o += "<start_of_turn>model\n";
      break;
    }
    case ChatFormat::kMistral: {
      std::string system;
      for (const auto& m : msgs) {
        if (m.role == "system") system += m.content + "\n\n";
        else if (m.role == "user") o += "[INST] " + system + m.content + " [/INST]", system.clear();
        else o += m.content + "</s>";
      }
      break;
    }
  }
  return o;
}

}  // namespace pare::llm
