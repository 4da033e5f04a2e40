"""What dynamic batching can gain at most: per-image cost of one batch-8 run vs batch-1 runs, for
pare and ONNX Runtime side by side (alternating rounds), as process CPU time per image (steady on a
busy machine; at 1 thread it is the whole cost) and wall latency per image.
Usage: /usr/bin/python3 bench/serve/batch_cost.py [--model PATH.onnx] [--threads 1] [--rounds 3] [--batch 8]
(default model: ResNet-18 with a dynamic batch dim, exported as bench/serve/batching.py does)."""
import argparse, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
import batching  # noqa: E402  (export_resnet18)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    model = a.model or os.path.join(work, "resnet18_dynamic.onnx")
    if not a.model:
        batching.export_resnet18(model)
    res = {}
    for r in range(a.rounds):
        for b in (1, a.batch):
            n = max(4, 24 // b)
            meta = os.path.join(work, f"meta{b}.json")
            json.dump({"inputs": {"input": {"shape": [b, 3, 224, 224], "dtype": "float32"}}}, open(meta, "w"))
            p = json.loads(subprocess.run([a.pare, "bench", model, "-t", str(a.threads), "-b", str(b), "-n", str(n), "-w", "1", "--json"],
                                          capture_output=True, text=True, check=True).stdout)
            o = json.loads(subprocess.run(["node", os.path.join(ROOT, "bench", "ort_bench.js"), model, meta, str(a.threads), "1", str(n)],
                                          capture_output=True, text=True, check=True, cwd=os.path.join(ROOT, "bench")).stdout)
            res.setdefault(("pare", b), []).append((p["cpu_ms_per_run"] / b, p["latency_ms"]["p50"] / b))
            res.setdefault(("ort", b), []).append((o["cpu_ms_per_run"] / b, statistics.median(o["latencies_ms"]) / b))
            print(f"round {r} batch {b}: pare cpu {p['cpu_ms_per_run'] / b:.2f} ms/image, ORT cpu {o['cpu_ms_per_run'] / b:.2f} ms/image",
                  flush=True)
    print(f"\nper image, medians of {a.rounds} rounds, {a.threads} thread(s)")
    print("| engine | batch 1 cpu ms | batch %d cpu ms | batch-%d gain (cpu) | batch 1 wall ms | batch %d wall ms | gain (wall) |" % (a.batch, a.batch, a.batch))
    print("|---|---|---|---|---|---|---|")
    for eng in ("pare", "ort"):
        c1 = statistics.median(x[0] for x in res[(eng, 1)])
        cb = statistics.median(x[0] for x in res[(eng, a.batch)])
        w1 = statistics.median(x[1] for x in res[(eng, 1)])
        wb = statistics.median(x[1] for x in res[(eng, a.batch)])
        print(f"| {eng} | {c1:.2f} | {cb:.2f} | {c1 / cb:.2f}x | {w1:.2f} | {wb:.2f} | {w1 / wb:.2f}x |")


if __name__ == "__main__":
    main()
