"""Dynamic batching throughput: ResNet-18 (torchvision, random weights, exported by bench/models.py's
builder with a dynamic batch dim) served twice side by side — batching on and off, same instances
and threads — under C concurrent keep-alive clients posting the binary form of one image each.
Rounds alternate between the two servers; prints each round and the medians and ratio.
Usage: batching.py PARE [--clients 8] [--rounds 3] [--seconds 10] [--max-batch 8] [--delay-us 5000]
                         [--preferred 8] [--instances 1] [--model-threads 1] [--model PATH.onnx]"""
import argparse, http.client, json, os, signal, socket, statistics, subprocess, sys, threading, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def export_resnet18(path):
    sys.path.insert(0, os.path.join(HERE, ".."))
    import torch
    import models  # bench/models.py
    model, spec = models.build("resnet18")
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["output"], opset_version=14,
                          do_constant_folding=True, dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(pare, model, extra, threads):
    port = free_port()
    log = open(os.devnull, "w")
    p = subprocess.Popen([pare, "serve", model, "--name", "m", "--port", str(port), "--threads", str(threads), *extra],
                         stderr=log, stdout=log)
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/v2/health/ready")
            if c.getresponse().status == 200:
                return p, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def measure(port, body, hdr, clients, seconds):
    done, lat, bad, lock = [0], [], [0], threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            c.request("POST", "/v2/models/m/infer", body, hdr)
            r = c.getresponse()
            r.read()
            with lock:
                if r.status == 200:
                    done[0] += 1
                    lat.append(time.perf_counter() - t0)
                else:
                    bad[0] += 1
    t0 = time.perf_counter()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return done[0] / wall, (lat[len(lat) // 2] * 1e3 if lat else 0), bad[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pare")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--delay-us", type=int, default=5000)
    ap.add_argument("--preferred", default="8", help="preferred batch sizes, comma separated ('' for none)")
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--model-threads", type=int, default=1)
    ap.add_argument("--model", default="/tmp/pare_bench_serve/resnet18_dynamic.onnx")
    a = ap.parse_args()
    if not os.path.exists(a.model):
        os.makedirs(os.path.dirname(a.model), exist_ok=True)
        export_resnet18(a.model)
    common = ["--instances", str(a.instances), "--model-threads", str(a.model_threads), "--max-queue-size", "256"]
    on, port_on = start(a.pare, a.model, common + ["--max-batch-size", str(a.max_batch), "--batch-delay-us", str(a.delay_us)] +
                        (["--preferred-batch-sizes", a.preferred] if a.preferred else []),
                        a.clients + 2)
    off, port_off = start(a.pare, a.model, common, a.clients + 2)
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    head = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape),
                                   "parameters": {"binary_data_size": x.nbytes}}],
                       "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}).encode()
    body, hdr = head + x.tobytes(), {"Inference-Header-Content-Length": str(len(head))}
    res = {"on": [], "off": []}
    try:
        for port in (port_on, port_off):  # warm-up
            measure(port, body, hdr, a.clients, 2)
        for r in range(a.rounds):
            for name, port in (("on", port_on), ("off", port_off)) if r % 2 == 0 else (("off", port_off), ("on", port_on)):
                tput, p50, bad = measure(port, body, hdr, a.clients, a.seconds)
                res[name].append(tput)
                print(f"round {r} batching {name:3}: {tput:7.2f} req/s  p50 {p50:8.1f} ms  non-200 {bad}", flush=True)
    finally:
        for p in (on, off):
            p.send_signal(signal.SIGTERM)
            p.wait()
    mon, moff = statistics.median(res["on"]), statistics.median(res["off"])
    print(f"ResNet-18, {a.clients} clients, instances {a.instances} x {a.model_threads} thread(s), max batch "
          f"{a.max_batch}, preferred {a.preferred or 'none'}, delay {a.delay_us} us: median {mon:.2f} req/s batching on vs {moff:.2f} off = {mon / moff:.2f}x")


if __name__ == "__main__":
    main()
