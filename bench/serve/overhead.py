"""Server overhead on a small model: p50 end-to-end latency of `pare serve` over loopback with the
binary tensor extension (one keep-alive client, raw socket, request bytes prepared once) against
the model's own p50 latency from `pare bench` (same threads), rounds alternating in one run.
Usage: overhead.py PARE [MODEL.onnx] [--rounds 5] [--requests 500] [--threads 1]"""
import argparse, json, os, signal, socket, statistics, subprocess, sys, time
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        rest += s.recv(65536)
    return status, rest[:n], rest[n:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pare")
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, "models", "fashion_mnist_cnn.onnx"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    port = free_port()
    name = os.path.splitext(os.path.basename(a.model))[0]
    proc = subprocess.Popen([a.pare, "serve", a.model, "--port", str(port), "--model-threads", str(a.threads),
                             "--keep-alive-max", "100000000"],
                            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            time.sleep(0.05)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    x = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    head = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape),
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
    body = head + x.tobytes()
    request = (f"POST /v2/models/{name}/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
               f"Inference-Header-Content-Length: {len(head)}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    e2e, model = [], []
    try:
        buf = b""
        for _ in range(100):  # warm-up
            s.sendall(request)
            st, _, buf = read_response(s, buf)
            assert st == 200, st
        for r in range(a.rounds):
            lat = []
            for _ in range(a.requests):
                t0 = time.perf_counter()
                s.sendall(request)
                st, _, buf = read_response(s, buf)
                lat.append(time.perf_counter() - t0)
                assert st == 200, st
            lat.sort()
            e2e.append(lat[len(lat) // 2] * 1e3)
            b = subprocess.run([a.pare, "bench", a.model, "-t", str(a.threads), "-n", str(a.requests), "-w", "20", "--json"],
                               capture_output=True, text=True, check=True)
            model.append(json.loads(b.stdout)["latency_ms"]["p50"])
            print(f"round {r}: end-to-end p50 {e2e[-1]:.3f} ms, model p50 {model[-1]:.3f} ms, "
                  f"overhead {e2e[-1] - model[-1]:+.3f} ms", flush=True)
    finally:
        s.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    me, mm = statistics.median(e2e), statistics.median(model)
    print(f"{name}: median end-to-end p50 {me:.3f} ms vs model p50 {mm:.3f} ms: overhead {me - mm:+.3f} ms "
          f"(target <= +0.3 ms)")


if __name__ == "__main__":
    main()
