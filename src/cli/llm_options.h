// Options shared by `pare generate` and `pare chat` (sampling, context, threads).
#pragma once

#include <omp.h>

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
  std::string kv_type_name = "f16";
  llm::KvType kv_type = llm::KvType::kF16;
  bool json = false, no_bos = false, raw = false;
};

inline void add_llm_options(CLI::App* cmd, LlmOpts& o) {
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
  cmd->add_option("--kv-type", o.kv_type_name, "KV cache type: f16 (default) or q8_0 (about half the memory, slightly less exact)")->default_val("f16");
  cmd->add_option("-c,--ctx-size", o.n_ctx, "context size in tokens (0: the model's, at most 4096)")->default_val(0);
}

inline Status prepare_llm(LlmOpts& o) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  if (o.seed >= 0) o.gen.sampling.seed = static_cast<uint64_t>(o.seed);
  o.gen.add_bos = !o.no_bos;
  PARE_ASSIGN_OR_RETURN(o.kv_type, llm::parse_kv_type(o.kv_type_name));
  return o.gen.sampling.validate();
}

}  // namespace pare::cli
