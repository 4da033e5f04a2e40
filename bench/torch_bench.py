#!/usr/bin/python3
"""PyTorch eager side of bench/compare.py: the same model as bench/models.py builds, in eval
mode under torch.no_grad(). Run with LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp
(compare.py does) so PyTorch uses OpenBLAS, not the reference BLAS.

    torch_bench.py NAME THREADS WARMUP ITERS   → one JSON line: load_ms, latencies_ms"""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import models  # noqa: E402


def main():
    name, threads, warmup, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model, spec = models.build(name)
    inputs = models.example_inputs(spec)
    with torch.no_grad():
        model(*inputs)
        load_ms = (time.perf_counter() - t0) * 1e3
        for _ in range(warmup):
            model(*inputs)
        lat = []
        for _ in range(iters):
            s = time.perf_counter()
            model(*inputs)
            lat.append((time.perf_counter() - s) * 1e3)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"load_ms": load_ms, "latencies_ms": lat, "peak_rss_bytes": rss}))


if __name__ == "__main__":
    main()
