#include "serve/openai.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

// Must match how Debian built libcpp-httplib (see server.cc).
#define CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#include <httplib.h>

#include "serve/client_watch.h"
#include "serve/metrics.h"
#include "serve/openai_request.h"

namespace pare::serve {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

void send_openai_error(httplib::Response& res, int code, const std::string& msg) {
  const char* type = code == 401 ? "authentication_error" : code == 404 ? "not_found_error"
                     : code == 503 ? "server_overloaded" : "invalid_request_error";
  res.status = code;
  res.set_content(json{{"error", {{"message", msg}, {"type", type}, {"code", nullptr}}}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

std::atomic<uint64_t> g_next_id{1};

}  // namespace

LlmService::Slot::~Slot() {
  if (!s_) return;
  {
    std::lock_guard lk(s_->mu_);
    s_->busy_[i_] = false;
  }
  s_->cv_.notify_one();
}

Result<std::unique_ptr<LlmService>> LlmService::load(const std::string& path, const std::string& name,
                                                     const LlmServeOptions& opts) {
  if (opts.slots < 1 || opts.slots > 64) return invalid_input("--parallel must be in [1, 64], got {}", opts.slots);
  std::unique_ptr<LlmService> s(new LlmService());
  s->name_ = name;
  s->opts_ = opts;
  PARE_ASSIGN_OR_RETURN(s->model_, llm::Model::load(path));
  s->chat_format_ = llm::detect_chat_format(s->model_->file().get_string_or("tokenizer.chat_template", ""));
  for (int i = 0; i < opts.slots; ++i) {
    PARE_ASSIGN_OR_RETURN(auto g, llm::Generator::create(s->model_, opts.n_ctx));
    s->gens_.push_back(std::move(g));
  }
  if (opts.continuous_batching && opts.slots > 1) {
    s->batcher_ = std::make_shared<llm::StepBatcher>();
    for (auto& g : s->gens_) g->set_batcher(s->batcher_);
  }
  s->busy_.assign(s->gens_.size(), false);
  s->created_ = static_cast<int64_t>(std::time(nullptr));
  return s;
}

Result<LlmService::Slot> LlmService::acquire(double* wait_ms) {
  auto t0 = Clock::now();
  std::unique_lock lk(mu_);
  auto free_slot = [&]() -> int {
    for (size_t i = 0; i < busy_.size(); ++i)
      if (!busy_[i]) return static_cast<int>(i);
    return -1;
  };
  int i = free_slot();
  if (i < 0) {
    if (waiting_ >= opts_.max_queue) return resource_exhausted("model '{}': queue full ({} waiting)", name_, waiting_);
    ++waiting_;
    bool got = cv_.wait_for(lk, std::chrono::milliseconds(opts_.timeout_ms), [&] { return (i = free_slot()) >= 0; });
    --waiting_;
    if (!got) return resource_exhausted("model '{}': timed out after {} ms waiting for a free sequence slot", name_, opts_.timeout_ms);
  }
  busy_[i] = true;
  *wait_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return Slot(this, static_cast<size_t>(i));
}

void LlmService::install(httplib::Server& server, Metrics& metrics) {
  server.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json meta = {{"n_ctx", gens_[0]->context().n_ctx()}, {"slots", gens_.size()},
                 {"chat_format", llm::chat_format_name(chat_format_)}, {"continuous_batching", batcher_ != nullptr}};
    if (batcher_) {
      const llm::StepBatcher::Stats st = batcher_->stats();
      meta["batch_steps"] = st.steps;              // forward passes run
      meta["batch_step_sequences"] = st.sequences;  // Σ sequences per pass (> steps: shared)
    }
    json m = {{"id", name_}, {"object", "model"}, {"created", created_}, {"owned_by", "pare"}, {"meta", meta}};
    res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  });
  auto handle = [this, &metrics](bool chat) {
    return [this, &metrics, chat](const httplib::Request& req, httplib::Response& res) {
      auto parsed = parse_openai_request(req.body, chat);
      if (parsed.ok() && !parsed->model.empty() && parsed->model != name_) {
        send_openai_error(res, 404, fmt::format("model '{}' not found (this server has '{}')", parsed->model, name_));
        metrics.record(name_, 404, 0, 0, 1);
        return;
      }
      if (!parsed.ok()) {
        send_openai_error(res, 400, parsed.status().message());
        metrics.record(name_, 400, 0, 0, 1);
        return;
      }
      auto r = std::make_shared<OpenAiRequest>(std::move(*parsed));
      double wait_ms = 0;
      auto slot = acquire(&wait_ms);
      if (!slot.ok()) {
        send_openai_error(res, 503, slot.status().message());
        metrics.record(name_, 503, 0, 0, 1);
        return;
      }
      auto held = std::make_shared<Slot>(std::move(*slot));
      llm::Generator& gen = held->gen();
      std::string prompt = r->prompt;
      if (chat) prompt = llm::format_chat(chat_format_, r->messages, true);
      auto ids = gen.tokenizer().encode(prompt, r->opt.add_bos, chat);  // chat: control tokens of the template
      if (!ids.ok()) {
        send_openai_error(res, 400, ids.status().message());
        metrics.record(name_, 400, wait_ms, 0, 1);
        return;
      }
      const int64_t n_ctx = gen.context().n_ctx();
      if (static_cast<int64_t>(ids->size()) >= n_ctx) {
        send_openai_error(res, 400, fmt::format("the prompt is {} tokens; the context holds {} (prompt plus completion)",
                                                ids->size(), n_ctx));
        metrics.record(name_, 400, wait_ms, 0, 1);
        return;
      }
      if (ids->empty()) {
        send_openai_error(res, 400, "the prompt is empty (no tokens to start from)");
        metrics.record(name_, 400, wait_ms, 0, 1);
        return;
      }
      const std::string id = fmt::format("{}-{}", chat ? "chatcmpl" : "cmpl", g_next_id++);
      const int64_t created = static_cast<int64_t>(std::time(nullptr));
      const int threads = opts_.threads;
      auto usage = [](const llm::GenerateResult& g) {
        return json{{"prompt_tokens", g.prompt_tokens}, {"completion_tokens", g.completion_tokens},
                    {"total_tokens", g.prompt_tokens + g.completion_tokens}};
      };
      auto finish = [](const std::string& f) { return f == "length" ? "length" : "stop"; };
      if (!r->stream) {
        if (threads > 0) omp_set_num_threads(threads);
        ClientWatch watch(req);
        int64_t pieces = 0;
        llm::StepBatcher::Member member(batcher_.get());  // steps wait for this sequence
        auto g = gen.generate_ids(*ids, r->opt, [&](std::string_view) { return ++pieces % 4 != 0 || !watch.gone(); });
        if (!g.ok()) {
          send_openai_error(res, 400, g.status().message());
          metrics.record(name_, 400, wait_ms, 0, 1);
          return;
        }
        const int code = g->finish_reason == "cancelled" ? 499 : 200;
        json choice = {{"index", 0}, {"finish_reason", finish(g->finish_reason)}, {"logprobs", nullptr}};
        if (chat) choice["message"] = {{"role", "assistant"}, {"content", g->text}};
        else choice["text"] = g->text;
        json body = {{"id", id}, {"object", chat ? "chat.completion" : "text_completion"}, {"created", created},
                     {"model", name_}, {"choices", json::array({choice})}, {"usage", usage(*g)}};
        res.status = code;
        res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
        metrics.record(name_, code, wait_ms, g->prompt_ms + g->generate_ms, 1);
        metrics.record_tokens(name_, g->prompt_tokens, g->completion_tokens);
        return;
      }
      auto prompt_ids = std::make_shared<std::vector<int32_t>>(std::move(*ids));
      res.set_chunked_content_provider(
          "text/event-stream",
          [this, &metrics, r, held, prompt_ids, id, created, chat, threads, wait_ms, usage, finish](size_t, httplib::DataSink& sink) {
            auto event = [&](const json& j) {
              std::string s = "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
              return sink.write(s.data(), s.size());
            };
            auto chunk = [&](const std::string& text, const json& finish_reason) {
              json c = {{"index", 0}, {"finish_reason", finish_reason}};
              if (chat) c["delta"] = text.empty() && finish_reason.is_null() ? json{{"role", "assistant"}, {"content", ""}}
                                     : finish_reason.is_null() ? json{{"content", text}} : json::object();
              else c["text"] = text;
              return json{{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                          {"model", name_}, {"choices", json::array({c})}};
            };
            if (threads > 0) omp_set_num_threads(threads);
            bool alive = !chat || event(chunk("", nullptr));
            Result<llm::GenerateResult> g = internal_error("not run");
            if (alive) {
              llm::StepBatcher::Member member(batcher_.get());  // steps wait for this sequence
              g = held->gen().generate_ids(*prompt_ids, r->opt, [&](std::string_view piece) {
                return alive = event(chunk(std::string(piece), nullptr));
              });
            }
            int code = 200;
            if (!alive) {
              code = 499;  // client gone mid-stream: generation stopped
            } else if (!g.ok()) {
              event(json{{"error", {{"message", g.status().message()}, {"type", "invalid_request_error"}}}});
              code = 400;
            } else {
              json last = chunk("", finish(g->finish_reason));
              if (!chat) last["choices"][0]["text"] = "";
              event(last);
              if (r->include_usage)
                event(json{{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                           {"model", name_}, {"choices", json::array()}, {"usage", usage(*g)}});
              const std::string done = "data: [DONE]\n\n";
              sink.write(done.data(), done.size());
            }
            sink.done();
            metrics.record(name_, code, wait_ms, g.ok() ? g->prompt_ms + g->generate_ms : 0, 1);
            if (g.ok()) metrics.record_tokens(name_, g->prompt_tokens, g->completion_tokens);
            return true;
          });
    };
  };
  server.Post("/v1/completions", handle(false));
  server.Post("/v1/chat/completions", handle(true));
}

}  // namespace pare::serve
