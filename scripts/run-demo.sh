#!/usr/bin/env bash
# run-demo.sh BUILD_DIR — the main job: executes the reference notebooks with
# the installed Ember kernel and says where the results are (executed .ipynb
# and HTML under BUILD_DIR/demo).
#
# q1 trains the ViT of the reference recipe: 100 epochs on all of CIFAR-10
# when this machine has an NVIDIA GPU. Without one the same notebook runs a
# short version on the CPU (1 epoch of a few steps on 512 images, the full
# model), since the full run would take days there; EMBER_Q1_FULL=1 forces
# the full recipe. The CIFAR-10 subset in ../shared/data is used for the
# short run when it is there; otherwise the official archive is downloaded.
# q2 runs when the CLIPSeg checkpoint is cached or huggingface.co answers.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
out="$build/demo"
mkdir -p "$out"
PY=${PYTHON:-python3}
shared=${EMBER_SHARED_DATA:-$root/../shared/data}
subset="$shared/cifar10-subset/cifar-10-subset-binary.tar.gz"
# q2 needs the real checkpoint: in a cache already, or a reachable hub.
q2_model_available() {
  local hf=${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}
  local ember=${EMBER_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}
  ls "$hf"/models--CIDAS--clipseg-rd64-refined/snapshots/*/model.safetensors >/dev/null 2>&1 && return 0
  [ -f "$ember/hf/CIDAS/clipseg-rd64-refined/main/model.safetensors" ] && return 0
  curl -sfI --max-time 10 "${HF_ENDPOINT:-https://huggingface.co}/CIDAS/clipseg-rd64-refined/resolve/main/config.json" >/dev/null 2>&1
}
ran=()
for nb in hello q1 q2; do
  src="$root/notebooks/$nb.ipynb"
  [ -f "$src" ] || continue
  params=()
  if [ "$nb" = q1 ]; then
    if [ "${EMBER_Q1_FULL:-0}" = 1 ] || nvidia-smi -L >/dev/null 2>&1; then
      echo "demo: q1 runs the full recipe (100 epochs on CIFAR-10)"
    else
      echo "demo: no NVIDIA GPU here, so q1 runs a short CPU version (1 epoch of 4 steps on"
      echo "      512 images, 500 test images); EMBER_Q1_FULL=1 runs the full recipe anyway"
      # its own checkpoint: q1.ckpt is the full run's, which a rerun of the
      # demo continues (a run with other settings would be refused there)
      params=(epochs=1 train_images=512 test_images=500 steps_per_epoch=4 "checkpoint='q1-short.ckpt'")
      if [ -f "$subset" ]; then
        echo "demo: q1 reads the CIFAR-10 subset in $subset"
        params+=("data_root='$subset'")
      fi
    fi
  fi
  if [ "$nb" = q2 ] && ! q2_model_available; then
    echo "demo: skipping q2: the CLIPSeg checkpoint CIDAS/clipseg-rd64-refined is in no cache"
    echo "      here and huggingface.co cannot be reached; on a machine with internet access"
    echo "      q2 downloads it once (about 600 MB)"
    continue
  fi
  echo "demo: executing notebooks/$nb.ipynb with the Ember kernel"
  "$PY" "$root/scripts/run-notebook.py" "$src" "$out" --cwd "$out" "${params[@]}"
  ran+=("$out/$nb.html")
done
if ((${#ran[@]} == 0)); then
  echo "demo: no notebooks found under $root/notebooks" >&2; exit 1
fi
echo
echo "demo: done. Results:"
for f in "${ran[@]}"; do echo "  $f"; done
echo "Open the notebooks interactively with: jupyter lab notebooks/  (kernel: Ember (C/CUDA))"
echo "Run one with other parameters: papermill notebooks/q1.ipynb out.ipynb -p epochs 1 ... (README.md)"
