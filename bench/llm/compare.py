"""pare vs llama.cpp (node-llama-cpp 3.21.1) on random-weight TinyLlama-1.1B-shaped GGUFs.

For each type and thread count: prompt processing (128 tokens) and generation (64 tokens)
tokens/s. The two engines alternate: each round runs `pare bench` (one timed run after a warm-up)
and then llama.cpp (one timed run after a warm-up) on the same file; --rounds rounds, medians of
each engine and the median of the per-round ratios (robust to load changes between rounds). The
machine's read bandwidth (membw.cc, measured in each round) gives the generation bound
(bandwidth / weight bytes per token). Writes bench/out/llm_compare.json and prints a table.
Models: make_model.py (q4_0, q8_0); q4_k and q6_k are made from the q8_0 file by `pare quantize`.
Usage: python3 bench/llm/compare.py [--types q4_0,q8_0] [--threads 1,2] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "bench", "out")
sys.path.insert(0, os.path.join(ROOT, "tests", "llm"))
import npm_peers  # noqa: E402


def sh(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {r.stderr[-2000:]}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--types", default="q4_0,q8_0")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pare", default=os.path.join(ROOT, "build", "pare"))
    a = ap.parse_args()
    nm = npm_peers.ensure()
    os.makedirs(OUT, exist_ok=True)
    # OpenMP's default wait policy (spin, then sleep), as a user runs pare: with passive waiting
    # every parallel region (~180 per generated token) pays a futex wake-up, which cost Q4_0
    # generation at 2 threads a third of its speed (44 vs 66-72 tokens/s); llama.cpp's own
    # thread pool spins regardless of this variable.
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    membw = os.path.join(OUT, "membw")
    if not os.path.exists(membw):
        sh(["g++", "-O3", "-march=native", "-fopenmp", os.path.join(HERE, "membw.cc"), "-o", membw])
    rows = []
    for t in a.types.split(","):
        model = os.path.join(OUT, f"tinyllama_{t}.gguf")
        if not os.path.exists(model):
            if t in ("q4_k", "q6_k", "q5_k"):
                src = os.path.join(OUT, "tinyllama_q8_0.gguf")
                if not os.path.exists(src):
                    sh(["/usr/bin/python3", os.path.join(HERE, "make_model.py"), "q8_0", src])
                sh([a.pare, "quantize", src, "--type", t, "-o", model])
            else:
                sh(["/usr/bin/python3", os.path.join(HERE, "make_model.py"), t, model])
        for th in [int(x) for x in a.threads.split(",")]:
            rounds = []
            for r in range(a.rounds):
                bw = json.loads(sh([membw, str(th)], env))["read_gb_per_s"]
                p = json.loads(sh([a.pare, "bench", model, "-p", "128", "-n", "64", "-w", "1", "-t", str(th), "--json"], env))
                l = json.loads(sh(["node", os.path.join(ROOT, "tests", "llm", "llama_cpp_peer.mjs"), nm, "bench", model, "128", "64", str(th), "1"], env))
                rounds.append(dict(bw=bw, pare_pp=p["prompt_tokens_per_s"], llama_pp=l["prompt_tokens_per_s"], pare_tg=p["gen_tokens_per_s"],
                                   llama_tg=l["gen_tokens_per_s"], rss=p["peak_rss_bytes"], kv=p["kv_cache_bytes"], wbytes=p["weight_bytes"]))
                print(json.dumps(dict(type=t, threads=th, round=r, **rounds[-1])), flush=True)
            med = lambda k: statistics.median(x[k] for x in rounds)  # noqa: E731
            bw = med("bw")
            row = dict(type=t, threads=th, rounds=rounds, read_gb_per_s=bw, weight_mb=rounds[0]["wbytes"] / 1e6,
                       pare_pp=med("pare_pp"), llama_pp=med("llama_pp"), pare_tg=med("pare_tg"), llama_tg=med("llama_tg"),
                       pp_ratio=statistics.median(x["pare_pp"] / x["llama_pp"] for x in rounds),
                       tg_ratio=statistics.median(x["pare_tg"] / x["llama_tg"] for x in rounds),
                       tg_bound=bw * 1e9 / rounds[0]["wbytes"],
                       bound_ratio=statistics.median(x["pare_tg"] * x["wbytes"] / (x["bw"] * 1e9) for x in rounds),
                       pare_rss_mb=max(x["rss"] for x in rounds) / 1e6, kv_mb=rounds[0]["kv"] / 1e6, file_mb=os.path.getsize(model) / 1e6)
            rows.append(row)
    json.dump(rows, open(os.path.join(OUT, "llm_compare.json"), "w"), indent=1)
    print(f"\n{a.rounds} alternating rounds each; medians; ratios are medians of per-round ratios\n")
    print("| type | threads | pp128 pare | pp128 llama.cpp | pp ratio | tg64 pare | tg64 llama.cpp | tg ratio | read BW | tg bound | pare tg / bound | RSS / (file+KV) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['type']} | {r['threads']} | {r['pare_pp']:.1f} | {r['llama_pp']:.1f} | {r['pp_ratio']:.2f} | "
              f"{r['pare_tg']:.2f} | {r['llama_tg']:.2f} | {r['tg_ratio']:.2f} | {r['read_gb_per_s']:.1f} GB/s | {r['tg_bound']:.1f} | "
              f"{r['bound_ratio']:.2f} | {r['pare_rss_mb'] / (r['file_mb'] + r['kv_mb']):.2f} |")


if __name__ == "__main__":
    main()
