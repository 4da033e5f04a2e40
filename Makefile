# pare — the two set-up commands are `make run` and `make test` (see README.md).
BUILD    ?= build
TYPE     ?= Release
JOBS     ?= $(shell nproc)
PARE     := $(BUILD)/pare
DATA     ?= /usr/share/datasets/fashion-mnist
TESTDATA := /usr/share/libonnx-testdata/data

# README screenshot of the tune report (headless Chromium).
screenshot:
	@bash scripts/screenshot_report.sh out/fashion-mnist-tune/report.html docs/images/tune_report.png

.PHONY: screenshot all deps configure build run test conformance conformance-docs fuzz clean readme-ops

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(TYPE) >/dev/null

build: configure
	@ninja -C $(BUILD) -j $(JOBS)

# The main job (docs/tuning.md): on Fashion-MNIST, pare tune the committed teacher CNN with
# distillation and quantization under a budget (BUDGET minutes, default 11), print the summary,
# write out/fashion-mnist-tune/report.html, compare the chosen model with the teacher, then
# pare serve it on 127.0.0.1:$(PORT) (SERVE=0 skips serving).
BUDGET ?= 11
PORT   ?= 8731
run: build
	@DATA=$(DATA) BUDGET=$(BUDGET) PORT=$(PORT) bash examples/fashion-mnist/tune.sh $(PARE) out/fashion-mnist-tune

# Unit tests, ONNX conformance (regression list), real-model parity, CLI end to end.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2

# Re-runs every conformance case and rewrites docs/conformance.md and the passing list.
conformance-docs: build
	@$(BUILD)/tests/pare_conformance --quiet --dir $(TESTDATA)/node --dir $(TESTDATA)/pytorch-converted \
	  --dir $(TESTDATA)/pytorch-operator --dir $(TESTDATA)/simple \
	  --not-applicable tests/conformance/not_applicable.tsv \
	  --markdown docs/conformance.md --write-passing tests/conformance/passing.txt

# libFuzzer target for the ONNX loader (clang, ASan+UBSan); FUZZ_SECONDS to run it longer.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARE_FUZZ=ON -DPARE_BUILD_TESTS=OFF >/dev/null
	@ninja -C build-fuzz -j $(JOBS) fuzz_onnx_load
	@mkdir -p build-fuzz/corpus && cp -n tests/fuzz/corpus/* build-fuzz/corpus/ 2>/dev/null || true
	@build-fuzz/fuzz_onnx_load build-fuzz/corpus -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536

clean:
	rm -rf $(BUILD) build-fuzz

# Regenerates README's operator table from the registry.
readme-ops: build
	@/usr/bin/python3 scripts/update_readme_ops.py $(PARE) README.md
