// pare chat MODEL.gguf — interactive chat on stdin/stdout, streaming, history kept within the context.
#include <iostream>

#include "cli/llm_options.h"
#include "llm/chat.h"

namespace pare::cli {

void add_chat(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("chat", "Chat with a GGUF language model: one line per user turn on stdin, answers streamed; EOF ends");
  auto o = std::make_shared<LlmOpts>();
  auto system = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>();
  cmd->add_option("MODEL", o->model, "GGUF model file")->required();
  cmd->add_option("--system", *system, "system message for the whole conversation");
  cmd->add_option("--format", *format, "prompt format: jinja (the model's tokenizer.chat_template, run by pare's Jinja engine; the default when the model has one), or a built-in chatml, llama3, mistral, gemma, phi3 (default without a template: recognised from it, else chatml)");
  add_llm_options(cmd, *o);
  cmd->callback([o, system, format, &rc] {
    Status st = prepare_llm(*o);
    if (!st.ok()) return void(rc = report(st));
    auto model = llm::Model::load(o->model);
    if (!model.ok()) return void(rc = report(model.status()));
    auto gen = llm::Generator::create(*model, o->n_ctx, o->kv_type);
    if (!gen.ok()) return void(rc = report(gen.status()));
    const llm::Tokenizer& tok = (*gen)->tokenizer();
    auto token_text = [&](int32_t id) { return id >= 0 ? tok.token_text(id) : std::string(); };
    llm::ChatTemplate tmpl = llm::ChatTemplate::create((*model)->file().get_string_or("tokenizer.chat_template", ""),
                                                       token_text(tok.bos()), token_text(tok.eos()));
    if (!tmpl.warning().empty()) std::cerr << "[chat template: " << tmpl.warning() << "]\n";
    if (!format->empty()) {
      Status fs = tmpl.force(*format);
      if (!fs.ok()) return void(rc = report(fs));
    }
    std::cerr << fmt::format("[chat format {}; context {} tokens; Ctrl-D to end]\n", tmpl.name(), (*gen)->context().n_ctx());
    // The model's template may refuse a conversation (e.g. Gemma's "System role not supported");
    // then that turn uses the built-in format, with a note.
    auto render = [&](const std::vector<llm::ChatMessage>& h) -> std::string {
      auto p = tmpl.apply(h);
      if (p.ok()) return *p;
      std::cerr << fmt::format("[{}; using the built-in {} format]\n", p.status().message(), llm::chat_format_name(tmpl.fallback()));
      return llm::format_chat(tmpl.fallback(), h);
    };
    std::vector<llm::ChatMessage> history;
    if (!system->empty()) history.push_back({"system", *system});
    std::string line;
    while (std::cerr << "> " << std::flush, std::getline(std::cin, line)) {
      if (line.empty()) continue;
      history.push_back({"user", line});
      // Drop the oldest turns (keeping the system message) until the prompt leaves room to answer.
      Result<std::vector<int32_t>> ids = std::vector<int32_t>{};
      for (;;) {
        ids = (*gen)->tokenizer().encode(render(history), true, true);
        if (!ids.ok()) break;
        const int64_t room = (*gen)->context().n_ctx() - static_cast<int64_t>(ids->size());
        const size_t first = !history.empty() && history[0].role == "system" ? 1 : 0;
        if (room >= std::min<int64_t>(o->gen.max_tokens, (*gen)->context().n_ctx() / 4) || history.size() <= first + 1) break;
        history.erase(history.begin() + first);
      }
      if (!ids.ok()) {
        report(ids.status());
        history.pop_back();
        continue;
      }
      auto r = (*gen)->generate_ids(*ids, o->gen, [](std::string_view s) { return std::cout << s << std::flush, true; });
      std::cout << "\n";
      if (!r.ok()) {
        report(r.status());
        history.pop_back();
        continue;
      }
      history.push_back({"assistant", r->text});
    }
  });
}

}  // namespace pare::cli
