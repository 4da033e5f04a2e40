// ONNX Runtime's per-node profile (session option enableProfiling) for bench/layers.py.
//   node bench/ort_profile.js MODEL.onnx META.json THREADS ITERS OUT_PREFIX
// Inputs as bench/ort_bench.js makes them; prints the profile file's path.
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, metaPath, threads, iters, prefix] = process.argv.slice(2);
  const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', executionProviders: ['cpu'], enableProfiling: true, profileFilePrefix: prefix,
  });
  const feeds = {};
  for (const [name, {shape, dtype}] of Object.entries(meta.inputs)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (dtype === 'int64') {
      feeds[name] = new ort.Tensor('int64', new BigInt64Array(n), shape);
    } else {
      const data = new Float32Array(n);
      for (let i = 0; i < n; ++i) data[i] = Math.random();
      feeds[name] = new ort.Tensor('float32', data, shape);
    }
  }
  for (let i = 0; i < Number(iters); ++i) await session.run(feeds);
  console.log(session.endProfiling());
}
main().catch((e) => { console.error(e); process.exit(1); });
