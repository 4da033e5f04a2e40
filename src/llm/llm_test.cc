// Generator, sampler and model-loading errors on a tiny random model written with gguf::Writer.
// (Numerical parity is in tests/llm/*.py against PyTorch and llama.cpp.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <random>
#include <thread>

#include "llm/generator.h"

namespace pare::llm {
namespace {

constexpr int64_t E = 64, L = 1, H = 4, KVH = 2, FF = 128;

// SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, then a few words.
void add_vocab(gguf::Writer& w, int64_t* n_vocab) {
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) toks.push_back(fmt::format("<0x{:02X}>", b)), types.push_back(6);
  // ▁hello is reachable by merges: he → ▁he, ll → llo → ▁hello (higher score merges first).
  std::vector<float> scores(toks.size(), 0.0f);
  for (auto [s, score] : std::vector<std::pair<const char*, float>>{{"\xE2\x96\x81hello", -1}, {"\xE2\x96\x81he", -2}, {"llo", -3}, {"he", -4},
                                                                     {"ll", -5}, {"o", -6}, {"\xE2\x96\x81", -7}, {"a", -8}, {"b", -9}})
    toks.push_back(s), types.push_back(1), scores.push_back(score);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", toks);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  *n_vocab = static_cast<int64_t>(toks.size());
}

std::string write_model(const std::string& name, bool drop_key = false) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.embedding_length", E);
  if (!drop_key) w.set_u32("llama.block_count", L);
  w.set_u32("llama.feed_forward_length", FF);
  w.set_u32("llama.attention.head_count", H);
  w.set_u32("llama.attention.head_count_kv", KVH);
  w.set_u32("llama.context_length", 32);
  int64_t V = 0;
  add_vocab(w, &V);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  auto mat = [&](const std::string& n, int64_t k, int64_t rows) {
    std::vector<float> v(k * rows);
    for (float& x : v) x = nd(rng);
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    EXPECT_TRUE(w.add_tensor(n, gguf::GgmlType::kF32, rows > 1 ? std::vector<int64_t>{k, rows} : std::vector<int64_t>{k}, b).ok());
  };
  mat("token_embd.weight", E, V);
  mat("output_norm.weight", E, 1);
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    mat(p + "attn_norm.weight", E, 1);
    mat(p + "ffn_norm.weight", E, 1);
    mat(p + "attn_q.weight", E, E);
    mat(p + "attn_k.weight", E, KVH * E / H);
    mat(p + "attn_v.weight", E, KVH * E / H);
    mat(p + "attn_output.weight", E, E);
    mat(p + "ffn_gate.weight", E, FF);
    mat(p + "ffn_up.weight", E, FF);
    mat(p + "ffn_down.weight", FF, E);
  }
  const std::string path = fmt::format("{}/pare_llm_test_{}_{}.gguf", ::testing::TempDir(), name, getpid());
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

std::unique_ptr<Generator> make_generator(int64_t n_ctx = 32) {
  auto m = Model::load(write_model("ok"));
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  auto g = Generator::create(*m, n_ctx);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  return std::move(g).value();
}

GenerateOptions greedy(int64_t n) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.max_tokens = n;
  o.ignore_eos = true;
  return o;
}

// Continuous batching: sequences evaluated together (prompts of different lengths in one pass,
// then one token each per step, a prompt beside decode steps) give
// the logits each gets alone.
TEST(LlmBatch, BatchedStepsMatchSequencesRunAlone) {
  auto m = Model::load(write_model("batch"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const std::vector<std::vector<int32_t>> prompts = {{1, 40, 41, 42, 43}, {1, 100, 7}, {1, 9, 8, 7, 6, 5, 4}};
  const std::vector<std::vector<int32_t>> next = {{50, 51, 52}, {60, 61, 62}, {70, 71, 72}};
  const KvType kv[3] = {KvType::kF16, KvType::kF16, KvType::kF16};  // (head size 16: no q8_0 cache)
  const int64_t V = (*m)->config().n_vocab;
  // Alone: prompt, then each next token; logits after the prompt and after each token.
  std::vector<std::vector<std::vector<float>>> want(3);
  for (int i = 0; i < 3; ++i) {
    auto ctx = Context::create(*m, 32, kv[i]);
    ASSERT_TRUE(ctx.ok());
    auto r = (*ctx)->eval(prompts[i].data(), static_cast<int64_t>(prompts[i].size()));
    ASSERT_TRUE(r.ok());
    want[i].emplace_back(*r, *r + V);
    for (int32_t t : next[i]) {
      r = (*ctx)->eval(&t, 1);
      ASSERT_TRUE(r.ok());
      want[i].emplace_back(*r, *r + V);
    }
  }
  auto expect_near = [&](const float* got, const std::vector<float>& w, const std::string& what) {
    for (int64_t v = 0; v < V; ++v) ASSERT_NEAR(got[v], w[v], 1e-4f * (1 + std::abs(w[v]))) << what << " vocab " << v;
  };
  std::vector<std::unique_ptr<Context>> ctx;
  for (int i = 0; i < 3; ++i) ctx.push_back(std::move(Context::create(*m, 32, kv[i])).value());
  Scratch scratch;
  // Step 1: prompts of sequences 0 and 1 together; sequence 2 waits.
  auto r = eval_batch({{ctx[0].get(), prompts[0].data(), 5}, {ctx[1].get(), prompts[1].data(), 3}}, scratch);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_near((*r)[0], want[0][0], "prompt 0");
  expect_near((*r)[1], want[1][0], "prompt 1");
  // Step 2: sequence 2's prompt beside the first decode step of 0 and 1.
  r = eval_batch({{ctx[0].get(), &next[0][0], 1}, {ctx[2].get(), prompts[2].data(), 7}, {ctx[1].get(), &next[1][0], 1}}, scratch);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_near((*r)[0], want[0][1], "decode 0.0");
  expect_near((*r)[1], want[2][0], "prompt 2");
  expect_near((*r)[2], want[1][1], "decode 1.0");
  // Then all three, one token each, at different positions.
  r = eval_batch({{ctx[2].get(), &next[2][0], 1}, {ctx[0].get(), &next[0][1], 1}, {ctx[1].get(), &next[1][1], 1}}, scratch);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  expect_near((*r)[0], want[2][1], "decode 2.0");
  expect_near((*r)[1], want[0][2], "decode 0.1");
  expect_near((*r)[2], want[1][2], "decode 1.1");
  EXPECT_EQ(ctx[0]->n_past(), 7);
  EXPECT_EQ(ctx[2]->n_past(), 8);

  // Bad batches fail whole, before any cache changes.
  const int32_t bad = static_cast<int32_t>(V);
  auto e = eval_batch({{ctx[0].get(), &next[0][2], 1}, {ctx[0].get(), &next[0][2], 1}}, scratch);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("appears twice"), std::string::npos) << e.status().message();
  e = eval_batch({{ctx[0].get(), &next[0][2], 1}, {ctx[1].get(), &bad, 1}}, scratch);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("outside the vocabulary"), std::string::npos) << e.status().message();
  std::vector<int32_t> many(30, 5);
  e = eval_batch({{ctx[1].get(), many.data(), 30}}, scratch);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("do not fit"), std::string::npos) << e.status().message();
  EXPECT_FALSE(eval_batch({}, scratch).ok());
  EXPECT_EQ(ctx[0]->n_past(), 7);
  EXPECT_EQ(ctx[1]->n_past(), 5);
}

// Generators sharing a StepBatcher, run in threads at once: same greedy text as alone, and the
// three registered sequences went through every step together.
TEST(LlmBatch, ConcurrentGeneratorsShareSteps) {
  auto m = Model::load(write_model("share"));
  ASSERT_TRUE(m.ok());
  const std::vector<std::string> prompts = {"hello", "ab ba", "hello hello"};
  std::vector<std::string> alone;
  for (const auto& p : prompts) {
    auto g = Generator::create(*m, 32);
    ASSERT_TRUE(g.ok());
    auto r = (*g)->generate(p, greedy(20));
    ASSERT_TRUE(r.ok());
    alone.push_back(r->text);
  }
  // Registered before the threads start, so each step waits (up to the window) for all three.
  auto batcher = std::make_shared<StepBatcher>(std::chrono::seconds(10));
  std::vector<std::unique_ptr<Generator>> gens;
  for (size_t i = 0; i < prompts.size(); ++i) {
    gens.push_back(std::move(Generator::create(*m, 32)).value());
    gens.back()->set_batcher(batcher);
  }
  std::vector<std::string> got(prompts.size());
  std::vector<std::thread> threads;
  std::vector<StepBatcher::Member> members;
  for (size_t i = 0; i < prompts.size(); ++i) members.emplace_back(batcher.get());
  for (size_t i = 0; i < prompts.size(); ++i)
    threads.emplace_back([&, i, member = std::move(members[i])] {
      auto r = gens[i]->generate(prompts[i], greedy(20));
      got[i] = r.ok() ? r->text : "error: " + r.status().to_string();
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(got[i], alone[i]) << prompts[i];
  const StepBatcher::Stats st = batcher->stats();
  EXPECT_EQ(st.sequences, 3 * 20);  // the prompt + 19 tokens each (the 20th sampled token is not evaluated)
  EXPECT_EQ(st.steps, 20);
}

TEST(LlmGenerator, MissingMetadataIsNamed) {
  auto m = Model::load(write_model("nokey", true));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(m.status().message().find("llama.block_count"), std::string::npos) << m.status().message();
}

TEST(LlmGenerator, BadRequestsAreTypedErrors) {
  auto g = make_generator();
  auto long_prompt = g->generate(std::string(200, 'a'), greedy(4));
  ASSERT_FALSE(long_prompt.ok());
  EXPECT_EQ(long_prompt.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(long_prompt.status().message().find("longer than the context"), std::string::npos);
  auto bad_utf8 = g->generate("hello \xC3\x28 world", greedy(4));
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.status().message().find("UTF-8"), std::string::npos);
  EXPECT_EQ(g->generate("hello", greedy(-1)).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(g->generate("hello", greedy(int64_t{1} << 40)).status().code(), StatusCode::kInvalidInput);
  GenerateOptions bad = greedy(4);
  bad.sampling.top_p = 0;
  EXPECT_EQ(g->generate("hello", bad).status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(g->generate_ids({5, 100000}, greedy(2)).status().code(), StatusCode::kInvalidInput);
  // still usable after errors
  auto ok = g->generate("hello world", greedy(3));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->completion_tokens, 3);
}

TEST(LlmGenerator, GenerationEndsAtContextEnd) {
  auto g = make_generator(16);
  auto r = g->generate("hello", greedy(1000));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "length");
  EXPECT_LE(r->prompt_tokens + r->completion_tokens, 17);
}

TEST(LlmGenerator, CancelStopsMidStream) {
  auto g = make_generator();
  int calls = 0;
  auto r = g->generate("hello", greedy(20), [&](std::string_view) { return ++calls < 2; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "cancelled");
  EXPECT_EQ(calls, 2);
  EXPECT_LT(r->completion_tokens, 20);
}

TEST(LlmGenerator, StopStringsCutAndAreNotStreamed) {
  auto g = make_generator();
  auto full = g->generate("hello", greedy(12));
  ASSERT_TRUE(full.ok());
  ASSERT_GE(full->text.size(), 4u);
  // Stop at a substring that first appears in the middle of the unconstrained output.
  const std::string stop = full->text.substr(full->text.size() / 2, 2);
  const size_t at = full->text.find(stop);
  GenerateOptions o = greedy(12);
  o.stop = {stop};
  std::string streamed;
  auto r = g->generate("hello", o, [&](std::string_view s) { return streamed.append(s), true; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, full->text.substr(0, at));
  EXPECT_EQ(streamed, r->text);
  EXPECT_EQ(r->finish_reason, "stop");
  // Same prompt again reuses the cached prefix and gives the same greedy text.
  auto again = g->generate("hello", greedy(12));
  ASSERT_TRUE(again.ok());
  EXPECT_GT(again->cached_tokens, 0);
  EXPECT_EQ(again->text, full->text);
}

TEST(LlmTokenizer, ByteFallbackAndRoundTrip) {
  auto g = make_generator();
  const Tokenizer& t = g->tokenizer();
  auto ids = t.encode("hello world ü", true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ((*ids)[0], 1);  // BOS
  EXPECT_EQ(t.token_text((*ids)[1]), "\xE2\x96\x81hello");
  EXPECT_EQ(t.decode(*ids), " hello world ü");
  auto sp = t.encode("a</s>b", false, true);
  ASSERT_TRUE(sp.ok());
  EXPECT_NE(std::find(sp->begin(), sp->end(), 2), sp->end());
  auto lit = t.encode("a</s>b", false, false);
  EXPECT_EQ(std::find(lit->begin(), lit->end(), 2), lit->end());
}

TEST(LlmSampler, GreedyTopKPenaltiesAndSeed) {
  std::vector<float> logits = {1.0f, 3.0f, 2.9f, -1.0f};
  SamplingParams p;
  p.temperature = 0;
  EXPECT_EQ(Sampler(p).sample(logits.data(), 4, {}), 1);
  p.repeat_penalty = 2.0f;  // token 1 seen: 3.0 → 1.5, so 2 wins
  EXPECT_EQ(Sampler(p).sample(logits.data(), 4, {1}), 2);
  p.repeat_penalty = 1.0f;
  p.presence_penalty = 0.5f;
  EXPECT_EQ(Sampler(p).sample(logits.data(), 4, {1}), 2);
  p = SamplingParams();
  p.top_k = 1;
  p.temperature = 5;
  for (int s = 0; s < 20; ++s) {
    p.seed = s;
    EXPECT_EQ(Sampler(p).sample(logits.data(), 4, {}), 1);
  }
  p = SamplingParams();
  p.min_p = 0.5f;  // keeps 1 and 2 only (e^-0.1 ≥ 0.5)
  p.top_k = 0;
  p.temperature = 1;
  for (int s = 0; s < 50; ++s) {
    p.seed = s;
    const int32_t t = Sampler(p).sample(logits.data(), 4, {});
    EXPECT_TRUE(t == 1 || t == 2);
  }
  p.seed = 42;
  Sampler a(p), b(p);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.sample(logits.data(), 4, {}), b.sample(logits.data(), 4, {}));
  p.temperature = -1;
  EXPECT_FALSE(p.validate().ok());
}

}  // namespace
}  // namespace pare::llm
