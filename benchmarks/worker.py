"""One measurement in a fresh process, printed as one JSON line: what run.py starts for each run.

    python benchmarks/worker.py run --impl trainer --workload 784-100-10/relu+adam/f32/b100 \
        --epochs 6 --seed 0 --threads 2
    python benchmarks/worker.py peak --lib numpy --dtype float32
    python benchmarks/worker.py gradcheck --kind mlp
    python benchmarks/worker.py info --lib torch
    python benchmarks/worker.py products --lib numpy --workload 784-100-10/relu+sgd/f32/b100

``run`` trains ``--epochs`` consecutive epochs of one workload with one implementation
(IMPLS below) from ``workloads.initial_weights(seed)`` and prints the seconds of each
epoch and the test accuracy after the last. The data are loaded, and the model and
optimizer built, before the clock starts. ``peak`` is the best GFLOP/s of a 2048 x 2048
matrix product, ``gradcheck`` the seconds of chainrule's ``gradient_check``, ``info`` the
versions, BLAS and threads, ``products`` the µs of each matrix product of one step of
``--workload`` (NumPy: with one thread and with ``--threads``; PyTorch: with
``--threads``). Set the thread variables (OMP_NUM_THREADS, ...) in the
environment before starting it, as run.py does; ``--threads`` also goes to threadpoolctl
(NumPy sides) or ``torch.set_num_threads`` (PyTorch). The Trainer is the exception: it
runs with its own thread policy, ``Trainer(threads=--chainrule-threads)`` (default
"auto"), with the variables removed so that they do not pin it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# implementation -> (module, function, extra keyword arguments)
IMPLS = {
    "torch": ("torch_mlp", "train", {"variant": "default"}),
    "torch-fused": ("torch_mlp", "train", {"variant": "fused"}),
    "trainer": ("chainrule_mlp", "train_trainer", {}),
    "loop": ("chainrule_mlp", "train_loop", {}),
    "book": ("book_baseline", "train", {}),
    "lean": ("numpy_lean", "train", {}),
    "lean-1t": ("numpy_lean", "train", {}),
}
ONE_THREAD = {"lean-1t"}  # implementations that run with one BLAS thread, whatever --threads


def limit_threads(lib, threads):
    if lib == "torch":
        import torch_mlp

        torch_mlp.set_threads(threads)
        return
    import numpy  # noqa: F401  threadpoolctl only sees a BLAS that is already loaded

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return  # the *_NUM_THREADS variables set before NumPy was imported do the job
    threadpool_limits(threads)


def run(args):
    import importlib

    from workloads import Workload, initial_weights, load_data

    w = Workload.from_key(args.workload)
    module, function, extra = IMPLS[args.impl]
    if args.impl == "trainer":  # the Trainer's own thread policy, unless pinned
        from chainrule.threads import THREAD_VARS

        chosen = args.chainrule_threads
        extra = {"threads": chosen if chosen == "auto" else int(chosen)}
        for var in THREAD_VARS:  # set for the other libraries; they would pin it
            os.environ.pop(var, None)
    else:
        threads = 1 if args.impl in ONE_THREAD else args.threads
        limit_threads("torch" if module == "torch_mlp" else "numpy", threads)
    data = load_data(w.dtype)
    if module == "torch_mlp":
        import torch_mlp

        data = tuple(torch_mlp.tensors(x, t, w.dtype) for x, t in data)
    train = getattr(importlib.import_module(module), function)
    weights = initial_weights(w.sizes, w.activation, w.dtype, args.seed)
    if args.impl != "trainer":
        return train(w, weights, data, args.epochs, args.seed, **extra)
    before = threads_gain(args.threads)
    out = train(w, weights, data, args.epochs, args.seed, **extra)
    return {**out, "gain": [before, threads_gain(args.threads)]}


def threads_gain(threads):
    """µs of a float32 100 x 784 x 100 NumPy product on 1 thread / on ``threads``
    (medians of 3 interleaved bests of 30): whether more OpenBLAS threads pay right now."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((100, 784)).astype(np.float32)
    b = rng.standard_normal((784, 100)).astype(np.float32)
    best = {1: [], threads: []}
    for _ in range(3):
        for n in best:
            with threadpool_limits(n, user_api="blas"):
                for _ in range(10):
                    a @ b
                ts = []
                for _ in range(30):
                    start = time.perf_counter()
                    a @ b
                    ts.append(time.perf_counter() - start)
            best[n].append(min(ts))
    return float(np.median(best[1]) / np.median(best[threads]))


def numpy_info():
    import numpy as np

    import chainrule

    out = {"numpy": np.__version__, "chainrule": chainrule.__version__, "blas": "unknown",
           "blas_kernel": "unknown"}
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


def numpy_peak(n, dtype, repeats):
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
    return 2 * n**3 / best / 1e9


def gradcheck(kind, repeats):
    import chainrule_mlp as m
    from workloads import load_data

    if kind == "mlp":
        _, (xt, tt) = load_data("float32")
        call = lambda: m.gradcheck_mlp(xt[:100], tt[:100])  # noqa: E731
    else:
        call = m.gradcheck_small
    seconds, report = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        report = call()
        seconds.append(time.perf_counter() - start)
    worst = max(e.max_rel_error for e in report.entries)
    return {"seconds": seconds, "passed": bool(report.passed), "max_rel_error": float(worst)}


def products(args):
    """{threads: {product label: µs}} for one step of ``--workload``."""
    from workloads import Workload

    w = Workload.from_key(args.workload)
    limit_threads(args.lib, args.threads)
    if args.lib == "torch":
        import torch_mlp

        return {str(args.threads): torch_mlp.time_products(w)}
    import numpy_lean

    return {str(n): numpy_lean.time_products(w, n) for n in sorted({1, args.threads})}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("op", choices=("run", "peak", "gradcheck", "info", "products"))
    p.add_argument("--impl", choices=tuple(IMPLS), default="trainer")
    p.add_argument("--workload", default="784-100-10/relu+adam/f32/b100")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chainrule-threads", default="auto",
                   help="the Trainer's threads= ('auto' or a number; default auto)")
    p.add_argument("--lib", choices=("numpy", "torch"), default="numpy")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--kind", choices=("mlp", "small"), default="mlp")
    args = p.parse_args(argv)
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the reply
    sys.stdout = sys.stderr
    if args.op == "run":
        out = run(args)
    elif args.op == "products":
        out = products(args)
    elif args.op == "gradcheck":
        limit_threads("numpy", args.threads)
        out = gradcheck(args.kind, args.repeats)
    else:
        limit_threads(args.lib, args.threads)
        if args.lib == "torch":
            import torch_mlp

            out = (torch_mlp.info() if args.op == "info" else
                   {"gflops": torch_mlp.peak_gemm(2048, args.dtype, args.repeats)})
        else:
            out = (numpy_info() if args.op == "info" else
                   {"gflops": numpy_peak(2048, args.dtype, args.repeats)})
    reply.write(json.dumps(out) + "\n")
    reply.flush()


if __name__ == "__main__":
    main()
