"""Bounded load generator for `pare serve` (stdlib): N keep-alive clients post the binary form of
a random input until REQUESTS are done; prints throughput, p50/p99 and the server's RSS before
and after. Usage: load.py PORT MODEL_NAME INPUT_SHAPE(comma) [REQUESTS] [CLIENTS] [PID]
Exit 1 on any non-200 answer or RSS growth over 20 MiB after warm-up."""
import http.client, json, sys, threading, time
import numpy as np


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    port, model = int(sys.argv[1]), sys.argv[2]
    shape = [int(d) for d in sys.argv[3].split(",")]
    total = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    pid = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    head = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": shape,
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
    body = head + x.tobytes()
    hdr = {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}
    lat, codes, lock = [], {}, threading.Lock()
    left = [total]

    def client():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            t0 = time.perf_counter()
            c.request("POST", f"/v2/models/{model}/infer", body, hdr)
            r = c.getresponse()
            r.read()
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt)
                codes[r.status] = codes.get(r.status, 0) + 1

    warm = threading.Thread(target=client)
    left[0] = 200
    warm.start(); warm.join()
    rss0 = rss_kib(pid) if pid else 0
    lat.clear(); codes.clear(); left[0] = total
    t0 = time.perf_counter()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts: t.start()
    for t in ts: t.join()
    wall = time.perf_counter() - t0
    rss1 = rss_kib(pid) if pid else 0
    lat.sort()
    print(f"requests {len(lat)} clients {clients} wall {wall:.2f}s throughput {len(lat)/wall:.0f}/s "
          f"p50 {lat[len(lat)//2]*1e3:.3f} ms p99 {lat[int(len(lat)*0.99)]*1e3:.3f} ms codes {codes} "
          f"rss_kib {rss0} -> {rss1}")
    bad = any(c != 200 for c in codes) or (pid and rss1 - rss0 > 20 * 1024)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
