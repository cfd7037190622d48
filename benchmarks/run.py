"""Seconds per epoch of Fashion-MNIST MLP training: chainrule against PyTorch and the book.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py

For every workload, each implementation trains k consecutive epochs (``--epochs``) of
one run in a fresh process of its own (``worker.py``); epoch 1 and the median of epochs
2..k are reported apart. PyTorch runs with torch.optim's default and fused
implementations, and the faster one is checked against ``torch_standalone.py``. It prints
the report and writes BENCHMARKS.md (``--out``), keeping its "## Profile" section and
everything after it. The modules: ``measure.py`` (processes, other load, the busy
spinner), ``report.py`` (tables), ``workloads.py`` (what is trained). benchmarks/README.md
explains the method.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

from measure import BUSY, Runner, call, machine_info
from report import SELF_CHECK, Results, compose, write_report
from workloads import MLP, Workload, target, workloads

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIBS = ("torch", "trainer", "loop", "book", "lean")
TRAP_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time consecutive epochs of Fashion-MNIST MLP training in chainrule, "
                    "PyTorch and a book-style NumPy loop, each in its own process; print the "
                    "report and write BENCHMARKS.md. Run it as: env -u OPENBLAS_CORETYPE -u "
                    "OPENBLAS_L2_SIZE python benchmarks/run.py")
    p.add_argument("--epochs", type=int, default=6, metavar="K",
                   help="consecutive epochs per run; the steady state is the median of "
                        "epochs 2..K (default 6)")
    p.add_argument("--rounds", type=int, default=1, metavar="R",
                   help="runs per implementation and workload, interleaved; medians over "
                        "them (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 3 epochs, float32 batch-100 784-100-10 workloads only, "
                        "a 1-epoch 1-seed accuracy check, short peak and gradient checks")
    p.add_argument("--only", metavar="PATTERN",
                   help="keep the workloads whose name matches this regular expression, "
                        "e.g. 'relu\\+adam/f32/b100' (names look like "
                        "784-100-10/relu+adam/f32/b100)")
    p.add_argument("--libs", default=",".join(LIBS),
                   help="comma-separated implementations: torch, trainer, loop, book, lean "
                        "(the lean hand-written NumPy loop, with 1 and --threads threads; "
                        "default all)")
    p.add_argument("--busy", action="store_true",
                   help="also time Trainer epochs (thread policy, 1 and --threads threads) "
                   "and PyTorch epochs with one competing busy process (a one-core spin "
                   "loop) against the same without it, for the float32 batch-100 workloads")
    p.add_argument("--threads", type=int, default=2, metavar="N",
                   help="BLAS / OpenMP threads for every library but the Trainer (default 2)")
    p.add_argument("--chainrule-threads", default="auto", metavar="T",
                   help="the Trainer's threads=: 'auto' (its default policy) or a number")
    p.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), metavar="FILE",
                   help="markdown file to write (default BENCHMARKS.md at the repository "
                        "root); '-' writes nothing")
    p.add_argument("--note", default="", help="a sentence to put under the title of --out")
    p.add_argument("--json", metavar="FILE", help="also write every run's epoch times here")
    p.add_argument("--pause", type=float, default=0.3, metavar="S",
                   help="seconds to wait before each run (default 0.3)")
    p.add_argument("--idle-wait", type=float, default=10.0, metavar="S",
                   help="at most this many seconds to wait, before each run, for the other "
                        f"load on the machine to drop below {BUSY} cores (default 10; 0 "
                        "disables; Linux only)")
    p.add_argument("--idle-budget", type=float, default=120.0, metavar="S",
                   help="at most this many seconds of idle waits in the whole run (default 120)")
    p.add_argument("--retries", type=int, default=3, metavar="K",
                   help=f"run again, up to K times, when other processes used more than {BUSY} "
                        "cores during a run (default 3; Linux only)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 3
    if min(args.epochs, args.rounds, args.threads) < 1:
        p.error("--epochs, --rounds and --threads must be at least 1")
    libs = [s.strip() for s in args.libs.split(",") if s.strip()]
    unknown = [s for s in libs if s not in LIBS]
    if unknown:
        p.error(f"--libs: unknown implementation(s) {unknown}; choose from {', '.join(LIBS)}")
    args.libs = [i for i in LIBS if i in libs]
    return args


def worker(op, args, **opts):
    """The command line of one worker.py measurement."""
    cmd = [sys.executable, str(HERE / "worker.py"), op, "--threads", str(args.threads)]
    for option, value in opts.items():
        cmd += [f"--{option}", str(value)]
    return cmd


def trainer_threads(impl, args):
    """The Trainer runs with its own thread policy (``--chainrule-threads``)."""
    return {"chainrule-threads": args.chainrule_threads} if impl == "trainer" else {}


def standalone(w, variant, args):
    """The command line of torch_standalone.py for workload ``w``."""
    cmd = [sys.executable, str(HERE / "torch_standalone.py"), "--activation", w.activation,
           "--optimizer", w.optimizer, "--lr", str(w.lr), "--batch", str(w.batch),
           "--hidden", ",".join(map(str, w.sizes[1:-1])), "--dtype", w.dtype,
           "--threads", str(args.threads), "--epochs", str(args.epochs)]
    return cmd + (["--fused"] if variant == "fused" else [])


def time_workload(runner, res, w, impls, args):
    """``args.rounds`` runs of every implementation, in an order rotated by round."""
    for r in range(args.rounds):
        for impl in impls[r % len(impls):] + impls[:r % len(impls)]:
            res.add(w.key, impl, runner.run(worker("run", args, impl=impl, workload=w.key,
                                                   epochs=args.epochs, seed=r,
                                                   **trainer_threads(impl, args))))


def self_check(runner, res, w, args):
    """The faster harness PyTorch run against the standalone script; a second try if apart."""
    best = min(("torch", "torch-fused"), key=lambda i: res.steady(w.key, i))
    variant = "fused" if best == "torch-fused" else "default"
    for tries in (1, 2):
        if tries == 2:  # they disagreed: measure both again; the second pair decides
            res.drop(w.key, best)
            res.drop(w.key, "standalone")
            time_workload(runner, res, w, [best], args)
        for _ in range(args.rounds):
            res.add(w.key, "standalone", runner.run(standalone(w, variant, args)))
        harness, alone = res.steady(w.key, best), res.steady(w.key, "standalone")
        ok = abs(harness / alone - 1) <= SELF_CHECK
        if ok:
            break
    return {"variant": variant, "harness": harness, "standalone": alone, "tries": tries,
            "ok": ok}


def time_busy(runner, res, w, torch_impl, args):
    """Trainer (its thread policy, 1 thread, ``--threads``) and PyTorch runs without and
    with one competing busy process, paired."""
    runs = [("trainer", "auto"), ("trainer", "1"), ("trainer", str(args.threads))]
    runs = list(dict.fromkeys(runs)) + ([(torch_impl, None)] if torch_impl else [])
    for impl, threads in runs:
        key = impl if threads in (None, "auto") else f"{impl}:{threads}"
        extra = {"chainrule-threads": threads} if threads else {}
        for r in range(args.rounds):
            for busy in (False, True):
                cmd = worker("run", args, impl=impl, workload=w.key, epochs=args.epochs, seed=r,
                             **extra)
                res.add(w.key, f"{key}@{'busy' if busy else 'idle'}", runner.run(cmd, busy=busy))


def pytorch_usable(runner, args):
    try:
        if importlib.util.find_spec("torch") is None:
            return None
    except (ImportError, ValueError):
        return None
    try:
        return call(worker("info", args, lib="torch"), runner.env)
    except RuntimeError as exc:
        print(f"PyTorch is not usable here; timing without it: {exc}", file=sys.stderr)
        return None


def run(args):
    grid = workloads(quick=args.quick)
    if args.only:
        grid = [w for w in grid if re.search(args.only, w.key)]
        if not grid:
            sys.exit(f"--only {args.only!r} matches no workload; names look like "
                     f"{workloads()[0].key}")
    trap = {v: os.environ.get(v) for v in TRAP_VARS}
    for var, value in trap.items():
        if value is not None:
            print(f"warning: {var}={value} is set; it can force an older OpenBLAS kernel on "
                  "NumPy (GEMM 35-40 % slower) while PyTorch is unaffected. Run as: env -u "
                  "OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py",
                  file=sys.stderr)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    started = datetime.datetime.now().astimezone()
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    runner = Runner(args.pause, args.idle_wait, args.idle_budget, args.retries, dict(os.environ))
    facts = {"started": started, "machine": machine_info(ROOT), "trap": trap, "args": args,
             "thread_vars": THREAD_VARS, "busy_limit": BUSY,
             "numpy_info": call(worker("info", args, lib="numpy"), runner.env)}
    libs = list(args.libs)
    if "torch" in libs:
        facts["torch_info"] = pytorch_usable(runner, args)
        if facts["torch_info"] is None:
            libs.remove("torch")
    facts["libs"] = libs
    peaks, torch_peaks = {}, {}

    def measure_peaks():
        for dtype in ("float32", "float64"):
            for lib, store in (("numpy", peaks), ("torch", torch_peaks)):
                if lib == "numpy" or "torch" in libs:
                    out = runner.run(worker("peak", args, lib=lib, dtype=dtype,
                                            repeats=3 if args.quick else 10))
                    store[dtype] = max(store.get(dtype, 0.0), out["gflops"])

    say("peak GEMM ...")
    measure_peaks()
    res, checks = Results(), {}
    impls = (["torch", "torch-fused"] if "torch" in libs else []) + [
        i for i in libs if i not in ("torch", "lean")] + (
        ["lean", "lean-1t"] if "lean" in libs else [])
    products = {}
    for n_done, w in enumerate(grid, 1):
        time_workload(runner, res, w, impls, args)
        if "lean" in libs and target(w) is not None:  # only the targets' section uses them
            for lib in ("numpy", "torch") if "torch" in libs else ("numpy",):
                products[w.key, lib] = runner.run(worker("products", args, lib=lib,
                                                         workload=w.key))
        best_torch = None
        if "torch" in libs:
            checks[w.key] = self_check(runner, res, w, args)
            best_torch = "torch-fused" if checks[w.key]["variant"] == "fused" else "torch"
        if args.busy and w.dtype == "float32" and w.batch == 100:
            time_busy(runner, res, w, best_torch, args)
        say(f"[{n_done}/{len(grid)}] {w.key}: steady " + ", ".join(
            f"{i} {res.steady(w.key, i):.3f} s" for i in impls + ["standalone"]
            if res.has(w.key, i))
            + ("" if w.key not in checks else
               f"; self-check {'passed' if checks[w.key]['ok'] else 'FAILED'}"))
    measure_peaks()  # again at the end: the best of both is the machine's limit
    facts["trainer_threads"] = {  # what the Trainer's policy ran the steady epochs with
        w.key: sorted({n for r in res.runs.get((w.key, "trainer"), [])
                       for n in (r.get("threads") or [])[1:] if n is not None}) for w in grid}

    grad = {}
    if "trainer" in libs or "loop" in libs:
        say("gradient_check ...")
        for kind in ("mlp", "small"):
            grad[kind] = runner.run(worker("gradcheck", args, kind=kind,
                                           repeats=1 if args.quick else 5))
    say("accuracy ...")
    facts["acc_epochs"] = 1 if args.quick else 5
    aw = Workload(MLP, "relu", "adam", "float32", 100)
    acc = {}
    for impl in ("trainer", "torch", "book"):
        if impl in libs:
            acc[impl] = [runner.run(worker("run", args, impl=impl, workload=aw.key,
                                           epochs=facts["acc_epochs"], seed=seed))["accuracy"]
                         for seed in range(1 if args.quick else 3)]

    facts.update(elapsed=time.perf_counter() - t_start, peaks=peaks, torch_peaks=torch_peaks,
                 loads=[v for rs in res.runs.values() for r in rs
                        if (v := r.get("foreign")) is not None],
                 repeated=runner.repeated, waited=runner.waited)
    if load_start is not None:
        facts["loadavg"] = (load_start, os.getloadavg()[0])
    body = compose(facts, grid, res, checks, acc, grad, products)
    if args.json:
        raw = {"machine": facts["machine"], "numpy_info": facts["numpy_info"],
               "torch_info": facts.get("torch_info"), "args": vars(args), "peaks": peaks,
               "torch_peaks": torch_peaks, "self_check": checks, "gradcheck": grad,
               "accuracy": acc, "products": [{"workload": k, "lib": lib, "us": us}
                                             for (k, lib), us in products.items()],
               "runs": [{"workload": k, "impl": i, **r} for (k, i), rs in res.runs.items()
                        for r in rs]}
        Path(args.json).write_text(json.dumps(raw, indent=1), encoding="utf-8")
    print(body)
    if args.out != "-":
        write_report(Path(args.out), body, args.note)
        say(f"wrote {args.out}")


def main(argv=None):
    args = parse_args(argv)
    for var in THREAD_VARS:  # every worker and the standalone script inherit them
        os.environ[var] = str(args.threads)
    run(args)


if __name__ == "__main__":
    main()
