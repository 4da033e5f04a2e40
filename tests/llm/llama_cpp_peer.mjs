// llama.cpp (through node-llama-cpp 3.21.1, CPU build) as the peer for pare's LLM tests and bench.
//   node llama_cpp_peer.mjs NODE_MODULES tokenize MODEL CORPUS.json OUT.json [--special]
//   node llama_cpp_peer.mjs NODE_MODULES greedy MODEL PROMPTS.json N OUT.json   per prompt: BOS + ids, greedy continuation
//   node llama_cpp_peer.mjs NODE_MODULES bench MODEL P N THREADS [REPS]       prints one JSON line (REPS timed
//       runs, default 3, after one untimed warm-up run; medians)
import fs from "node:fs";
import path from "node:path";

const [nm, cmd, modelPath, ...rest] = process.argv.slice(2);
const { getLlama, LlamaLogLevel } = await import(path.join(nm, "node-llama-cpp/dist/index.js"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });

if (cmd === "tokenize") {
  const [corpusPath, outPath, flag] = rest;
  const model = await llama.loadModel({ modelPath, vocabOnly: true });
  const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
  const special = flag === "--special";
  fs.writeFileSync(outPath, JSON.stringify({ ids: corpus.map((t) => Array.from(model.tokenize(t, special))) }));
} else if (cmd === "greedy") {
  const [promptsPath, n, outPath] = rest;
  const model = await llama.loadModel({ modelPath });
  const ctx = await model.createContext({ contextSize: 256, threads: 1, batchSize: 256 });
  const results = [];
  for (const prompt of JSON.parse(fs.readFileSync(promptsPath, "utf8"))) {
    const seq = ctx.getSequence();
    const ids = [model.tokens.bos, ...Array.from(model.tokenize(prompt, true))];
    const out = [];
    for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
      out.push(tok);
      if (out.length >= Number(n)) break;
    }
    results.push({ prompt: ids, tokens: out });
    seq.dispose();
  }
  fs.writeFileSync(outPath, JSON.stringify(results));
} else if (cmd === "bench") {
  const [p, n, threads, repsArg] = rest.map(Number);
  const reps = repsArg > 0 ? repsArg : 3;
  const model = await llama.loadModel({ modelPath });
  const ctx = await model.createContext({ contextSize: p + n + 16, threads: { ideal: threads, min: threads }, batchSize: p });
  const prompt = Array.from({ length: p }, (_, i) => 100 + ((i * 7919) % 20000));
  const runs = [];
  for (let r = 0; r <= reps; ++r) {  // run 0 warms up
    const seq = ctx.getSequence();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    const t1 = performance.now();
    let k = 0;
    for await (const tok of seq.evaluate([prompt[p - 1]], { temperature: 0 })) {
      if (++k >= n) break;
    }
    const t2 = performance.now();
    if (r > 0) runs.push({ pp: p / ((t1 - t0) / 1000), tg: n / ((t2 - t1) / 1000) });
    seq.dispose();
  }
  const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  console.log(JSON.stringify({ prompt_tokens_per_s: med("pp"), gen_tokens_per_s: med("tg"), runs }));
} else {
  console.error("unknown command " + cmd);
  process.exit(2);
}
process.exit(0);
