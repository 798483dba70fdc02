#!/usr/bin/env bash
# gpu_check.sh — on a machine with one NVIDIA GPU (nvcc, cmake, ninja, and a
# python3 with torch): builds Ember's compute core and CUDA backend, runs the
# `gpu` tests, then times one training step of the default ViT (batch 128,
# bf16) in Ember and in PyTorch (eager and torch.compile, bf16 autocast) on
# the same card, and prints a markdown table.
#
# Works offline: if the system lacks jansson or pkg-config, Debian packages
# carried in <repo>/.deps/*.deb (apt-get download libjansson4 libjansson-dev
# pkgconf pkgconf-bin libpkgconf3) are unpacked into a private prefix. Builds
# only engine/{core,cpu,nn}, cuda/ and tests/cuda/ (through a small wrapper
# project), so folders the GPU does not need cannot break it.
#
# Environment: BUILD (build dir, default <repo>/build-gpu), LOGDIR (full logs,
# default $OUT when set, else $BUILD/logs), STEPS (timed steps, default 30),
# BATCH (default 128), TORCH_MODES (default eager,compile), SKIP_TESTS=1,
# BENCH_TIMEOUT / TORCH_TIMEOUT (seconds, default 150 / 240),
# FORCE_DEPS=1 (use .deps even when the system has jansson: to test that path),
# BUILD_ONLY=1 (build, then stop),
# PREBUILT (a build dir of the whole project, or of this wrapper, that already
# holds tests/cuda/vit_step_bench and cuda/libember_cuda.so: nothing is built,
# the tests and benchmarks run from there; bench/gpu_proof.sh passes its own
# build so the card's time goes to measuring), PYTHON (the python3 with torch,
# default python3).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-${PREBUILT:-$ROOT/build-gpu}}
LOGDIR=${LOGDIR:-${OUT:-$BUILD/logs}}
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-30}
BATCH=${BATCH:-128}
TORCH_MODES=${TORCH_MODES:-eager,compile}
mkdir -p "$BUILD" "$LOGDIR"
T0=$(date +%s)
say() { printf '[%4ds] %s\n' $(( $(date +%s) - T0 )) "$*"; }

# ---- dependencies carried in ------------------------------------------------
if [ -n "${PREBUILT:-}" ]; then
  B=$PREBUILT
  say "using the build in $B (PREBUILT): nothing is built"
elif [ "${FORCE_DEPS:-0}" = 1 ] || ! pkg-config --exists jansson 2>/dev/null; then
  if ls "$ROOT"/.deps/*.deb >/dev/null 2>&1; then
    P=$BUILD/deps
    mkdir -p "$P"
    for d in "$ROOT"/.deps/*.deb; do dpkg -x "$d" "$P" || { say "cannot unpack $d"; exit 1; }; done
    ML=$(ls -d "$P"/usr/lib/*-linux-gnu 2>/dev/null | head -1)
    for pc in "$ML"/pkgconfig/*.pc; do
      [ -f "$pc" ] && sed -i "s|^prefix=.*|prefix=$P/usr|" "$pc"
    done
    export PATH="$P/usr/bin:$PATH"
    [ -x "$P/usr/bin/pkg-config" ] || ln -sf pkgconf "$P/usr/bin/pkg-config"
    export PKG_CONFIG_PATH="$ML/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export CMAKE_PREFIX_PATH="$P/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export LD_LIBRARY_PATH="$ML${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "using carried dependencies in $P"
  else
    say "jansson not found and no .deps/*.deb carried: cannot build"; exit 1
  fi
fi
if [ -z "${PREBUILT:-}" ]; then # (to the end of the build section: only without PREBUILT)
BLAS=OFF
pkg-config --exists openblas 2>/dev/null && BLAS=ON

# ---- build ------------------------------------------------------------------
B=$BUILD/b
W=$BUILD/wrapper
mkdir -p "$W"
cat > "$W/CMakeLists.txt" <<CMK
cmake_minimum_required(VERSION 3.24)
project(ember_gpu LANGUAGES C CXX CUDA)
set(CMAKE_C_STANDARD 11)
set(CMAKE_C_EXTENSIONS ON)
set(EMBER_CUDA ON)
set(EMBER_WERROR OFF) # warnings are errors in CI; another compiler here must not stop the run
set(EMBER_BLAS $BLAS)
add_compile_options(\$<\$<COMPILE_LANGUAGE:C>:-Wall> \$<\$<COMPILE_LANGUAGE:C>:-Wextra>)
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
find_package(CUDAToolkit REQUIRED)
enable_testing()
add_subdirectory($ROOT/engine/core core)
add_subdirectory($ROOT/engine/cpu cpu)
add_subdirectory($ROOT/engine/nn nn)
add_subdirectory($ROOT/engine/fileio fileio) # ember_core writes safetensors through it
add_subdirectory($ROOT/cuda cuda)
add_subdirectory($ROOT/tests/cuda tests/cuda)
CMK
export CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
GEN=; command -v ninja >/dev/null && GEN="-G Ninja"
say "configure (BLAS=$BLAS, nvcc $($CUDACXX --version | tail -1))"
if ! cmake -S "$W" -B "$BUILD/b" $GEN -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_CUDA_ARCHITECTURES="80-real;90-real;90-virtual" >"$LOGDIR/build.log" 2>&1; then
  tail -30 "$LOGDIR/build.log"; say "configure FAILED"; exit 1
fi
say "build"
if ! cmake --build "$BUILD/b" -j "$(nproc)" >>"$LOGDIR/build.log" 2>&1; then
  grep -E "error|Error" "$LOGDIR/build.log" | head -30; say "build FAILED"; exit 1
fi
fi # not PREBUILT
export EMBER_CUDA_LIB=${EMBER_CUDA_LIB:-$B/cuda/libember_cuda.so}
# BUILD_ONLY=1: stop here (bench/gpu_proof.sh builds the GPU tests and the
# step bench this way where the whole project cannot be built)
if [ "${BUILD_ONLY:-0}" = 1 ]; then say "built in $B (BUILD_ONLY)"; exit 0; fi

# ---- tests ------------------------------------------------------------------
TESTS=skipped
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  say "ctest -L gpu"
  (cd "$B" && ctest -L gpu -V --timeout 120) >"$LOGDIR/ctest.log" 2>&1
  TRC=$?
  grep -E "FAIL|SKIP|tests passed|tests failed|\*\*\*|Test +#" "$LOGDIR/ctest.log" | grep -v "^[0-9]*: ok" | head -60
  TESTS=$([ $TRC = 0 ] && echo passed || echo FAILED)
  grep -q "Skipped" "$LOGDIR/ctest.log" && TESTS="$TESTS (some skipped: no GPU?)"
  say "gpu tests $TESTS"
fi

# ---- benchmarks ---------------------------------------------------------------
say "Ember step benchmark"
if [ -x "$B/tests/cuda/vit_step_bench" ]; then
  timeout "${BENCH_TIMEOUT:-150}" "$B/tests/cuda/vit_step_bench" "$STEPS" "$BATCH" >"$LOGDIR/bench_ember.log" 2>&1
  echo "EXIT $?" >>"$LOGDIR/bench_ember.log"
else
  echo "SKIP: $B/tests/cuda/vit_step_bench is not built (a build without CUDA)" >"$LOGDIR/bench_ember.log"
fi
grep -vE "^RESULT" "$LOGDIR/bench_ember.log" | tail -5
if [ "${PROFILE:-0}" = 1 ] && command -v ncu >/dev/null; then
  # kernel times of one op-by-op mixed step (steps 4-5 of the run), for tuning
  say "ncu profile of one step"
  timeout 200 ncu --metrics gpu__time_duration.sum --csv --cache-control none --clock-control none \
    --launch-skip 1400 --launch-count 420 "$B/tests/cuda/vit_step_bench" 2 "$BATCH" mixed-eager \
    >"$LOGDIR/prof.csv" 2>"$LOGDIR/prof.err"
  python3 - "$LOGDIR/prof.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
hdr = rows[0]; k = hdr.index("Kernel Name"); v = hdr.index("Metric Value")
t = collections.defaultdict(float); n = collections.Counter()
for r in rows[1:]:
    try: ns = float(r[v].replace(",", ""))
    except ValueError: continue
    name = r[k].split("(")[0].split("<")[0][:60]; t[name] += ns; n[name] += 1
tot = sum(t.values())
print(f"profiled kernels: {sum(n.values())}, total {tot/1e6:.3f} ms")
for name, ns in sorted(t.items(), key=lambda x: -x[1])[:25]:
    print(f"{ns/1e3:9.1f} us {100*ns/tot:5.1f}% x{n[name]:4d}  {name}")
PY
fi
say "PyTorch step benchmark ($TORCH_MODES)"
PYTHONUNBUFFERED=1 timeout "${TORCH_TIMEOUT:-240}" "$PYTHON" "$ROOT/bench/vit_step_torch.py" --steps "$STEPS" --batch "$BATCH" \
  --modes "$TORCH_MODES" >"$LOGDIR/bench_torch.log" 2>&1
echo "EXIT $?" >>"$LOGDIR/bench_torch.log"
grep -E "FAILED|Error" "$LOGDIR/bench_torch.log" | tail -5

# ---- table ------------------------------------------------------------------
python3 - "$LOGDIR/bench_ember.log" "$LOGDIR/bench_torch.log" "$TESTS" <<'PY'
import sys, datetime
ember, torch_log, tests = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
rows, card, rate, flops = [], "?", None, None
for line in torch_log.splitlines():
    f = line.split()
    if not f: continue
    if f[0] == "CARD": card = line[5:]
    elif f[0] == "MATMUL": rate = float(f[1])
    elif f[0] == "FLOPS": flops = float(f[1])
    elif f[0] == "TORCH" and f[2] != "FAILED":
        rows.append((f"PyTorch {f[1]} (bf16 autocast)", float(f[2]), float(f[3]), int(f[4]), f[5]))
    elif f[0] == "TORCH":
        rows.append((f"PyTorch {f[1]}: " + " ".join(f[3:])[:60], None, None, None, ""))
names = {"mixed-graph": "Ember bf16, CUDA graph", "mixed-eager": "Ember bf16, op by op",
         "fp32-engine": "Ember engine/nn fp32 step"}
for line in ember.splitlines():
    f = line.split()
    if f and f[0] == "RESULT":
        rows.append((names.get(f[1], f[1]), float(f[2]), float(f[3]), int(f[4]), f[6]))
eager = next((r[1] for r in rows if r[0].startswith("PyTorch eager") and r[1]), None)
print()
print(f"Card: {card}; date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; gpu tests: {tests}")
if rate and flops:
    print(f"bf16 matmul rate measured: {rate:.0f} TFLOP/s; step = {flops/1e9:.0f} GFLOP; "
          f"floor = {flops / (rate * 1e12) * 1e3:.3f} ms/step")
print()
print("| run | ms/step | images/s | vs PyTorch eager | peak GPU memory | last loss |")
print("|---|---:|---:|---:|---:|---:|")
for name, ms, ips, peak, loss in rows:
    if ms is None:
        print(f"| {name} | - | - | - | - | - |"); continue
    ratio = f"{eager / ms:.2f}x" if eager else "-"
    print(f"| {name} | {ms:.2f} | {ips:.0f} | {ratio} | {peak / 2**30:.2f} GiB | {loss} |")
if rate and flops:
    print(f"| floor (FLOPs / measured bf16 rate) | {flops / (rate * 1e12) * 1e3:.2f} | "
          f"{128 / (flops / (rate * 1e12)):.0f} | - | - | - |")
PY
say "done"
