#!/usr/bin/env bash
# augment_cpu.sh — images per second of the q1 training augmentation (random
# crop pad 4, flip, colour jitter 0.2 x3, affine 15 / 0.1, rotation 15,
# normalize), Ember's ember_augment_batch on 1 and 2 threads against
# torchvision.transforms v1 on PIL images (a DataLoader with num_workers 0
# and WORKERS), on the same CIFAR-10 images, one after the other; prints a
# markdown table.
#
# Needs: python3 with torch, torchvision; cmake and a C compiler.
# Environment: BUILD (default <repo>/build-bench, configured as Release
# without CUDA when missing), IMAGES (default 4000), BATCH (128), EPOCHS
# (timed epochs after one warm-up: Ember 20, torchvision 5 by default),
# WORKERS (default 2), EMBER_SHARED_DATA (default <repo>/../shared/data, which
# holds cifar10-subset/cifar-10-subset-binary.tar.gz).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
IMAGES=${IMAGES:-4000}
BATCH=${BATCH:-128}
WORKERS=${WORKERS:-2}
DATA=${EMBER_SHARED_DATA:-$ROOT/../shared/data}
ARCHIVE=$DATA/cifar10-subset/cifar-10-subset-binary.tar.gz
if [ ! -f "$ARCHIVE" ]; then
    echo "augment_cpu.sh: $ARCHIVE is missing; set EMBER_SHARED_DATA to the folder holding cifar10-subset/" >&2
    exit 1
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=OFF >/dev/null
fi
cmake --build "$BUILD" --target ember_augment_bench -j2 >/dev/null

TMP=$(mktemp -d "${TMPDIR:-/tmp}/augment-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "timing Ember ..." >&2
"$BUILD/bench/ember_augment_bench" "$ARCHIVE" --images "$IMAGES" --batch "$BATCH" \
    --epochs "${EPOCHS:-20}" --threads 1 --threads 2 >"$TMP/ember.txt"
echo "timing torchvision ..." >&2
python3 "$ROOT/bench/augment_torch.py" "$ARCHIVE" --images "$IMAGES" --batch "$BATCH" \
    --epochs "${EPOCHS:-5}" --workers 0 "$WORKERS" >"$TMP/torch.txt"
cat "$TMP/ember.txt" "$TMP/torch.txt" >&2

# rate of a row: field 5 of "RESULT threads|workers K images_per_s X (lo..hi) epoch_ms T"
row() { awk -v k="$2" -v key="$3" '$1 == "RESULT" && $2 == key && $3 == k { print $5, $6; exit }' "$1"; }
thousands() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
base=$(row "$TMP/torch.txt" 0 workers | cut -d' ' -f1)
line() {
    local label=$1 r=$2
    local v=${r%% *} spread=${r#* }
    spread=${spread#(}
    spread=${spread%)}
    spread="$(thousands "${spread%%..*}")–$(thousands "${spread##*..}")"
    printf '| %s | %s | %s | %s |\n' "$label" "$(thousands "$v")" "$spread" \
        "$(awk -v a="$v" -v b="$base" 'BEGIN { printf "%.1fx", a / b }')"
}
echo
echo "q1 augmentation, $(awk '$2 == "images" { print $3 " images, batch " $5; exit }' "$TMP/ember.txt"), $(date -u '+%Y-%m-%d %H:%M UTC')"
awk '$2 == "versions" { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$TMP/torch.txt"
echo
echo "| pipeline | images/s (median epoch) | range over epochs | vs torchvision 1 process |"
echo "|---|---:|---:|---:|"
line "Ember \`ember_augment_batch\`, 1 thread" "$(row "$TMP/ember.txt" 1 threads)"
line "Ember \`ember_augment_batch\`, 2 threads" "$(row "$TMP/ember.txt" 2 threads)"
line "torchvision v1 on PIL, DataLoader num_workers=0" "$(row "$TMP/torch.txt" 0 workers)"
line "torchvision v1 on PIL, DataLoader num_workers=$WORKERS" "$(row "$TMP/torch.txt" "$WORKERS" workers)"
