"""test_conformance.py — the official jupyter_kernel_test suite against Ember,
with every sample attribute filled in, plus the iopub_welcome check. A skip
here counts as a failure (tests/conftest.py turns it into one): every test of
the suite must run."""
import jupyter_kernel_test as jkt
import pytest

from ember_testenv import kernel_missing_reason

_missing = kernel_missing_reason()

if _missing:

    def test_conformance_needs_the_kernel():
        pytest.skip(_missing)

else:

    class EmberKernelTests(jkt.KernelTests):
        kernel_name = "ember"
        language_name = "ember"
        file_extension = ".ember"

        code_hello_world = 'print("hello, world")'
        code_stderr = 'print("something went wrong", file="stderr")'
        completion_samples = [
            {"text": "pri", "matches": {"print"}},
            {"text": "slee", "matches": {"sleep"}},
        ]
        complete_code_samples = ["1", 'print("hello, world")', "x = [1,\n     2]", "f = 3 # (c"]
        incomplete_code_samples = ["print(1,", "x = [1,\n", "z = max(1,\n  2,"]
        invalid_code_samples = ["x = )", "1 +* 2", "]"]
        code_page_something = "help(print)"
        code_generate_error = "this_name_is_not_defined"
        code_execute_result = [
            {"code": "6*7", "result": "42"},
            {"code": "1 + 2 * 3", "result": "7"},
            {"code": "[1, 2]", "result": "[1, 2]"},
        ]
        code_display_data = [{"code": 'display("a picture of text")', "mime": "text/plain"}]
        code_history_pattern = "6*7"
        supported_history_operations = ("tail", "range", "search")
        code_inspect_sample = "print"
        code_clear_output = "clear_output()"

    class EmberIopubWelcomeTests(jkt.IopubWelcomeTests):
        kernel_name = "ember"
        support_iopub_welcome = True
