"""pare vs llama.cpp (node-llama-cpp 3.21.1) on random-weight TinyLlama-1.1B-shaped GGUFs.

For each type (q4_0, q8_0) and thread count (1, 2): prompt processing (128 tokens) and generation
(64 tokens) tokens/s, each tool's median of 3 runs after a warm-up, run back to back on the same
file; plus the read bandwidth of the machine (membw.cc) and what it implies as a generation bound
(bandwidth / weight bytes per token). Writes bench/out/llm_compare.json and prints a table.
Usage: python3 bench/llm/compare.py [--types q4_0,q8_0] [--threads 1,2]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "bench", "out")
NM = os.path.join(HERE, "node_modules")


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {r.stderr[-2000:]}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--types", default="q4_0,q8_0")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    membw = os.path.join(OUT, "membw")
    if not os.path.exists(membw):
        sh(["g++", "-O3", "-march=native", "-fopenmp", os.path.join(HERE, "membw.cc"), "-o", membw])
    rows = []
    for t in a.types.split(","):
        model = os.path.join(OUT, f"tinyllama_{t}.gguf")
        if not os.path.exists(model):
            sh(["/usr/bin/python3", os.path.join(HERE, "make_model.py"), t, model])
        for th in [int(x) for x in a.threads.split(",")]:
            bw = json.loads(sh([membw, str(th)]))["read_gb_per_s"]
            p = json.loads(sh([a.pare, "bench", model, "-p", "128", "-n", "64", "-t", str(th), "--json"]))
            l = json.loads(sh(["node", os.path.join(ROOT, "tests", "llm", "llama_cpp_peer.mjs"), NM, "bench", model, "128", "64", str(th)]))
            bound = bw * 1e9 / p["weight_bytes"]
            row = dict(type=t, threads=th, read_gb_per_s=bw, weight_mb=p["weight_bytes"] / 1e6,
                       pare_pp=p["prompt_tokens_per_s"], llama_pp=l["prompt_tokens_per_s"],
                       pare_tg=p["gen_tokens_per_s"], llama_tg=l["gen_tokens_per_s"], tg_bound=bound,
                       pare_rss_mb=p["peak_rss_bytes"] / 1e6, kv_mb=p["kv_cache_bytes"] / 1e6, file_mb=os.path.getsize(model) / 1e6)
            rows.append(row)
            print(json.dumps(row), flush=True)
    json.dump(rows, open(os.path.join(OUT, "llm_compare.json"), "w"), indent=1)
    print("\n| type | threads | pp128 pare | pp128 llama.cpp | ratio | tg64 pare | tg64 llama.cpp | ratio | tg bound (read BW) | pare / bound | RSS / (file+KV) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['type']} | {r['threads']} | {r['pare_pp']:.1f} | {r['llama_pp']:.1f} | {r['pare_pp'] / r['llama_pp']:.2f} | "
              f"{r['pare_tg']:.2f} | {r['llama_tg']:.2f} | {r['pare_tg'] / r['llama_tg']:.2f} | {r['tg_bound']:.2f} ({r['read_gb_per_s']:.1f} GB/s) | "
              f"{r['pare_tg'] / r['tg_bound']:.2f} | {r['pare_rss_mb'] / (r['file_mb'] + r['kv_mb']):.2f} |")


main()
