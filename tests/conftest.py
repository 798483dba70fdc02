"""conftest.py — shared pytest set-up for Ember's Python test suites.

At start-up it writes kernelspecs for $EMBER_BUILD_DIR/kernel/ember-kernel into
a temporary JUPYTER_PATH ("ember" with interrupt_mode "message", and
"ember-signal" with interrupt_mode "signal") and points JUPYTER_DATA_DIR at a
temporary directory, so the tests never touch the user's installation and
history starts empty. Tests that need the kernel use the fixtures below, which
skip with a clear message when the binary has not been built.

With EMBER_SANITIZED=1 (the kernel built with ASan+UBSan, `make asan`),
timeouts are longer, the sanitizers log into a temporary directory, and any
report there fails the test that was running (and the session at the end).
"""
import os
import shutil
import time

import pytest

from ember_testenv import (
    SANITIZED, _tmp, fail_on_sanitizer_reports, kernel_missing_reason, write_kernelspec,
)


def pytest_configure(config):
    jupyter_path = _tmp / "jupyter"
    write_kernelspec(jupyter_path, "ember", "message")
    write_kernelspec(jupyter_path, "ember-signal", "signal")
    data_dir = _tmp / "data"
    data_dir.mkdir(exist_ok=True)
    os.environ["JUPYTER_PATH"] = str(jupyter_path)
    os.environ["JUPYTER_DATA_DIR"] = str(data_dir)
    # Kernels' runtime files too, so parallel sessions never collide.
    os.environ["JUPYTER_RUNTIME_DIR"] = str(_tmp / "runtime")
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


def pytest_unconfigure(config):
    shutil.rmtree(_tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _sanitizer_check():
    yield
    if SANITIZED:
        # Leak reports are written when a kernel exits: give it a moment.
        time.sleep(0.2)
        fail_on_sanitizer_reports("during this test")


@pytest.fixture(scope="session", autouse=True)
def _sanitizer_check_session():
    yield
    if SANITIZED:
        time.sleep(1.0)
        fail_on_sanitizer_reports("at the end of the session (kernels that exited last)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In the conformance suite a skip means a sample is missing: fail it."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and item.path.name == "test_conformance.py"
        and kernel_missing_reason() is None
    ):
        report.outcome = "failed"
        report.longrepr = f"conformance test skipped ({report.longrepr}): every test must run"
