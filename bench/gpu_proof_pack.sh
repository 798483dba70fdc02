#!/usr/bin/env bash
# gpu_proof_pack.sh — prepares build-proof-carry/, what bench/gpu_proof.sh
# needs on the device machine that the machine does not have: run it HERE
# (x86-64 Debian, with Ember's build dependencies, nvcc and network), then
# hand the folder to the device tool with carry=["build-proof-carry"] (see
# gpu_proof.sh's header). The machine has python3 with torch, torchvision and
# transformers, CUDA and cmake, but not Ember's Debian libraries (ZeroMQ,
# jansson, cairo, libarchive, ...) nor jupyter / papermill, and no network.
#
# What goes in (build-proof-carry/, ignored by git as /build*/):
#   b/          the programs the run uses, built here in Release for the H200
#               (sm_90): kernel/ember-kernel, cuda/libember_cuda.so,
#               bench/ember_q1, bench/ember_clipseg_bench, tests/cuda/* and
#               their CTestTestfile.cmake, so `ctest -L gpu` runs from b/;
#   libs.tar.xz every shared library they load, except the C library, the
#               C++ runtime and CUDA's (gpu_proof.sh puts on the library path
#               only those the machine lacks);
#   wheels/     papermill, nbclient, jupyter_client (pyzmq with its own
#               libzmq) and what they need, for CPython 3.12 manylinux
#               (Ember's translator, kernelspec/papermill, travels with the
#               working tree: bench/q1_notebook.py imports it from there);
#   pack.json   where and from what it was built (the source folder: tests
#               read fixtures through paths compiled in, which gpu_proof.sh
#               makes lead to the checkout there if it lives elsewhere).
# It stays under 64 MiB together with the working tree (the tool's limit);
# the size is printed. Environment: PACK_BUILD (default build-proof-pack/),
# PACK_PYTHON_VERSION (3.12), NO_WHEELS=1 (skip the downloads).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PB=${PACK_BUILD:-$ROOT/build-proof-pack}
CARRY=$ROOT/build-proof-carry
PYV=${PACK_PYTHON_VERSION:-3.12}
say() { echo "gpu_proof_pack: $*"; }

TARGETS=(ember-kernel ember_q1 ember_clipseg_bench ember_cuda test_cuda_ops test_cuda_oom
         test_cuda_graph test_cuda_vit test_cuda_clipseg test_cuda_resume vit_step_bench)
say "building ${TARGETS[*]} in $PB (Release, CUDA sm_90)"
if [ ! -f "$PB/CMakeCache.txt" ]; then
    # warnings stay warnings here: CI holds the line on them, and a proof run
    # must not wait for a Release-only one
    cmake -S "$ROOT" -B "$PB" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=ON -DEMBER_WERROR=OFF \
        -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
fi
grep -q '^EMBER_CUDA:BOOL=ON' "$PB/CMakeCache.txt" || { say "no CUDA in $PB (nvcc missing?)"; exit 1; }
cmake --build "$PB" -j "$(nproc)" --target "${TARGETS[@]}" >"$PB/pack-build.log" 2>&1 ||
    { tail -30 "$PB/pack-build.log"; say "build failed ($PB/pack-build.log)"; exit 1; }

rm -rf "$CARRY"
mkdir -p "$CARRY/b/tests/cuda" "$CARRY/b/kernel" "$CARRY/b/cuda" "$CARRY/b/bench" "$CARRY/wheels"
progs=(kernel/ember-kernel cuda/libember_cuda.so bench/ember_q1 bench/ember_clipseg_bench
       tests/cuda/test_cuda_ops tests/cuda/test_cuda_oom tests/cuda/test_cuda_graph
       tests/cuda/test_cuda_vit tests/cuda/test_cuda_clipseg tests/cuda/test_cuda_resume
       tests/cuda/vit_step_bench)
for p in "${progs[@]}"; do
    cp "$PB/$p" "$CARRY/b/$p"
    strip --strip-unneeded "$CARRY/b/$p" # debug info is most of their size
done
# ctest from b/: only the GPU tests, their paths moved from $PB to b/
printf 'subdirs("tests/cuda")\n' >"$CARRY/b/CTestTestfile.cmake"
sed "s|$PB|$CARRY/b|g" "$PB/tests/cuda/CTestTestfile.cmake" >"$CARRY/b/tests/cuda/CTestTestfile.cmake"

# Shared libraries: the closure ldd resolves here, flattened under their sonames.
say "collecting shared libraries"
LIBDIR=$(mktemp -d)
trap 'rm -rf "$LIBDIR"' EXIT
for p in "${progs[@]}"; do
    ldd "$PB/$p" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r soname path; do
    case $soname in
    # the C library, the C++ runtime and the loader are the machine's own;
    # CUDA's come with its driver and toolkit
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|libutil.so*|ld-linux*|\
    libstdc++.so*|libgcc_s.so*|libcuda.so*|libcudart.so*|libcublas.so*|libcublasLt.so*|libnvidia*) ;;
    *) cp -L "$path" "$LIBDIR/$soname" ;;
    esac
done
tar -cJf "$CARRY/libs.tar.xz" -C "$LIBDIR" .
say "libraries: $(find "$LIBDIR" -type f | wc -l) ($(du -sh "$CARRY/libs.tar.xz" | cut -f1) compressed)"

# Python wheels for the notebook side, for the device's CPython $PYV: the
# versions this checkout is tested with (what `make check` installs here).
if [ "${NO_WHEELS:-0}" != 1 ]; then
    pins=()
    for pkg in papermill nbclient nbformat jupyter_client jupyter_core traitlets pyzmq tornado; do
        v=$(python3 -m pip show "$pkg" 2>/dev/null | awk '/^Version:/ {print $2}')
        pins+=("$pkg${v:+==$v}")
    done
    say "downloading wheels for CPython $PYV: ${pins[*]} (and what they need)"
    plat=()
    for t in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64 linux_x86_64; do
        plat+=(--platform "$t")
    done
    python3 -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version "$PYV" \
        --implementation cp "${plat[@]}" -d "$CARRY/wheels" "${pins[@]}"
    say "wheels: $(find "$CARRY/wheels" -name '*.whl' | wc -l) ($(du -sh "$CARRY/wheels" | cut -f1))"
fi

python3 - "$CARRY/pack.json" "$ROOT" "$PB" <<'PYEOF'
import datetime, json, os, subprocess, sys
out, root, pb = sys.argv[1:4]
def git(*args):
    try:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
carry = os.path.dirname(out)
files = sorted(os.path.relpath(os.path.join(d, f), carry) for d, _, fs in os.walk(carry) for f in fs)
json.dump(dict(source_dir=root, build_dir=pb, carry_dir=carry,
               made=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               commit=git("rev-parse", "HEAD"), uncommitted_changes=bool(git("diff", "--stat", "HEAD")),
               files=files), open(out, "w"), indent=1)
PYEOF
size=$(du -sm "$CARRY" | cut -f1)
tree=$(git -C "$ROOT" ls-files -co --exclude-standard -z | du -cm --files0-from=- 2>/dev/null | tail -1 | cut -f1)
say "build-proof-carry/: ${size} MiB; the working tree that travels with it: about ${tree} MiB (limit 64 MiB together)"
[ $((size + tree)) -le 62 ] || { say "too large for the device tool"; exit 1; }
say "ready: run(command=\"bench/gpu_proof.sh \$OUT\", carry=[\"build-proof-carry\"], timeout_s=540)"
