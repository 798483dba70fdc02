#!/usr/bin/env bash
# init_compare.sh — does Ember's ViT learn as well as PyTorch's from its
# initialisation? Trains a small ViT (dim 96, depth 3, heads 3, patch 8,
# mlp_ratio 2, dropout 0.1) for EPOCHS epochs on the 4,000-image CIFAR-10
# subset with the q1 recipe (augmentations, AdamW 3e-4 wd 0.05, label
# smoothing 0.1, batch 128, MultiStepLR gamma 0.1 at MILESTONES, the recipe's
# 50/75 of 100 epochs scaled to 8/11 of 15 by default), one run per seed:
#   Ember, vit(init='torch') and vit(init='timm'), through the cell language
#     in a real kernel (bench/init_compare_ember.py);
#   PyTorch, the reference model bench/torch_vit.py with its default
#     initialisation and, as a cross check, re-initialised as Ember's 'timm'
#     (bench/init_compare_torch.py);
# then prints a markdown table of the test accuracy after the last epoch
# (mean and each seed). Not a test: run by hand, record the figures in
# docs/BENCHMARKS.md with the machine and the date.
#
# Needs: python3 with jupyter_client; PYTHON (default python3) with torch,
# torchvision and Pillow; cmake and a C compiler.
# Environment: BUILD (default <repo>/build-bench, configured Release without
# CUDA when missing), SEEDS (default "0 1 2 3"), EPOCHS (15), MILESTONES
# ("8 11"; "" for a constant rate), EMBER_INITS ("torch timm"), TORCH_INITS
# ("torch timm"), THREADS (2: OMP_NUM_THREADS for Ember, torch threads),
# EMBER_SHARED_DATA (default <repo>/../shared/data, which holds
# cifar10-subset/cifar-10-subset-binary.tar.gz).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
PYTHON=${PYTHON:-python3}
SEEDS=${SEEDS:-0 1 2 3}
EPOCHS=${EPOCHS:-15}
MILESTONES=${MILESTONES-8 11}
EMBER_INITS=${EMBER_INITS:-torch timm}
TORCH_INITS=${TORCH_INITS:-torch timm}
THREADS=${THREADS:-2}
DATA=${EMBER_SHARED_DATA:-$ROOT/../shared/data}
ARCHIVE=$DATA/cifar10-subset/cifar-10-subset-binary.tar.gz
if [ ! -f "$ARCHIVE" ]; then
    echo "init_compare.sh: $ARCHIVE is missing; set EMBER_SHARED_DATA to the folder holding cifar10-subset/" >&2
    exit 1
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=OFF >/dev/null
fi
cmake --build "$BUILD" --target ember-kernel -j2 >/dev/null

TMP=$(mktemp -d "${TMPDIR:-/tmp}/init-compare.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC2086  # word splitting of the lists is intended
{
    echo "PyTorch ..." >&2
    (cd "$ROOT/bench" && "$PYTHON" init_compare_torch.py "$ARCHIVE" --inits $TORCH_INITS \
        --seeds $SEEDS --epochs "$EPOCHS" --milestones $MILESTONES --threads "$THREADS") \
        | tee "$TMP/torch.txt" >&2
    echo "Ember ..." >&2
    ms="[$(echo $MILESTONES | sed 's/ \+/, /g')]"
    OMP_NUM_THREADS=$THREADS python3 "$ROOT/bench/init_compare_ember.py" "$ARCHIVE" \
        --kernel "$BUILD/kernel/ember-kernel" --inits $EMBER_INITS --seeds $SEEDS \
        --epochs "$EPOCHS" --milestones "$ms" | tee "$TMP/ember.txt" >&2
}

# one row of "RESULT <side> init=<init> seed=S test_acc=A train_loss=L ...": the mean
# and each seed's test accuracy (%), the mean last-epoch train loss (less noisy
# than 1,000 test images) and the number of runs
row() {
    awk -v side="$2" -v init="init=$3" -v label="$1" '
        $1 == "RESULT" && $2 == side && $3 == init {
            split($5, kv, "="); a = 100 * kv[2]; s = s (n ? ", " : "") sprintf("%.1f", a); sum += a; n++
            split($6, lv, "="); loss += lv[2]
        }
        END { if (n) printf "| %s | %.2f%% | %s | %.4f | %d |\n", label, sum / n, s, loss / n, n }' \
        "$TMP/torch.txt" "$TMP/ember.txt"
}
echo
echo "ViT dim 96, depth 3, heads 3, patch 8, mlp_ratio 2, dropout 0.1; $EPOCHS epochs on $ARCHIVE;"
echo "MultiStepLR milestones [${MILESTONES}] gamma 0.1; seeds $SEEDS; $(date -u '+%Y-%m-%d %H:%M UTC')"
awk '$2 == "versions" { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$TMP/torch.txt"
echo
echo "| run | mean test accuracy | each seed (%) | mean last-epoch train loss | runs |"
echo "|---|---:|---|---:|---:|"
for i in $TORCH_INITS; do
    case $i in
    torch) row "PyTorch, default init (the reference)" torch torch ;;
    timm) row "PyTorch, re-initialised as Ember's timm" torch timm ;;
    esac
done
for i in $EMBER_INITS; do row "Ember, vit(init='$i')" ember "$i"; done
