#!/usr/bin/env bash
# Installs every Debian package pare needs to build, test and benchmark. Idempotent: packages
# already present are skipped, so a second run costs one dpkg query. Runs as root or via sudo.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  # engine dependencies (DESIGN.md §4)
  libprotobuf-dev protobuf-compiler libonnx-dev
  libdnnl-dev libhwy-dev libfmt-dev libcli11-dev nlohmann-json3-dev zlib1g-dev
  libcpp-httplib-dev libssl-dev libtomlplusplus-dev libstb-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  libonnx-testdata dataset-fashion-mnist
  # pare tune report: rendering test and README screenshot (headless)
  chromium
  python3-torch python3-torchvision python3-onnx python3-numpy
  # benchmarks: PyTorch on OpenBLAS (bench/compare.py, bench/train)
  libopenblas0-openmp
  # the web page test of pare serve (headless screenshot and DOM check)
  chromium
  # fuzzing (make fuzz)
  clang libclang-rt-14-dev
)

# node and npm run the peers (ONNX Runtime, llama.cpp from npm); the machine's own node is used
# when there is one (a Debian npm package would conflict with it).
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
