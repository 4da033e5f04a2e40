// pare generate MODEL.gguf -p PROMPT [-n N] [sampling options] — streams generated text.
#include <omp.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli.h"
#include "llm/generator.h"

namespace pare::cli {

// Sampling and context options shared by generate and chat.
struct LlmOpts {
  std::string model, prompt, prompt_file;
  llm::GenerateOptions gen;
  int threads = 0;
  int64_t n_ctx = 0;
  int64_t seed = -1;
  bool json = false, no_bos = false, raw = false;
};

void add_llm_options(CLI::App* cmd, LlmOpts& o) {
  llm::SamplingParams& s = o.gen.sampling;
  cmd->add_option("-n,--max-tokens", o.gen.max_tokens, "most tokens to generate (default 128; generation also stops at EOS or a stop string)")
      ->default_val(128);
  cmd->add_option("--temp,--temperature", s.temperature, "sampling temperature; 0 = greedy (default 0.8)")->default_val(0.8f);
  cmd->add_option("--top-k", s.top_k, "keep the K most likely tokens; 0 = off (default 40)")->default_val(40);
  cmd->add_option("--top-p", s.top_p, "keep the smallest set with probability ≥ P; 1 = off (default 0.95)")->default_val(0.95f);
  cmd->add_option("--min-p", s.min_p, "drop tokens with probability < P × the top one; 0 = off (default 0.05)")->default_val(0.05f);
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "divide positive (multiply negative) logits of recent tokens; 1 = off")->default_val(1.0f);
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "how many recent tokens the penalties look at (default 64)")->default_val(64);
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "subtract count × F from recent tokens' logits (default 0)")->default_val(0.0f);
  cmd->add_option("--presence-penalty", s.presence_penalty, "subtract P from the logits of tokens seen recently (default 0)")->default_val(0.0f);
  cmd->add_option("-s,--seed", o.seed, "random seed for sampling; -1 = random (default)")->default_val(-1);
  cmd->add_option("--stop", o.gen.stop, "stop before this string (repeatable)");
  cmd->add_option("-t,--threads", o.threads, "threads (0: all cores)")->default_val(0);
  cmd->add_option("-c,--ctx-size", o.n_ctx, "context size in tokens (0: the model's, at most 4096)")->default_val(0);
}

Status prepare_llm(LlmOpts& o) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  if (o.seed >= 0) o.gen.sampling.seed = static_cast<uint64_t>(o.seed);
  o.gen.add_bos = !o.no_bos;
  return o.gen.sampling.validate();
}

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
    auto gen = llm::Generator::create(*model, o->n_ctx);
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
