# Ember's two commands: `make demo` (the main job) and `make check` (every test).
# Both install what is missing first (scripts/install-deps.sh says what).
BUILD     ?= build
PY        ?= python3
JOBS      ?= $(shell nproc)
CMAKE_ARGS ?=
FUZZ_SECONDS ?= 60
export EMBER_BUILD_DIR := $(abspath $(BUILD))

.PHONY: all build deps-build deps-check deps-demo check ctest pytest fuzz asan demo kernelspec clean

all: build

deps-build: ; @scripts/install-deps.sh build
deps-check: ; @scripts/install-deps.sh check
deps-demo:  ; @scripts/install-deps.sh demo

# Configuring again is cheap and lets CMAKE_ARGS change an existing build dir.
build:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

kernelspec: build
	$(PY) -m jupyter kernelspec install --user --name ember $(BUILD)/kernelspec/ember >/dev/null
	@echo "kernelspec 'ember' installed (jupyter kernelspec list)"

# ---- tests -------------------------------------------------------------
check: deps-check
	$(MAKE) build
	$(MAKE) ctest
	$(MAKE) pytest
	$(MAKE) fuzz
	$(MAKE) asan
	@echo "make check: all test suites passed"

ctest:
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

pytest:
	$(PY) -m pytest -q tests

fuzz:
	cmake -S . -B $(BUILD)-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DEMBER_FUZZ=ON -DEMBER_CUDA=OFF >/dev/null
	cmake --build $(BUILD)-fuzz -j $(JOBS)
	scripts/run-fuzzers.sh $(BUILD)-fuzz $(FUZZ_SECONDS)

# The protocol suite again with the kernel under ASan and UBSan.
asan:
	cmake -S . -B $(BUILD)-asan -DEMBER_SANITIZE=ON -DEMBER_CUDA=OFF >/dev/null
	cmake --build $(BUILD)-asan -j $(JOBS) --target ember-kernel
	EMBER_BUILD_DIR=$(abspath $(BUILD)-asan) EMBER_SANITIZED=1 $(PY) -m pytest -q tests/protocol

# ---- the main job ------------------------------------------------------
demo: deps-demo
	$(MAKE) build
	$(MAKE) kernelspec
	scripts/run-demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-fuzz $(BUILD)-asan
