#include "llm/chat.h"

#include "llm/jinja.h"

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

ChatTemplate ChatTemplate::create(const std::string& source, std::string bos, std::string eos) {
  ChatTemplate t;
  t.bos_ = std::move(bos);
  t.eos_ = std::move(eos);
  t.fallback_ = detect_chat_format(source);
  if (source.empty()) return t;
  auto parsed = jinja::Template::parse(source);
  if (parsed.ok()) {
    t.jinja_ = std::make_shared<const jinja::Template>(std::move(*parsed));
    t.parsed_ = t.jinja_;
  } else {
    t.warning_ = parsed.status().message() + "; using the built-in " + chat_format_name(t.fallback_) + " format";
  }
  return t;
}

Status ChatTemplate::force(const std::string& name) {
  if (name == "jinja") {
    if (!parsed_) return invalid_input("the model has no usable Jinja chat template{}", warning_.empty() ? "" : ": " + warning_);
    jinja_ = parsed_;
    return ok_status();
  }
  for (auto f : {ChatFormat::kChatml, ChatFormat::kLlama3, ChatFormat::kMistral, ChatFormat::kGemma, ChatFormat::kPhi3})
    if (name == chat_format_name(f)) {
      fallback_ = f;
      jinja_.reset();
      return ok_status();
    }
  return invalid_input("unknown chat format '{}' (expected jinja, chatml, llama3, mistral, gemma or phi3)", name);
}

std::string ChatTemplate::name() const { return jinja_ ? "jinja" : chat_format_name(fallback_); }

Result<std::string> ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  if (!jinja_) return format_chat(fallback_, messages, add_generation_prompt);
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const auto& m : messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::ordered_json ctx = {{"messages", msgs}, {"bos_token", bos_}, {"eos_token", eos_}, {"add_generation_prompt", add_generation_prompt}};
  PARE_ASSIGN_OR_RETURN(std::string out, jinja_->render(ctx));
  if (!bos_.empty() && out.compare(0, bos_.size(), bos_) == 0) out.erase(0, bos_.size());
  return out;
}

}  // namespace pare::llm
