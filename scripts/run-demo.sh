#!/usr/bin/env bash
# run-demo.sh BUILD_DIR — the main job: executes the reference notebooks with
# the installed Ember kernel through nbconvert and says where the HTML is.
# Notebooks that exist are run in order; q1/q2 join once their issues land.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
out="$build/demo"
mkdir -p "$out"
PY=${PYTHON:-python3}
ran=()
for nb in hello q1 q2; do
  src="$root/notebooks/$nb.ipynb"
  [ -f "$src" ] || continue
  echo "demo: executing notebooks/$nb.ipynb with the Ember kernel"
  # Execute once into an .ipynb, then render that to HTML (no second run).
  "$PY" -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=ember \
        --ExecutePreprocessor.timeout=-1 --output-dir "$out" --output "$nb.executed" "$src"
  "$PY" -m jupyter nbconvert --to html --output-dir "$out" --output "$nb" "$out/$nb.executed.ipynb"
  ran+=("$out/$nb.html")
done
if ((${#ran[@]} == 0)); then
  echo "demo: no notebooks found under $root/notebooks" >&2; exit 1
fi
echo
echo "demo: done. Results:"
for f in "${ran[@]}"; do echo "  $f"; done
echo "Open the notebooks interactively with: jupyter lab notebooks/  (kernel: Ember (C/CUDA))"
