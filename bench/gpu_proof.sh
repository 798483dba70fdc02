#!/usr/bin/env bash
# gpu_proof.sh — q1 and q2 on the GPU, proven end to end in one prepared run
# (issue 12, item 1). A session lent an H200 runs it once; it is sized to end
# in under 8 minutes there (450 s by default, see PROOF_TOTAL), so a second
# try fits in the session's 15 minutes of device time.
#
#   bench/gpu_proof.sh OUTDIR [--dry-run] [--build-dir DIR] [--parts a,b,c,d]
#
# Parts, each with a time budget (seconds left over by one part go to the
# next; a part that overruns is stopped and recorded as such, keeping what it
# finished; one part failing never stops the others):
#   a  build (or take a carried build) and `ctest -L gpu`, each test's result;
#   b  q1 end to end, 2 seeds, the full recipe for 100 epochs on the CIFAR-10
#      subset of ../shared/data (4,000 train / 1,000 test images):
#        Ember through the kernel: notebooks/q1.ipynb via papermill -k ember
#        (bench/q1_notebook.py; nbclient when papermill is missing), or, when
#        the kernel path cannot run there, bench/q1_ember.c over ember_fit
#        (the summary then says the kernel path was not exercised);
#        PyTorch, the reference recipe (bench/q1_torch.py), eager and
#        torch.compile, on the same data and card;
#      accuracy per seed and mean, end-to-end seconds per epoch and images/s
#      (augmentation, steps, test evaluation), peak GPU memory (nvidia-smi
#      sampled through each run for both; PyTorch's max_memory_allocated;
#      the engine's own count where the C driver runs);
#   c  q2: a full-size random CLIPSeg (tests/nn/gen_clipseg_fixtures.py --full)
#      on CUDA through the engine (bench/clipseg_bench.c --device cuda) against
#      transformers fp32 eager on the same card (bench/clipseg_torch.py):
#      largest probability difference, latency of 1 image x 3 prompts (median
#      of 20 after a warm-up);
#   d  the training-step benchmark of bench/gpu_check.sh (run as it is, with
#      PREBUILT= this run's build and SKIP_TESTS=1).
# Output: OUTDIR/summary.json, summary.md (the table printed at the end),
# a_build_tests.json, b_q1.json, c_q2.json, d_step.json (raw results) and
# logs.tar.gz (every log and executed notebook): 7 files, within the device
# tool's 8 files back from $OUT.
#
# Exit status 0 once the results are written, whatever the parts' statuses
# (they are in summary.json); 2 for bad arguments or, without --dry-run, no GPU.
#
# --dry-run: the same script and code paths on a CPU machine at tiny sizes:
# 1 epoch of 1 step (the kernel path, both executors: papermill for the first
# seed, nbclient for the second; the C driver too), the tiny CLIPSeg of
# tests/fixtures (tests/tiny_clipseg.py), a 2-step training-step bench; the
# engine on its CPU backend; `ctest -L gpu` is skipped, saying so. Where
# torch / torchvision / transformers are missing (CI has none), the Python
# parts are checked with pyflakes (py_compile when pyflakes is missing too)
# and reported as not run. `make check` runs it (tests/bench/).
#
# Environment: EMBER_BUILD_DIR (or --build-dir; default: a carried
#   build-proof-carry/ when present, else build-proof-gpu/ (CUDA) or, for the
#   dry run, build-proof/ (no CUDA), configured and built here: only the
#   targets used); TORCH_PYTHON (a python with torch + torchvision, default
#   python3); HF_PYTHON (torch + transformers, default $TORCH_PYTHON);
#   EXEC_PYTHON (papermill / nbclient side, default python3);
#   EMBER_SHARED_DATA (default <repo>/../shared/data); PROOF_TOTAL (seconds
#   for the whole run: 450, dry run 900); PROOF_SEEDS ("0 1"); Q1_EPOCHS
#   (100; dry run 1); KEEP_WORK=1 keeps the scratch folder.
#
# ---- On a GPU session, through the device tool ------------------------------
# The device machine has python3 with torch, torchvision and transformers but
# not Ember's Debian libraries (ZeroMQ, jansson, cairo, ...) nor jupyter or
# papermill, and no network. So first, HERE (the CPU machine, with network):
#
#   bench/gpu_proof_pack.sh          # -> build-proof-carry/ (ignored by git, < 40 MiB)
#
# which makes a Release build for sm_90 (build-proof-pack/, only the targets
# used) and puts into build-proof-carry/ (about 33 MiB; 64 MiB with the
# working tree is the tool's limit) the binaries, the shared libraries they
# need (a tar.xz: the run uses only those the machine lacks) and Python 3.12
# wheels of papermill / nbclient / jupyter_client and their needs (Ember's
# translator, kernelspec/papermill, comes with the working tree). Then ONE
# call of the device tool (it copies the working tree; carry brings the
# pack; what the run writes under $OUT comes back, at most 8 files):
#
#   run(command="bench/gpu_proof.sh $OUT", carry=["build-proof-carry"], timeout_s=540)
#
# 540 s covers the run's 450 s, its set-up and the logs' packing, and leaves
# about 5 of the session's 15 device minutes (the machine's start counts
# too): enough to rerun the parts that need it (--parts b,c, a timeout_s
# to match), not the whole. The machine's own Python runs the PyTorch sides
# (TORCH_PYTHON / HF_PYTHON default to python3 there). Without the pack the
# run builds there (needs the -dev packages; parts whose libraries are
# missing are skipped with the reason), 120 s more: timeout_s=600.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
REPORT=$BENCH/gpu_proof_report.py

usage() { echo "usage: bench/gpu_proof.sh OUTDIR [--dry-run] [--build-dir DIR] [--parts a,b,c,d]" >&2; exit 2; }
OUTDIR='' DRY=0 BUILD_ARG='' PARTS=a,b,c,d
while [ $# -gt 0 ]; do
    case $1 in
    --dry-run) DRY=1 ;;
    --build-dir) [ $# -ge 2 ] || usage; BUILD_ARG=$2; shift ;;
    --parts) [ $# -ge 2 ] || usage; PARTS=$2; shift ;;
    -h|--help) usage ;;
    -*) echo "gpu_proof.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$OUTDIR" ] || usage; OUTDIR=$1 ;;
    esac
    shift
done
[ -n "$OUTDIR" ] || usage
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
want() { case ",$PARTS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-proof.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/a" "$WORK/b" "$WORK/c" "$WORK/d"
STATUS=$WORK/status.jsonl
: >"$STATUS"
BG_PIDS=()

say() { printf '[%4ds] %s\n' $(( $(date +%s) - T0 )) "$*"; }

# Background processes this script started (nvidia-smi samplers, the model
# generator) are ended by their own ids; the logs go to OUTDIR whatever happens.
finish() {
    local rc=$?
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    tar -czf "$OUTDIR/logs.tar.gz" -C "$WORK" logs 2>/dev/null || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "scratch kept in $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap finish EXIT
trap 'exit 143' TERM INT # so that finish runs when the run is stopped

# record PART RUN STATUS REASON: one line of $STATUS (the summary is built
# from it); its seconds run from the part's start or the part's last record.
record() {
    local now; now=$(date +%s)
    python3 "$REPORT" record --status-file "$STATUS" --part "$1" --run "$2" --status "$3" \
        --reason "${4:-}" --seconds "$(( now - ${LAST_MARK:-${PART_START:-$T0}} ))" --budget "${PART_ALLOWED:-0}"
    LAST_MARK=$now
    say "  $1/$2: $3${4:+ ($4)}"
}

# ---- sizes and budgets ----------------------------------------------------------
SEEDS=${PROOF_SEEDS:-0 1}
# q1.ipynb saves a checkpoint of the whole training state after every epoch;
# PyTorch's recipe saves none, so the compared epochs leave it out by default
# (Q1_CHECKPOINT=q1.ckpt measures it; each seed runs in a folder of its own).
Q1_CHECKPOINT=${Q1_CHECKPOINT:-none}
read -r -a SEEDA <<<"$SEEDS"
if [ "$DRY" = 1 ]; then
    TOTAL=${PROOF_TOTAL:-900}
    Q1_EPOCHS=${Q1_EPOCHS:-1} Q1_STEPS=1 Q1_TRAIN=256 Q1_TEST=32 DRIVER_BATCH=16 TORCH_BATCH=16
    WORKER_CANDIDATES=0,2 Q2_RUNS=3 STEP_STEPS=2 STEP_BATCH=8 STEP_MODES=eager
    declare -A BUDGET=([a]=300 [ember]=150 [eager]=120 [compile]=300 [c]=120 [d]=60)
else
    TOTAL=${PROOF_TOTAL:-450}
    Q1_EPOCHS=${Q1_EPOCHS:-100} Q1_STEPS=0 Q1_TRAIN=4000 Q1_TEST=1000 DRIVER_BATCH=128 TORCH_BATCH=128
    WORKER_CANDIDATES=4,8,12 Q2_RUNS=20 STEP_STEPS=30 STEP_BATCH=128 STEP_MODES=eager,compile
    # Expected on an H200 (docs/BENCHMARKS.md's step times x 32 steps an epoch):
    # Ember ~0.2 s/epoch, PyTorch eager ~0.45, compiled ~0.4 plus compilation.
    declare -A BUDGET=([a]=40 [ember]=80 [eager]=110 [compile]=125 [c]=40 [d]=45)
fi
ORDER=(a ember eager compile c d)
SEED_RESERVE=20 # seconds a q1 run keeps for each of its later seeds
MIN_PART=15 # each later part keeps at least this much of the total
SLACK=0

# part_begin NAME: the part's deadline = its budget plus what earlier parts
# left, but never eating into the minimum the later parts keep.
part_begin() {
    local name=$1 later=0 seen=0 p now
    for p in "${ORDER[@]}"; do
        if [ "$seen" = 1 ] && want_order "$p"; then later=$((later + MIN_PART)); fi
        [ "$p" = "$name" ] && seen=1
    done
    now=$(date +%s)
    PART_START=$now LAST_MARK=$now
    PART_ALLOWED=$(( ${BUDGET[$name]} + SLACK ))
    local room=$(( T0 + TOTAL - now - later ))
    [ "$PART_ALLOWED" -le "$room" ] || PART_ALLOWED=$room
    [ "$PART_ALLOWED" -ge 10 ] || PART_ALLOWED=10
    PART_END=$(( now + PART_ALLOWED ))
    say "== $name: ${PART_ALLOWED}s (budget ${BUDGET[$name]}s)"
}
part_end() {
    local used=$(( $(date +%s) - PART_START ))
    SLACK=$(( ${BUDGET[$1]} + SLACK - used ))
    [ "$SLACK" -ge 0 ] || SLACK=0
    say "== $1 done in ${used}s (budget ${BUDGET[$1]}s; ${SLACK}s carried to the next part)"
}
want_order() { case $1 in ember|eager|compile) want b ;; *) want "$1" ;; esac; }
left() { echo $(( PART_END - $(date +%s) )); }
# bt [-s SECONDS] CMD...: CMD under the part's remaining time (or SECONDS if
# less); 124 when it ran out (the command is killed 5 s after the TERM).
bt() {
    local l; l=$(left)
    if [ "${1:-}" = -s ]; then [ "$2" -ge "$l" ] || l=$2; shift 2; fi
    if [ "$l" -lt 3 ]; then echo "no time left in this part's budget" >&2; return 124; fi
    timeout -k 5 "$l" "$@"
}
# run_part NAME FUNCTION: the function runs in a subshell with -e; whatever it
# leaves unrecorded when it fails is recorded here, and the run goes on.
part_cleanup() { local p; for p in "${BG_PIDS[@]:$PART_BG0}"; do kill "$p" 2>/dev/null || true; done; }
run_part() {
    local name=$1 fn=$2 rc=0
    part_begin "$name"
    set +e
    ( set -e; PART_BG0=${#BG_PIDS[@]}; trap part_cleanup EXIT; "$fn" ) 2>&1 | tee -a "$LOGS/part_$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" != 0 ]; then
        record "$name" part failed "the part stopped with status $rc (see logs/part_$name.log)"
    fi
    part_end "$name"
    # its JSON at once: what is under OUTDIR comes back even if a later part hangs
    python3 "$REPORT" part "$name" --work "$WORK" --outdir "$OUTDIR" --dry-run "$DRY" >/dev/null 2>&1 || true
}

# ---- environment: what is here, what is missing -----------------------------------
SHARED=${EMBER_SHARED_DATA:-$ROOT/../shared/data}
ARCHIVE=$SHARED/cifar10-subset/cifar-10-subset-binary.tar.gz
TOK=$SHARED/clip-tokenizer
IMAGE=$SHARED/images/chelsea.png
TORCH_PYTHON=${TORCH_PYTHON:-python3}
HF_PYTHON=${HF_PYTHON:-$TORCH_PYTHON}
EXEC_PYTHON=${EXEC_PYTHON:-python3}
NPROC=$(nproc)

GPU=0 GPU_NAME=
if [ "$DRY" = 0 ]; then
    if command -v nvidia-smi >/dev/null && GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null) &&
        GPU_NAME=${GPU_NAME%%$'\n'*} && [ -n "$GPU_NAME" ]; then
        GPU=1
    else
        say "no NVIDIA GPU found (nvidia-smi): the proof run needs one; use --dry-run on a CPU machine"
        python3 "$REPORT" summary --work "$WORK" --outdir "$OUTDIR" --dry-run 0 --total "$TOTAL" \
            --fatal "no NVIDIA GPU found (nvidia-smi): run with --dry-run on a CPU machine" || true
        exit 2
    fi
fi
DEVICE=cpu
[ "$GPU" = 1 ] && DEVICE=cuda
say "gpu_proof: $([ "$DRY" = 1 ] && echo "DRY RUN on the CPU" || echo "$GPU_NAME"), $NPROC cores, budget ${TOTAL}s, parts $PARTS"

# The carried pack (bench/gpu_proof_pack.sh): binaries, shared libraries
# this machine lacks, Python wheels for the notebook side.
CARRY=$ROOT/build-proof-carry
EMBER_LD_PATH=
EXEC_ENV=(env) # what the notebook side runs with (the carried wheels' folder)
if [ -z "$BUILD_ARG" ] && [ -z "${EMBER_BUILD_DIR:-}" ] && [ -f "$CARRY/pack.json" ]; then
    B=$CARRY/b
    CARRIED=1
    # Paths compiled into the tests (fixtures) and written into CTestTestfile
    # name the folder the pack was built in; where this checkout lives
    # elsewhere, that path is made to lead here.
    PACK_SRC=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["source_dir"])' "$CARRY/pack.json")
    if [ "$PACK_SRC" != "$ROOT" ]; then
        if [ ! -e "$PACK_SRC" ] && mkdir -p "$(dirname "$PACK_SRC")" 2>/dev/null && ln -s "$ROOT" "$PACK_SRC" 2>/dev/null; then
            say "linked $PACK_SRC -> $ROOT (the pack's source folder)"
        elif [ "$(cd "$PACK_SRC" 2>/dev/null && pwd -P)" != "$(pwd -P)" ]; then
            say "warning: the pack was built in $PACK_SRC, which is not this checkout; tests reading fixtures may fail"
        fi
    fi
    mkdir -p "$WORK/libs/all" "$WORK/libs/use"
    if [ -f "$CARRY/libs.tar.xz" ]; then
        tar -xJf "$CARRY/libs.tar.xz" -C "$WORK/libs/all"
        # only the libraries the system lacks: its own stay first (the cache
        # is read once: grep -q on a pipe would fail ldconfig with SIGPIPE)
        ldconfig -p >"$WORK/libs/system.txt" 2>/dev/null || true
        for f in "$WORK/libs/all"/*; do
            n=$(basename "$f")
            grep -q "^[[:space:]]*$n " "$WORK/libs/system.txt" || ln -s "$f" "$WORK/libs/use/$n"
        done
        EMBER_LD_PATH=$WORK/libs/use
        used=$(find "$WORK/libs/use" -mindepth 1 -printf '%f ')
        say "carried libraries used (missing here): ${used:-none}"
    fi
    if ls "$CARRY"/wheels/*.whl >/dev/null 2>&1; then
        if "$EXEC_PYTHON" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check \
            --target "$WORK/site" "$CARRY"/wheels/*.whl >"$LOGS/pip.log" 2>&1; then
            # for the notebook side only: torch's and transformers' own
            # requirements stay the machine's
            EXEC_ENV+=("PYTHONPATH=$WORK/site${PYTHONPATH:+:$PYTHONPATH}")
            say "carried Python wheels installed into $WORK/site (for $EXEC_PYTHON)"
        else
            say "warning: the carried wheels did not install (logs/pip.log)"
        fi
    fi
else
    CARRIED=0
    B=${BUILD_ARG:-${EMBER_BUILD_DIR:-}}
    if [ -z "$B" ]; then
        if [ "$DRY" = 1 ]; then B=$ROOT/build-proof; else B=$ROOT/build-proof-gpu; fi
    fi
fi
mkdir -p "$B"
B=$(cd "$B" && pwd)
if [ "$DRY" = 0 ] && [ "$CARRIED" = 0 ] && [ -z "${PROOF_TOTAL:-}" ]; then
    # no pack: part a builds here first (about 1-2 minutes on 16 cores), so
    # the run takes longer than 8 minutes; call the tool with timeout_s=600
    BUDGET[a]=$(( BUDGET[a] + 120 ))
    TOTAL=$(( TOTAL + 120 ))
    say "no carried build: part a builds here; budget now ${TOTAL}s"
fi
# Ember's programs get the carried libraries (only those missing here); the
# Python ones do not need them. EENV is a prefix for bt: bt "${EENV[@]}" VAR=x prog.
EENV=(env)
[ -z "$EMBER_LD_PATH" ] || EENV+=("LD_LIBRARY_PATH=$EMBER_LD_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
ember_env() { "${EENV[@]}" "$@"; }

# Data: the shared CIFAR-10 subset; in a dry run without it, a small
# synthetic archive in the official layout (as tests/notebooks/test_q1.py).
DATA_NOTE=
if [ ! -f "$ARCHIVE" ]; then
    if [ "$DRY" = 1 ]; then
        ARCHIVE=$WORK/synthetic-cifar.tar.gz
        python3 "$REPORT" synth-cifar "$ARCHIVE"
        DATA_NOTE="the CIFAR-10 subset is missing ($SHARED); a synthetic archive stands in"
    else
        DATA_NOTE="the CIFAR-10 subset is missing: $ARCHIVE (set EMBER_SHARED_DATA)"
    fi
fi

python3 "$REPORT" env --out "$WORK/env.json" --root "$ROOT" --build "$B" --carried "$CARRIED" \
    --dry-run "$DRY" --gpu-name "$GPU_NAME" --torch-python "$TORCH_PYTHON" --hf-python "$HF_PYTHON" \
    --exec-python "$EXEC_PYTHON" --exec-pythonpath "$([ "$CARRIED" = 1 ] && [ -d "$WORK/site" ] && echo "$WORK/site")" --archive "$ARCHIVE" --tokenizer "$TOK" --image "$IMAGE" \
    --data-note "$DATA_NOTE" --ld-path "$EMBER_LD_PATH" | tee "$LOGS/env.txt"
envq() { python3 "$REPORT" query "$WORK/env.json" "$1"; }
# the run's settings, for the report
TRAIN_PER_EPOCH=$Q1_TRAIN
[ "$Q1_STEPS" = 0 ] || [ $(( Q1_STEPS * 128 )) -ge "$Q1_TRAIN" ] || TRAIN_PER_EPOCH=$(( Q1_STEPS * 128 ))
python3 - "$WORK/run.json" <<PYEOF
import json, sys
json.dump(dict(seeds="$SEEDS", q1_epochs=$Q1_EPOCHS, q1_steps_cap=$Q1_STEPS, q1_train=$Q1_TRAIN,
               q1_test=$Q1_TEST, q1_train_per_epoch=$TRAIN_PER_EPOCH, device="$DEVICE",
               q2_model="$([ "$DRY" = 1 ] && echo "tiny (tests/tiny_clipseg.py)" || echo "full-size random (gen_clipseg_fixtures.py --full)")",
               q2_prompts=["a cat", "the cat's eyes", "a wooden table"], q2_runs=$Q2_RUNS,
               step_steps=$STEP_STEPS, step_batch=$STEP_BATCH, parts="$PARTS", total_s=$TOTAL,
               budgets=dict(a=${BUDGET[a]}, ember=${BUDGET[ember]}, eager=${BUDGET[eager]},
                            compile=${BUDGET[compile]}, c=${BUDGET[c]}, d=${BUDGET[d]}),
               build_dir="$B", carried=bool($CARRIED)), open(sys.argv[1], "w"), indent=1)
PYEOF

# pyflakes where the Python side cannot run (CI has no torch): a typo must not
# wait for a GPU session to show.
lint() {
    local files=("$@") out
    if python3 -m pyflakes --version >/dev/null 2>&1; then
        if out=$(python3 -m pyflakes "${files[@]}" 2>&1); then echo "pyflakes clean"; else echo "pyflakes: $out" | head -5; return 1; fi
    else
        python3 -m py_compile "${files[@]}" && echo "py_compile clean (pyflakes missing)"
    fi
}

# nvidia-smi sampled every 200 ms while a run lasts: peak memory.used of the
# card, the same way for Ember and PyTorch (the baseline is the first sample).
smi_start() {
    SMI_PID=
    [ "$GPU" = 1 ] || return 0
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$1" 2>/dev/null &
    SMI_PID=$!
    BG_PIDS+=("$SMI_PID")
}
smi_stop() { [ -z "${SMI_PID:-}" ] || { kill "$SMI_PID" 2>/dev/null || true; wait "$SMI_PID" 2>/dev/null || true; }; }

# ---- part a: build, ctest -L gpu ------------------------------------------------------
NEEDED_CPU=(ember-kernel ember_q1 ember_clipseg_bench)
NEEDED_GPU=(ember_cuda test_cuda_ops test_cuda_oom test_cuda_graph test_cuda_vit test_cuda_clipseg test_cuda_resume vit_step_bench)
GEN_PID=
start_model_generation() {
    # The full-size CLIPSeg (~600 MB, random weights) is made while the GPU
    # tests run (they are not timed), never beside a timed part.
    if [ "$DRY" = 0 ] && want c && [ "$(envq hf_ok)" = 1 ]; then
        "$HF_PYTHON" "$ROOT/tests/nn/gen_clipseg_fixtures.py" --full "$WORK/c/model" >"$LOGS/c_generate.log" 2>&1 &
        GEN_PID=$!
        BG_PIDS+=("$GEN_PID")
        say "generating the full-size CLIPSeg in the background (pid $GEN_PID)"
    fi
}
part_a() {
    if [ "$CARRIED" = 1 ]; then
        record a build ok "carried build ($CARRY, made by bench/gpu_proof_pack.sh): nothing built"
    else
        local cuda=OFF targets=("${NEEDED_CPU[@]}")
        [ "$DRY" = 1 ] || { cuda=ON; targets+=("${NEEDED_GPU[@]}"); }
        # warnings stay warnings: another compiler there must not stop the run
        local cfg=(-DCMAKE_BUILD_TYPE=Release "-DEMBER_CUDA=$cuda" -DEMBER_WERROR=OFF)
        [ "$cuda" = OFF ] || cfg+=(-DCMAKE_CUDA_ARCHITECTURES=90)
        [ -f "$B/CMakeCache.txt" ] && cfg=() # an existing build keeps its settings
        if bt cmake -S "$ROOT" -B "$B" "${cfg[@]}" >"$LOGS/a_configure.log" 2>&1; then
            # only the targets this run uses, each one its own try, so a
            # missing library costs only the parts that need it
            local built=() failed=()
            for t in "${targets[@]}"; do
                if bt cmake --build "$B" --target "$t" -j "$NPROC" >>"$LOGS/a_build.log" 2>&1; then built+=("$t"); else failed+=("$t"); fi
            done
            if [ ${#failed[@]} = 0 ]; then record a build ok "built ${built[*]} in $B"
            else record a build failed "not built: ${failed[*]} (logs/a_build.log)"; fi
        else
            record a build failed "cmake configure failed (logs/a_configure.log): $(grep -m1 -iE 'could not|error|not found' "$LOGS/a_configure.log" || true)"
            if [ "$DRY" = 0 ]; then
                # the GPU tests and the step bench need only jansson: gpu_check.sh's own build
                say "building the compute core alone with bench/gpu_check.sh's build"
                if bt env BUILD_ONLY=1 LOGDIR="$WORK/a/core" BUILD="$WORK/a/core-build" \
                    "$BENCH/gpu_check.sh" >"$LOGS/a_core_build.log" 2>&1 && [ -x "$WORK/a/core-build/b/tests/cuda/vit_step_bench" ]; then
                    echo "$WORK/a/core-build/b" >"$WORK/a/core_build_dir"
                    record a core-build ok "engine core, CUDA backend and GPU tests built alone (no kernel, no q1/q2 drivers)"
                else
                    record a core-build failed "gpu_check.sh's build failed too (logs/a_core_build.log)"
                fi
            fi
        fi
    fi
    python3 "$REPORT" binaries --build "$B" --ld-path "$EMBER_LD_PATH" --out "$WORK/a/binaries.json" >"$LOGS/a_binaries.txt" 2>&1 || true
    cat "$LOGS/a_binaries.txt"
    if [ "$DRY" = 1 ]; then
        record a ctest skipped "dry run: no GPU, so ctest -L gpu is not run"
    else
        local tb=$B
        [ -f "$WORK/a/core_build_dir" ] && tb=$(cat "$WORK/a/core_build_dir")
        if [ ! -x "$tb/tests/cuda/test_cuda_ops" ]; then
            record a ctest failed "no GPU tests built in $tb"
        else
            local rc=0 junit=()
            # each test's result from JUnit where this ctest writes it (CMake >= 3.21),
            # else from its own lines
            [[ $(ctest --help 2>/dev/null) == *--output-junit* ]] && junit=(--output-junit "$WORK/a/ctest.xml")
            (cd "$tb" && bt "${EENV[@]}" EMBER_CUDA_LIB="$tb/cuda/libember_cuda.so" \
                ctest -L gpu --timeout 120 --output-on-failure "${junit[@]}") >"$LOGS/a_ctest.log" 2>&1 || rc=$?
            local line skipped
            line=$(grep -E 'tests passed|tests failed' "$LOGS/a_ctest.log" | tail -1 || true)
            skipped=$(grep -cE '\*\*\*Skipped|Not Run' "$LOGS/a_ctest.log" || true)
            if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then record a ctest timeout "ctest -L gpu overran the part's budget"
            elif [ "$rc" != 0 ]; then record a ctest failed "$line"
            # a GPU test that skips itself on the card did not see the GPU
            elif [ "$skipped" != 0 ]; then record a ctest partial "$line; $skipped skipped themselves (no usable GPU?)"
            else record a ctest ok "$line"; fi
        fi
    fi
    if [ -n "$GEN_PID" ]; then
        # the model generation must not overlap the timed parts
        local waited=0
        while kill -0 "$GEN_PID" 2>/dev/null && [ "$(left)" -gt 2 ]; do sleep 1; waited=$((waited + 1)); done
        if kill -0 "$GEN_PID" 2>/dev/null; then
            kill "$GEN_PID" 2>/dev/null || true
            record a clipseg-model timeout "the full-size CLIPSeg was not made within part a's budget; part c makes it"
        else
            say "full-size CLIPSeg ready (waited ${waited}s after the tests)"
        fi
    fi
}

# ---- part b: q1 end to end -------------------------------------------------------------
# The kernel path: the binary's libraries, and the notebook side in EXEC_PYTHON.
kernel_path_reason() {
    local k=$B/kernel/ember-kernel
    [ -x "$k" ] || { echo "ember-kernel is not built ($k)"; return; }
    local nf; nf=$(ember_env ldd "$k" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
    [ -z "$nf" ] || { echo "ember-kernel's libraries are missing here: $nf"; return; }
    [ "$(envq executor)" != none ] || { echo "no notebook executor in $EXEC_PYTHON: $(envq executor_missing)"; return; }
    [ -f "$ARCHIVE" ] || { echo "$ARCHIVE is missing"; return; }
}
write_kernelspec() {
    local d=$WORK/jupyter/kernels/ember
    mkdir -p "$d" "$WORK/jupyter-data" "$WORK/jupyter-runtime"
    python3 "$REPORT" kernelspec --out "$d/kernel.json" --kernel "$B/kernel/ember-kernel" \
        --ld-path "$EMBER_LD_PATH" --cuda-lib "$B/cuda/libember_cuda.so"
    export JUPYTER_PATH=$WORK/jupyter JUPYTER_DATA_DIR=$WORK/jupyter-data
    export JUPYTER_RUNTIME_DIR=$WORK/jupyter-runtime JUPYTER_PLATFORM_DIRS=1
}
q1_kernel_seed() { # SEED EXECUTOR SECONDS
    local s=$1 ex=$2 secs=$3 rc=0
    local wd=$WORK/b/ember_kernel_seed$s
    bt -s "$secs" "${EXEC_ENV[@]}" "$EXEC_PYTHON" "$BENCH/q1_notebook.py" --notebook "$ROOT/notebooks/q1.ipynb" \
        --workdir "$wd" --out "$WORK/b/ember_kernel_seed$s.json" --executor "$ex" \
        --timeout "$(( secs > 40 ? secs - 15 : secs * 2 / 3 ))" \
        epochs="$Q1_EPOCHS" steps_per_epoch="$Q1_STEPS" train_images="$Q1_TRAIN" test_images="$Q1_TEST" \
        data_root="$ARCHIVE" seed="$s" device="$DEVICE" checkpoint="$Q1_CHECKPOINT" \
        >"$LOGS/b_ember_kernel_seed$s.log" 2>&1 || rc=$?
    cp "$wd/q1.executed.ipynb" "$LOGS/b_q1_seed$s.executed.ipynb" 2>/dev/null || true
    [ "$rc" != 0 ] && [ "$rc" != 3 ] || KERNEL_OK=1
    case $rc in
    0) record ember "kernel seed $s" ok "notebooks/q1.ipynb via $ex" ;;
    3) record ember "kernel seed $s" partial "cells failed or were interrupted (logs/b_ember_kernel_seed$s.log)" ;;
    124|137) record ember "kernel seed $s" timeout "stopped at the time budget" ;;
    *) record ember "kernel seed $s" failed "$(tail -3 "$LOGS/b_ember_kernel_seed$s.log" | tr '\n' ' ' | cut -c1-300)" ;;
    esac
}
q1_driver_seed() { # SEED SECONDS
    local s=$1 secs=$2 rc=0
    local extra=()
    [ "$DRY" = 0 ] || extra=(--steps-per-epoch "$Q1_STEPS" --batch "$DRIVER_BATCH")
    bt -s "$secs" "${EENV[@]}" EMBER_CUDA_LIB="$B/cuda/libember_cuda.so" "$B/bench/ember_q1" --data "$ARCHIVE" \
        --out "$WORK/b/ember_driver_seed$s.jsonl" --train-images "$Q1_TRAIN" --test-images "$Q1_TEST" \
        --epochs "$Q1_EPOCHS" --seed "$s" --device "$DEVICE" "${extra[@]}" \
        >"$LOGS/b_ember_driver_seed$s.log" 2>&1 || rc=$?
    case $rc in
    0) record ember "driver seed $s" ok "bench/q1_ember.c over ember_fit" ;;
    124|137) record ember "driver seed $s" timeout "stopped at the time budget (finished epochs kept)" ;;
    *) record ember "driver seed $s" failed "$(tail -2 "$LOGS/b_ember_driver_seed$s.log" | tr '\n' ' ' | cut -c1-300)" ;;
    esac
}
part_b_ember() {
    local reason seeds n i=0 ex
    KERNEL_OK=0
    read -r -a seeds <<<"$SEEDS"
    n=${#seeds[@]}
    reason=$(kernel_path_reason)
    smi_start "$WORK/b/smi_ember.csv"
    if [ -z "$reason" ]; then
        write_kernelspec
        for s in "${seeds[@]}"; do
            ex=$(envq executor)
            # the dry run takes the second seed through the other executor, so
            # the fallback is exercised too
            if [ "$DRY" = 1 ] && [ "$i" = 1 ] && [ "$(envq nbclient_ok)" = 1 ]; then ex=nbclient; fi
            # a seed may use what is left but SEED_RESERVE for each seed after
            # it: one complete seed and a partial one say more than two halves
            q1_kernel_seed "$s" "$ex" "$(( $(left) - SEED_RESERVE * (n - i - 1) ))"
            i=$((i + 1))
        done
    else
        record ember kernel skipped "kernel path not exercised: $reason"
    fi
    # the C driver: where the kernel path cannot run or ran nothing, and in
    # the dry run (so that it is checked too)
    if [ -n "$reason" ] || [ "$DRY" = 1 ] || [ "$KERNEL_OK" = 0 ]; then
        [ -z "$reason" ] && [ "$DRY" = 0 ] && say "no seed finished through the kernel: the C driver runs q1 instead"
        if [ -x "$B/bench/ember_q1" ] && [ -f "$ARCHIVE" ]; then
            local dseeds=("${seeds[@]}")
            [ "$DRY" = 0 ] || dseeds=("${seeds[0]}") # the dry run checks the driver once
            n=${#dseeds[@]} i=0
            for s in "${dseeds[@]}"; do q1_driver_seed "$s" "$(( $(left) - SEED_RESERVE * (n - i - 1) ))"; i=$((i + 1)); done
        else
            record ember driver skipped "bench/q1_ember.c is not built ($B/bench/ember_q1) or the data is missing"
        fi
    fi
    smi_stop
}
q1_torch_run() { # MODE
    local mode=$1 rc=0 workers=auto
    local out=$WORK/b/torch_$mode.jsonl
    if [ "$(envq torchvision_ok)" != 1 ]; then
        local l; l=$(lint "$BENCH/q1_torch.py" "$BENCH/torch_vit.py" "$BENCH/augment_torch.py" "$BENCH/init_compare_torch.py" 2>&1) || rc=$?
        if [ "$rc" = 0 ]; then record "$mode" torch skipped "not run: $(envq torchvision_missing); $l"
        else record "$mode" torch failed "not run ($(envq torchvision_missing)) and $l"; fi
        return 0
    fi
    if [ "$mode" = compile ] && [ -f "$WORK/b/torch_eager.jsonl" ]; then
        workers=$(python3 "$REPORT" workers "$WORK/b/torch_eager.jsonl") # one count for both modes
    fi
    local extra=()
    [ "$DRY" = 0 ] || extra=(--max-steps "$Q1_STEPS")
    smi_start "$WORK/b/smi_$mode.csv"
    (cd "$BENCH" && bt env PYTHONUNBUFFERED=1 "$TORCH_PYTHON" q1_torch.py --archive "$ARCHIVE" --out "$out" \
        --mode "$mode" --seeds "${SEEDA[@]}" --epochs "$Q1_EPOCHS" --train-images "$Q1_TRAIN" \
        --test-images "$Q1_TEST" --batch "$TORCH_BATCH" --workers "$workers" \
        --worker-candidates "$WORKER_CANDIDATES" --device "$DEVICE" --deadline "$(( PART_END - 8 ))" \
        --seed-reserve "$SEED_RESERVE" "${extra[@]}") \
        >"$LOGS/b_torch_$mode.log" 2>&1 || rc=$?
    smi_stop
    case $rc in
    0) if grep -q '"type": "stopped"' "$out" 2>/dev/null; then record "$mode" torch partial "stopped before the last epoch: time budget"
       else record "$mode" torch ok "bench/q1_torch.py --mode $mode"; fi ;;
    124|137) record "$mode" torch timeout "killed at the time budget (finished epochs kept)" ;;
    *) record "$mode" torch failed "$(tail -3 "$LOGS/b_torch_$mode.log" | tr '\n' ' ' | cut -c1-300)" ;;
    esac
}
part_b_eager() { q1_torch_run eager; }
part_b_compile() { q1_torch_run compile; }

# ---- part c: q2, CLIPSeg -----------------------------------------------------------------
PROMPTS=("a cat" "the cat's eyes" "a wooden table")
part_c() {
    local model config rc=0
    if [ "$(envq hf_ok)" != 1 ]; then
        # the transformers side cannot run here: check it instead
        local l; l=$(lint "$BENCH/clipseg_torch.py" "$ROOT/tests/nn/gen_clipseg_fixtures.py" 2>&1) || rc=$?
        if [ "$rc" = 0 ]; then record c torch skipped "not run: $(envq hf_missing); $l"
        else record c torch failed "not run ($(envq hf_missing)) and $l"; fi
        rc=0
    fi
    if [ "$DRY" = 1 ]; then
        # the tiny CLIPSeg of tests/fixtures, its token table widened to CLIP's
        # vocabulary (tests/tiny_clipseg.py), so the real tokenizer feeds it
        if [ -f "$TOK/vocab.json" ] && python3 "$REPORT" tiny-clipseg "$ROOT" "$WORK/c/model" >"$LOGS/c_model.log" 2>&1; then
            model=$WORK/c/model/model.safetensors config=$WORK/c/model/config.json
        else
            record c model skipped "no tiny model: the CLIP tokenizer ($TOK) or numpy/safetensors are missing (logs/c_model.log)"
            return 0
        fi
    else
        if [ ! -f "$WORK/c/model/clipseg_full.safetensors" ] || [ ! -f "$WORK/c/model/clipseg_full_config.json" ]; then
            if [ "$(envq hf_ok)" != 1 ]; then
                record c model skipped "no full-size model: $(envq hf_missing) (gen_clipseg_fixtures.py --full needs them)"
                return 0
            fi
            bt "$HF_PYTHON" "$ROOT/tests/nn/gen_clipseg_fixtures.py" --full "$WORK/c/model" >>"$LOGS/c_generate.log" 2>&1 || {
                record c model failed "gen_clipseg_fixtures.py --full failed (logs/c_generate.log)"; return 0; }
        fi
        model=$WORK/c/model/clipseg_full.safetensors config=$WORK/c/model/clipseg_full_config.json
    fi
    [ -f "$TOK/vocab.json" ] || { record c ember skipped "the CLIP tokenizer is missing ($TOK)"; return 0; }
    local img=()
    [ -f "$IMAGE" ] && img=(--image "$IMAGE")
    mkdir -p "$WORK/c/ember"
    if [ -x "$B/bench/ember_clipseg_bench" ]; then
        bt "${EENV[@]}" OMP_NUM_THREADS="$NPROC" EMBER_CUDA_LIB="$B/cuda/libember_cuda.so" "$B/bench/ember_clipseg_bench" \
            --model "$model" --config "$config" --tokenizer "$TOK" "${img[@]}" --runs "$Q2_RUNS" \
            --dump "$WORK/c/ember" --device "$DEVICE" "${PROMPTS[@]}" >"$WORK/c/ember.txt" 2>"$LOGS/c_ember.err" || rc=$?
        cp "$WORK/c/ember.txt" "$LOGS/c_ember.txt"
        if [ "$rc" = 0 ]; then record c ember ok "ember_clipseg_bench --device $DEVICE"
        else record c ember failed "status $rc: $(tail -2 "$LOGS/c_ember.err" | tr '\n' ' ' | cut -c1-300)"; fi
    else
        record c ember skipped "ember_clipseg_bench is not built ($B/bench)"
    fi
    rc=0
    if [ "$(envq hf_ok)" = 1 ]; then
        local parity=()
        [ -f "$WORK/c/ember/logits.f32" ] && parity=(--ember "$WORK/c/ember")
        bt env PYTHONUNBUFFERED=1 "$HF_PYTHON" "$BENCH/clipseg_torch.py" --model "$model" --config "$config" \
            --tokenizer "$TOK" "${img[@]}" --runs "$Q2_RUNS" --threads "$NPROC" --device "$DEVICE" \
            "${parity[@]}" "${PROMPTS[@]}" >"$WORK/c/torch.txt" 2>"$LOGS/c_torch.err" || rc=$?
        cp "$WORK/c/torch.txt" "$LOGS/c_torch.txt"
        if [ "$rc" = 0 ]; then record c torch ok "transformers fp32 eager on $DEVICE"
        else record c torch failed "status $rc: $(tail -2 "$LOGS/c_torch.err" | tr '\n' ' ' | cut -c1-300)"; fi
    fi
    rm -rf "$WORK/c/model" # 600 MB on the GPU machine's disk
}

# ---- part d: the training-step benchmark (bench/gpu_check.sh as it is) ------------------
part_d() {
    local tb=$B rc=0
    [ -f "$WORK/a/core_build_dir" ] && tb=$(cat "$WORK/a/core_build_dir")
    local l; l=$(left)
    # the Ember bench takes seconds; the rest goes to PyTorch's (compilation)
    local bench_t=$(( l / 3 < 60 ? l / 3 : 60 ))
    bt "${EENV[@]}" PREBUILT="$tb" SKIP_TESTS=1 LOGDIR="$WORK/d" STEPS="$STEP_STEPS" BATCH="$STEP_BATCH" \
        TORCH_MODES="$STEP_MODES" PYTHON="$TORCH_PYTHON" BENCH_TIMEOUT="$bench_t" \
        TORCH_TIMEOUT="$(( l - bench_t - 10 > 10 ? l - bench_t - 10 : 10 ))" \
        "$BENCH/gpu_check.sh" >"$WORK/d/gpu_check.txt" 2>&1 || rc=$?
    cp "$WORK/d/gpu_check.txt" "$LOGS/d_gpu_check.txt"
    cp "$WORK/d"/bench_*.log "$LOGS/" 2>/dev/null || true
    case $rc in
    0) record d gpu_check ok "bench/gpu_check.sh, PREBUILT=$tb, $STEP_STEPS steps of batch $STEP_BATCH" ;;
    124|137) record d gpu_check timeout "bench/gpu_check.sh overran the part's budget" ;;
    *) record d gpu_check failed "status $rc (logs/d_gpu_check.txt)" ;;
    esac
    if [ "$(envq torch_ok)" != 1 ]; then
        local out rc2=0
        out=$(lint "$BENCH/vit_step_torch.py" 2>&1) || rc2=$?
        if [ "$rc2" = 0 ]; then record d torch skipped "not run: $(envq torch_missing); $out"
        else record d torch failed "not run ($(envq torch_missing)) and $out"; fi
    fi
}

# ---- the run -------------------------------------------------------------------------------
want a && start_model_generation
for p in "${ORDER[@]}"; do
    want_order "$p" || continue
    case $p in
    a) run_part a part_a ;;
    ember) run_part ember part_b_ember ;;
    eager) run_part eager part_b_eager ;;
    compile) run_part compile part_b_compile ;;
    c) run_part c part_c ;;
    d) run_part d part_d ;;
    esac
done
say "writing $OUTDIR"
python3 "$REPORT" summary --work "$WORK" --outdir "$OUTDIR" --dry-run "$DRY" --total "$TOTAL" \
    --elapsed "$(( $(date +%s) - T0 ))" | tee "$LOGS/summary.txt"
