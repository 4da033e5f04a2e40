"""The web page at "/" rendered by Debian's headless Chromium: (1) an ONNX model — the page, driven
by URL parameters (?model=M&npy=data:...), posts an .npy and shows the outputs; the dumped DOM
must list the model READY and show the argmax of `pare run` on the same input; (2) a GGUF model —
?chat=TEXT sends a chat message streamed from /v1/chat/completions; the answer in the DOM must
equal the API's answer for the same request. A screenshot of each is taken and checked to be a
PNG of the window size with more than one colour. Exits 77 (skipped) only without chromium.
Usage: test_web.py PARE_BINARY"""
import base64, html, io, json, os, re, shutil, signal, struct, subprocess, sys, tempfile, urllib.parse, zlib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_serve as T  # noqa: E402


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def browse(exe, url, work, screenshot=None):
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            f"--user-data-dir={os.path.join(work, 'chromium-profile')}", "--virtual-time-budget=20000",
            "--window-size=1000,1200"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    r = subprocess.run(args + [url], capture_output=True, text=True, timeout=120)
    return r.stdout


def png_info(path):
    """Width, height and whether the decoded pixels hold more than one colour (8-bit RGB/RGBA)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat = 8, b""
    w = h = ctype = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp = {2: 3, 6: 4}.get(ctype, 3)
    stride = w * bpp + 1
    # unfiltered bytes are enough to tell a blank image (every row filter 0 or identical) from a rendered one
    rows = {raw[i * stride + 1:(i + 1) * stride] for i in range(0, h, max(1, h // 50))}
    return w, h, len(rows) > 1


def main():
    exe = chromium()
    if not exe:
        print("skipped: chromium is not installed (apt-get install chromium)")
        return 77
    work = tempfile.mkdtemp()
    x = np.random.default_rng(3).random((1, 1, 28, 28), dtype=np.float32)
    ref = T.reference(x, work)
    want = int(np.argmax(ref[0]))
    buf = io.BytesIO()
    np.save(buf, x)
    data_url = "data:application/octet-stream;base64," + base64.b64encode(buf.getvalue()).decode()
    proc, port = T.start([T.MODEL])
    try:
        url = f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode({"model": "fashion_mnist_cnn", "npy": data_url})
        dom = browse(exe, url, work)
        result = re.search(r'<pre id="result"[^>]*>(.*?)</pre>', dom, re.S)
        text = html.unescape(result.group(1)) if result else ""
        print("   page shows:", text.splitlines()[0] if text else dom[:200])
        T.check('data-done="1"' in (result.group(0) if result else "") and f"argmax={want}" in text,
                f"page: inference result shown, argmax {want} as pare run")
        T.check(re.search(r"<td>fashion_mnist_cnn</td><td>1</td><td class=\"READY\">READY</td>", dom) is not None,
                "page: model listed READY")
        shot = os.path.join(work, "onnx.png")
        browse(exe, url, work, shot)
        info = png_info(shot) if os.path.exists(shot) else None
        T.check(info is not None and info[:2] == (1000, 1200) and info[2], f"screenshot of the ONNX page ({info})")
    finally:
        proc.send_signal(signal.SIGTERM)
        T.check(proc.wait(timeout=30) == 0, "ONNX server exits 0")
    import test_openai as O
    gguf = os.path.join(work, "tiny.gguf")
    O.tiny_gguf(gguf)
    proc, port = T.start([gguf])
    try:
        st, _, b = O.post(port, "/v1/chat/completions",
                          {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, "temperature": 0})
        answer = json.loads(b)["choices"][0]["message"]["content"]
        url = f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode({"chat": "hello", "max_tokens": 8, "temperature": 0})
        dom = browse(exe, url, work)
        span = re.search(r'<span id="chat-answer-1"([^>]*)>(.*?)</span>', dom, re.S)
        shown = html.unescape(span.group(2)) if span else None
        print(f"   chat answer shown {shown!r}, API {answer!r}")
        T.check(span is not None and 'data-done="1"' in span.group(1) and shown == answer,
                "page: streamed chat answer equals the API's")
        T.check(re.search(r'id="chat-usage"[^>]*>prompt \d+ tokens, completion \d+ tokens', dom) is not None,
                "page: chat usage shown")
        shot = os.path.join(work, "chat.png")
        browse(exe, url, work, shot)
        info = png_info(shot) if os.path.exists(shot) else None
        T.check(info is not None and info[:2] == (1000, 1200) and info[2], f"screenshot of the chat page ({info})")
        if os.environ.get("PARE_WEB_SHOTS"):  # keep the screenshots for a look
            for n in ("onnx.png", "chat.png"):
                shutil.copy(os.path.join(work, n), os.path.join(os.environ["PARE_WEB_SHOTS"], n))
    finally:
        proc.send_signal(signal.SIGTERM)
        T.check(proc.wait(timeout=30) == 0, "GGUF server exits 0")
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(T.failures)} failure(s)")
    return 1 if T.failures else 0


if __name__ == "__main__":
    sys.exit(main())
