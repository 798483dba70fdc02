"""test_jupyterlab.py — Ember's pictures in a real browser: starts JupyterLab
(token, 127.0.0.1, a free port, every Jupyter directory temporary), drives
Debian's headless Chromium through Selenium, opens a notebook on the Ember
kernel, runs all cells and checks what a person would see: every plot and
image is an <img> that loaded (non-zero natural size), a display updated five
times is one output showing the last value, the progress bar is one output at
100 %, a training cell (fit on a tiny ViT) shows one finished bar, its epoch
lines and one live-updated curves picture, and no error output appears. Screenshots go to
$EMBER_BUILD_DIR/screenshots/. Also checks that nbconvert's HTML of the
executed notebook embeds every picture.

Skips with a message when chromium, chromedriver, selenium or jupyterlab is
missing (scripts/install-deps.sh check installs them)."""
import base64
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ember_testenv import BUILD, ROOT, SLOW, require_kernel, write_kernelspec

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHARED = Path(os.environ.get("EMBER_SHARED_DATA") or ROOT.parent / "shared" / "data")
SCREENSHOTS = BUILD / "screenshots"


def _missing():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} not found (Debian packages chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed (pip install jupyterlab)"
    return None


def _cells():
    """(source, kind) for each code cell; kind says what the test expects."""
    chelsea = SHARED / "images" / "chelsea.png"
    cells = [
        ("loss = plot([[2.3, 1.5, 1.1, 0.9, 0.8, 0.72, 0.66, 0.62], [2.35, 1.7, 1.35, 1.2, 1.12, 1.1, 1.09, 1.1]],\n"
         "            x=[1, 2, 3, 4, 5, 6, 7, 8], labels=['train', 'validation'], title='Loss',\n"
         "            xlabel='epoch', ylabel='cross-entropy')\nloss", "img"),
        ("acc = plot([[0.31, 0.48, 0.6, 0.68, 0.73, 0.76, 0.79, 0.8], [0.3, 0.45, 0.55, 0.6, 0.62, 0.63, 0.635, 0.63]],\n"
         "           x=[1, 2, 3, 4, 5, 6, 7, 8], labels=['train', 'validation'], title='Accuracy',\n"
         "           xlabel='epoch', ylim=[0, 1])\nfigure(loss, acc, title='ViT on CIFAR-10 (made-up numbers)')", "img"),
        ("heatmap([[91, 3, 4, 2], [5, 85, 6, 4], [3, 9, 80, 8], [1, 4, 7, 88]],\n"
         "        labels=['cat', 'dog', 'ship', 'truck'], xlabel='predicted', ylabel='true',\n"
         "        title='Confusion matrix', colorbar_label='images')", "img"),
        ("heatmap([range(32)] * 16, annotate=false, title='A gradient mask')", "img"),
    ]
    if chelsea.is_file():
        cells += [
            (f"cat = load_image('{chelsea}')\ncat", "img"),
            ("image_grid([cat, cat.resize(120, 80), cat.convert('grey'), heatmap([[1, 2], [3, 4]]).image()],\n"
             "           captions=['chelsea', 'small', 'grey', 'a plot as an image'], cols=4)", "img"),
        ]
    cifar = SHARED / "cifar10-subset" / "cifar-10-subset-binary.tar.gz"
    if cifar.is_file():
        # live training: one progress bar and one curves picture, each
        # updated in place, then the run's own picture as the result
        cells += [
            (f"tr = cifar10('train', root='{cifar}').take(256)\n"
             "m = vit(dim=32, heads=2, layers=1, device='cpu')\n"
             "run = fit(m, tr, epochs=3, batch_size=64,\n"
             "          augment=compose(hflip(), normalize([0.5], [0.25])))\nrun", "training"),
        ]
    cells += [
        ("display('version 0', display_id='counter')\n"
         + "".join(f"update_display('version {i}', display_id='counter')\n" for i in range(1, 6))
         + "'five updates sent'", "updated"),
        ("progress_demo(25, 0.02, desc='training')", "progress"),
        ("table([['cat', 0.91, 103], ['dog', 0.84, 89], ['ship', 0.95, 100]],\n"
         "      header=['class', 'accuracy', 'images'], title='Per-class accuracy')", "table"),
    ]
    return cells


def _write_notebook(path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ember", "display_name": "Ember", "language": "ember"}
    nb.metadata["language_info"] = {"name": "ember", "codemirror_mode": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# Pictures in the notebook\nBrowser test of Ember's plots, images and live output."))
    kinds = []
    for src, kind in _cells():
        nb.cells.append(nbformat.v4.new_code_cell(src))
        kinds.append(kind)
    nbformat.write(nb, path)
    return kinds


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    require_kernel()
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    kinds = _write_notebook(root / "pictures.ipynb")
    jpath = tmp / "jupyter-path"
    write_kernelspec(jpath, "ember", "message")
    settings = tmp / "lab-settings"
    # No news or update toasts, and every cell rendered (not windowed), so
    # all outputs are in the page and in the screenshot.
    for rel, value in {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    env = dict(os.environ)
    env.update({
        "JUPYTER_PATH": f"{jpath}{os.pathsep}{env.get('JUPYTER_PATH', '')}".rstrip(os.pathsep),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_DATA_DIR": str(tmp / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(tmp / "ipython"),
    })
    token = secrets.token_hex(16)
    port = _free_port()
    log = open(tmp / "lab.log", "w")
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--IdentityProvider.token={token}",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")  # containers and CI machines often run as root
    proc = subprocess.Popen(
        argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60 * SLOW
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail("jupyter lab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
        time.sleep(0.3)
    yield {"base": base, "token": token, "root": root, "tmp": tmp, "kinds": kinds, "env": env}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(lab):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", f"--user-data-dir={lab['tmp'] / 'chromium-profile'}",
                "--disable-background-networking", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-sync", "--window-size=1400,1000",
                "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(lab["tmp"] / "chromedriver.log")),
                           options=opts)
    drv.set_page_load_timeout(60 * SLOW)
    yield drv
    drv.quit()


def _wait(what, fn, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the page is still building: try again
            last = e
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def _shot(drv, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    drv.save_screenshot(str(path))
    return path


def test_pictures_in_jupyterlab(lab, browser):
    from selenium.webdriver.common.by import By

    drv = browser
    drv.get(f"{lab['base']}/lab/tree/pictures.ipynb?reset&token={lab['token']}")
    # the notebook is open and its Ember kernel is idle
    _wait("the notebook", lambda: drv.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"), 60 * SLOW)
    def kernel_name():
        return drv.execute_script(
            "const el = document.querySelector('.jp-NotebookPanel .jp-KernelName, .jp-Toolbar-kernelName');"
            "return el ? el.textContent : '';")

    try:
        _wait("the Ember kernel", lambda: "Ember" in kernel_name(), 60 * SLOW)
        _wait("an idle kernel", lambda: drv.execute_script(
            "const el = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');"
            "return el && el.getAttribute('data-status') === 'idle';"), 60 * SLOW)
    except AssertionError:
        _shot(drv, "jupyterlab-no-kernel.png")
        raise AssertionError(f"the notebook's kernel is {kernel_name()!r}, not an idle Ember kernel; "
                             f"see {SCREENSHOTS}/jupyterlab-no-kernel.png")

    # Run > Run All Cells, as a user would
    menu = _wait("the Run menu", lambda: [e for e in drv.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")
                                          if e.text.strip() == "Run"], 20)
    menu[0].click()
    item = _wait("Run All Cells", lambda: [
        e for e in drv.find_elements(By.CSS_SELECTOR, "#jp-mainmenu-run li.lm-Menu-item .lm-Menu-itemLabel")
        if e.text.strip() == "Run All Cells"], 20)
    item[0].click()

    kinds = lab["kinds"]

    def all_ran():
        prompts = drv.execute_script(
            "return [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')]"
            ".map(e => e.textContent.trim());")
        return len(prompts) == len(kinds) and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts) and prompts

    prompts = _wait("every cell to run", all_ran, 90 * SLOW)
    _wait("the kernel to go idle", lambda: drv.execute_script(
        "const el = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');"
        "return el && el.getAttribute('data-status') === 'idle';"), 30 * SLOW)
    time.sleep(0.5)  # let the last images finish decoding

    # what each code cell shows
    cells = drv.execute_script("""
        return [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')].map(cell => {
          const outs = [...cell.querySelectorAll('.jp-OutputArea-output')];
          return {
            outputs: outs.length,
            imgs: [...cell.querySelectorAll('.jp-OutputArea-output img')].map(i => ({
              complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
              cssw: i.getBoundingClientRect().width})),
            text: outs.map(o => o.innerText).join('\\n---\\n'),
            errors: cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
            tables: cell.querySelectorAll('.jp-OutputArea-output table').length,
          };
        });""")
    # screenshots: the notebook screen by screen, from the top
    scroller = ("(document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer') || "
                "document.querySelector('.jp-NotebookPanel .jp-Notebook'))")
    height = drv.execute_script(f"return {scroller}.scrollHeight;")
    view = drv.execute_script(f"return {scroller}.clientHeight;")
    step = max(200, int(view) - 80)
    for old in SCREENSHOTS.glob("jupyterlab-*.png"):
        old.unlink()
    for i, y in enumerate(range(0, max(1, int(height) - int(view) + step), step)):
        drv.execute_script(f"{scroller}.scrollTop = arguments[0];", y)
        time.sleep(0.3)
        _shot(drv, f"jupyterlab-{i + 1:02d}.png")
        if i >= 11:
            break

    problems = []
    assert len(cells) == len(kinds), (len(cells), kinds)
    for n, (cell, kind) in enumerate(zip(cells, kinds)):
        where = f"cell {n + 1} ({prompts[n]}, {kind})"
        if cell["errors"]:
            problems.append(f"{where}: an error output: {cell['text'][:300]}")
        if kind == "img":
            if not cell["imgs"]:
                problems.append(f"{where}: no <img>, shows {cell['text'][:200]!r}")
            for im in cell["imgs"]:
                if not (im["complete"] and im["w"] > 0 and im["h"] > 0):
                    problems.append(f"{where}: an image that did not load: {im}")
        elif kind == "updated":
            # one display output with the last value, plus the cell's result
            texts = cell["text"].split("\n---\n")
            if cell["outputs"] != 2 or texts[0].strip() != "'version 5'":
                problems.append(f"{where}: want one output \"'version 5'\" (and the result), got "
                                f"{cell['outputs']} outputs: {texts}")
        elif kind == "progress":
            texts = cell["text"].split("\n---\n")
            if cell["outputs"] != 2 or "100%" not in texts[0] or "25/25" not in texts[0]:
                problems.append(f"{where}: want one finished bar (and the result), got {texts}")
        elif kind == "training":
            text = cell["text"]
            bars = [t for t in text.split("\n---\n") if "step/s" in t]
            if len(bars) != 1 or "100%" not in bars[0] or "12/12" not in bars[0]:
                problems.append(f"{where}: want one finished bar at 12/12, got {bars}; "
                                f"the cell shows {text[:600]!r}")
            if "epoch   3/3" not in text:
                problems.append(f"{where}: no line for epoch 3: {text[:400]!r}")
            # the live curves (updated after each epoch) and the run's picture
            if len(cell["imgs"]) != 2 or not all(i["complete"] and i["w"] > 0 for i in cell["imgs"]):
                problems.append(f"{where}: want 2 loaded pictures (live curves, result), got {cell['imgs']}")
        elif kind == "table":
            if cell["tables"] != 1:
                problems.append(f"{where}: no HTML table, shows {cell['text'][:200]!r}")
    # high-density: plots are drawn at 2x and shown at their logical size
    loss_img = cells[0]["imgs"][0] if cells[0]["imgs"] else None
    if loss_img and not (loss_img["w"] == 1280 and abs(loss_img["cssw"] - 640) < 2):
        problems.append(f"the loss plot should be 1280 px wide shown at 640 CSS px: {loss_img}")
    assert not problems, "\n".join(problems) + f"\nscreenshots in {SCREENSHOTS}"
    # nothing in the page is an error traceback
    assert not drv.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")


def test_nbconvert_html_embeds_pictures(lab, tmp_path):
    """The executed notebook as HTML: every picture embedded as a data: URI."""
    nb = tmp_path / "pictures.ipynb"
    shutil.copy(lab["root"] / "pictures.ipynb", nb)
    r = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
         "--ExecutePreprocessor.kernel_name=ember", f"--ExecutePreprocessor.timeout={int(120 * SLOW)}",
         "--output-dir", str(tmp_path), str(nb)],
        capture_output=True, text=True, timeout=300 * SLOW, env=lab["env"])
    assert r.returncode == 0, r.stderr[-4000:]
    html = (tmp_path / "pictures.html").read_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "pictures.html", SCREENSHOTS / "pictures.html")
    pictures = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    want = lab["kinds"].count("img")
    assert len(pictures) >= want, f"{len(pictures)} embedded PNGs, want {want}"
    for b64 in pictures:
        data = base64.b64decode(b64)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # the logical size travels with the 2x pictures
    assert re.search(r'<img[^>]+width="640"', html) or re.search(r'width="640"', html)
    shown = re.findall(r'data-mime-type="text/plain"[^>]*>\s*<pre>(.*?)</pre>', html, re.S)
    shown = [t.replace("&#39;", "'") for t in shown]
    assert "'version 5'" in shown and not any("version 4" in t for t in shown), shown
    assert "Traceback" not in html
