"""ember_testenv.py — where the tests find the kernel (EMBER_BUILD_DIR) and how
it is run (sanitizer settings, timeouts); shared by tests/conftest.py and the
protocol helpers."""
import json
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("EMBER_BUILD_DIR") or ROOT / "build").resolve()
KERNEL_BIN = BUILD / "kernel" / "ember-kernel"
SANITIZED = os.environ.get("EMBER_SANITIZED") == "1"
# Multiplier for every timeout in the kernel tests.
SLOW = 4.0 if SANITIZED else 1.0

_tmp = Path(tempfile.mkdtemp(prefix="ember-pytest-"))
SANITIZER_LOGS = _tmp / "sanitizer-logs"
KERNEL_NAMES = ("ember", "ember-signal")


def kernel_env():
    """Environment the kernel runs with (the sanitizer settings when sanitized)."""
    env = {}
    if SANITIZED:
        SANITIZER_LOGS.mkdir(parents=True, exist_ok=True)
        env["ASAN_OPTIONS"] = (
            f"halt_on_error=1:detect_leaks=1:log_path={SANITIZER_LOGS}/asan"
        )
        env["UBSAN_OPTIONS"] = (
            f"halt_on_error=1:print_stacktrace=1:log_path={SANITIZER_LOGS}/ubsan"
        )
        env["LSAN_OPTIONS"] = f"log_path={SANITIZER_LOGS}/lsan"
    return env


def write_kernelspec(dest, name, interrupt_mode):
    spec_dir = Path(dest) / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(KERNEL_BIN), "-f", "{connection_file}"],
        "display_name": f"Ember (test, {interrupt_mode})",
        "language": "ember",
        "interrupt_mode": interrupt_mode,
        "env": kernel_env(),
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir




def kernel_missing_reason():
    if not KERNEL_BIN.is_file():
        return (
            f"ember-kernel is not built at {KERNEL_BIN}: run `make build` "
            "(or set EMBER_BUILD_DIR to the build directory)"
        )
    return None


def require_kernel():
    reason = kernel_missing_reason()
    if reason:
        pytest.skip(reason)


def fail_on_sanitizer_reports(where, logs=None):
    """Fails the running test with every non-empty sanitizer log, then marks
    the logs as seen so the next test starts clean."""
    logs = SANITIZER_LOGS if logs is None else logs
    if not logs.is_dir():
        return
    reports = sorted(
        p for p in logs.iterdir() if p.is_file() and p.suffix != ".seen" and p.stat().st_size
    )
    if reports:
        text = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[:6000]}" for p in reports)
        for p in reports:
            p.rename(p.with_suffix(p.suffix + ".seen"))
        pytest.fail(f"sanitizer reports {where}:\n{text}", pytrace=False)


def notebook_runner():
    """scripts/run-notebook.py as a module (its name has a dash), so notebook
    tests run notebooks exactly as `make demo` does."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_notebook", ROOT / "scripts" / "run-notebook.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
