// Dumps the vocabularies and merges of llama-tokenizer-js (LLaMA 1/2 SentencePiece) and
// llama3-tokenizer-js (Llama 3 byte-level BPE), and their encodings of a corpus, for
// tests/llm/test_tokenizer.py.  Usage: node js_tokenizers.mjs NODE_MODULES CORPUS.json OUT.json
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
fs.writeFileSync(outPath, JSON.stringify(out));
