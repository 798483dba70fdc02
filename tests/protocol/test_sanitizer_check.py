"""test_sanitizer_check.py — the check that fails a test on sanitizer
reports (used with EMBER_SANITIZED=1) does fail on one, and only on one."""
import pytest

from ember_testenv import fail_on_sanitizer_reports


def test_report_fails_the_test(tmp_path):
    (tmp_path / "asan.123").write_text("ERROR: AddressSanitizer: heap-use-after-free")
    (tmp_path / "ubsan.9").write_text("")  # empty logs are not reports
    with pytest.raises(pytest.fail.Exception, match="heap-use-after-free"):
        fail_on_sanitizer_reports("in this test", logs=tmp_path)
    # reported once: the next check passes
    fail_on_sanitizer_reports("in this test", logs=tmp_path)
    assert (tmp_path / "asan.123.seen").exists()


def test_no_logs_pass(tmp_path):
    fail_on_sanitizer_reports("in this test", logs=tmp_path / "missing")
    fail_on_sanitizer_reports("in this test", logs=tmp_path)
