// pare generate MODEL.gguf -p PROMPT [-n N] [sampling options] — streams generated text.
#include <omp.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli.h"
#include "cli/llm_options.h"

namespace pare::cli {

void add_generate(CLI::App& app, int& rc) {
  auto* cmd = app.add_subcommand("generate", "Generate text with a GGUF language model (llama, mistral, qwen2), streamed to stdout");
  auto o = std::make_shared<LlmOpts>();
  cmd->add_option("MODEL", o->model, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", o->prompt, "prompt text (special tokens such as <|im_start|> are recognised)");
  cmd->add_option("-f,--file", o->prompt_file, "read the prompt from this file");
  add_llm_options(cmd, *o);
  cmd->add_flag("--no-bos", o->no_bos, "do not add the BOS token even if the vocabulary asks for it");
  cmd->add_flag("--json", o->json, "print one JSON object at the end (text, token counts, finish reason, timings) instead of streaming");
  cmd->callback([o, &rc] {
    Status st = prepare_llm(*o);
    if (!st.ok()) return void(rc = report(st));
    if (!o->prompt_file.empty()) {
      std::ifstream in(o->prompt_file, std::ios::binary);
      if (!in) return void(rc = report(io_error("cannot read prompt file '{}'", o->prompt_file)));
      std::stringstream ss;
      ss << in.rdbuf();
      o->prompt = ss.str();
    }
    auto model = llm::Model::load(o->model);
    if (!model.ok()) return void(rc = report(model.status()));
    auto gen = llm::Generator::create(*model, o->n_ctx, o->kv_type);
    if (!gen.ok()) return void(rc = report(gen.status()));
    auto on_text = [&](std::string_view s) {
      if (!o->json) std::cout << s << std::flush;
      return true;
    };
    auto r = (*gen)->generate(o->prompt, o->gen, on_text);
    if (!r.ok()) return void(rc = report(r.status()));
    const double pp = r->prompt_ms > 0 ? (r->prompt_tokens - r->cached_tokens) / (r->prompt_ms / 1000) : 0;
    const double tg = r->generate_ms > 0 ? r->completion_tokens / (r->generate_ms / 1000) : 0;
    if (o->json) {
      nlohmann::json j{{"text", r->text}, {"tokens", r->tokens}, {"prompt_tokens", r->prompt_tokens},
                       {"completion_tokens", r->completion_tokens}, {"finish_reason", r->finish_reason},
                       {"prompt_tokens_per_s", pp}, {"gen_tokens_per_s", tg}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::cout << "\n";
      std::cerr << fmt::format("[{} prompt tokens, {:.1f} tok/s; {} generated, {:.1f} tok/s; finish: {}; kernels {}]\n", r->prompt_tokens, pp,
                               r->completion_tokens, tg, r->finish_reason, llm::active_kernels().name);
    }
  });
}

}  // namespace pare::cli
