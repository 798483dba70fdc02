"""test_reload.py — a saved model is the model, through the kernel: after
fit() (plain cross-entropy, dropout 0, as in the report of issue 9), the
model loaded back with load_model() evaluates to exactly the same loss,
accuracy and predictions, in the same kernel and in a fresh one; and
evaluate() names its criterion (plain cross-entropy unless asked)."""
import pytest

from ember_testenv import SLOW
from protocol_util import printed, run_ok, start, stop, write_cifar_archive

LONG = 120 * SLOW


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_cifar_archive(tmp_path_factory.mktemp("reload") / "synthetic-cifar.tar.gz")


def test_checkpoint_evaluates_like_the_model(kc, archive, tmp_path):
    path = str(tmp_path / "m.safetensors")
    run_ok(kc, f"tr = cifar10('train', root={archive!r}); te = cifar10('test', root={archive!r})", LONG)
    run_ok(kc, "m = vit(dim=32, heads=2, layers=2, dropout=0, seed=3, device='cpu'); "
               "r = fit(m, tr, epochs=1, batch_size=32, steps_per_epoch=4, live=false, "
               "optimizer=adamw(lr=2e-3))", LONG)
    run_ok(kc, f"e1 = evaluate(m, te); save(m, {path!r}); m2 = load_model({path!r}, device='cpu'); "
               "e2 = evaluate(m2, te)", LONG)
    l1, l2 = printed(kc, "repr(e1.loss)"), printed(kc, "repr(e2.loss)")
    assert l1 == l2, f"the reloaded model's loss {l2} differs from the model's {l1}"
    assert printed(kc, "e1.correct == e2.correct and e1.predictions == e2.predictions") == "true"
    assert printed(kc, "e1.label_smoothing") == "0.0"
    assert "cross-entropy" in printed(kc, "repr(e1)")
    # Another criterion is named, and still equal between the two.
    run_ok(kc, "s1 = evaluate(m, te, label_smoothing=0.1); s2 = evaluate(m2, te, label_smoothing=0.1)",
           LONG)
    assert printed(kc, "s1.loss == s2.loss and s1.loss != e1.loss") == "true"
    assert "label smoothing 0.1" in printed(kc, "repr(s1)")

    # A fresh kernel (a restart) loads the file to the same numbers.
    km2, kc2 = start()
    try:
        run_ok(kc2, f"te = cifar10('test', root={archive!r}); e3 = evaluate(load_model({path!r}, "
                    "device='cpu'), te)", LONG)
        assert printed(kc2, "repr(e3.loss)") == l1
    finally:
        stop(km2, kc2)
