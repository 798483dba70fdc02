#!/usr/bin/env bash
# run-fuzzers.sh BUILD_DIR SECONDS — runs every libFuzzer target for SECONDS
# each, from its committed corpus (tests/fuzz/<name>/corpus). New inputs go to
# a scratch corpus under the build dir, so the committed one stays small.
set -euo pipefail
build=$1; secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
found=0
for bin in "$build"/tests/fuzz/*/fuzz_*; do
  [ -x "$bin" ] || continue
  found=1
  name=$(basename "$bin"); name=${name#fuzz_}
  seed="$root/tests/fuzz/$name/corpus"
  scratch="$build/fuzz-corpus/$name"
  mkdir -p "$scratch"
  echo "fuzz: $name for ${secs}s (seed corpus $seed)"
  "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
         -artifact_prefix="$build/fuzz-$name-" "$scratch" "$seed" 2>"$build/fuzz-$name.log" \
    || { echo "fuzz: $name FAILED — see $build/fuzz-$name.log and the artifact it names"; tail -n 40 "$build/fuzz-$name.log"; exit 1; }
  grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$build/fuzz-$name.log" | tail -n 2 || true
done
[ "$found" = 1 ] || { echo "fuzz: no fuzz targets were built in $build" >&2; exit 1; }
echo "fuzz: all targets ran clean"
