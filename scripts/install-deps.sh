#!/usr/bin/env bash
# install-deps.sh — installs what Ember needs that this machine lacks, and says so.
# Usage: scripts/install-deps.sh [build|check|demo]   (default: check)
# Debian packages come from apt-get, Python tools from pip; nothing is
# installed when everything is already there. check and demo also get
# kernelspec/papermill (ember-papermill: papermill's translator for Ember
# parameters), again whenever the installed copy differs from this checkout's.
set -euo pipefail
what=${1:-check}
PY=${PYTHON:-python3}

build_pkgs=(build-essential cmake pkg-config libzmq3-dev libjansson-dev libssl-dev
            libpng-dev libjpeg62-turbo-dev libcurl4-openssl-dev libarchive-dev
            libopenblas-dev libopenblas-openmp-dev libcairo2-dev fonts-dejavu-core libutf8proc-dev zlib1g-dev)
check_pkgs=(clang libclang-rt-14-dev chromium chromium-driver)
py_build=()
# pyflakes: bench/gpu_proof.sh --dry-run checks the PyTorch benchmark scripts with it
# where torch is missing (CI), so a typo cannot wait for a GPU session to show.
py_check=(jupyter_client nbclient nbconvert jupyter_kernel_test pytest ipykernel jupyterlab selenium
          numpy safetensors papermill pillow:PIL pyflakes)
py_demo=(jupyter_client nbclient nbconvert jupyterlab papermill)

case "$what" in
  build) pkgs=("${build_pkgs[@]}"); py=("${py_build[@]}") ;;
  check) pkgs=("${build_pkgs[@]}" "${check_pkgs[@]}"); py=("${py_check[@]}") ;;
  demo)  pkgs=("${build_pkgs[@]}"); py=("${py_demo[@]}") ;;
  *) echo "install-deps: unknown set '$what' (build, check or demo)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python modules are checked by import name; an entry "pipname:module" names
# both where they differ (pillow imports as PIL), otherwise they are one.
pymissing=()
for m in "${py[@]}"; do
  "$PY" -c "import ${m#*:}" 2>/dev/null || pymissing+=("${m%%:*}")
done
pipargs=("${pymissing[@]}")
# The plugin is compared file by file with the installed copy, since an older
# copy imports fine too. pip gets a copy of the folder: setuptools builds in
# the source folder, and files left there by an earlier build would go into
# the wheel.
plugin="$(cd "$(dirname "$0")/.." && pwd)/kernelspec/papermill"
if [ "$what" != build ] && ! "$PY" - "$plugin/ember_papermill" 2>/dev/null <<'PYEOF'
import filecmp, pathlib, sys
import ember_papermill
installed = pathlib.Path(ember_papermill.__file__).parent
sys.exit(any(not filecmp.cmp(f, installed / f.name, shallow=False)
             for f in pathlib.Path(sys.argv[1]).glob("*.py")))
PYEOF
then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  mkdir "$tmp/ember-papermill"
  cp -r "$plugin/pyproject.toml" "$plugin/ember_papermill" "$tmp/ember-papermill/"
  pymissing+=("ember-papermill (kernelspec/papermill)")
  pipargs+=("$tmp/ember-papermill")
fi
if ((${#pymissing[@]})); then
  echo "install-deps: installing Python packages with pip: ${pymissing[*]}"
  pipflags=(-q --disable-pip-version-check)
  # Debian's own python3 refuses pip installs (PEP 668) unless told otherwise;
  # these are test tools, so installing them beside Debian's packages is fine.
  if "$PY" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    echo "install-deps: $PY is marked externally managed; pip gets --break-system-packages"
    pipflags+=(--break-system-packages)
  fi
  "$PY" -m pip install "${pipflags[@]}" "${pipargs[@]}"
fi
echo "install-deps: everything for '$what' is present"
