// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node) on float32 inputs and writes
// float32 outputs, for tests comparing pare with ORT.
// Usage: node ort_run.js MODULE_DIR MODEL IN.json OUT_PREFIX
//   IN.json: {"name": {"shape": [...], "file": "raw float32 path", "dtype": "float32"|"int64"}, ...}
//   writes OUT_PREFIX<i>.bin (raw float32) and OUT_PREFIX.json (names and shapes).
const fs = require('fs');
const path = require('path');
const [moduleDir, model, inJson, outPrefix] = process.argv.slice(2);
const ort = require(path.join(moduleDir, 'node_modules', 'onnxruntime-node'));
(async () => {
  const spec = JSON.parse(fs.readFileSync(inJson, 'utf8'));
  const session = await ort.InferenceSession.create(model, {graphOptimizationLevel: 'all', intraOpNumThreads: 1});
  const feeds = {};
  for (const [name, s] of Object.entries(spec)) {
    const buf = fs.readFileSync(s.file);
    if (s.dtype === 'int64') {
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      feeds[name] = new ort.Tensor('int64', new BigInt64Array(ab), s.shape);
      continue;
    }
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    feeds[name] = new ort.Tensor('float32', Float32Array.from(data), s.shape);
  }
  const out = await session.run(feeds);
  const meta = [];
  session.outputNames.forEach((n, i) => {
    const t = out[n];
    fs.writeFileSync(`${outPrefix}${i}.bin`, Buffer.from(Float32Array.from(t.data).buffer));
    meta.push({name: n, shape: t.dims});
  });
  fs.writeFileSync(`${outPrefix}.json`, JSON.stringify(meta));
})().catch((e) => { console.error(String(e)); process.exit(1); });
