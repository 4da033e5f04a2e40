"""End-to-end tests of `pare serve`: a real server on a free loopback port, stdlib clients,
outputs checked against `pare run` on the same input. Usage: test_serve.py PARE_BINARY"""
import http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, time
import numpy as np

PARE = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "fashion_mnist_cnn.onnx")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(args, key=None):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="pare_serve_", suffix=".log", delete=False)
    proc = subprocess.Popen([PARE, "serve", *args, "--port", str(port), "--read-timeout", "2"],
                            stderr=log, stdout=subprocess.DEVNULL)
    proc.log_path = log.name  # a file, not a pipe: the access log must never block the server
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/v2/health/live")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start: " + open(proc.log_path).read())


def req(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), data


def reference(x, workdir):
    np.save(os.path.join(workdir, "x.npy"), x)
    subprocess.run([PARE, "run", MODEL, "-i", os.path.join(workdir, "x.npy"), "-d", workdir], check=True,
                   stdout=subprocess.DEVNULL)
    return np.load(os.path.join(workdir, "logits.npy"))


def main():
    work = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    x = rng.random((2, 1, 28, 28), dtype=np.float32)
    ref = reference(x, work)
    proc, port = start([MODEL, "--max-body-mb", "1"])
    try:
        st, _, b = req(port, "GET", "/v2")
        check(st == 200 and json.loads(b)["name"] == "pare", "GET /v2")
        check(req(port, "GET", "/v2/health/ready")[0] == 200, "ready")
        st, _, b = req(port, "GET", "/v2/models/fashion_mnist_cnn")
        meta = json.loads(b)
        check(st == 200 and meta["inputs"][0]["datatype"] == "FP32" and meta["outputs"][0]["name"] == "logits",
              "model metadata")
        check(req(port, "GET", "/v2/models/fashion_mnist_cnn/versions/1")[0] == 200, "metadata with version")
        check(req(port, "GET", "/v2/models/fashion_mnist_cnn/ready")[0] == 200, "model ready")
        check(req(port, "GET", "/v2/models/nope/ready")[0] == 404, "unknown model 404")
        check(req(port, "GET", "/v2/models/fashion_mnist_cnn/versions/7")[0] == 404, "unknown version 404")
        # JSON infer
        body = json.dumps({"id": "a", "inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape),
                                                  "data": x.ravel().tolist()}]})
        st, _, b = req(port, "POST", "/v2/models/fashion_mnist_cnn/infer", body)
        r = json.loads(b)
        out = np.array(r["outputs"][0]["data"], dtype=np.float32).reshape(r["outputs"][0]["shape"])
        check(st == 200 and r["id"] == "a" and np.allclose(out, ref, atol=1e-5), "JSON infer matches pare run")
        # binary infer
        head = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape),
                                       "parameters": {"binary_data_size": x.nbytes}}],
                           "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
        st, h, b = req(port, "POST", "/v2/models/fashion_mnist_cnn/infer", head + x.tobytes(),
                       {"Inference-Header-Content-Length": str(len(head))})
        hl = int(h.get("Inference-Header-Content-Length", "-1"))
        rh = json.loads(b[:hl])
        out = np.frombuffer(b[hl:], dtype=np.float32).reshape(rh["outputs"][0]["shape"])
        check(st == 200 and rh["outputs"][0]["parameters"]["binary_data_size"] == ref.nbytes and
              np.array_equal(out, ref.astype(np.float32)) or np.allclose(out, ref, atol=1e-6), "binary infer matches")
        # faults
        def infer_status(body, headers=None):
            return req(port, "POST", "/v2/models/fashion_mnist_cnn/infer", body, headers)
        st, _, b = infer_status("{not json")
        check(st == 400 and "malformed JSON" in json.loads(b)["error"], "malformed JSON 400")
        bad = lambda **kw: json.dumps({"inputs": [dict({"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                                        "data": [0.0] * 784}, **kw)]})
        check(infer_status(bad(datatype="INT64", data=[0] * 784))[0] == 400, "wrong datatype 400")
        check(infer_status(bad(shape=[1, 1, 27, 28], data=[0.0] * 756))[0] == 400, "wrong shape 400")
        check(infer_status(bad(data=[0.0] * 783))[0] == 400, "wrong element count 400")
        check(infer_status(bad(datatype="FP99"))[0] == 400, "unknown datatype 400")
        check(infer_status(bad(name="other"))[0] == 400, "unknown input 400")
        head = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                       "parameters": {"binary_data_size": 3136}}]}).encode()
        st, _, b = infer_status(head + b"\0" * 3000, {"Inference-Header-Content-Length": str(len(head))})
        check(st == 400, "binary data shorter than binary_data_size 400")
        st, _, b = infer_status(head + b"\0" * 3136, {"Inference-Header-Content-Length": str(len(head) + 10 ** 6)})
        check(st == 400, "header length beyond body 400")
        st, _, _ = infer_status(b"x" * (2 << 20))
        check(st == 413, "body over the limit 413")
        check(req(port, "POST", "/v2/models/nope/infer", bad())[0] == 404, "infer unknown model 404")
        # slow-loris: a client that sends half a request and stalls; others still served, it gets dropped
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"POST /v2/models/fashion_mnist_cnn/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        check(req(port, "GET", "/v2/health/live")[0] == 200, "served others during slow-loris")
        slow.settimeout(6)
        t0 = time.time()
        try:
            data = slow.recv(100)
        except OSError:
            data = b""
        check(time.time() - t0 < 5.5, "slow client dropped by read timeout")
        slow.close()
        # client disconnecting mid-request
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v2/models/fashion_mnist_cnn/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"in")
        s.close()
        check(req(port, "GET", "/v2/health/live")[0] == 200, "server fine after client disconnect")
        st, _, b = req(port, "GET", "/metrics")
        m = b.decode()
        check('pare_requests_total{model="fashion_mnist_cnn",code="200"}' in m and "pare_compute_ms_bucket" in m and
              'pare_model_loaded{model="fashion_mnist_cnn"} 1' in m, "metrics")
        st, _, b = req(port, "GET", "/")
        check(st == 200 and b"<form" in b, "web page")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        err = open(proc.log_path).read()
        check(rc == 0, "SIGTERM exits 0")
        check('"path":"/v2/models/fashion_mnist_cnn/infer"' in err, "access log lines")

    # auth
    keyf = os.path.join(work, "key")
    open(keyf, "w").write("s3cret\n")
    proc, port = start([MODEL, "--api-key-file", keyf])
    try:
        check(req(port, "GET", "/v2/health/ready")[0] == 200, "health exempt from auth")
        check(req(port, "GET", "/v2/models/fashion_mnist_cnn")[0] == 401, "missing key 401")
        check(req(port, "GET", "/v2/models/fashion_mnist_cnn", headers={"Authorization": "Bearer nope"})[0] == 401,
              "wrong key 401")
        check(req(port, "GET", "/v2/models/fashion_mnist_cnn", headers={"Authorization": "Bearer s3cret"})[0] == 200,
              "right key 200")
    finally:
        proc.send_signal(signal.SIGINT)
        check(proc.wait(timeout=20) == 0, "SIGINT exits 0")

    # repository: good model, corrupt model, path escape via symlink, unload/load
    repo = os.path.join(work, "repo")
    os.makedirs(os.path.join(repo, "cnn", "1"))
    shutil.copy(MODEL, os.path.join(repo, "cnn", "1", "model.onnx"))
    os.makedirs(os.path.join(repo, "broken", "1"))
    open(os.path.join(repo, "broken", "1", "model.onnx"), "wb").write(b"\x08\x07garbage")
    outside = os.path.join(work, "outside")
    os.makedirs(os.path.join(outside, "1"))
    shutil.copy(MODEL, os.path.join(outside, "1", "model.onnx"))
    os.symlink(outside, os.path.join(repo, "escape"))
    open(os.path.join(repo, "cnn", "config.toml"), "w").write("instances = 2\nthreads = 1\nmax_queue_size = 8\n")
    proc, port = start(["--model-repository", repo, "--poll-interval", "0.3"])
    try:
        st, _, b = req(port, "POST", "/v2/repository/index")
        idx = {m["name"]: m for m in json.loads(b)}
        check(idx["cnn"]["state"] == "READY", "repository model ready")
        check(idx["broken"]["state"] == "UNAVAILABLE" and idx["broken"]["reason"], "corrupt model reported")
        check(idx["escape"]["state"] == "UNAVAILABLE" and "outside" in idx["escape"]["reason"], "symlink escape refused")
        st, _, b = req(port, "GET", "/v2/models/broken/ready")
        check(st == 503 and json.loads(b)["error"], "corrupt model not ready 503, reason given")
        check(req(port, "POST", "/v2/repository/models/..%2F..%2Fetc/load")[0] in (400, 404), "path escape in load")
        check(req(port, "POST", "/v2/models/cnn/infer", bad())[0] == 200, "repository model infers")
        # version swap during traffic: v2 appears, poll loads it; requests keep succeeding
        os.makedirs(os.path.join(repo, "cnn", "2"))
        shutil.copy(MODEL, os.path.join(repo, "cnn", "2", "model.onnx"))
        codes = set()
        t0 = time.time()
        version = None
        while time.time() - t0 < 5:
            st, _, b = req(port, "POST", "/v2/models/cnn/infer", bad())
            codes.add(st)
            version = json.loads(b).get("model_version")
            if version == "2":
                break
        check(codes == {200} and version == "2", "version swap without failures")
        check(req(port, "POST", "/v2/repository/models/cnn/unload")[0] == 200, "unload")
        check(req(port, "POST", "/v2/models/cnn/infer", bad())[0] == 503, "unloaded model 503")
        check(req(port, "POST", "/v2/repository/models/cnn/load")[0] == 200, "load")
        check(req(port, "POST", "/v2/models/cnn/infer", bad())[0] == 200, "reloaded model infers")
    finally:
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=20) == 0, "repository server exits 0")
    # bounded load: 10,000 binary requests from 8 keep-alive clients, no non-200, RSS stable
    proc, port = start([MODEL, "--instances", "2"])
    try:
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "serve", "load.py"), str(port),
                            "fashion_mnist_cnn", "1,1,28,28", "10000", "8", str(proc.pid)],
                           capture_output=True, text=True, timeout=90)
        print(r.stdout.strip())
        check(r.returncode == 0, "load: 10,000 requests, all 200, RSS growth < 20 MiB")
    finally:
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=20) == 0, "exits 0 after load")
    shutil.rmtree(work)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
