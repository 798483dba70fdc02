"""test_save_tables.py — a training run and an evaluation saved through the
kernel and read back with Python's csv and json: the run's CSV and JSON
equal run.train_loss, run.test_acc... (and model.history), empty fields /
nulls without a test set; the evaluation's per-class table and confusion
matrix equal r.class_acc and r.confusion. Their pictures (plot(run),
r.confusion_matrix(), r.samples(), preview()) as SVG and PDF. The data is
the synthetic CIFAR-format archive of protocol_util, so nothing here
depends on ../shared/data."""
import csv
import json

import pytest

from ember_testenv import SLOW
from protocol_util import run_error, run_ok, write_cifar_archive
from save_checks import check_pdf, check_svg, no_temporaries, value as _value

LONG = 120 * SLOW
COLUMNS = ["epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
           "images_per_sec"]
# the run attribute behind each column
ATTRS = dict(zip(COLUMNS, ["epochs"] + COLUMNS[1:]))


def ok(kc, code):
    return run_ok(kc, code, LONG)


def value(kc, expr):
    return _value(kc, expr, LONG)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_cifar_archive(tmp_path_factory.mktemp("savedata") / "synthetic-cifar.tar.gz")


@pytest.fixture
def trained(kc, archive):
    ok(kc, f"tr = cifar10('train', root={archive!r}); te = cifar10('test', root={archive!r}); "
           "m = vit(dim=32, heads=2, layers=2, device='cpu'); "
           "run = fit(m, tr, te, epochs=2, batch_size=64, live=false)")
    return kc


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def cell(text):
    return None if text == "" else float(text)


def check_history(kc, name, path_csv, path_json):
    expect = {c: value(kc, f"{name}.{ATTRS[c]}") for c in COLUMNS}
    rows = read_csv(path_csv)
    assert rows[0] == COLUMNS
    for k, c in enumerate(COLUMNS):
        got = [cell(r[k]) for r in rows[1:]]
        assert got == expect[c], (c, got, expect[c])
    doc = json.loads(open(path_json).read())
    assert isinstance(doc["description"], str)
    for c in COLUMNS:
        assert [e[c] for e in doc["history"]] == expect[c], c
    assert all(isinstance(e["epoch"], int) for e in doc["history"])
    return expect


def test_run_history_csv_and_json(trained, tmp_path):
    kc = trained
    p = {n: str(tmp_path / n) for n in ("run.csv", "run.json", "hist.csv", "hist.json")}
    ok(kc, f"save(run, {p['run.csv']!r}); run.save({p['run.json']!r}); "
           f"h = m.history; save(h, {p['hist.csv']!r}); h.save({p['hist.json']!r})")
    expect = check_history(kc, "run", p["run.csv"], p["run.json"])
    assert expect["epoch"] == [1, 2] and all(x is not None for x in expect["test_acc"])
    check_history(kc, "h", p["hist.csv"], p["hist.json"])
    no_temporaries(tmp_path)


def test_run_without_test_set(trained, tmp_path):
    kc = trained
    ok(kc, "m2 = vit(dim=32, heads=2, layers=2, device='cpu'); "
           "r2 = fit(m2, tr, epochs=1, batch_size=64, steps_per_epoch=1, live=false); "
           f"r2.save({str(tmp_path / 'r2.csv')!r}); r2.save({str(tmp_path / 'r2.json')!r})")
    rows = read_csv(tmp_path / "r2.csv")
    assert rows[1][COLUMNS.index("test_loss")] == "" and rows[1][COLUMNS.index("test_acc")] == ""
    doc = json.loads((tmp_path / "r2.json").read_text())
    assert doc["history"][0]["test_loss"] is None and doc["history"][0]["test_acc"] is None
    check_history(kc, "r2", tmp_path / "r2.csv", tmp_path / "r2.json")


def test_evaluation_csv_and_json(trained, tmp_path):
    kc = trained
    ok(kc, f"r = evaluate(m, te); save(r, {str(tmp_path / 'e.csv')!r}); "
           f"r.save({str(tmp_path / 'e.json')!r})")
    confusion = value(kc, "r.confusion")
    class_acc = value(kc, "r.class_acc")
    classes = value(kc, "te.classes")
    rows = read_csv(tmp_path / "e.csv")
    assert rows[0] == ["class", "images", "correct", "accuracy"] + [f"predicted {c}" for c in classes]
    assert [r[0] for r in rows[1:]] == classes
    assert [[int(x) for x in r[4:]] for r in rows[1:]] == confusion
    assert [cell(r[3]) for r in rows[1:]] == class_acc
    assert [int(r[1]) for r in rows[1:]] == [sum(row) for row in confusion]
    assert [int(r[2]) for r in rows[1:]] == [confusion[i][i] for i in range(len(classes))]
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["confusion"] == confusion and doc["classes"] == classes
    assert [c["accuracy"] for c in doc["per_class"]] == class_acc
    assert doc["accuracy"] == value(kc, "r.accuracy") and doc["loss"] == value(kc, "r.loss")
    assert doc["images"] == value(kc, "r.n") and doc["correct"] == value(kc, "r.correct")
    assert doc["label_smoothing"] == 0 and doc["loss_name"] == "cross-entropy"


@pytest.mark.parametrize("code, images", [
    ("plot(run)", False),
    ("run.plot()", False),
    ("r.confusion_matrix()", False),
    ("r.samples(8, errors=false)", True),
    ("preview(tr, compose(random_crop(32, padding=4), hflip()), n=8)", True),
])
def test_pictures_as_vectors(trained, tmp_path, code, images):
    kc = trained
    ok(kc, f"r = evaluate(m, te); p = {code}")
    w, h = value(kc, "[p.width, p.height]")
    ok(kc, f"p.save({str(tmp_path / 'p.svg')!r}); save(p, {str(tmp_path / 'p.pdf')!r})")
    check_svg(tmp_path / "p.svg", w, h, images)
    check_pdf(tmp_path / "p.pdf", w, h)


def test_errors(trained, tmp_path):
    kc = trained
    ok(kc, "r = evaluate(m, te)")
    for code, words in [
        (f"run.save({str(tmp_path / 'h.xlsx')!r})", ["cannot save a run as '.xlsx'", ".csv or .json"]),
        (f"save(r, {str(tmp_path / 'e.png')!r})", ["an evaluation saves as .csv or .json",
                                                    "confusion_matrix().save"]),
        (f"save(run, {str(tmp_path / 'none' / 'h.csv')!r})", ["does not exist"]),
    ]:
        name, msg = run_error(kc, code, LONG)
        assert name in ("ValueError", "FileNotFoundError"), (code, name, msg)
        for w in words:
            assert w in msg, (code, w, msg)
    no_temporaries(tmp_path)
