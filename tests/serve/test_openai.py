"""End-to-end tests of `pare serve MODEL.gguf` (OpenAI-compatible /v1 API) on a tiny random-weight
llama written to GGUF by tests/llm/gguf_py.py (byte-fallback SentencePiece vocabulary with ChatML
control tokens). Greedy answers are checked against `pare generate` on the same prompt (chat:
the ChatML-formatted prompt), streamed answers against the non-streamed ones; bad input (negative
and huge max_tokens, invalid UTF-8, prompt longer than the context, wrong types, n > 1, unknown
model), several requests at once, a stream cancelled by its client, auth and metrics.
Usage: test_openai.py PARE_BINARY"""
import http.client, json, os, re, signal, socket, subprocess, sys, tempfile, threading, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "llm"))
import test_serve as T  # noqa: E402
import gguf_py as G  # noqa: E402

CTX = 256


def tiny_gguf(path):
    words = ["▁", "▁the", "▁a", "▁and", "▁of", "▁to", "▁is", "▁hello", "▁world", "he", "ll", "lo", "or", "ld",
             "th", "an", "in", "er", "on", "re"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["▁" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["<|im_start|>", "<|im_end|>"]
    tokens += [t for t in letters + words if t not in tokens]
    merges = []
    kv = G.spm_tokenizer_kv(tokens, merges)
    types = [2 if t == "<unk>" else 3 if t in ("<s>", "</s>", "<|im_start|>", "<|im_end|>") else
             6 if (len(t) == 6 and t.startswith("<0x")) else 1 for t in tokens]
    scores = [0.0] * 3 + [0.0] * 256 + [0.0, 0.0] + [-float(i) / 10 + len(t) for i, t in enumerate(tokens[261:])]
    kv = [x for x in kv if x[0] not in ("tokenizer.ggml.token_type", "tokenizer.ggml.scores")]
    kv += [("tokenizer.ggml.token_type", G.ARRAY, (G.I32, types)), ("tokenizer.ggml.scores", G.ARRAY, (G.F32, scores))]
    dims = (64, 2, 4, 2, 128)
    rng = np.random.default_rng(5)
    G.write_gguf(path, G.llama_kv(*dims, ctx=CTX, name="tiny-chat") + kv,
                 G.llama_tensors(rng, len(tokens), *dims, wtype="f32", std=0.3))


def post(port, path, obj, headers=None, raw=None):
    body = raw if raw is not None else json.dumps(obj)
    st, h, b = T.req(port, "POST", path, body, dict({"Content-Type": "application/json"}, **(headers or {})))
    return st, h, b


def sse(port, path, obj):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", path, json.dumps(obj), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read().decode()
    events = [e[len("data: "):] for e in data.split("\n\n") if e.startswith("data: ")]
    return r.status, r.getheader("Content-Type"), events


def reference(pare, model, prompt, n):
    r = subprocess.run([pare, "generate", model, "-p", prompt, "-n", str(n), "--temp", "0", "--json", "-t", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def main():
    work = tempfile.mkdtemp()
    model = os.path.join(work, "tiny.gguf")
    tiny_gguf(model)
    pare = T.PARE
    keyf = os.path.join(work, "key")
    open(keyf, "w").write("k3y\n")
    proc, port = T.start([model, "--parallel", "2"])
    try:
        st, _, b = T.req(port, "GET", "/v1/models")
        check_models = st == 200 and json.loads(b)["data"][0]["id"] == "tiny"
        T.check(check_models, "GET /v1/models")
        # completions, greedy, against pare generate
        prompt = "hello world and the"
        ref = reference(pare, model, prompt, 12)
        st, _, b = post(port, "/v1/completions", {"model": "tiny", "prompt": prompt, "max_tokens": 12, "temperature": 0})
        r = json.loads(b)
        T.check(st == 200 and r["object"] == "text_completion" and r["choices"][0]["text"] == ref["text"],
                "completion equals pare generate")
        T.check(r["usage"]["prompt_tokens"] == ref["prompt_tokens"] and r["usage"]["completion_tokens"] == len(ref["tokens"])
                and r["usage"]["total_tokens"] == ref["prompt_tokens"] + len(ref["tokens"]), "usage counts")
        T.check(r["choices"][0]["finish_reason"] == ("length" if len(ref["tokens"]) == 12 else "stop"), "finish_reason")
        # streaming completions
        st, ctype, ev = sse(port, "/v1/completions", {"prompt": prompt, "max_tokens": 12, "temperature": 0, "stream": True,
                                                       "stream_options": {"include_usage": True}})
        chunks = [json.loads(e) for e in ev if e != "[DONE]"]
        text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
        T.check(st == 200 and ctype.startswith("text/event-stream") and ev[-1] == "[DONE]" and text == ref["text"],
                "streamed completion equals non-streamed")
        T.check(chunks[-1]["usage"]["completion_tokens"] == len(ref["tokens"]) and chunks[-1]["choices"] == [],
                "stream_options.include_usage chunk")
        # chat (ChatML: no template in the file)
        msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
        chatml = "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
        cref = reference(pare, model, chatml, 10)
        st, _, b = post(port, "/v1/chat/completions", {"messages": msgs, "max_tokens": 10, "temperature": 0})
        r = json.loads(b)
        T.check(st == 200 and r["object"] == "chat.completion" and r["choices"][0]["message"]["role"] == "assistant" and
                r["choices"][0]["message"]["content"] == cref["text"] and r["usage"]["prompt_tokens"] == cref["prompt_tokens"],
                "chat completion equals pare generate on the ChatML prompt")
        st, _, ev = sse(port, "/v1/chat/completions", {"messages": msgs, "max_tokens": 10, "temperature": 0, "stream": True})
        chunks = [json.loads(e) for e in ev if e != "[DONE]"]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        T.check(st == 200 and chunks[0]["choices"][0]["delta"]["role"] == "assistant" and text == cref["text"] and
                chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length") and ev[-1] == "[DONE]",
                "streamed chat equals non-streamed")
        # stop string: cut before its first occurrence
        full = ref["text"]
        cands = [i for i in range(1, len(full) - 1) if full[i:i + 2].isascii() and full[i:i + 2].strip()]
        if cands:
            stop = full[cands[len(cands) // 2]:cands[len(cands) // 2] + 2]
            st, _, b = post(port, "/v1/completions", {"prompt": prompt, "max_tokens": 12, "temperature": 0, "stop": [stop]})
            r = json.loads(b)
            T.check(st == 200 and r["choices"][0]["text"] == full[:full.index(stop)] and r["choices"][0]["finish_reason"] == "stop",
                    f"stop string {stop!r}")
        # sampling: same seed same text; top_k 1 is greedy
        samp = {"prompt": prompt, "max_tokens": 12, "temperature": 1.2, "seed": 7, "top_p": 0.9, "min_p": 0.0}
        a1 = json.loads(post(port, "/v1/completions", samp)[2])["choices"][0]["text"]
        a2 = json.loads(post(port, "/v1/completions", samp)[2])["choices"][0]["text"]
        T.check(a1 == a2, "seeded sampling repeatable")
        g = json.loads(post(port, "/v1/completions", {"prompt": prompt, "max_tokens": 12, "temperature": 1.5, "top_k": 1})[2])
        T.check(g["choices"][0]["text"] == ref["text"], "top_k 1 equals greedy")
        # bad input
        bad = [({"prompt": prompt, "max_tokens": -1}, "max_tokens", 400, "negative max_tokens"),
               ({"prompt": prompt, "max_tokens": 1 << 40}, "max_tokens", 400, "huge max_tokens"),
               ({"prompt": prompt, "max_tokens": 1e300}, "max_tokens", 400, "max_tokens 1e300"),
               ({"prompt": prompt, "max_tokens": "5"}, "max_tokens", 400, "max_tokens as a string"),
               ({"prompt": "the " * (CTX + 10)}, "context", 400, "prompt longer than the context"),
               ({"prompt": prompt, "n": 2}, "'n'", 400, "n = 2"),
               ({"prompt": prompt, "temperature": -1}, "temperature", 400, "negative temperature"),
               ({"prompt": prompt, "stop": [""]}, "stop", 400, "empty stop string"),
               ({"prompt": 5}, "prompt", 400, "prompt of the wrong type"),
               ({"prompt": prompt, "model": "other"}, "not found", 404, "unknown model 404")]
        for obj, word, code, what in bad:
            st, _, b = post(port, "/v1/completions", obj)
            msg = json.loads(b)["error"]["message"] if b else ""
            T.check(st == code and word in msg, f"{what}: {code} ({msg[:80]})")
        st, _, b = post(port, "/v1/completions", None, raw=b'{"prompt": "caf\xc3\x28 bad", "max_tokens": 2}')
        T.check(st == 400 and "UTF-8" in json.loads(b)["error"]["message"], "invalid UTF-8 in the prompt 400")
        st, _, b = post(port, "/v1/completions", None, raw=b'{"prompt": "x\\ud800y", "max_tokens": 2}')
        T.check(st == 400, "lone surrogate escape 400")
        st, _, b = post(port, "/v1/chat/completions", {"messages": []})
        T.check(st == 400 and "messages" in json.loads(b)["error"]["message"], "empty messages 400")
        st, _, b = post(port, "/v1/chat/completions", {"messages": [{"role": "wizard", "content": "x"}]})
        T.check(st == 400 and "role" in json.loads(b)["error"]["message"], "unknown role 400")
        st, _, b = post(port, "/v1/completions", None, raw=b"{nope")
        T.check(st == 400, "malformed JSON 400")
        # several at once (2 slots, 5 requests): each equals its own greedy reference
        prompts = ["the world", "a hello", "and of to", "is the a", "hello"]
        refs = [reference(pare, model, p, 8)["text"] for p in prompts]
        out = [None] * len(prompts)

        def one(i):
            out[i] = post(port, "/v1/completions", {"prompt": prompts[i], "max_tokens": 8, "temperature": 0})
        ts = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
        [t.start() for t in ts]
        [t.join() for t in ts]
        T.check(all(o[0] == 200 and json.loads(o[2])["choices"][0]["text"] == r for o, r in zip(out, refs)),
                "5 concurrent requests on 2 slots, each equals its reference")
        # continuous batching: two long generations started together share decode steps (each
        # still equals its reference); whether they overlap in time is up to the scheduler, so
        # up to 5 tries
        long_refs = [reference(pare, model, p, 200)["text"] for p in prompts[:2]]
        shared, same = False, True
        for _ in range(5):
            m0 = json.loads(T.req(port, "GET", "/v1/models")[2])["data"][0]["meta"]
            go = threading.Barrier(2)

            def long(i):
                go.wait()
                out[i] = post(port, "/v1/completions", {"prompt": prompts[i], "max_tokens": 200, "temperature": 0})
            ts = [threading.Thread(target=long, args=(i,)) for i in range(2)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            same &= all(out[i][0] == 200 and json.loads(out[i][2])["choices"][0]["text"] == long_refs[i] for i in range(2))
            m1 = json.loads(T.req(port, "GET", "/v1/models")[2])["data"][0]["meta"]
            steps, seqs = m1["batch_steps"] - m0["batch_steps"], m1["batch_step_sequences"] - m0["batch_step_sequences"]
            if seqs > steps:
                shared = True
                break
        T.check(m1["continuous_batching"] and shared and same,
                f"continuous batching: two sequences shared decode steps ({seqs} sequence-steps in {steps} steps), "
                "outputs unchanged")
        # cancel mid-stream: read two events, close; the generation must stop early
        m0 = T.req(port, "GET", "/metrics")[2].decode()
        comp = lambda m: int(re.search(r'pare_tokens_total\{model="tiny",kind="completion"\} (\d+)', m).group(1))
        s = socket.create_connection(("127.0.0.1", port))
        body = json.dumps({"prompt": prompt, "max_tokens": CTX, "temperature": 0, "stream": True, "ignore_eos": True})
        s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        got = b""
        while got.count(b"data: ") < 2:
            got += s.recv(4096)
        s.close()
        time.sleep(1.0)
        m1 = T.req(port, "GET", "/metrics")[2].decode()
        generated = comp(m1) - comp(m0)
        T.check('pare_requests_total{model="tiny",code="499"} 1' in m1, "cancelled stream counted as 499")
        T.check(generated < CTX - len(prompt), f"cancelled stream stopped early ({generated} tokens)")
        st, _, b = post(port, "/v1/completions", {"prompt": prompt, "max_tokens": 12, "temperature": 0})
        T.check(st == 200 and json.loads(b)["choices"][0]["text"] == ref["text"], "served normally after the cancel")
        T.check("pare_tokens_total" in m1 and 'pare_requests_total{model="tiny",code="200"}' in m1, "metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        T.check(proc.wait(timeout=30) == 0, "SIGTERM exits 0")
        T.check('"path":"/v1/completions"' in open(proc.log_path).read(), "access log lines")
    # auth and limits
    proc, port = T.start([model, "--api-key-file", keyf, "--max-body-mb", "0.01", "--parallel", "1", "--max-queue-size", "0",
                          "--request-timeout-ms", "50"])
    try:
        T.check(T.req(port, "GET", "/v1/models")[0] == 401, "missing key 401")
        auth = {"Authorization": "Bearer k3y"}
        T.check(T.req(port, "GET", "/v1/models", headers=auth)[0] == 200, "right key 200")
        st, _, _ = post(port, "/v1/completions", {"prompt": "x" * 20000}, headers=auth)
        T.check(st == 413, "body over the limit 413")
        # one slot, no queue: a second request while the first streams is refused with 503
        s = socket.create_connection(("127.0.0.1", port))
        body = json.dumps({"prompt": "hello", "max_tokens": CTX, "stream": True, "ignore_eos": True, "temperature": 0})
        s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k3y\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
        got = b""
        while got.count(b"data: ") < 1:
            got += s.recv(4096)
        st, _, b = post(port, "/v1/completions", {"prompt": "hello", "max_tokens": 2}, headers=auth)
        s.close()
        T.check(st == 503 and "queue full" in json.loads(b)["error"]["message"], "no free slot and no queue: 503")
    finally:
        proc.send_signal(signal.SIGTERM)
        T.check(proc.wait(timeout=30) == 0, "auth server exits 0")
    r = subprocess.run([pare, "serve", os.path.join(work, "key")], capture_output=True, text=True, timeout=30)
    T.check(r.returncode != 0, "not a model: refused")
    open(os.path.join(work, "bad.gguf"), "wb").write(b"GGUF\x03\x00\x00\x00garbage")
    r = subprocess.run([pare, "serve", os.path.join(work, "bad.gguf")], capture_output=True, text=True, timeout=30)
    T.check(r.returncode != 0 and "gguf" in r.stderr.lower(), "corrupt GGUF refused with a message")
    print(f"{len(T.failures)} failure(s)")
    return 1 if T.failures else 0


if __name__ == "__main__":
    sys.exit(main())
