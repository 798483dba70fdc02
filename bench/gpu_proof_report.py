#!/usr/bin/env python3
"""gpu_proof_report.py — the Python half of bench/gpu_proof.sh, standard
library only (it runs with whatever python3 the machine has): checks the
environment, writes the kernelspec, records each run's status, and turns the
raw outputs of the parts into the JSON files and the summary table.

Subcommands (all called by gpu_proof.sh):
  env          what is present and what is missing -> WORK/env.json (+ text)
  query        one value of env.json, for the shell
  record       one status line (part, run, status, reason, seconds)
  binaries     which of the build's programs exist and what libraries they lack
  kernelspec   the "ember" kernel.json for this run's kernel binary
  workers      the DataLoader worker count the eager run chose
  synth-cifar  a small synthetic CIFAR-10 archive (dry run without the subset)
  tiny-clipseg the tiny CLIPSeg model folder of tests/tiny_clipseg.py
  part         OUTDIR/<part>.json from the raw outputs of one part
  summary      every part file, summary.json, summary.md and the printed table

Statuses: ok, partial (finished some of its work: time budget or failed
cells), timeout (stopped at its budget), failed, skipped (with the reason)."""
import argparse
import datetime
import io
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET

PARTS = {
    "a": ("a_build_tests.json", "build and ctest -L gpu", ["a"]),
    "b": ("b_q1.json", "q1 end to end: Ember and PyTorch (eager, torch.compile)",
          ["ember", "eager", "compile"]),
    "c": ("c_q2.json", "q2: CLIPSeg through the engine against transformers", ["c"]),
    "d": ("d_step.json", "training step: bench/gpu_check.sh", ["d"]),
}
PART_OF = {run: p for p, (_, _, runs) in PARTS.items() for run in runs}


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def load_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut by a kill
    except OSError:
        pass
    return out


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False, default=str)
        f.write("\n")
    os.replace(tmp, path)


def finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


# ---- env ---------------------------------------------------------------------

# Found without importing (torch and transformers take seconds to import, and
# this runs on the card's clock); an install that is found but broken fails
# in its part, which records why.
PY_CHECK = """
import importlib.metadata, importlib.util, json, sys
DIST = {"PIL": "pillow", "zmq": "pyzmq", "ember_papermill": "ember-papermill"}
out = {}
for m in sys.argv[1:]:
    try:
        found = importlib.util.find_spec(m) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        out[m] = None
        continue
    try:
        out[m] = importlib.metadata.version(DIST.get(m, m))
    except importlib.metadata.PackageNotFoundError:
        out[m] = "present"
print(json.dumps(out))
"""


def py_modules(python, modules, pythonpath=""):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        r = subprocess.run([python, "-c", PY_CHECK, *modules], capture_output=True, text=True,
                           timeout=120, env=env)
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return {m: None for m in modules}


def which(tool):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d, tool)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def cmd_env(a):
    env = dict(dry_run=a.dry_run == "1", gpu=a.gpu_name or None, build_dir=a.build,
               carried=a.carried == "1", cpus=os.cpu_count(), host=platform.node(),
               python3=sys.version.split()[0], data_note=a.data_note or None,
               carried_libraries_used=sorted(os.listdir(a.ld_path)) if a.ld_path and
               os.path.isdir(a.ld_path) else [])
    env["tools"] = {t: which(t) for t in ("cmake", "ninja", "nvcc", "nvidia-smi", "timeout", "ldd")}
    if not env["tools"]["nvcc"] and os.path.exists("/usr/local/cuda/bin/nvcc"):
        env["tools"]["nvcc"] = "/usr/local/cuda/bin/nvcc"
    env["data"] = {"cifar10_archive": a.archive if os.path.isfile(a.archive) else None,
                   "clip_tokenizer": a.tokenizer if os.path.isfile(
                       os.path.join(a.tokenizer, "vocab.json")) else None,
                   "image": a.image if os.path.isfile(a.image) else None}
    tv = py_modules(a.torch_python, ["torch", "torchvision", "PIL", "numpy"])
    hf = py_modules(a.hf_python, ["torch", "transformers", "safetensors", "numpy", "PIL"])
    ex = py_modules(a.exec_python, ["nbformat", "nbclient", "jupyter_client", "zmq", "papermill"],
                    a.exec_pythonpath)
    # Ember's translator: installed, or this checkout's (q1_notebook.py falls back to it)
    ex["ember_papermill"] = py_modules(a.exec_python, ["ember_papermill"],
                                       a.exec_pythonpath)["ember_papermill"] or (
        "checkout" if os.path.isfile(os.path.join(a.root, "kernelspec", "papermill", "ember_papermill",
                                                  "translator.py")) else None)
    env["python"] = {"torch_python": {"path": a.torch_python, "modules": tv},
                     "hf_python": {"path": a.hf_python, "modules": hf},
                     "exec_python": {"path": a.exec_python, "modules": ex}}

    def missing(mods, python):
        gone = [m for m, v in mods.items() if v is None]
        return f"{', '.join(gone)} missing in {python}" if gone else ""
    env["torch_ok"] = int(tv["torch"] is not None)
    env["torch_missing"] = missing({"torch": tv["torch"]}, a.torch_python)
    tvm = {k: tv[k] for k in ("torch", "torchvision", "PIL", "numpy")}
    env["torchvision_ok"] = int(all(v is not None for v in tvm.values()))
    env["torchvision_missing"] = missing(tvm, a.torch_python)
    env["hf_ok"] = int(all(v is not None for v in hf.values()))
    env["hf_missing"] = missing(hf, a.hf_python)
    base = all(ex[m] is not None for m in ("nbformat", "nbclient", "jupyter_client", "zmq"))
    env["nbclient_ok"] = int(base)
    env["papermill_ok"] = int(base and ex["papermill"] is not None and ex["ember_papermill"] is not None)
    env["executor"] = "papermill" if env["papermill_ok"] else "nbclient" if base else "none"
    env["executor_missing"] = missing(ex, a.exec_python)

    miss = []
    if a.data_note:
        miss.append(a.data_note)
    if not env["data"]["cifar10_archive"]:
        miss.append(f"CIFAR-10 subset archive ({a.archive})")
    if not env["data"]["clip_tokenizer"]:
        miss.append(f"CLIP tokenizer ({a.tokenizer})")
    for key, what in (("torchvision_missing", "q1's PyTorch side"), ("hf_missing", "q2's transformers side"),
                      ("executor_missing", "the notebook side")):
        if env[key]:
            miss.append(f"{env[key]} ({what})")
    if a.dry_run != "1":
        for t in ("nvidia-smi",):
            if not env["tools"][t]:
                miss.append(f"{t} (peak GPU memory by sampling)")
        if a.carried != "1" and not env["tools"]["nvcc"]:
            miss.append("nvcc (building the CUDA backend)")
    env["missing"] = miss
    write_json(a.out, env)
    print(f"environment: {'dry run' if env['dry_run'] else env['gpu']}, {env['cpus']} cores, build "
          f"{a.build}{' (carried)' if env['carried'] else ''}; notebook executor: {env['executor']}")
    if env["carried_libraries_used"]:
        print("  carried libraries in use: " + " ".join(env["carried_libraries_used"]))
    for m in miss:
        print("  MISSING: " + m)
    if not miss:
        print("  nothing missing")
    return 0


def cmd_query(a):
    v = load_json(a.env, {}).get(a.key, "")
    print(v if v is not None else "")
    return 0


# ---- small helpers for the shell ---------------------------------------------------------

def cmd_record(a):
    rec = dict(part=a.part, run=a.run, status=a.status, reason=a.reason,
               seconds=int(a.seconds), budget_s=int(a.budget),
               time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    with open(a.status_file, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return 0


PROGRAMS = ["kernel/ember-kernel", "cuda/libember_cuda.so", "bench/ember_q1",
            "bench/ember_clipseg_bench", "tests/cuda/vit_step_bench", "tests/cuda/test_cuda_ops",
            "tests/cuda/test_cuda_oom", "tests/cuda/test_cuda_graph", "tests/cuda/test_cuda_vit",
            "tests/cuda/test_cuda_clipseg"]


def cmd_binaries(a):
    env = dict(os.environ)
    if a.ld_path:
        env["LD_LIBRARY_PATH"] = a.ld_path + (":" + env["LD_LIBRARY_PATH"]
                                              if env.get("LD_LIBRARY_PATH") else "")
    out = {}
    for rel in PROGRAMS:
        p = os.path.join(a.build, rel)
        if not os.path.exists(p):
            out[rel] = {"present": False}
            continue
        try:
            r = subprocess.run(["ldd", p], capture_output=True, text=True, env=env, timeout=30)
            nf = sorted({line.split()[0] for line in r.stdout.splitlines() if "not found" in line})
        except (OSError, subprocess.TimeoutExpired):
            nf = ["(ldd failed)"]
        out[rel] = {"present": True, "missing_libraries": nf}
        print(f"  {rel}: " + ("ok" if not nf else "MISSING " + " ".join(nf)))
    absent = [r for r, v in out.items() if not v["present"]]
    if absent:
        print("  not built: " + " ".join(absent))
    write_json(a.out, out)
    return 0


def cmd_kernelspec(a):
    env = {}
    if a.ld_path:
        env["LD_LIBRARY_PATH"] = a.ld_path + (":" + os.environ["LD_LIBRARY_PATH"]
                                              if os.environ.get("LD_LIBRARY_PATH") else "")
    if os.path.exists(a.cuda_lib):
        env["EMBER_CUDA_LIB"] = a.cuda_lib
    spec = {"argv": [a.kernel, "-f", "{connection_file}"], "display_name": "Ember (gpu_proof)",
            "language": "ember", "interrupt_mode": "message", "env": env,
            "metadata": {"debugger": False}}
    write_json(a.out, spec)
    return 0


def cmd_workers(a):
    for rec in load_jsonl(a.jsonl):
        if rec.get("type") == "workers":
            print(rec["chosen"])
            return 0
    print("auto")
    return 0


def cmd_synth_cifar(a):
    # the layout of tests/notebooks/test_q1.py's stand-in
    with tarfile.open(a.path, "w:gz") as tar:
        for name, n in [("data_batch_1.bin", 300), ("test_batch.bin", 120)]:
            data = bytearray()
            for i in range(n):
                data.append(i % 10)
                data += bytes((i * 13 + j) % 256 for j in range(3072))
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(bytes(data)))
    return 0


def cmd_tiny_clipseg(a):
    import pathlib
    import shutil
    sys.path.insert(0, os.path.join(a.root, "tests"))
    import ember_testenv
    from tiny_clipseg import make_model_dir
    shutil.rmtree(ember_testenv._tmp, ignore_errors=True)  # made at import, unused here
    make_model_dir(pathlib.Path(a.dir))
    return 0


# ---- part files ------------------------------------------------------------------------------

def runs_of(status, names):
    return [r for r in status if r["part"] in names]


def aggregate(runs):
    st = [r["status"] for r in runs]
    if not st:
        return "not run"
    for s in ("failed", "timeout", "partial"):
        if s in st:
            return s
    if all(s == "skipped" for s in st):
        return "skipped"
    return "ok"


def junit_tests(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    tests = []
    for tc in root.iter("testcase"):
        status = tc.get("status", "run")
        if tc.find("failure") is not None or tc.find("error") is not None:
            status = "failed"
        elif tc.find("skipped") is not None or status in ("notrun", "disabled"):
            status = "skipped"
        else:
            status = "passed"
        tests.append(dict(name=tc.get("name"), status=status, seconds=finite(float(tc.get("time", "nan")))))
    return tests


def ctest_log_tests(path):
    """The per-test lines of ctest's own output, where no JUnit file was
    written (a CMake older than 3.21 has no --output-junit)."""
    tests = []
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return tests
    for line in lines:
        m = re.search(r"Test\s+#\d+: (\S+) \.+\s*(?:\*+)?([A-Za-z ]+?)\s+([\d.]+) sec", line)
        if m:
            word = m.group(2).strip().lower()
            st = "passed" if word == "passed" else "skipped" if word in ("skipped", "not run") else "failed"
            tests.append(dict(name=m.group(1), status=st, seconds=float(m.group(3))))
    return tests


def part_a(work, status):
    tests = junit_tests(os.path.join(work, "a", "ctest.xml")) or \
        ctest_log_tests(os.path.join(work, "logs", "a_ctest.log"))
    counts = {s: sum(t["status"] == s for t in tests) for s in ("passed", "failed", "skipped")}
    return dict(build=dict(dir=load_json(os.path.join(work, "env.json"), {}).get("build_dir"),
                           programs=load_json(os.path.join(work, "a", "binaries.json"), {})),
                tests=tests, tests_summary=counts)


def smi_peak(path):
    """Peak and baseline (first sample) of nvidia-smi's memory.used, MiB."""
    vals = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    vals.append(float(line.strip().split(",")[0]))
                except ValueError:
                    pass
    except OSError:
        return None
    if not vals:
        return None
    return dict(peak_mib=max(vals), baseline_mib=vals[0], above_baseline_mib=max(vals) - vals[0],
                samples=len(vals))


def epoch_stats(hist, train_images):
    """From per-epoch records (each with seconds, test_acc): the steady epoch
    time (median leaving out the first, which carries start-up and
    compilation), the first epoch's time, and end-to-end images/s."""
    secs = [h.get("seconds") for h in hist if finite(h.get("seconds")) is not None]
    if not secs:
        return {}
    steady = statistics.median(secs[1:] if len(secs) > 1 else secs)
    out = dict(epochs_done=len(hist), epoch_seconds_median=steady, epoch_seconds_first=secs[0],
               epochs_seconds_total=sum(secs),
               images_per_s=(train_images / steady) if train_images and steady > 0 else None,
               test_acc=finite(hist[-1].get("test_acc")),
               test_acc_best=max((finite(h.get("test_acc")) or 0) for h in hist),
               train_loss_last=finite(hist[-1].get("train_loss")))
    return out


def curve(hist):
    return [dict(epoch=h.get("epoch"), lr=h.get("lr"), train_loss=h.get("train_loss"),
                 train_acc=h.get("train_acc"), test_loss=h.get("test_loss"),
                 test_acc=h.get("test_acc"), seconds=h.get("seconds")) for h in hist]


def mean_acc(seeds, epochs):
    done = [s["test_acc"] for s in seeds
            if s.get("test_acc") is not None and s.get("epochs_done") == epochs]
    return (sum(done) / len(done), len(done)) if done else (None, 0)


def part_b(work, status, settings):
    seeds = [int(s) for s in settings.get("seeds", "0 1").split()]
    epochs, train_n = settings.get("q1_epochs"), settings.get("q1_train_per_epoch")
    b = os.path.join(work, "b")
    ember_seeds, notebook = [], None
    for s in seeds:
        k = load_json(os.path.join(b, f"ember_kernel_seed{s}.json"))
        if k is not None:
            rec = dict(seed=s, source=f"kernel ({k.get('executor')})",
                       **epoch_stats(k.get("history", []), train_n))
            fit_s = k.get("fit_cell_seconds")
            rec["wall_seconds_per_epoch"] = fit_s / rec["epochs_done"] if fit_s and rec.get("epochs_done") else None
            rec.update(notebook_seconds=k.get("notebook_seconds"), fit_cell_seconds=fit_s,
                       model=k.get("model"), cell_errors=k.get("errors"), interrupted=k.get("interrupted"),
                       curve=curve(k.get("history", [])))
            notebook = dict(missing_parameters=k.get("missing_parameters"),
                            patches=k.get("notebook_patches"), parameters=k.get("parameters"),
                            parameters_cell=k.get("parameters_cell"))
            ember_seeds.append(rec)
        d = load_jsonl(os.path.join(b, f"ember_driver_seed{s}.jsonl"))
        if d:
            env = next((r for r in d if r.get("type") == "env"), {})
            hist = [r for r in d if r.get("type") == "epoch"]
            done = next((r for r in d if r.get("type") == "done"), {})
            err = next((r for r in d if r.get("type") == "error"), None)
            n = hist[0].get("train_images") if hist else train_n
            rec = dict(seed=s, source="C driver (bench/q1_ember.c)", **epoch_stats(hist, n))
            rec["wall_seconds_per_epoch"] = (done["fit_seconds"] / len(hist)
                                             if done.get("fit_seconds") and hist else None)
            rec.update(backend=env.get("backend"), precision=env.get("precision"),
                       fit_seconds=done.get("fit_seconds"), engine_peak_bytes=done.get("engine_peak_bytes"),
                       card_used_bytes=done.get("card_used_bytes"), error=err, curve=curve(hist))
            ember_seeds.append(rec)
    kernel_runs = [r for r in runs_of(status, ["ember"]) if r["run"].startswith("kernel")]
    kernel_ok = any(r["status"] in ("ok", "partial") for r in kernel_runs)
    main = [s for s in ember_seeds if s["source"].startswith("kernel")] if kernel_ok else \
        [s for s in ember_seeds if s["source"].startswith("C driver")]
    m, n = mean_acc(main, epochs)
    skipped = None if kernel_ok else next((f"{r['run']}: {r['status']}: {r['reason']}" for r in kernel_runs), None)
    ember = dict(kernel_path_exercised=kernel_ok, kernel_path_note=skipped, seeds=ember_seeds,
                 summary_source="kernel" if kernel_ok else "C driver",
                 mean_test_acc=m, seeds_complete=n, notebook=notebook,
                 peak_gpu_memory=dict(nvidia_smi=smi_peak(os.path.join(b, "smi_ember.csv")),
                                      engine_peak_bytes=max((s.get("engine_peak_bytes") or 0
                                                             for s in ember_seeds), default=0) or None))
    out = dict(settings=dict(epochs=epochs, seeds=seeds, train_images=settings.get("q1_train"),
                             test_images=settings.get("q1_test"), train_per_epoch=train_n,
                             device=settings.get("device")), ember=ember)
    for mode in ("eager", "compile"):
        recs = load_jsonl(os.path.join(b, f"torch_{mode}.jsonl"))
        env = next((r for r in recs if r.get("type") == "env"), None)
        workers = next((r for r in recs if r.get("type") == "workers"), None)
        seeds_out = []
        for s in seeds:
            hist = [r for r in recs if r.get("type") == "epoch" and r.get("seed") == s]
            if not hist:
                continue
            done = next((r for r in recs if r.get("type") == "seed_done" and r.get("seed") == s), {})
            rec = dict(seed=s, **epoch_stats(hist, hist[0].get("train_images")))
            rec["wall_seconds_per_epoch"] = done["seconds"] / len(hist) if done.get("seconds") else None
            rec.update(peak_allocated_bytes=done.get("peak_allocated_bytes"),
                       peak_reserved_bytes=done.get("peak_reserved_bytes"), seconds=done.get("seconds"),
                       stopped=next((r.get("reason") for r in recs
                                     if r.get("type") == "stopped" and r.get("seed") == s), None),
                       curve=curve(hist))
            seeds_out.append(rec)
        m, n = mean_acc(seeds_out, epochs)
        out[f"torch_{mode}"] = dict(env=env, workers=workers, seeds=seeds_out, mean_test_acc=m,
                                    seeds_complete=n,
                                    peak_gpu_memory=dict(
                                        nvidia_smi=smi_peak(os.path.join(b, f"smi_{mode}.csv")),
                                        max_memory_allocated_bytes=max(
                                            (s.get("peak_allocated_bytes") or 0 for s in seeds_out),
                                            default=0) or None))
    return out


def result_lines(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                p = line.split(None, 2)
                if len(p) >= 2 and p[0] == "RESULT":
                    out[p[1]] = p[2].strip() if len(p) > 2 else ""
    except OSError:
        pass
    return out


def num(s):
    try:
        return float(str(s).split()[0])
    except (ValueError, IndexError, TypeError):
        return None


def part_c(work, status, settings):
    e = result_lines(os.path.join(work, "c", "ember.txt"))
    t = result_lines(os.path.join(work, "c", "torch.txt"))
    em, tm = num(e.get("forward_median_s")), num(t.get("forward_median_s"))
    return dict(model=settings.get("q2_model"), prompts=settings.get("q2_prompts"),
                runs=settings.get("q2_runs"), ember=e, torch=t,
                probs_max_abs_diff=num(t.get("probs_max_abs_diff")),
                probs_max_abs_diff_own_inputs=num(t.get("probs_max_abs_diff_own_inputs")),
                logits_max_abs_diff=num(t.get("logits_max_abs_diff")),
                latency_3_prompts_s=dict(ember=em, torch=tm,
                                         speedup=(tm / em) if em and tm else None),
                latency_1_prompt_s=dict(ember=num(e.get("single_prompt_median_s")),
                                        torch=num(t.get("single_prompt_median_s"))))


def part_d(work, status, settings):
    d = os.path.join(work, "d")
    ember, torch_rows, info, notes = [], [], {}, []
    for path in (os.path.join(d, "bench_ember.log"), os.path.join(d, "bench_torch.log")):
        try:
            lines = open(path).read().splitlines()
        except OSError:
            notes.append(f"{os.path.basename(path)} missing")
            continue
        for line in lines:
            f = line.split()
            if not f:
                continue
            if f[0] == "RESULT" and len(f) >= 7:
                ember.append(dict(mode=f[1], ms_per_step=num(f[2]), images_per_s=num(f[3]),
                                  peak_bytes=num(f[4]), first_loss=num(f[5]), last_loss=num(f[6])))
            elif f[0] == "TORCH" and len(f) >= 3 and f[2] == "FAILED":
                torch_rows.append(dict(mode=f[1], error=" ".join(f[3:])[:300]))
            elif f[0] == "TORCH" and len(f) >= 6:
                torch_rows.append(dict(mode=f[1], ms_per_step=num(f[2]), images_per_s=num(f[3]),
                                       peak_bytes=num(f[4]), last_loss=num(f[5])))
            elif f[0] in ("CARD", "MATMUL", "FLOPS", "PARAMS"):
                info[f[0].lower()] = " ".join(f[1:])
            elif f[0].startswith("SKIP") or f[0] == "EXIT" or f[0].startswith("FAIL"):
                notes.append(f"{os.path.basename(path)}: {line.strip()[:200]}")
    eager = next((r.get("ms_per_step") for r in torch_rows if r.get("mode") == "eager"), None)
    graph = next((r.get("ms_per_step") for r in ember if r.get("mode") == "mixed-graph"), None)
    return dict(steps=settings.get("step_steps"), batch=settings.get("step_batch"), ember=ember,
                torch=torch_rows, info=info, notes=notes,
                graph_vs_eager=(eager / graph) if eager and graph else None)


BUILDERS = {"a": part_a, "b": part_b, "c": part_c, "d": part_d}


def make_part(work, outdir, part, dry):
    status = load_jsonl(os.path.join(work, "status.jsonl"))
    settings = load_json(os.path.join(work, "run.json"), {})
    fname, title, names = PARTS[part]
    runs = runs_of(status, names)
    fn = BUILDERS[part]
    try:
        results = fn(work, status) if part == "a" else fn(work, status, settings)
        err = None
    except Exception as e:  # a report bug must not lose the other parts
        results, err = {}, f"{type(e).__name__}: {e}"
    obj = dict(part=part, title=title, dry_run=dry, status=aggregate(runs),
               seconds=sum(r["seconds"] for r in runs if r["run"] == "part") or None,
               runs=runs, results=results)
    if err:
        obj["report_error"] = err
    write_json(os.path.join(outdir, fname), obj)
    return obj


def cmd_part(a):
    make_part(a.work, a.outdir, PART_OF.get(a.part, a.part), a.dry_run == "1")
    return 0


# ---- summary -------------------------------------------------------------------------------

def pct(v):
    return f"{100 * v:.1f}%" if v is not None else "-"


def fmt(v, spec, unit=""):
    return f"{v:{spec}}{unit}" if v is not None else "-"


def gib(b):
    return f"{b / 2**30:.2f} GiB" if b else "-"


def targets(b, c, d, a, dry):
    """Issue 12's targets, as far as this run measured them."""
    if dry:
        return [dict(target="all", verdict="n/a (dry run: no GPU, tiny sizes)")]
    out = []

    def add(name, ok, detail):
        out.append(dict(target=name, verdict="n/a" if ok is None else ("met" if ok else "NOT met"),
                        detail=detail))
    em, ea, co = (b.get("ember", {}).get("mean_test_acc"), b.get("torch_eager", {}).get("mean_test_acc"),
                  b.get("torch_compile", {}).get("mean_test_acc"))
    add("q1 accuracy: Ember's mean within 2 points of PyTorch's", None if em is None or ea is None
        else abs(em - ea) <= 0.02, f"Ember {pct(em)}, PyTorch eager {pct(ea)}, compile {pct(co)}")

    def ips(key):
        seeds = b.get(key, {}).get("seeds", [])
        v = [s["images_per_s"] for s in seeds if s.get("images_per_s")]
        return statistics.median(v) if v else None
    ie, te, tc = ips("ember"), ips("torch_eager"), ips("torch_compile")
    add("q1 end to end: >= 3x PyTorch eager's images/s", None if not ie or not te else ie >= 3 * te,
        f"{ie / te:.2f}x" if ie and te else "-")
    add("q1 end to end: >= 2x torch.compile's images/s", None if not ie or not tc else ie >= 2 * tc,
        f"{ie / tc:.2f}x" if ie and tc else "-")
    g = d.get("graph_vs_eager")
    add("training step: >= 3x PyTorch eager", None if g is None else g >= 3, fmt(g, ".2f", "x"))
    p = c.get("probs_max_abs_diff")
    add("q2: probabilities within 1e-3 of transformers", None if p is None else p <= 1e-3,
        f"max |diff| {p:.2g} on the same inputs" if p is not None else "-")
    sp = c.get("latency_3_prompts_s", {}).get("speedup")
    add("q2: latency >= 3x lower than transformers fp32 eager", None if sp is None else sp >= 3,
        fmt(sp, ".2f", "x"))
    ts = a.get("tests_summary", {})
    add("every GPU test green", None if not sum(ts.values()) else ts.get("failed", 0) == 0 and
        ts.get("skipped", 0) == 0, f"{ts.get('passed', 0)} passed, {ts.get('failed', 0)} failed, "
        f"{ts.get('skipped', 0)} skipped")
    return out


def cmd_summary(a):
    dry = a.dry_run == "1"
    os.makedirs(a.outdir, exist_ok=True)
    env = load_json(os.path.join(a.work, "env.json"), {})
    settings = load_json(os.path.join(a.work, "run.json"), {})
    status = load_jsonl(os.path.join(a.work, "status.jsonl"))
    parts = {p: make_part(a.work, a.outdir, p, dry) for p in PARTS}
    res = {p: parts[p]["results"] for p in parts}
    b = res["b"]
    kernel = b.get("ember", {}).get("kernel_path_exercised", False)
    summary = dict(
        version=1, dry_run=dry,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        card=env.get("gpu"), cpus=env.get("cpus"), host=env.get("host"),
        total_budget_s=int(a.total), elapsed_s=int(a.elapsed) if a.elapsed else None,
        fatal=a.fatal or None, settings=settings, missing=env.get("missing", []),
        environment=env, kernel_path_exercised=kernel,
        parts={p: dict(file=PARTS[p][0], title=parts[p]["title"], status=parts[p]["status"],
                       runs=[dict(run=f"{r['part']}/{r['run']}", status=r["status"], reason=r["reason"],
                                  seconds=r["seconds"]) for r in parts[p]["runs"] if r["run"] != "part"
                             or r["status"] != "ok"])
               for p in PARTS},
        runs=status,
        targets=targets(b, res["c"], res["d"], res["a"], dry))
    md = render(summary, res)
    summary["table_markdown"] = md
    write_json(os.path.join(a.outdir, "summary.json"), summary)
    with open(os.path.join(a.outdir, "summary.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


def render(s, res):
    L = []
    head = "DRY RUN (CPU, tiny sizes: the plumbing, not the numbers)" if s["dry_run"] else s.get("card")
    L.append(f"# GPU proof run — {head}")
    L.append("")
    L.append(f"{s['date']}; {s.get('cpus')} cores; {s.get('elapsed_s')} s of a {s['total_budget_s']} s budget"
             + ("" if s["kernel_path_exercised"] else "; **q1's kernel path was NOT exercised**"))
    if s.get("fatal"):
        L.append("")
        L.append(f"**Not run: {s['fatal']}**")
    if s["missing"]:
        L.append("")
        L.append("Missing here: " + "; ".join(s["missing"]))
    L.append("")
    L.append("| part | run | status | s | note |")
    L.append("|---|---|---|---:|---|")
    for p, info in s["parts"].items():
        if not info["runs"]:
            L.append(f"| {p} | - | {info['status']} | - | |")
        for r in info["runs"]:
            note = (r["reason"] or "").replace("|", "/")[:150]
            L.append(f"| {p} | {r['run']} | {r['status']} | {r['seconds']} | {note} |")
    b = res["b"]
    st = b.get("settings", {})
    L.append("")
    L.append(f"q1: {st.get('train_images')} train / {st.get('test_images')} test images, "
             f"{st.get('epochs')} epochs, seeds {st.get('seeds')}, on {st.get('device')}")
    L.append("")
    L.append("| q1 run | mean test acc | each seed | epochs | s/epoch: median (first) | wall s/epoch | "
             "images/s | peak GPU memory |")
    L.append("|---|---:|---|---:|---:|---:|---:|---:|")
    for key, name in (("ember", "Ember"), ("torch_eager", "PyTorch eager"),
                      ("torch_compile", "PyTorch torch.compile")):
        r = b.get(key)
        if not r:
            continue
        seeds = r.get("seeds", [])
        if key == "ember":
            name += f" ({r.get('summary_source')})"
            seeds = [x for x in seeds if x["source"].startswith(
                "kernel" if r.get("summary_source") == "kernel" else "C driver")]
        each = ", ".join(f"{x['seed']}: {pct(x.get('test_acc'))}" for x in seeds) or "-"
        eps = ", ".join(str(x.get("epochs_done", 0)) for x in seeds) or "-"
        sec = ", ".join(f"{x['epoch_seconds_median']:.3f} ({x['epoch_seconds_first']:.2f})"
                        for x in seeds if x.get("epoch_seconds_median") is not None) or "-"
        ips = ", ".join(f"{x['images_per_s']:,.0f}" for x in seeds if x.get("images_per_s")) or "-"
        wall = ", ".join(f"{x['wall_seconds_per_epoch']:.3f}" for x in seeds
                         if x.get("wall_seconds_per_epoch")) or "-"
        mem = r.get("peak_gpu_memory", {})
        smi = mem.get("nvidia_smi")
        parts = []
        if smi:
            parts.append(f"{smi['above_baseline_mib']:,.0f} MiB (nvidia-smi)")
        if mem.get("max_memory_allocated_bytes"):
            parts.append(gib(mem["max_memory_allocated_bytes"]) + " (allocated)")
        if mem.get("engine_peak_bytes"):
            parts.append(gib(mem["engine_peak_bytes"]) + " (engine)")
        L.append(f"| {name} | {pct(r.get('mean_test_acc'))} | {each} | {eps} | {sec} | {wall} | {ips} | "
                 f"{', '.join(parts) or '-'} |")
    L.append("")
    L.append("s/epoch: each epoch from its first batch to the end of its test evaluation (the median "
             "leaves out the first); wall s/epoch: Ember's fit cell, its progress bar and live plots "
             "included, or PyTorch's training loop, over its epochs; images/s: training images of an "
             "epoch over the median epoch.")
    nb = b.get("ember", {}).get("notebook") or {}
    if nb.get("missing_parameters"):
        L.append("")
        L.append(f"q1.ipynb lacks the parameter(s) {', '.join(nb['missing_parameters'])}; this run "
                 f"patched its copy: {'; '.join(nb.get('patches') or [])}")
    c = res["c"]
    L.append("")
    lat = c.get("latency_3_prompts_s", {})
    L.append("| q2 (CLIPSeg, 1 image x 3 prompts) | median latency | 1 prompt | probs max abs diff "
             "(same inputs / own inputs) |")
    L.append("|---|---:|---:|---|")
    L.append(f"| Ember | {fmt(lat.get('ember') and lat['ember'] * 1e3, '.1f', ' ms')} | "
             f"{fmt(c.get('latency_1_prompt_s', {}).get('ember') and c['latency_1_prompt_s']['ember'] * 1e3, '.1f', ' ms')} | "
             f"{fmt(c.get('probs_max_abs_diff'), '.2g')} / {fmt(c.get('probs_max_abs_diff_own_inputs'), '.2g')} |")
    L.append(f"| transformers fp32 eager | {fmt(lat.get('torch') and lat['torch'] * 1e3, '.1f', ' ms')} | "
             f"{fmt(c.get('latency_1_prompt_s', {}).get('torch') and c['latency_1_prompt_s']['torch'] * 1e3, '.1f', ' ms')} | "
             f"speedup {fmt(lat.get('speedup'), '.2f', 'x')} |")
    d = res["d"]
    L.append("")
    L.append(f"| training step (batch {d.get('batch')}, {d.get('steps')} steps) | ms/step | images/s | "
             "peak memory |")
    L.append("|---|---:|---:|---:|")
    for r in d.get("ember", []):
        L.append(f"| Ember {r['mode']} | {fmt(r['ms_per_step'], '.2f')} | {fmt(r['images_per_s'], ',.0f')} | "
                 f"{gib(r['peak_bytes'])} |")
    for r in d.get("torch", []):
        if "error" in r:
            L.append(f"| PyTorch {r['mode']} | failed: {r['error'][:60]} | | |")
        else:
            L.append(f"| PyTorch {r['mode']} | {fmt(r['ms_per_step'], '.2f')} | "
                     f"{fmt(r['images_per_s'], ',.0f')} | {gib(r['peak_bytes'])} |")
    for n in d.get("notes", []):
        if not n.endswith("EXIT 0"):
            L.append(f"| ({n[:160]}) | | | |")
    L.append("")
    L.append("| target (issue 12) | verdict | measured |")
    L.append("|---|---|---|")
    for t in s["targets"]:
        L.append(f"| {t['target']} | {t['verdict']} | {t.get('detail', '')} |")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("env")
    for k in ("out", "root", "build", "carried", "dry-run", "gpu-name", "torch-python", "hf-python",
              "exec-python", "exec-pythonpath", "archive", "tokenizer", "image", "data-note", "ld-path"):
        p.add_argument("--" + k, default="")
    p = sub.add_parser("query")
    p.add_argument("env")
    p.add_argument("key")
    p = sub.add_parser("record")
    for k in ("status-file", "part", "run", "status", "reason", "seconds", "budget"):
        p.add_argument("--" + k, default="")
    p = sub.add_parser("binaries")
    for k in ("build", "ld-path", "out"):
        p.add_argument("--" + k, default="")
    p = sub.add_parser("kernelspec")
    for k in ("out", "kernel", "ld-path", "cuda-lib"):
        p.add_argument("--" + k, default="")
    p = sub.add_parser("workers")
    p.add_argument("jsonl")
    p = sub.add_parser("synth-cifar")
    p.add_argument("path")
    p = sub.add_parser("tiny-clipseg")
    p.add_argument("root")
    p.add_argument("dir")
    for name in ("part", "summary"):
        p = sub.add_parser(name)
        if name == "part":
            p.add_argument("part")
        for k in ("work", "outdir", "dry-run", "total", "elapsed", "fatal"):
            p.add_argument("--" + k, default="")
    a = ap.parse_args()
    return {"env": cmd_env, "query": cmd_query, "record": cmd_record, "binaries": cmd_binaries,
            "kernelspec": cmd_kernelspec, "workers": cmd_workers, "synth-cifar": cmd_synth_cifar,
            "tiny-clipseg": cmd_tiny_clipseg, "part": cmd_part, "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
