#!/usr/bin/env python3
"""init_compare_ember.py — the Ember side of bench/init_compare.sh: trains the
small ViT of the initialisation comparison through the cell language, in a
real Ember kernel driven by jupyter_client (what a notebook does), once per
(init, seed), and prints one line per run:

    RESULT ember init=torch seed=0 test_acc=0.3140 train_loss=1.9012 seconds=41.2

The cells are the q1 recipe (notebooks/q1.ipynb) at the bench's size: the
same augmentations, AdamW lr 3e-4 weight decay 0.05, cross-entropy with label
smoothing 0.1, batch 128, dropout 0.1, MultiStepLR gamma 0.1 at the given
milestones; vit(..., seed=s, init=...) and fit(..., seed=s)."""
import argparse
import json
import os
import pathlib
import sys
import tempfile
import time
from queue import Empty

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

RECIPE = """
train = cifar10('train', root={archive!r})
test = cifar10('test', root={archive!r})
augment = compose(random_crop(32, padding=4), hflip(),
                  color_jitter(brightness=0.2, contrast=0.2, saturation=0.2),
                  random_affine(degrees=15, translate=0.1), random_rotation(15),
                  normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2471, 0.2435, 0.2616]))
"""

RUN = """
m = vit(image_size=32, patch_size={patch}, classes=10, dim={dim}, heads={heads}, layers={depth},
        mlp_ratio={mlp_ratio}, dropout=0.1, seed={seed}, init={init!r}, device='cpu')
r = fit(m, train, test, augment=augment, epochs={epochs}, batch_size=128,
        optimizer=adamw(lr=3e-4, weight_decay=0.05),
        schedule=multistep(milestones={milestones}, gamma=0.1),
        loss=cross_entropy(label_smoothing=0.1), seed={seed}, live=false)
print('ACC', r.test_acc[-1], r.train_loss[-1], sum(r.seconds))
"""


def execute(kc, code, timeout):
    """Runs a cell; returns its stdout, raising with the traceback on error."""
    msg_id = kc.execute(code)
    out, err = [], None
    deadline = time.monotonic() + timeout
    while True:
        try:
            m = kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
        except Empty:
            raise SystemExit(f"init_compare_ember: no answer within {timeout} s")
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        t = m["msg_type"]
        if t == "stream" and m["content"]["name"] == "stdout":
            out.append(m["content"]["text"])
        elif t == "error":
            err = "\n".join(m["content"]["traceback"])
        elif t == "status" and m["content"]["execution_state"] == "idle":
            break
    if err:
        raise SystemExit(f"init_compare_ember: the cell failed:\n{code}\n{err}")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", help="cifar-10-subset-binary.tar.gz (or any CIFAR-10 archive)")
    ap.add_argument("--kernel", required=True, help="the ember-kernel executable")
    ap.add_argument("--inits", nargs="+", default=["torch", "timm"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--milestones", default="[8, 11]", help="a cell-language list, [] for none")
    ap.add_argument("--dim", type=int, default=96)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--mlp-ratio", type=float, default=2)
    ap.add_argument("--timeout", type=float, default=3600)
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="ember-init-bench-") as tmp:
        spec = pathlib.Path(tmp) / "kernels" / "ember-bench"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [os.path.abspath(a.kernel), "-f", "{connection_file}"],
            "display_name": "Ember (init bench)", "language": "ember",
            "interrupt_mode": "message"}))
        ksm = KernelSpecManager(kernel_dirs=[str(spec.parent)])
        for init in a.inits:
            for seed in a.seeds:
                # a fresh kernel per run, as a user restarting between runs
                km = KernelManager(kernel_name="ember-bench", kernel_spec_manager=ksm)
                km.start_kernel(cwd=tmp)
                kc = km.client()
                kc.start_channels()
                try:
                    kc.wait_for_ready(timeout=60)
                    execute(kc, RECIPE.format(archive=os.path.abspath(a.archive)), 600)
                    out = execute(kc, RUN.format(
                        patch=a.patch, dim=a.dim, heads=a.heads, depth=a.depth,
                        mlp_ratio=a.mlp_ratio, seed=seed, init=init, epochs=a.epochs,
                        milestones=a.milestones), a.timeout)
                finally:
                    kc.stop_channels()
                    km.shutdown_kernel(now=True)
                line = next(ln for ln in out.splitlines() if ln.startswith("ACC "))
                acc, loss, secs = (float(x) for x in line.split()[1:])
                print(f"RESULT ember init={init} seed={seed} test_acc={acc:.4f} "
                      f"train_loss={loss:.4f} seconds={secs:.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
