#include "serve/openai_request.h"

#include <nlohmann/json.hpp>

#include "llm/tokenizer.h"

namespace pare::serve {
namespace {

using json = nlohmann::json;
constexpr int64_t kMaxTokens = int64_t{1} << 24;

Status utf8_checked(const std::string& s, const std::string& what) {
  size_t bad = 0;
  if (!llm::utf8_valid(s, &bad)) return invalid_input("{} is not valid UTF-8 (byte {})", what, bad);
  return ok_status();
}

Status get_number(const json& j, const char* key, float& out) {
  if (!j.contains(key) || j[key].is_null()) return ok_status();
  if (!j[key].is_number()) return invalid_input("'{}' must be a number", key);
  out = j[key].get<float>();
  return ok_status();
}

Status get_int(const json& j, const char* key, int64_t lo, int64_t hi, int64_t& out) {
  if (!j.contains(key) || j[key].is_null()) return ok_status();
  const json& v = j[key];
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) return invalid_input("'{}' must be between {} and {}, got {}", key, lo, hi, u);
    out = static_cast<int64_t>(u);
    return ok_status();
  }
  if (v.is_number_float()) {  // 1e300 and friends: refuse rather than overflow
    double d = v.get<double>();
    if (d != static_cast<double>(static_cast<int64_t>(d < -9e18 || d > 9e18 ? 0 : d)) || d < lo || d > hi)
      return invalid_input("'{}' must be an integer between {} and {}", key, lo, hi);
    out = static_cast<int64_t>(d);
    return ok_status();
  }
  if (!v.is_number_integer()) return invalid_input("'{}' must be an integer", key);
  int64_t i = v.get<int64_t>();
  if (i < lo || i > hi) return invalid_input("'{}' must be between {} and {}, got {}", key, lo, hi, i);
  out = i;
  return ok_status();
}

Result<std::string> message_text(const json& content, size_t index) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {  // [{type: "text", text: ...}, ...]
    std::string out;
    for (const auto& part : content) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
        return invalid_input("messages[{}].content: only text parts ({{\"type\": \"text\", \"text\": ...}}) are supported", index);
      out += part["text"].get<std::string>();
    }
    return out;
  }
  if (content.is_null()) return std::string();
  return invalid_input("messages[{}].content must be a string or an array of text parts", index);
}

}  // namespace

Result<OpenAiRequest> parse_openai_request(const std::string& body, bool chat) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    return invalid_input("malformed JSON: {}", e.what());
  }
  if (!j.is_object()) return invalid_input("the request body must be a JSON object");
  OpenAiRequest r;
  if (j.contains("model") && !j["model"].is_null()) {
    if (!j["model"].is_string()) return invalid_input("'model' must be a string");
    r.model = j["model"].get<std::string>();
  }
  if (chat) {
    if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
      return invalid_input("'messages' must be a non-empty array");
    size_t i = 0;
    for (const auto& m : j["messages"]) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        return invalid_input("messages[{}] must be an object with a string 'role'", i);
      std::string role = m["role"].get<std::string>();
      if (role == "developer") role = "system";
      if (role != "system" && role != "user" && role != "assistant")
        return invalid_input("messages[{}].role '{}' is not one of system, user, assistant", i, role);
      PARE_ASSIGN_OR_RETURN(std::string text, message_text(m.contains("content") ? m["content"] : json(), i));
      PARE_RETURN_IF_ERROR(utf8_checked(text, fmt::format("messages[{}].content", i)));
      r.messages.push_back({role, std::move(text)});
      ++i;
    }
  } else {
    if (!j.contains("prompt")) return invalid_input("'prompt' is required");
    const json& p = j["prompt"];
    if (p.is_string()) {
      r.prompt = p.get<std::string>();
    } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
      r.prompt = p[0].get<std::string>();
    } else {
      return invalid_input("'prompt' must be a string (or an array of one string)");
    }
    PARE_RETURN_IF_ERROR(utf8_checked(r.prompt, "'prompt'"));
  }
  r.opt.max_tokens = chat ? kMaxTokens : 16;  // chat: until the end of the context
  PARE_RETURN_IF_ERROR(get_int(j, "max_tokens", 0, kMaxTokens, r.opt.max_tokens));
  PARE_RETURN_IF_ERROR(get_int(j, "max_completion_tokens", 0, kMaxTokens, r.opt.max_tokens));
  llm::SamplingParams& s = r.opt.sampling;
  PARE_RETURN_IF_ERROR(get_number(j, "temperature", s.temperature));
  PARE_RETURN_IF_ERROR(get_number(j, "top_p", s.top_p));
  PARE_RETURN_IF_ERROR(get_number(j, "min_p", s.min_p));
  PARE_RETURN_IF_ERROR(get_number(j, "repeat_penalty", s.repeat_penalty));
  PARE_RETURN_IF_ERROR(get_number(j, "frequency_penalty", s.frequency_penalty));
  PARE_RETURN_IF_ERROR(get_number(j, "presence_penalty", s.presence_penalty));
  int64_t top_k = s.top_k, seed = -1, n = 1;
  PARE_RETURN_IF_ERROR(get_int(j, "top_k", 0, 1 << 30, top_k));
  s.top_k = static_cast<int32_t>(top_k);
  PARE_RETURN_IF_ERROR(get_int(j, "seed", 0, INT64_MAX, seed));
  if (seed >= 0) s.seed = static_cast<uint64_t>(seed);
  PARE_RETURN_IF_ERROR(get_int(j, "n", 1, 1, n));
  if (Status st = s.validate(); !st.ok()) return st;
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json& st = j["stop"];
    if (st.is_string()) {
      r.opt.stop.push_back(st.get<std::string>());
    } else if (st.is_array() && st.size() <= 16) {
      for (const auto& e : st) {
        if (!e.is_string()) return invalid_input("'stop' must be a string or an array of strings");
        r.opt.stop.push_back(e.get<std::string>());
      }
    } else {
      return invalid_input("'stop' must be a string or an array of at most 16 strings");
    }
    for (const auto& e : r.opt.stop) {
      if (e.empty()) return invalid_input("'stop' strings must not be empty");
      PARE_RETURN_IF_ERROR(utf8_checked(e, "'stop'"));
    }
  }
  if (j.contains("stream") && !j["stream"].is_null()) {
    if (!j["stream"].is_boolean()) return invalid_input("'stream' must be true or false");
    r.stream = j["stream"].get<bool>();
  }
  if (j.contains("ignore_eos") && !j["ignore_eos"].is_null()) {  // llama.cpp's extension
    if (!j["ignore_eos"].is_boolean()) return invalid_input("'ignore_eos' must be true or false");
    r.opt.ignore_eos = j["ignore_eos"].get<bool>();
  }
  if (j.contains("stream_options") && j["stream_options"].is_object()) {
    const json& o = j["stream_options"];
    if (o.contains("include_usage")) {
      if (!o["include_usage"].is_boolean()) return invalid_input("'stream_options.include_usage' must be true or false");
      r.include_usage = o["include_usage"].get<bool>();
    }
  }
  return r;
}

}  // namespace pare::serve
