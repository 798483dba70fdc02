"""test_papermill.py — papermill runs Ember notebooks as it runs Python ones.

The ember-papermill plugin (kernelspec/papermill, installed by
scripts/install-deps.sh) writes every value papermill passes in Ember's cell
language; the values read back unchanged through the real kernel;
`papermill notebooks/q1.ipynb out.ipynb -k ember -p epochs 1 ...` runs q1 in
test_q1.py's short configuration; hello.ipynb runs without -k (kernel and
language from the notebook's metadata); and scripts/run-notebook.py writes the
same parameters cell as papermill."""
import ast
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ember_testenv import ROOT, SLOW, notebook_runner, require_kernel
from test_q1 import data_root, texts

pytest.importorskip("papermill", reason="papermill is missing (scripts/install-deps.sh check installs it)")
from papermill.exceptions import PapermillException  # noqa: E402
from papermill.iorw import load_notebook_node  # noqa: E402
from papermill.parameterize import parameterize_notebook  # noqa: E402

try:
    import ember_papermill
    from ember_papermill import EmberTranslator
except ImportError as e:
    raise ImportError(f"{e}: scripts/install-deps.sh check installs ember-papermill "
                      "(kernelspec/papermill)") from e

PLUGIN = ROOT / "kernelspec" / "papermill" / "ember_papermill"
Q1 = ROOT / "notebooks" / "q1.ipynb"
HELLO = ROOT / "notebooks" / "hello.ipynb"
INF, NAN = math.inf, math.nan

# One of everything papermill can pass (-p, -r, -y, -f), edges included.
VALUES = {
    "s_plain": "hello", "s_empty": "", "s_quotes": "it's \"quoted\"", "s_triple": "'''",
    "s_backslash": "C:\\new\\table \\n", "s_lines": "a\nb\r\n\tc", "s_hash": "# not a comment",
    "s_unicode": "héllo wörld — 日本語 😀", "s_control": "\x00\x07\x1b\x7f\x85\u2028\u200b",
    "i_zero": 0, "i_neg": -7, "i_max": 2**63 - 1, "i_min": -2**63,
    "f_tenth": 0.1, "f_neg": -2.5, "f_one": 1.0, "f_lr": 3e-4, "f_small": 1e-5, "f_big": 1e300,
    "f_tiny": 5e-324, "f_negzero": -0.0, "f_inf": INF, "f_ninf": -INF, "f_nan": NAN,
    "b_true": True, "b_false": False, "n_none": None,
    "l_empty": [], "l_mixed": [1, 2.5, "three", None, True], "l_nested": [[1, [2, []]], ["x", [INF]]],
}


def from_ember(text):
    """Ember's repr of none/bool/int/float/str/list, read back into Python."""
    names = {"none": None, "true": True, "false": False, "inf": INF, "nan": NAN}

    def value(node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.List):
            return [value(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError(f"not a plain value: {text!r}")

    return value(ast.parse(text, mode="eval").body)


def same(a, b):
    """Equal, of the same type, nan equal to nan and -0.0 apart from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def papermill(*args, timeout):
    r = subprocess.run([sys.executable, "-m", "papermill", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-6000:]
    return r


def errors(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o["output_type"] == "error"]


# ---- the plugin ---------------------------------------------------------

def test_installed_plugin_is_this_checkout():
    """papermill loads the installed copy, so it must be the one tested here."""
    installed = Path(ember_papermill.__file__).parent
    for f in PLUGIN.glob("*.py"):
        assert (installed / f.name).is_file() and (installed / f.name).read_bytes() == f.read_bytes(), (
            f"the installed ember_papermill/{f.name} differs from {f}: run scripts/install-deps.sh check")


@pytest.mark.parametrize("first", ["papermill", "ember_papermill"])
def test_papermill_finds_the_translator_by_itself(first):
    """Through the papermill.engine entry point, whichever module is imported first."""
    code = (f"import {first}\n"
            "from papermill.translators import papermill_translators as t\n"
            "print(t.find_translator('ember', 'ember').__name__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "EmberTranslator"


@pytest.mark.parametrize("value, text", [
    (None, "none"), (True, "true"), (False, "false"),
    (0, "0"), (-7, "-7"), (2**63 - 1, "9223372036854775807"), (-2**63, "-9223372036854775807 - 1"),
    (0.1, "0.1"), (3e-4, "0.0003"), (1e-5, "1e-05"), (1e100, "1e+100"), (-0.0, "-0.0"),
    (INF, "float('inf')"), (-INF, "float('-inf')"), (NAN, "float('nan')"),
    ("a", "'a'"), ("it's", '"it\'s"'), ("a\nb\\", r"'a\nb\\'"), ("é😀", "'é😀'"), ("\x00", r"'\x00'"),
    ([], "[]"), ([1, [None, "x", False]], "[1, [none, 'x', false]]"),
])
def test_each_type_is_written_in_ember(value, text):
    assert EmberTranslator.translate(value) == text


def test_the_cell_has_papermills_layout():
    assert EmberTranslator.codify({"epochs": 1, "data_root": "/data/c.tar.gz"}) == (
        "# Parameters\nepochs = 1\ndata_root = '/data/c.tar.gz'\n")


@pytest.mark.parametrize("value, why", [
    ({"a": 1}, "Ember has no dict values"),
    ([1, {"a": 1}], "Ember has no dict values"),
    (2**63, "does not fit in Ember's 64-bit ints"),
    (-2**63 - 1, "does not fit in Ember's 64-bit ints"),
    ("\udcff", "not valid Unicode"),
])
def test_values_ember_cannot_hold_are_refused_by_name(value, why):
    with pytest.raises(PapermillException, match=f"parameter 'cfg': .*{why}"):
        EmberTranslator.codify({"cfg": value})


def test_help_notebook_lists_q1s_parameters():
    out = papermill("--help-notebook", Q1, timeout=120).stdout
    for name, default in [("epochs", "100"), ("train_images", "0"), ("data_root", "none")]:
        assert f"{name}: Unknown type (default {default})" in out, out


# ---- through the kernel -------------------------------------------------

def test_values_round_trip_through_the_kernel():
    """The written cell, run by the Ember kernel, gives back every value."""
    require_kernel()
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name="ember", startup_timeout=60 * SLOW)
    try:
        def run(code):
            out, errs = [], []

            def hook(msg):
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    errs.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            kc.execute_interactive(code, output_hook=hook, timeout=60 * SLOW)
            assert errs == [], (code, errs)
            return "".join(out)

        run(EmberTranslator.codify(VALUES))
        lines = run("\n".join(f"print(repr({name}))" for name in VALUES)).rstrip("\n").split("\n")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert len(lines) == len(VALUES), lines
    for (name, value), line in zip(VALUES.items(), lines):
        assert same(from_ember(line), value), f"{name}: {value!r} came back as {line}"


def test_q1_through_papermill(tmp_path):
    """The command of the README, in test_q1.py's short configuration."""
    require_kernel()
    params = {"epochs": 1, "train_images": 256, "test_images": 100, "steps_per_epoch": 2,
              "data_root": data_root(tmp_path)}
    out = tmp_path / "q1.ipynb"
    papermill(Q1, out, "-k", "ember", *[a for k, v in params.items() for a in ("-p", k, v)],
              "--cwd", tmp_path, "--execution-timeout", int(600 * SLOW), timeout=1200 * SLOW)
    nb = nbformat.read(out, as_version=4)
    assert errors(nb) == []
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = tags.index(["parameters"]) + 1
    assert tags[at] == ["injected-parameters"] and tags.count(["injected-parameters"]) == 1
    assert nb.cells[at].source == EmberTranslator.codify(params)
    assert nb.metadata.papermill.parameters == params
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    fit = next(c for c in nb.cells if "run = fit(" in c.source)
    assert "epoch   1/1" in texts(fit)
    assert (tmp_path / "vit_cifar10.safetensors").is_file()


def test_hello_through_papermill_without_k(tmp_path):
    """Kernel and language come from the notebook's metadata; with no cell
    tagged "parameters" papermill puts the values first."""
    require_kernel()
    out = tmp_path / "hello.ipynb"
    papermill(HELLO, out, "-p", "greeting", "héllo 'you'", "-y", "{sizes: [1, 2.5], fast: true, seed: null}",
              "--cwd", tmp_path, timeout=300 * SLOW)
    nb = nbformat.read(out, as_version=4)
    assert errors(nb) == []
    assert nb.metadata.kernelspec.name == "ember"
    first = nb.cells[0]
    assert first.metadata.tags == ["injected-parameters"]
    assert first.source == "# Parameters\nsizes = [1, 2.5]\nfast = true\nseed = none\ngreeting = \"héllo 'you'\"\n"
    assert first.execution_count == 1


# ---- scripts/run-notebook.py --------------------------------------------

def test_run_notebook_writes_what_papermill_writes():
    """The same run through either path gets the same cell in the same place."""
    values = {"epochs": 1, "steps_per_epoch": 4, "data_root": "../shared/data/c.tar.gz"}
    by_papermill = parameterize_notebook(load_notebook_node(str(Q1)), values)
    inject = notebook_runner().inject
    as_given = [(k, EmberTranslator.translate(v)) for k, v in values.items()]
    by_script = inject(nbformat.read(Q1, as_version=4), as_given)
    # (papermill gives every cell a tags list when it reads a notebook)
    assert [(c.source, c.metadata.get("tags", [])) for c in by_script.cells] == \
           [(c.source, c.metadata.tags) for c in by_papermill.cells]
    # a second run replaces the injected cell, as papermill does
    again = inject(by_script, [("epochs", "2")])
    assert len(again.cells) == len(by_papermill.cells)
    assert "epochs = 2\n" in next(c.source for c in again.cells
                                  if "injected-parameters" in c.metadata.get("tags", []))
