#!/usr/bin/env bash
# clipseg_cpu.sh — CLIPSeg inference on the CPU, Ember against PyTorch, in one
# run on the same threads: builds a full-size CIDAS/clipseg-rd64-refined-
# architecture model with random weights (tests/nn/gen_clipseg_fixtures.py
# --full, ~600 MB, into a temporary folder removed at the end), then times
# ember_clipseg_bench and bench/clipseg_torch.py one after the other on one
# 352x352 image and three prompts (load; then pixel prep + tokenization +
# forward, median of RUNS after one warm-up; the same with the first prompt
# alone; peak RSS), checks that their
# logits agree, and prints a markdown table.
#
# Needs: python3 with torch, transformers, safetensors; cmake and a C
# compiler. Environment: BUILD (default <repo>/build-bench, configured as
# Release without CUDA when missing), THREADS (default 2), RUNS (default 5),
# EMBER_SHARED_DATA (default <repo>/../shared/data: clip-tokenizer/ is
# required, images/chelsea.png is used when present, else a synthetic image).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
THREADS=${THREADS:-2}
RUNS=${RUNS:-5}
DATA=${EMBER_SHARED_DATA:-$ROOT/../shared/data}
TOK=$DATA/clip-tokenizer
IMAGE=$DATA/images/chelsea.png
PROMPTS=("a cat" "the cat's eyes" "a wooden table")

if [ ! -f "$TOK/vocab.json" ] || [ ! -f "$TOK/merges.txt" ]; then
    echo "clipseg_cpu.sh: $TOK/vocab.json and merges.txt are missing; set EMBER_SHARED_DATA to the folder holding clip-tokenizer/" >&2
    exit 1
fi
[ -f "$IMAGE" ] || { echo "clipseg_cpu.sh: $IMAGE missing, using a synthetic image" >&2; IMAGE=; }

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=OFF >/dev/null
fi
cmake --build "$BUILD" --target ember_clipseg_bench -j2 >/dev/null

TMP=$(mktemp -d "${TMPDIR:-/tmp}/clipseg-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "building the full-size model with random weights in $TMP ..." >&2
python3 "$ROOT/tests/nn/gen_clipseg_fixtures.py" --full "$TMP" >&2
MODEL=$TMP/clipseg_full.safetensors
CONFIG=$TMP/clipseg_full_config.json
mkdir -p "$TMP/ember"

export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
echo "timing Ember ..." >&2
"$BUILD/bench/ember_clipseg_bench" --model "$MODEL" --config "$CONFIG" --tokenizer "$TOK" \
    ${IMAGE:+--image "$IMAGE"} --runs "$RUNS" --dump "$TMP/ember" "${PROMPTS[@]}" >"$TMP/ember.txt"
echo "timing PyTorch ..." >&2
python3 "$ROOT/bench/clipseg_torch.py" --model "$MODEL" --config "$CONFIG" --tokenizer "$TOK" \
    ${IMAGE:+--image "$IMAGE"} --runs "$RUNS" --threads "$THREADS" --ember "$TMP/ember" \
    "${PROMPTS[@]}" >"$TMP/torch.txt"

cat "$TMP/ember.txt" "$TMP/torch.txt" >&2
get() { awk -v k="$2" '$1 == "RESULT" && $2 == k { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$1"; }
E=$TMP/ember.txt
T=$TMP/torch.txt
ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
ratio=$(awk -v a="$(get "$T" forward_median_s)" -v b="$(get "$E" forward_median_s)" 'BEGIN { printf "%.2f", a / b }')

echo
echo "CLIPSeg (rd64-refined architecture, random weights), 1 image 352x352 x ${#PROMPTS[@]} prompts, $THREADS threads, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Ember: $(get "$E" backend); PyTorch: $(get "$T" torch)"
echo
ratio1=$(awk -v a="$(get "$T" single_prompt_median_s)" -v b="$(get "$E" single_prompt_median_s)" 'BEGIN { printf "%.2f", a / b }')
echo "| run | load | ${#PROMPTS[@]} prompts: median of $RUNS (min–max) | vs PyTorch | 1 prompt: median | vs PyTorch | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
echo "| Ember (\`ember_clipseg_bench\`) | $(ms "$(get "$E" load_s)") ms | $(ms "$(get "$E" forward_median_s)") ms ($(ms "$(get "$E" forward_min_s)")–$(ms "$(get "$E" forward_max_s)")) | ${ratio}x | $(ms "$(get "$E" single_prompt_median_s)") ms | ${ratio1}x | $(get "$E" peak_rss_mib) MiB |"
echo "| PyTorch transformers | $(ms "$(get "$T" load_s)") ms | $(ms "$(get "$T" forward_median_s)") ms ($(ms "$(get "$T" forward_min_s)")–$(ms "$(get "$T" forward_max_s)")) | 1.00x | $(ms "$(get "$T" single_prompt_median_s)") ms | 1.00x | $(get "$T" peak_rss_mib) MiB |"
echo
echo "Parity on Ember's pixels and ids: logits max |diff| $(get "$T" logits_max_abs_diff) (max |logit| $(get "$T" logits_max_abs), relative $(get "$T" logits_rel_diff)); token ids equal: $(get "$T" token_ids_equal); pixel_values max |diff| between the two pre-processings: $(get "$T" pixel_values_max_abs_diff)"
