"""End-to-end tests of `pare serve`'s scheduler: dynamic batching (outputs of concurrent, batched
requests equal `pare run` on each input alone; runs < requests; preferred sizes), the bounded
queue (503), the per-request timeout (503), and a queued request withdrawn when its client
disconnects (never run). A deliberately slow model (8 chained 1024x1024 MatMuls, ~0.3 s per row)
makes the queue states deterministic. Usage: test_batching.py PARE_BINARY"""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_serve as T  # noqa: E402  (helpers: start, req, check, reference)

MODEL = T.MODEL


def slow_model(path, d=256, k=64):
    """k chained MatMuls by one shared d x d weight: ~2 k d^3 FLOP per row, tiny file."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    w = (np.random.default_rng(0).standard_normal((d, d)) / np.sqrt(d)).astype(np.float32)
    nodes, prev = [], "x"
    for i in range(k):
        nodes.append(helper.make_node("MatMul", [prev, "w"], [f"h{i}"]))
        prev = f"h{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    g = helper.make_graph(nodes, "slow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d, d])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", d, d])],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def binary_body(x, name="input", out="logits"):
    head = json.dumps({"inputs": [{"name": name, "datatype": "FP32", "shape": list(x.shape),
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "outputs": [{"name": out, "parameters": {"binary_data": True}}]}).encode()
    return head + x.tobytes(), {"Inference-Header-Content-Length": str(len(head))}


def decode(h, b):
    hl = int(h.get("Inference-Header-Content-Length", "-1"))
    rh = json.loads(b[:hl])
    return np.frombuffer(b[hl:], dtype=np.float32).reshape(rh["outputs"][0]["shape"])


def metric(port, name, model):
    m = T.req(port, "GET", "/metrics")[2].decode()
    hit = re.search(re.escape(name) + r'\{model="' + re.escape(model) + r'"\} (\S+)', m)
    return float(hit.group(1)) if hit else None


def concurrent(port, path, bodies):
    out = [None] * len(bodies)

    def one(i):
        body, hdr = bodies[i]
        try:
            out[i] = T.req(port, "POST", path, body, hdr)
        except OSError as e:
            out[i] = (0, {}, str(e).encode())
    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in ts:
        t.start()
        time.sleep(0.002)
    for t in ts:
        t.join()
    return out


def stop(proc, what):
    proc.send_signal(signal.SIGTERM)
    T.check(proc.wait(timeout=60) == 0, what + ": exits 0")


def main():
    work = tempfile.mkdtemp()
    rng = np.random.default_rng(1)
    path = "/v2/models/fashion_mnist_cnn/infer"
    # 1. Batched outputs equal single runs; fewer runs than requests; multiple instances.
    xs = [rng.random((1 + i % 2, 1, 28, 28), dtype=np.float32) for i in range(12)]
    refs = [T.reference(x, work) for x in xs]
    for instances in (1, 2):
        proc, port = T.start([MODEL, "--max-batch-size", "8", "--batch-delay-us", "100000",
                              "--instances", str(instances), "--threads", "16"])
        try:
            res = concurrent(port, path, [binary_body(x) for x in xs])
            ok = all(st == 200 for st, _, _ in res)
            same = ok and all(np.allclose(decode(h, b), r, atol=1e-5) for (st, h, b), r in zip(res, refs))
            T.check(same, f"{instances} instance(s): 12 concurrent requests (1-2 rows) batched, outputs equal pare run")
            runs = metric(port, "pare_model_runs_total", "fashion_mnist_cnn")
            bsum = metric(port, "pare_batch_size_sum", "fashion_mnist_cnn")
            bcount = metric(port, "pare_batch_size_count", "fashion_mnist_cnn")
            print(f"   runs {runs}, batch size sum {bsum} over {bcount} requests")
            T.check(runs is not None and runs < 12 and bsum > bcount, f"{instances} instance(s): requests shared runs")
        finally:
            stop(proc, "batching server")
    # 2. Preferred size 2: every run has exactly 2 rows (4 requests of 1 row, long delay).
    proc, port = T.start([MODEL, "--max-batch-size", "8", "--preferred-batch-sizes", "2", "--batch-delay-us", "400000"])
    try:
        res = concurrent(port, path, [binary_body(x[:1]) for x in xs[:4]])
        T.check(all(st == 200 for st, _, _ in res), "preferred sizes: all 200")
        m = T.req(port, "GET", "/metrics")[2].decode()
        le1 = re.search(r'pare_batch_size_bucket\{model="fashion_mnist_cnn",le="1"\} (\d+)', m)
        le2 = re.search(r'pare_batch_size_bucket\{model="fashion_mnist_cnn",le="2"\} (\d+)', m)
        runs = metric(port, "pare_model_runs_total", "fashion_mnist_cnn")
        T.check(le1 and le2 and int(le1.group(1)) == 0 and int(le2.group(1)) == 4 and runs == 2,
                "preferred size 2: two runs of 2 rows")
    finally:
        stop(proc, "preferred-size server")
    # Padding: preferred size 4, three 1-row requests run once, zero-padded to 4 rows.
    proc, port = T.start([MODEL, "--max-batch-size", "4", "--preferred-batch-sizes", "4", "--batch-delay-us", "300000"])
    try:
        res = concurrent(port, path, [binary_body(x[:1]) for x in xs[:3]])
        same = all(st == 200 and np.allclose(decode(h, b), T.reference(x[:1], work), atol=1e-5)
                   for (st, h, b), x in zip(res, xs[:3]))
        m = T.req(port, "GET", "/metrics")[2].decode()
        le2 = re.search(r'pare_batch_size_bucket\{model="fashion_mnist_cnn",le="2"\} (\d+)', m)
        le4 = re.search(r'pare_batch_size_bucket\{model="fashion_mnist_cnn",le="4"\} (\d+)', m)
        runs = metric(port, "pare_model_runs_total", "fashion_mnist_cnn")
        T.check(same and int(le2.group(1)) == 0 and int(le4.group(1)) == 3 and runs == 1,
                f"3 rows padded to preferred 4, one run, outputs equal pare run (runs {runs})")
    finally:
        stop(proc, "padding server")
    # 3. Bad batching options are refused with a message.
    r = subprocess.run([T.PARE, "serve", MODEL, "--max-batch-size", "4", "--preferred-batch-sizes", "9"],
                       capture_output=True, text=True, timeout=30)
    T.check(r.returncode != 0 and "preferred batch size 9" in r.stderr, "preferred size above max refused")
    repo = os.path.join(work, "repo")
    os.makedirs(os.path.join(repo, "m", "1"))
    shutil.copy(MODEL, os.path.join(repo, "m", "1", "model.onnx"))
    open(os.path.join(repo, "m", "config.toml"), "w").write(
        "max_batch_size = 4\n[dynamic_batching]\nmax_queue_delay_microseconds = -5\n")
    proc, port = T.start(["--model-repository", repo])
    try:
        idx = {m["name"]: m for m in json.loads(T.req(port, "POST", "/v2/repository/index")[2])}
        T.check(idx["m"]["state"] == "UNAVAILABLE" and "max_queue_delay_microseconds" in idx["m"]["reason"],
                "bad dynamic_batching in config.toml reported")
        open(os.path.join(repo, "m", "config.toml"), "w").write(
            "max_batch_size = 4\n[dynamic_batching]\nmax_queue_delay_microseconds = 1000\npreferred_batch_size = [2, 4]\n")
        T.check(T.req(port, "POST", "/v2/repository/models/m/load")[0] == 200, "config.toml dynamic_batching accepted")
        res = concurrent(port, "/v2/models/m/infer", [binary_body(x) for x in xs[:6]])
        T.check(all(st == 200 and np.allclose(decode(h, b), r, atol=1e-5) for (st, h, b), r in zip(res, refs)),
                "repository model batched, outputs equal pare run")
    finally:
        stop(proc, "repository server")
    # 4. Slow model: bounded queue, timeout, cancellation on disconnect.
    slow = os.path.join(work, "slow.onnx")
    slow_model(slow)
    sx = rng.random((1, 256, 256), dtype=np.float32)
    spath = "/v2/models/slow/infer"
    sbody = binary_body(sx, "x", "y")
    proc, port = T.start([slow, "--max-queue-size", "1", "--request-timeout-ms", "60000"])
    try:
        long_req = []
        a = threading.Thread(target=lambda: long_req.append(T.req(port, "POST", spath, *binary_body(np.repeat(sx, 16, 0), "x", "y"))))
        a.start()
        t0 = time.time()
        while metric(port, "pare_inflight_requests", "slow") != 1 and time.time() - t0 < 10:
            time.sleep(0.01)
        res = concurrent(port, spath, [sbody] * 3)
        a.join()
        codes = sorted(st for st, _, _ in res)
        T.check(long_req[0][0] == 200 and codes == [200, 503, 503], f"queue of 1 behind a running request: 503 ({codes})")
        err = [json.loads(b)["error"] for st, _, b in res if st == 503]
        T.check(all("queue full" in e for e in err), "503 says the queue is full")
        # Cancel: A (many rows) runs; B queues, then its client disconnects; B must never run. Tried
        # with more rows for A when A ended before B's client went (a loaded machine).
        for rows in (16, 40):
            runs0 = metric(port, "pare_model_runs_total", "slow")
            ended = []
            a = threading.Thread(target=lambda: (T.req(port, "POST", spath, *binary_body(np.repeat(sx, rows, 0), "x", "y")),
                                                 ended.append(time.time())))
            a.start()
            t0 = time.time()
            while metric(port, "pare_inflight_requests", "slow") != 1 and time.time() - t0 < 10:
                time.sleep(0.02)  # until A is running (1 instance, nothing else queued)
            s = socket.create_connection(("127.0.0.1", port))
            body, hdr = sbody
            s.sendall((f"POST {spath} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                       f"Inference-Header-Content-Length: {hdr['Inference-Header-Content-Length']}\r\n\r\n").encode() + body)
            time.sleep(0.1)
            s.close()
            closed = time.time()
            a.join()
            time.sleep(1.0)  # B would have run by now if it had stayed queued
            runs1 = metric(port, "pare_model_runs_total", "slow")
            if ended[0] > closed + 0.05:
                break
            print(f"   A ended before B's client closed ({rows} rows); again with more")
        m = T.req(port, "GET", "/metrics")[2].decode()
        T.check(runs1 - runs0 == 1, f"disconnected client's queued request never ran (runs {runs0} -> {runs1})")
        T.check('pare_requests_total{model="slow",code="499"}' in m, "cancelled request counted as 499")
        T.check(T.req(port, "POST", spath, *sbody)[0] == 200, "served normally after the cancel")
    finally:
        stop(proc, "slow server")
    proc, port = T.start([slow, "--request-timeout-ms", "100"])
    try:
        # A long request runs first (in flight before the second is sent); the second waits > 100 ms.
        first = []
        a = threading.Thread(target=lambda: first.append(T.req(port, "POST", spath, *binary_body(np.repeat(sx, 16, 0), "x", "y"))))
        a.start()
        t0 = time.time()
        while metric(port, "pare_inflight_requests", "slow") != 1 and time.time() - t0 < 10:
            time.sleep(0.01)
        st, _, b = T.req(port, "POST", spath, *sbody)
        a.join()
        T.check(first and first[0][0] == 200 and st == 503 and "timed out" in json.loads(b)["error"],
                f"request timeout 503 ({st})")
    finally:
        stop(proc, "timeout server")
    shutil.rmtree(work)
    print(f"{len(T.failures)} failure(s)")
    return 1 if T.failures else 0


if __name__ == "__main__":
    sys.exit(main())
