"""test_gpu_proof_dry_run.py — bench/gpu_proof.sh, the one-shot GPU proof
run of issue 12, runs in its --dry-run mode (the same script and code paths
on the CPU at tiny sizes), so that it cannot fail on the card for a typo.

Structure only, never times: the summary JSON and the four part files exist
and are shaped as documented, and every run of every part either ran (ok) or
was skipped with a reason (ctest -L gpu is always skipped here; the PyTorch
sides are skipped, after a pyflakes check, where torch or transformers are
missing, as in CI). Takes about 1-3 minutes on 2 cores (the q1 notebook runs
twice through the kernel, one training step each)."""
import json
import os
import subprocess
import tarfile

from ember_testenv import BUILD, ROOT

SCRIPT = ROOT / "bench" / "gpu_proof.sh"
PART_FILES = {"a": "a_build_tests.json", "b": "b_q1.json", "c": "c_q2.json", "d": "d_step.json"}
STATUSES = {"ok", "partial", "timeout", "failed", "skipped", "not run"}


def test_gpu_proof_dry_run(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ)
    # Leave a developer's scratch alone and keep the run inside the test's budget.
    env.pop("KEEP_WORK", None)
    env["TMPDIR"] = str(tmp_path)
    r = subprocess.run([str(SCRIPT), str(out), "--dry-run", "--build-dir", str(BUILD)],
                       capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    tail = (r.stdout[-4000:] + "\n" + r.stderr[-2000:])
    assert r.returncode == 0, tail

    # At most 8 files come back from the device tool's $OUT.
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8, files
    for name in ["summary.json", "summary.md", "logs.tar.gz", *PART_FILES.values()]:
        assert name in files, (name, files)
    with tarfile.open(out / "logs.tar.gz") as tar:
        assert any(n.endswith("env.txt") for n in tar.getnames())

    s = json.loads((out / "summary.json").read_text())
    for key in ("version", "dry_run", "date", "total_budget_s", "elapsed_s", "settings", "missing",
                "environment", "kernel_path_exercised", "parts", "runs", "targets",
                "table_markdown"):
        assert key in s, key
    assert s["dry_run"] is True
    assert s["targets"] and all(t["verdict"].startswith("n/a") for t in s["targets"])
    assert set(s["parts"]) == set(PART_FILES)
    assert s["table_markdown"] == (out / "summary.md").read_text()

    for part, fname in PART_FILES.items():
        info = s["parts"][part]
        assert info["file"] == fname
        assert info["status"] in STATUSES
        doc = json.loads((out / fname).read_text())
        for key in ("part", "title", "dry_run", "status", "runs", "results"):
            assert key in doc, (fname, key)
        assert doc["part"] == part and doc["dry_run"] is True
        assert "report_error" not in doc, doc.get("report_error")
        assert doc["runs"], f"part {part} recorded nothing"
        for run in doc["runs"]:
            where = f"{part}: {run['part']}/{run['run']}: {run['status']} ({run['reason']})"
            assert run["status"] in ("ok", "skipped"), where + "\n" + tail
            if run["status"] == "skipped":
                assert run["reason"].strip(), where
            assert isinstance(run["seconds"], int)

    runs = {f"{x['part']}/{x['run']}": x for x in s["runs"]}
    # the GPU tests are never run on a CPU machine, and it says why
    assert runs["a/ctest"]["status"] == "skipped" and "dry run" in runs["a/ctest"]["reason"]
    # q1's Ember side ran one way or the other, and says which
    ember = [x for k, x in runs.items() if k.startswith("ember/")]
    assert any(x["status"] == "ok" for x in ember), ember
    b = json.loads((out / "b_q1.json").read_text())["results"]
    assert b["settings"]["epochs"] == 1
    for seed in b["ember"]["seeds"]:
        assert seed["epochs_done"] == 1 and 0 <= seed["test_acc"] <= 1, seed
        assert seed["curve"] and seed["curve"][0]["epoch"] == 1
    if not s["kernel_path_exercised"]:
        assert b["ember"]["kernel_path_note"], "a skipped kernel path must say why"
    # the PyTorch sides ran or were checked by pyflakes / py_compile
    for key in ("eager/torch", "compile/torch", "c/torch"):
        x = runs[key]
        assert x["status"] == "ok" or "clean" in x["reason"], x
    assert runs["d/gpu_check"]["status"] == "ok"
