// ONNX Runtime (npm onnxruntime-node, CPU execution provider) side of bench/compare.py.
//   node bench/ort_bench.js MODEL.onnx META.json THREADS WARMUP ITERS [PROFILE_PREFIX]
// Inputs as `pare bench` generates them: floats uniform in [0,1), integers 0.
// Prints one JSON object: load_ms, latencies_ms (each timed run), cpu_ms_per_run (process CPU
// time of the timed runs / runs), peak_rss_bytes; with PROFILE_PREFIX, ONNX Runtime's profiler
// is on (per-node times, for bench/layers.py) and profile_file names the file it wrote.
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, metaPath, threads, warmup, iters, profilePrefix] = process.argv.slice(2);
  const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', executionProviders: ['cpu'],
    ...(profilePrefix ? {enableProfiling: true, profileFilePrefix: profilePrefix} : {}),
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
  await session.run(feeds);  // first run counts as load, as in pare bench
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  for (let i = 0; i < Number(warmup); ++i) await session.run(feeds);
  const lat = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < Number(iters); ++i) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerRun = (cpu.user + cpu.system) / 1e3 / Math.max(1, Number(iters));
  // VmHWM: this process's own peak; resourceUsage().maxRSS (ru_maxrss) carries the parent's size
  // over fork and exec (a Python parent with PyTorch loaded would be counted).
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const rss = (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) * 1024;
  const profileFile = profilePrefix ? session.endProfiling() : undefined;
  console.log(JSON.stringify({load_ms: loadMs, latencies_ms: lat, cpu_ms_per_run: cpuMsPerRun, peak_rss_bytes: rss,
                              profile_file: profileFile}));
}
main().catch((e) => { console.error(e); process.exit(1); });
