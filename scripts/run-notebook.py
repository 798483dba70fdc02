#!/usr/bin/env python3
"""run-notebook.py — executes a notebook with the Ember kernel, optionally
with some of its parameters replaced, and writes the executed notebook and
its HTML rendering.

Parameters go in as papermill puts them: the cell tagged "parameters" holds
the defaults; the values given here go into a new cell, tagged
"injected-parameters", right after it (replacing one from an earlier run; at
the top, with a warning, when no cell is tagged "parameters"), so the notebook
shows both what it would do by default and what this run did. The cell reads
as papermill's Ember translator (kernelspec/papermill) writes it: "# Parameters",
then one `name = value` line each.

    scripts/run-notebook.py notebooks/q1.ipynb build/demo epochs=1 train_images=512

Values are cell-language expressions, written into the cell as given
(strings need their quotes: data_root="'../shared/data/...'"); papermill's
`-p data_root ../shared/data/...` gives the same line."""
import argparse
import pathlib
import sys

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter


def inject(nb, params):
    """Adds the injected-parameters cell where papermill would; returns the notebook."""
    if not params:
        return nb
    def tagged(tag):
        return next((i for i, c in enumerate(nb.cells) if tag in c.metadata.get("tags", [])), None)
    cell = nbformat.v4.new_code_cell("# Parameters\n" + "".join(f"{k} = {v}\n" for k, v in params))
    cell.metadata["tags"] = ["injected-parameters"]
    if (old := tagged("injected-parameters")) is not None:
        nb.cells[old] = cell
    elif (idx := tagged("parameters")) is not None:
        nb.cells.insert(idx + 1, cell)
    else:
        print("run-notebook: no cell is tagged 'parameters'; the parameters go first",
              file=sys.stderr)
        nb.cells.insert(0, cell)
    return nb


def parse_params(items):
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"run-notebook: parameter '{item}' is not name=value")
        out.append((name, value))
    return out


def execute(path, params=(), timeout=-1, cwd=None):
    """Runs the notebook (with params injected) and returns it executed."""
    nb = inject(nbformat.read(path, as_version=4), list(params))
    client = NotebookClient(nb, kernel_name="ember", timeout=None if timeout < 0 else timeout,
                            resources={"metadata": {"path": str(cwd or pathlib.Path(path).parent)}})
    client.execute()
    return nb


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("outdir")
    ap.add_argument("params", nargs="*", help="name=value, replacing the notebook's defaults")
    ap.add_argument("--timeout", type=int, default=-1, help="seconds per cell (-1: none)")
    ap.add_argument("--cwd", help="the kernel's working folder (default: outdir), where the "
                                  "notebook's relative paths (e.g. saved models) land")
    args = ap.parse_intermixed_args(argv)
    src = pathlib.Path(args.notebook)
    out = pathlib.Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    nb = execute(src, parse_params(args.params), args.timeout, cwd=args.cwd or out)
    executed = out / f"{src.stem}.executed.ipynb"
    nbformat.write(nb, executed)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out / f"{src.stem}.html").write_text(html)
    print(f"run-notebook: {src} -> {out / (src.stem + '.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
