"""Benchmark chainrule against PyTorch and a book-style NumPy baseline on Fashion-MNIST.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py

Each implementation runs in its own worker process; repeats are interleaved (repeat r
runs every implementation once, in an order rotated by r); times are medians, ratios
medians of per-repeat ratios. It prints the tables and writes BENCHMARKS.md (``--out``),
keeping an existing ``## Profile`` section. benchmarks/README.md explains the method.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IMPLS = ("torch", "book", "trainer", "loop")  # table order
LABELS = {"torch": "PyTorch", "book": "book", "trainer": "Trainer", "loop": "book-2 loop"}
WORKER_OF = {"torch": "torch", "book": "book", "trainer": "chainrule", "loop": "chainrule"}
BUSY = 0.25  # cores used by other processes above which a measurement is disturbed
WARMUP = 10  # mini-batches run on a throwaway model before each timed epoch
TRAP_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time one epoch of Fashion-MNIST MLP training in chainrule, PyTorch and a "
                    "book-style NumPy loop, side by side; print the tables and write "
                    "BENCHMARKS.md. Run it as: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "
                    "python benchmarks/run.py",
    )
    p.add_argument("--repeats", type=int, default=5, metavar="N",
                   help="timed epochs per implementation for the batch-100 784-100-10 "
                        "workloads (default 5)")
    p.add_argument("--extra-repeats", type=int, default=3, metavar="N",
                   help="repeats of the batch-32, batch-512 and deep-net rows (default 3)")
    p.add_argument("--json", metavar="FILE",
                   help="also write every single measurement to this JSON file")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: one repeat, float32 batch-100 workloads only, one "
                        "1-epoch accuracy run, one gradient check of each kind")
    p.add_argument("--only", metavar="PATTERN",
                   help="keep the workloads whose name matches this regular expression, "
                        "e.g. 'relu\\+adam/f32/b100' (names look like "
                        "784-100-10/relu+adam/f32/b100)")
    p.add_argument("--libs", default="torch,book,trainer,loop",
                   help="comma-separated implementations to time: torch, book, trainer, loop "
                        "(default all)")
    p.add_argument("--threads", type=int, default=2, metavar="N",
                   help="BLAS / OpenMP threads for every library (default 2)")
    p.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), metavar="FILE",
                   help="markdown file to write (default BENCHMARKS.md at the repository "
                        "root); '-' writes nothing")
    p.add_argument("--note", default="", help="a sentence to put under the title of --out")
    p.add_argument("--pause", type=float, default=0.3, metavar="S",
                   help="seconds to wait before each measurement, so the previous one's "
                        "BLAS threads stop spinning (default 0.3)")
    p.add_argument("--idle-wait", type=float, default=10.0, metavar="S",
                   help="at most this many seconds to wait, before each measurement, for the "
                        "other load on the machine to drop below 0.25 cores (default 10; "
                        "0 disables; Linux only)")
    p.add_argument("--idle-budget", type=float, default=120.0, metavar="S",
                   help="at most this many seconds of idle waits in the whole run (default 120)")
    p.add_argument("--retries", type=int, default=3, metavar="K",
                   help="measure an epoch again, up to K times, when other processes used "
                        "more than 0.25 cores during it (default 3; Linux only)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.repeats, args.extra_repeats, args.threads) < 1:
        p.error("--repeats, --extra-repeats and --threads must be at least 1")
    if args.quick:
        args.repeats = args.extra_repeats = 1
    libs = [s.strip() for s in args.libs.split(",") if s.strip()]
    unknown = [s for s in libs if s not in IMPLS]
    if unknown:
        p.error(f"--libs: unknown implementation(s) {unknown}; choose from {', '.join(IMPLS)}")
    args.libs = [i for i in IMPLS if i in libs]
    return args


# ---- the worker processes ------------------------------------------------------------


class NumpySide:
    """What every NumPy-based worker answers: info, peak GEMM, data by dtype."""

    def __init__(self, threads):
        self._data = {}

    def data(self, dtype):
        from workloads import load_data

        if dtype not in self._data:
            if "float32" in self._data and dtype != "float32":
                (x, t), (xt, tt) = self._data["float32"]
                self._data[dtype] = (x.astype(dtype), t), (xt.astype(dtype), tt)
            else:
                self._data[dtype] = load_data(dtype)
        return self._data[dtype]

    def info(self):
        import numpy as np

        out = {"numpy": np.__version__, "blas": "unknown"}
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            return out
        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                out["blas"] = (f"{pool.get('internal_api')} {pool.get('version')}, kernel "
                               f"{pool.get('architecture')}, {pool.get('threading_layer')}, "
                               f"{pool.get('num_threads')} threads")
                out["blas_kernel"] = pool.get("architecture")
        return out

    def peak(self, n, dtype, repeats):
        """Best GFLOP/s of an (n, n) @ (n, n) product with np.matmul."""
        import numpy as np

        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        out = np.empty((n, n), dtype=dtype)
        np.matmul(a, b, out=out)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - start)
        return {"gflops": 2 * n**3 / best / 1e9}

    # subclasses: module() -> the implementation's module; runner(impl) -> epoch function
    def build(self, w, weights, seed):
        m = self.module()
        return m.build(w.sizes, w.activation, w.dtype, weights, seed), m.make_optimizer(
            w.optimizer, w.lr)

    def epoch(self, impl, workload, seed, warmup):
        import gc

        from workloads import Workload, initial_weights

        w = Workload.from_dict(workload)
        (x, t), _ = self.data(w.dtype)
        weights = initial_weights(w.sizes, w.activation, w.dtype, seed)
        run = self.runner(impl)
        if warmup:
            model, opt = self.build(w, weights, seed)
            n = min(warmup * w.batch, x.shape[0])
            run(model, opt, x[:n], t[:n], w.batch, seed)
        model, opt = self.build(w, weights, seed)
        gc.collect()
        start = time.perf_counter()
        run(model, opt, x, t, w.batch, seed)
        return {"seconds": time.perf_counter() - start}

    def accuracy(self, impl, workload, epochs, seeds):
        from workloads import Workload, initial_weights

        w = Workload.from_dict(workload)
        data = self.data(w.dtype)
        out = []
        for seed in seeds:
            weights = initial_weights(w.sizes, w.activation, w.dtype, seed)
            out.append(self.module().train_and_test(w.sizes, w.activation, w.optimizer, w.lr,
                                                    w.dtype, w.batch, epochs, weights, seed,
                                                    data))
        return {"accuracy": out}


class ChainruleSide(NumpySide):
    def module(self):
        import chainrule_mlp

        return chainrule_mlp

    def info(self):
        import chainrule

        return {**super().info(), "chainrule": chainrule.__version__}

    def runner(self, impl):
        m = self.module()
        return {"trainer": m.trainer_epoch, "loop": m.loop_epoch}[impl]

    def gradcheck(self, kind, repeats):
        m = self.module()
        if kind == "mlp":
            _, (xt, tt) = self.data("float32")
            call = lambda: m.gradcheck_mlp(xt[:100], tt[:100])  # noqa: E731
        else:
            call = m.gradcheck_small
        times, report = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            report = call()
            times.append(time.perf_counter() - start)
        worst = max(e.max_rel_error for e in report.entries)
        return {"seconds": times, "passed": report.passed, "max_rel_error": worst}


class BookSide(NumpySide):
    def module(self):
        import book_baseline

        return book_baseline

    def runner(self, impl):
        import numpy as np

        m = self.module()
        return lambda net, opt, x, t, b, seed: m.train_epoch(net, opt, x, t, b,
                                                             np.random.default_rng(seed))


class TorchSide(NumpySide):
    def __init__(self, threads):
        super().__init__(threads)
        import torch_mlp

        self.tm = torch_mlp
        torch_mlp.set_threads(threads)
        self._tensors = {}

    def module(self):
        return self.tm

    def data(self, dtype):
        if dtype not in self._tensors:
            (x, t), (xt, tt) = super().data(dtype)
            self._tensors[dtype] = (self.tm.tensors(x, t, dtype), self.tm.tensors(xt, tt, dtype))
        return self._tensors[dtype]

    def info(self):
        return {**super().info(), **self.tm.info()}

    def peak(self, n, dtype, repeats):
        return {"gflops": self.tm.peak_gemm(n, dtype, repeats)}

    def build(self, w, weights, seed):
        model = self.tm.build(w.sizes, w.activation, w.dtype, weights, seed)
        return model, self.tm.make_optimizer(model, w.optimizer, w.lr)

    def runner(self, impl):
        return self.tm.train_epoch


SIDES = {"chainrule": ChainruleSide, "book": BookSide, "torch": TorchSide}


def worker_main(name, threads):
    """Answer JSON requests, one per line on stdin, with one JSON line each on stdout."""
    import traceback

    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the replies
    sys.stdout = sys.stderr
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass  # the *_NUM_THREADS variables set before NumPy was imported do the job
    side = SIDES[name](threads)
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        if op == "quit":
            break
        try:
            out = {"ok": True, **getattr(side, op)(**request)}
        except Exception:  # reported to the driver, which stops with the traceback
            out = {"ok": False, "error": traceback.format_exc()}
        reply.write(json.dumps(out) + "\n")


# ---- the driver ----------------------------------------------------------------------


class Worker:
    def __init__(self, name, threads):
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", name,
             "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(HERE),
        )

    def call(self, op, **request):
        self.proc.stdin.write(json.dumps({"op": op, **request}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker exited (code {self.proc.wait()})")
        out = json.loads(line)
        if not out["ok"]:
            raise RuntimeError(f"the {self.name} worker failed on {op}:\n{out['error']}")
        return out

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


class LoadMeter:
    """CPU time of every other process (Linux ``/proc``), to see who else is running.

    The driver is left out, and so is the worker being timed (its OpenBLAS threads spin
    between calls, so its CPU time says nothing about the others). The idle workers are
    counted: one still spinning during another's turn is the trap the pause avoids.
    """

    def __init__(self):
        self.exclude = {os.getpid()}
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.available = os.path.isdir("/proc") and self.snapshot() is not None

    def snapshot(self, skip=None):
        """{pid: CPU seconds so far} of the other processes (and not ``skip``), or None."""
        try:
            names = os.listdir("/proc")
        except OSError:
            return None
        out = {}
        for name in names:
            if not name.isdigit() or int(name) in self.exclude or int(name) == skip:
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    data = fh.read()
                fields = data[data.rindex(b")") + 2:].split()
                # utime + stime, and cutime + cstime: children that ran and exited count too
                out[int(name)] = sum(int(v) for v in fields[11:15]) / self.tick
            except (OSError, ValueError, IndexError):
                continue
        return out

    def cores(self, before, after, seconds):
        """Average number of cores the other processes used between two snapshots."""
        if before is None or after is None or seconds <= 0:
            return None
        used = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())
        # a child reaped during the window brings all its CPU time: cap at the machine
        return min(used / seconds, float(os.cpu_count() or 1))


class Settle:
    """Before each measurement: sleep ``pause``, then wait for the machine to be quiet.

    Quiet means other processes use less than ``BUSY`` cores over a 0.2 s window.
    One wait lasts at most ``idle_wait`` seconds and all waits together at most
    ``budget`` seconds, so a machine that never gets quiet costs a bounded delay.
    """

    window = 0.2

    def __init__(self, meter, pause, idle_wait, budget):
        self.meter = meter
        self.pause, self.idle_wait, self.budget = pause, idle_wait, budget
        self.waited = 0.0

    def __call__(self):
        time.sleep(self.pause)
        waited = 0.0
        while self.meter.available and self.idle_wait > 0 and self.waited < self.budget:
            b0, t0 = self.meter.snapshot(), time.perf_counter()
            time.sleep(self.window)
            load = self.meter.cores(b0, self.meter.snapshot(), time.perf_counter() - t0)
            if load is None or load < BUSY:
                return
            waited += self.window
            self.waited += self.window
            if waited >= self.idle_wait:
                return


def measure(settle, retries, worker, op, **request):
    """Settle, then call the worker; again, up to ``retries`` times, while others were busy.

    Returns the reply, with 'foreign' added (other processes' CPU load in cores during the
    call, None where it cannot be read), and how many disturbed replies were thrown away.
    """
    meter, pid = settle.meter, worker.proc.pid
    for attempt in range(retries + 1):
        settle()
        before, t0 = meter.snapshot(pid) if meter.available else None, time.perf_counter()
        out = worker.call(op, **request)
        wall = time.perf_counter() - t0
        out["foreign"] = (meter.cores(before, meter.snapshot(pid), wall) if meter.available
                          else None)
        if out["foreign"] is None or out["foreign"] <= BUSY or attempt == retries:
            return out, attempt


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "os": platform.platform(), "python": platform.python_version(),
            "commit": commit or "unknown"}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Results:
    def __init__(self):
        self.times = {}  # (workload key, impl) -> [seconds by repeat]
        self.foreign = {}  # (workload key, impl) -> [cores by repeat]
        self.retried = 0  # measurements thrown away because others were busy

    def add(self, key, impl, out):
        self.times.setdefault((key, impl), []).append(out["seconds"])
        self.foreign.setdefault((key, impl), []).append(out.get("foreign"))

    def seconds(self, key, impl):
        return median(self.times.get((key, impl), []))

    def best(self, key, impl):
        values = self.times.get((key, impl), [])
        return min(values) if values else None

    def best_ratio(self, key, a, b):
        ta, tb = self.best(key, a), self.best(key, b)
        return None if ta is None or tb is None else ta / tb

    def ratio(self, key, a, b):
        """Median over repeats of time(a) / time(b), pairing the same repeat."""
        ta, tb = self.times.get((key, a), []), self.times.get((key, b), [])
        return median([x / y for x, y in zip(ta, tb, strict=False)]) if ta and tb else None

    def load(self, key):
        values = [v for (k, _), vs in self.foreign.items() if k == key for v in vs]
        return median(values)


def fmt(value, spec=".3f"):
    return "–" if value is None else format(value, spec)


def times(value):
    """A ratio as '0.83×', or '–' when it could not be measured."""
    return "–" if value is None else f"{value:.2f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def epoch_table(grid, res, libs, torch_ok, best=False):
    """Median seconds per epoch and medians of paired ratios, with the other load; or,
    with ``best``, the fastest epochs and ratios of those."""
    pairs = [(a, b) for a in ("trainer", "loop") for b in ("torch", "book")
             if a in libs and b in libs]
    header = (["workload", "dtype", "batch"] + [f"{LABELS[i]} s" for i in libs]
              + [f"{LABELS[a]}/{LABELS[b]}" for a, b in pairs] + ([] if best else ["other load"]))
    seconds, ratio = (res.best, res.best_ratio) if best else (res.seconds, res.ratio)
    rows = []
    for w in grid:
        row = [f"{w.net} {w.recipe}", w.dtype, w.batch]
        for impl in libs:
            row.append("not installed" if impl == "torch" and not torch_ok
                       else fmt(seconds(w.key, impl)))
        for a, b in pairs:
            row.append("–" if b == "torch" and not torch_ok else times(ratio(w.key, a, b)))
        if not best:
            row.append(fmt(res.load(w.key), ".2f"))
        rows.append(row)
    return table(header, rows)


def efficiency_table(grid, res, libs, peaks, torch_ok):
    from workloads import flops_per_epoch

    header = ["workload", "dtype", "batch", "GFLOP/epoch"] + [
        f"{LABELS[i]} GF/s (% peak)" for i in libs]
    rows = []
    for w in grid:
        base = flops_per_epoch(w.sizes)
        row = [f"{w.net} {w.recipe}", w.dtype, w.batch, f"{base / 1e9:.1f}"]
        for impl in libs:
            s = res.seconds(w.key, impl)
            if s is None or (impl == "torch" and not torch_ok):
                row.append("–")
                continue
            flops = flops_per_epoch(w.sizes, first_dx=impl == "book")
            gf = flops / s / 1e9
            peak = peaks.get(w.dtype)
            row.append(f"{gf:.0f} ({100 * gf / peak:.0f} %)" if peak else f"{gf:.0f}")
        rows.append(row)
    return table(header, rows)


def targets_table(res, grid, libs, acc, gradcheck_s):
    """The issue's targets against this run (float32, batch 100, 784-100-10).

    "Faster than the book" is judged twice: against the book's code in float32 (paired
    ratios, like the PyTorch ones) and against the book's code as the book runs it, in
    float64 (a ratio of medians of two rows).
    """
    rows = []
    limits = {("sigmoid", "sgd"): 1.0, ("relu", "sgd"): 0.85, ("relu", "adam"): 0.8}
    keys = {w.key for w in grid}
    for w in grid:
        if w.dtype != "float32" or w.batch != 100 or w.sizes != (784, 100, 10):
            continue
        limit = limits[(w.activation, w.optimizer)]
        f64 = w.key.replace("/f32/", "/f64/")
        for impl in ("trainer", "loop"):
            if impl not in libs:
                continue
            r = res.ratio(w.key, impl, "torch")
            ok = "–" if r is None else ("met" if r <= limit else "not met")
            rows.append([f"{LABELS[impl]}, {w.recipe}: ≤ {limit:g}× PyTorch",
                         times(r), ok])
            rb = res.ratio(w.key, impl, "book")
            ok = "–" if rb is None else ("met" if rb <= 0.5 else "not met")
            rows.append([f"{LABELS[impl]}, {w.recipe}: ≥ 2× faster than the book in float32 "
                         "(≤ 0.5×)", times(rb), ok])
            mine, book64 = res.seconds(w.key, impl), res.seconds(f64, "book")
            if f64 in keys and mine is not None and book64 is not None:
                r64 = mine / book64
                rows.append([f"{LABELS[impl]} float32, {w.recipe}: ≥ 2× faster than the book's "
                             "float64 code (≤ 0.5×, ratio of medians)", f"{r64:.2f}×",
                             "met" if r64 <= 0.5 else "not met"])
    if acc and "trainer" in acc and "torch" in acc:
        gap = 100 * (statistics.mean(acc["trainer"]) - statistics.mean(acc["torch"]))
        rows.append(["test accuracy within 0.5 points of PyTorch's (mean over seeds)",
                     f"{gap:+.2f} points", "met" if abs(gap) <= 0.5 else "not met"])
    rows.append(["gradient_check of 784-100-10 (directional) < 1 s", f"{gradcheck_s:.3f} s",
                 "met" if gradcheck_s < 1 else "not met"])
    return table(["target", "measured", "verdict"], rows)


def run(args):
    from workloads import MLP, Workload, workloads

    grid = workloads(quick=args.quick)
    if args.only:
        grid = [w for w in grid if re.search(args.only, w.key)]
        if not grid:
            sys.exit(f"--only {args.only!r} matches no workload; names look like "
                     f"{workloads()[0].key}")
    try:  # PyTorch is optional: without it its columns say "not installed"
        torch_ok = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        torch_ok = False
    libs = list(args.libs)
    trap = {v: os.environ.get(v) for v in TRAP_VARS}
    for var, value in trap.items():
        if value is not None:
            print(f"warning: {var}={value} is set; it can force an older OpenBLAS kernel on "
                  "NumPy (GEMM 35-40 % slower) while PyTorch is unaffected. Run as: env -u "
                  "OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py",
                  file=sys.stderr)
    started = datetime.datetime.now().astimezone()
    machine = machine_info()  # now: the workers import the library as it is at the start
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    t_start = time.perf_counter()

    settle = Settle(LoadMeter(), args.pause, args.idle_wait, args.idle_budget)
    names = {"chainrule"} | {WORKER_OF[i] for i in libs if i != "torch" or torch_ok}
    workers = {}
    try:
        for name in sorted(names):
            workers[name] = Worker(name, args.threads)
        info = {}
        for name, w in list(workers.items()):
            try:
                info[name] = w.call("info")
            except RuntimeError as exc:
                if name != "torch":
                    raise
                print(f"PyTorch is not usable here; timing without it:\n{exc}", file=sys.stderr)
                w.close()
                del workers[name]
                torch_ok = False

        say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
        say("peak GEMM ...")
        peaks, torch_peaks = {}, {}

        def measure_peaks():
            """Best of the runs so far; retried like the epochs when others are busy."""
            for dtype in ("float32", "float64"):
                for name, store in (("chainrule", peaks), ("torch", torch_peaks)):
                    if name in workers:
                        out, _ = measure(settle, args.retries, workers[name], "peak", n=2048,
                                         dtype=dtype, repeats=3 if args.quick else 10)
                        store[dtype] = max(store.get(dtype, 0.0), out["gflops"])

        measure_peaks()

        res = Results()
        timed = [i for i in libs if i != "torch" or torch_ok]
        for n_done, w in enumerate(grid, 1):
            main_row = w.batch == 100 and w.sizes == MLP
            for r in range(args.repeats if main_row else args.extra_repeats):
                order = timed[r % len(timed):] + timed[:r % len(timed)]
                for impl in order:
                    out, thrown = measure(settle, args.retries, workers[WORKER_OF[impl]],
                                          "epoch", impl=impl, workload=w.to_dict(), seed=r,
                                          warmup=WARMUP)
                    res.retried += thrown
                    res.add(w.key, impl, out)
            say(f"[{n_done}/{len(grid)}] {w.key}: " + ", ".join(
                f"{LABELS[i]} {res.seconds(w.key, i):.3f} s" for i in timed)
                + f"; other load {fmt(res.load(w.key), '.2f')} cores")

        measure_peaks()  # again at the end: the best of both is the machine's limit
        say("gradient_check ...")
        grad = {}
        for kind in ("mlp", "small"):
            settle()
            grad[kind] = workers["chainrule"].call("gradcheck", kind=kind,
                                                   repeats=1 if args.quick else 5)

        say("accuracy ...")
        acc_epochs = 1 if args.quick else 5
        aw = Workload(MLP, "relu", "adam", "float32", 100)
        acc = {}
        for impl in ("trainer", "torch", "book"):
            if impl in timed:
                settle()
                acc[impl] = workers[WORKER_OF[impl]].call(
                    "accuracy", impl=impl, workload=aw.to_dict(), epochs=acc_epochs,
                    seeds=list(range(1 if args.quick else 3)))["accuracy"]
    finally:
        for w in workers.values():
            w.close()

    elapsed = time.perf_counter() - t_start
    load_end = os.getloadavg() if hasattr(os, "getloadavg") else None
    ci = info["chainrule"]
    ti = info.get("torch")

    parts = []
    parts.append("## Setup\n")
    setup = [
        f"- date: {started:%Y-%m-%d %H:%M %Z}; commit {machine['commit']}; "
        f"run took {elapsed / 60:.1f} min",
        f"- machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs "
        f"({machine['usable_cpus']} usable); {machine['os']}",
        f"- Python {machine['python']}; chainrule {ci['chainrule']}; NumPy {ci['numpy']}",
        f"- NumPy BLAS (threadpoolctl): {ci['blas']}",
        "- " + "; ".join(f"{v} {'unset' if trap[v] is None else '= ' + trap[v]}"
                         for v in TRAP_VARS) + " (in the benchmark's environment)",
        ("- PyTorch: not installed" if ti is None else
         f"- PyTorch {ti['torch']} ({ti['torch_blas']} BLAS), torch.get_num_threads() = "
         f"{ti['torch_threads']}"),
        f"- threads: {args.threads} for every library (threadpoolctl and "
        f"{', '.join(THREAD_VARS)}, torch.set_num_threads)",
        f"- {args.repeats} repeats ({args.extra_repeats} for batch 32, batch 512 and the deep "
        f"net), interleaved, medians; pause {args.pause} s before each "
        f"turn; idle wait up to {args.idle_wait:g} s; {WARMUP} warm-up batches before "
        "each timed epoch",
    ]
    loads = [v for vs in res.foreign.values() for v in vs if v is not None]
    if loads:
        busy = sum(v > BUSY for v in loads)
        setup.append(f"- other load: {res.retried} epochs measured again because other "
                     f"processes used more than {BUSY} cores during them; {busy} of "
                     f"{len(loads)} kept epochs still ran under such load (median "
                     f"{median(loads):.2f}, max {max(loads):.2f} cores); "
                     f"{settle.waited:.0f} s spent waiting for quiet")
    if load_start and load_end:
        setup.append(f"- load average (1 min) at start {load_start[0]:.2f}, at end "
                     f"{load_end[0]:.2f}")
    parts.append("\n".join(setup) + "\n")
    peak_line = ", ".join(f"{d} {peaks[d]:.0f} GF/s" for d in peaks)
    torch_line = ", ".join(f"{d} {torch_peaks[d]:.0f} GF/s" for d in torch_peaks)
    parts.append(f"Peak GEMM (2048 × 2048 matmul, best of 2 × 10 runs, at the start and the "
                 f"end): NumPy {peak_line}"
                 + (f"; PyTorch {torch_line}" if torch_line else "") + ".\n")

    parts.append("## Seconds per epoch\n")
    parts.append("Fashion-MNIST, 60000 samples, one epoch from the same first weights. "
                 "Times are medians; ratios are medians of per-repeat ratios (below 1: "
                 "chainrule is faster). 'other load': median CPU use of other processes "
                 "during the measurements, in cores (0 on a quiet machine).\n")
    parts.append(epoch_table(grid, res, libs, torch_ok) + "\n")
    parts.append("## Best epoch\n")
    parts.append("The fastest of the repeats, and ratios of those: on a machine whose speed "
                 "drifts (a shared host), the minimum is the steadier estimate of what the "
                 "code itself costs.\n")
    parts.append(epoch_table(grid, res, libs, torch_ok, best=True) + "\n")
    parts.append("## Fraction of the hardware limit\n")
    parts.append("GF/s = matrix-product FLOPs per epoch / seconds; % peak = that / NumPy's "
                 "peak GEMM of the same dtype. GFLOP/epoch = 2 N (3 F - d0 d1), "
                 "F = sum of d_i d_(i+1), N = 60000: forward, dW and dx, without the first "
                 "layer's dx, which chainrule and PyTorch skip; the book computes it, so its "
                 "column uses 2 N 3 F.\n")
    parts.append(efficiency_table(grid, res, libs, peaks, torch_ok) + "\n")

    parts.append("## gradient_check\n")
    desc = {"mlp": ("784-100-10 ReLU, float32 (checked in float64)", "100 test images",
                    "directional"),
            "small": ("2-10-3 sigmoid, float64", "30 spiral points", "exact")}
    rows = [[*desc[kind], f"{median(out['seconds']):.3f}", "yes" if out["passed"] else "NO",
             f"{out['max_rel_error']:.1e}"] for kind, out in grad.items()]
    parts.append(table(["net", "data", "mode", "median s", "passed", "max rel error"], rows)
                 + "\n")

    if acc:
        parts.append("## Accuracy\n")
        parts.append(f"784-100-10 ReLU + Adam 0.001, float32, batch 100, "
                     f"{acc_epochs} epochs; for each seed every implementation "
                     "starts from the same weights (He normal, zero biases) and sees the same "
                     "batches in the same order (the permutations of "
                     "numpy.random.default_rng(seed)); test accuracy on the 10000 test "
                     "images.\n")
        rows = [[LABELS[i], ", ".join(f"{100 * a:.2f}" for a in acc[i]),
                 f"{100 * statistics.mean(acc[i]):.2f}"] for i in acc]
        parts.append(table(["implementation", "per seed (%)", "mean (%)"], rows) + "\n")

    gsec = median(grad["mlp"]["seconds"])
    parts.append("## Targets\n")
    parts.append("The issue's targets (float32, batch 100, 784-100-10), judged on this run.\n")
    parts.append(targets_table(res, grid, libs, acc, gsec) + "\n")
    body = "\n".join(parts)
    if args.json:
        raw = {"setup": {"machine": machine, "info": info, "trap": trap, "peaks": peaks,
                         "torch_peaks": torch_peaks, "args": vars(args)},
               "epochs": [{"workload": k, "impl": i, "seconds": v,
                           "other_load": res.foreign[(k, i)]}
                          for (k, i), v in res.times.items()],
               "gradcheck": grad, "accuracy": acc}
        Path(args.json).write_text(json.dumps(raw, indent=1), encoding="utf-8")
    print(body)
    if args.out != "-":
        write_report(Path(args.out), body, args.note)
        print(f"wrote {args.out}", file=sys.stderr)


def write_report(path, body, note):
    """Write the report, keeping an existing '## Profile' section (and what follows it)."""
    kept = ""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        match = re.search(r"^## Profile\b", text, flags=re.MULTILINE)
        if match:
            kept = "\n" + text[match.start():]
    head = ("# Benchmarks\n\nGenerated by `python benchmarks/run.py` (see benchmarks/README.md "
            "for what each column means); edit the script, not this file, except for the "
            "Profile section, which the script keeps.\n")
    if note:
        head += f"\n> {note}\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(head + "\n" + body + kept, encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    for var in THREAD_VARS:  # before NumPy is imported anywhere; workers inherit them
        os.environ[var] = str(args.threads)
    if args.worker:
        worker_main(args.worker, args.threads)
    else:
        run(args)


if __name__ == "__main__":
    main()
