"""Where one chainrule Trainer epoch spends its time: timers, cProfile and micro-benchmarks.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_epoch.py

Three views of a ``Trainer.fit`` epoch (784-100-10, float32, batch 100 by default; ReLU +
Adam and sigmoid + SGD):

1. ``timers``: the library's methods wrapped with timers (in this process only; the
   library is not changed), giving the time of each piece per epoch and per step;
2. ``cprofile``: the functions with the most own time under cProfile;
3. ``micro``: each suspected piece alone at the epoch's shapes (best of many runs), next
   to a leaner way of computing the same thing, so the saving of a change is a number.

Only timings: nothing here is a test. Times are best-of-k for the micro-benchmarks and
medians of a few epochs for the timers, with ``--threads`` BLAS threads.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import os
import pstats
import re
import statistics
import sys
import time
from collections import defaultdict


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per recipe (median)")
    p.add_argument("--recipes", default="relu+adam,sigmoid+sgd",
                   help="comma-separated recipes (activation+optimizer) to profile")
    p.add_argument("--variants", default="",
                   help="what-if: comma-separated variant names to try (default all), "
                        "'all' being every one at once")
    p.add_argument("--top", type=int, default=22, help="rows of the cProfile table")
    p.add_argument("--parts", default="timers,cprofile,micro",
                   help="comma-separated: timers, cprofile, micro, whatif, subnormals, plain "
                        "(epochs with no instrumentation, for an outside sampler such as py-spy)")
    p.add_argument("--collapsed", metavar="FILE",
                   help="instead of profiling, summarise a py-spy --native raw (collapsed) "
                        "profile of '--parts plain'")
    return p.parse_args(argv)


# ---- 1. timers around the library's pieces ---------------------------------------------

TIMES = defaultdict(float)
COUNTS = defaultdict(int)


def _wrap(owner, name, label):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - start
            COUNTS[label] += 1

    setattr(owner, name, timed)
    return original


@contextlib.contextmanager
def instrumented():
    """Wrap the pieces of a training step with timers; undo on exit."""
    from chainrule import layers, network, optim, trainer
    from chainrule.data import batching

    saved = []

    def wrap(owner, name, label):
        saved.append((owner, name, owner.__dict__[name]))
        _wrap(owner, name, label)

    for cls in (layers.Affine, layers.Relu, layers.Sigmoid, layers.SoftmaxWithLoss):
        wrap(cls, "forward", f"{cls.__name__}.forward")
        wrap(cls, "backward", f"{cls.__name__}.backward")
    wrap(network.Sequential, "_x", "validation: check_inputs (per batch)")
    wrap(network.Sequential, "_t", "validation: check_targets (per batch)")
    wrap(network.Sequential, "forward", "Sequential.forward (all)")
    if "forward_checked" in network.Sequential.__dict__:  # the Trainer's entry, when present
        wrap(network.Sequential, "forward_checked", "Sequential.forward_checked (all)")
    if hasattr(network, "check_finite_fast"):
        wrap(network, "check_finite_fast", "validation: check_finite_fast (per batch)")
    wrap(network.Sequential, "backward", "Sequential.backward (all)")
    wrap(optim.Optimizer, "update", "optimizer.update (all)")
    for cls in (optim.SGD, optim.Adam):
        wrap(cls, "_apply", "optimizer._apply (the arithmetic)")
    wrap(trainer, "_correct", "Trainer: _correct (accuracy per batch)")
    wrap(trainer.Trainer, "_prepare", "Trainer.fit entry: checks of all data")

    original_iter = batching.BatchIterator.__dict__["__iter__"]

    def timed_iter(self):
        it = original_iter(self)
        while True:
            start = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                TIMES["batching: BatchIterator"] += time.perf_counter() - start
                return
            TIMES["batching: BatchIterator"] += time.perf_counter() - start
            COUNTS["batching: BatchIterator"] += 1
            yield item

    saved.append((batching.BatchIterator, "__iter__", original_iter))
    batching.BatchIterator.__iter__ = timed_iter
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def setup(recipe, dtype, seed=0):
    import chainrule_mlp as cm
    from workloads import initial_weights

    activation, optimizer = recipe.split("+")
    weights = initial_weights((784, 100, 10), activation, dtype, seed)
    model = cm.build((784, 100, 10), activation, dtype, weights, seed)
    return model, cm.make_optimizer(optimizer, 0.1 if optimizer == "sgd" else 0.001)


def run_timers(recipe, x, t, args):
    import chainrule_mlp as cm

    rows, totals = defaultdict(list), []
    for epoch in range(args.epochs + 1):
        model, opt = setup(recipe, args.dtype, seed=epoch)
        TIMES.clear()
        COUNTS.clear()
        with instrumented():
            start = time.perf_counter()
            cm.trainer_epoch(model, opt, x, t, args.batch, epoch)
            total = time.perf_counter() - start
        if epoch == 0:
            continue  # warm-up
        totals.append(total)
        for k, v in TIMES.items():
            rows[k].append(v)
    total = statistics.median(totals)
    med = {k: statistics.median(v) for k, v in rows.items()}
    steps = -(-x.shape[0] // args.batch)
    layer_keys = [k for k in med if "." in k and k.split(".")[0] in
                  ("Affine", "Relu", "Sigmoid", "SoftmaxWithLoss")]
    fwd_layers = sum(med[k] for k in layer_keys if k.endswith("forward") and
                     not k.startswith("SoftmaxWithLoss"))
    loss_fwd = med.get("SoftmaxWithLoss.forward", 0.0)
    validation = sum(v for k, v in med.items() if k.startswith("validation"))
    outer = med.get("Sequential.forward (all)", med.get("Sequential.forward_checked (all)", 0.0))
    derived = {
        "Sequential.forward: dispatch (isinstance, _run, _decay, float)":
            outer - validation - fwd_layers - loss_fwd,
        "Sequential.backward: dispatch":
            med["Sequential.backward (all)"] - sum(med[k] for k in layer_keys
                                                   if k.endswith("backward")),
        "optimizer.update: _align and _check (per call)":
            med["optimizer.update (all)"] - med["optimizer._apply (the arithmetic)"],
    }
    shown = {k: v for k, v in med.items() if "(all)" not in k}
    shown.update(derived)
    accounted = sum(shown.values())
    shown["Trainer loop: the rest (loop, isfinite, history, progress, fit setup)"] = (
        total - accounted)
    print(f"\n### timers: {recipe}, {args.dtype}, batch {args.batch}: "
          f"{total:.3f} s per epoch (median of {args.epochs}), {steps} steps\n")
    print("| piece | ms / epoch | % | µs / step |")
    print("|---|--:|--:|--:|")
    for k, v in sorted(shown.items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {1e3 * v:.1f} | {100 * v / total:.1f} | {1e6 * v / steps:.1f} |")


def run_cprofile(recipe, x, t, args):
    import chainrule_mlp as cm

    model, opt = setup(recipe, args.dtype, seed=0)
    cm.trainer_epoch(model, opt, x, t, args.batch, 0)  # warm-up
    model, opt = setup(recipe, args.dtype, seed=1)
    prof = cProfile.Profile()
    prof.enable()
    cm.trainer_epoch(model, opt, x, t, args.batch, 1)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    stats.print_stats(args.top)
    text = out.getvalue()
    print(f"\n### cProfile: {recipe}, {args.dtype}, batch {args.batch} (own time first)\n")
    print("```")
    keep = False
    for line in text.splitlines():
        if "ncalls" in line:
            keep = True
        if keep and line.strip():
            line = re.sub(r"\S*site-packages/", "", line.replace(os.getcwd(), "."))
            print(line[:150])
    print("```")


# ---- 3. micro-benchmarks ---------------------------------------------------------------


def best(fn, repeat=7, number=None):
    """Best time of one call of fn, in microseconds (timeit-style, best of ``repeat``)."""
    if number is None:
        number, elapsed = 1, 0.0
        while elapsed < 0.02:
            start = time.perf_counter()
            for _ in range(number):
                fn()
            elapsed = time.perf_counter() - start
            if elapsed < 0.02:
                number *= 2
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return 1e6 * min(times)


def micro(args):  # noqa: C901 - one flat list of measurements reads best
    import numpy as np

    from chainrule import layers, optim, trainer, validation
    from chainrule.data import BatchIterator

    dt = np.dtype(args.dtype)
    n, d, h, c = args.batch, 784, 100, 10
    steps = 60_000 // n
    rng = np.random.default_rng(0)
    x = rng.random((n, d)).astype(dt)
    t = rng.integers(0, c, n)
    W1 = (rng.standard_normal((d, h)) * 0.05).astype(dt)
    b1 = np.zeros(h, dt)
    W2 = (rng.standard_normal((h, c)) * 0.1).astype(dt)
    b2 = np.zeros(c, dt)
    a = x @ W1 + b1
    z = np.maximum(a, 0)
    s = z @ W2 + b2
    dy = rng.standard_normal((n, c)).astype(dt)
    dz = rng.standard_normal((n, h)).astype(dt)
    out_h, out_c = np.empty((n, h), dt), np.empty((n, c), dt)
    gW1, gW2 = np.empty_like(W1), np.empty_like(W2)
    rows = []

    def row(what, us, note=""):
        rows.append((what, us, note))

    # GEMMs of one step, with a fresh result and into a buffer
    row("GEMM x @ W1 (100x784 @ 784x100), new array", best(lambda: x @ W1))
    row("GEMM x @ W1 into a buffer (out=)", best(lambda: np.matmul(x, W1, out=out_h)))
    row("GEMM z @ W2 (100x100 @ 100x10)", best(lambda: np.matmul(z, W2, out=out_c)))
    row("GEMM dW2 = z.T @ dy", best(lambda: np.matmul(z.T, dy, out=gW2)))
    row("GEMM dz = dy @ W2.T", best(lambda: np.matmul(dy, W2.T, out=out_h)))
    row("GEMM dW1 = x.T @ dz (784x100 @ 100x100)", best(lambda: np.matmul(x.T, dz, out=gW1)))
    gemm = (best(lambda: np.matmul(x, W1, out=out_h)) + best(lambda: np.matmul(z, W2, out=out_c))
            + best(lambda: np.matmul(z.T, dy, out=gW2)) + best(lambda: np.matmul(dy, W2.T,
                                                                               out=out_h))
            + best(lambda: np.matmul(x.T, dz, out=gW1)))
    row("all 5 GEMMs of a step, into buffers", gemm,
        f"{gemm * steps / 1e3:.0f} ms per epoch")

    # Affine
    aff1 = layers.Affine(W1.copy(), b1.copy())
    aff1.input_grad = False
    aff2 = layers.Affine(W2.copy(), b2.copy())
    row("Affine1.forward (x @ W + b: 2 new arrays)", best(lambda: aff1.forward(x)))
    row("  the same as matmul(out=buf); buf += b",
        best(lambda: np.add(np.matmul(x, W1, out=out_h), b1, out=out_h)))
    row("  bias add alone: y + b (new array)", best(lambda: a + b1))
    row("  bias add in place: y += b", best(lambda: np.add(out_h, b1, out=out_h)))
    aff2.forward(z)
    row("Affine2.backward (dW, db, dx)", best(lambda: aff2.backward(dy)))
    aff1.forward(x)
    row("Affine1.backward (dW, db; no dx)", best(lambda: aff1.backward(dz)))
    row("  np.sum(dz, axis=0, out=db)", best(lambda: np.sum(dz, axis=0, out=b1.copy())))
    ones = np.ones(n, dt)
    row("  db as ones @ dz (a GEMV)", best(lambda: np.matmul(ones, dz)))

    # activations
    relu = layers.Relu()
    row("Relu.forward (mask x <= 0, np.where)", best(lambda: relu.forward(a)))
    row("  np.maximum(x, 0, out=buf)", best(lambda: np.maximum(a, 0, out=out_h)))
    relu.forward(a)
    row("Relu.backward (np.where(mask, 0, dout))", best(lambda: relu.backward(dz)))
    pos = a > 0
    row("  np.multiply(dout, x > 0, out=buf) with the bool kept",
        best(lambda: np.multiply(dz, pos, out=out_h)))
    zout = np.maximum(a, 0)
    row("  dout * (y > 0) from the output (2 passes)", best(lambda: dz * (zout > 0)))
    sig = layers.Sigmoid()
    row("Sigmoid.forward (1 / (1 + exp(-x)), errstate, 4 arrays)", best(lambda: sig.forward(a)))

    def sigmoid_inplace():
        np.negative(a, out=out_h)
        np.exp(out_h, out=out_h)
        np.add(out_h, 1, out=out_h)
        np.reciprocal(out_h, out=out_h)

    row("  the same in one buffer (negative, exp, +1, reciprocal, out=)",
        best(sigmoid_inplace))
    row("  exp alone on (100, 100)", best(lambda: np.exp(a, out=out_h)))
    row("  tanh form 0.5 tanh(x/2) + 0.5 in one buffer",
        best(lambda: np.add(np.multiply(np.tanh(np.multiply(a, 0.5, out=out_h), out=out_h),
                                        0.5, out=out_h), 0.5, out=out_h)))
    def errstate_only():
        with np.errstate(over="ignore"):
            pass

    row("  np.errstate(over='ignore') enter + exit alone", best(errstate_only))
    sig.forward(a)
    row("Sigmoid.backward (dout * (1 - y) * y, 3 arrays)", best(lambda: sig.backward(dz)))
    y_s = sig.out
    tmp_h = np.empty_like(out_h)

    def sigmoid_back_inplace():
        np.subtract(1, y_s, out=tmp_h)
        np.multiply(tmp_h, y_s, out=tmp_h)
        np.multiply(tmp_h, dz, out=tmp_h)

    row("  the same in one buffer", best(sigmoid_back_inplace))

    # loss
    loss = layers.SoftmaxWithLoss()
    row("SoftmaxWithLoss.forward (labels)", best(lambda: loss.forward(s, t)))
    loss.forward(s, t)
    row("SoftmaxWithLoss.backward (labels)", best(lambda: loss.backward()))
    arange = np.arange(n)
    ebuf, sbuf = np.empty_like(s), np.empty((n, 1), dt)

    def lean_softmax_loss():
        np.subtract(s, s.max(axis=1, keepdims=True), out=ebuf)
        picked = ebuf[arange, t].sum()
        np.exp(ebuf, out=ebuf)
        np.sum(ebuf, axis=1, keepdims=True, out=sbuf)
        np.divide(ebuf, sbuf, out=ebuf)
        loss_value = float(np.log(sbuf).sum() - picked) / n
        ebuf[arange, t] -= 1
        np.multiply(ebuf, 1.0 / n, out=ebuf)
        return loss_value

    row("  forward + backward in one buffer, arange kept", best(lean_softmax_loss))

    # validation and bookkeeping, per batch
    row("check_inputs(x) per batch", best(lambda: validation.check_inputs(x, d, dt)))
    row("check_targets(t) per batch", best(lambda: validation.check_targets(t, n, c, dt)))
    loss.forward(s, t)

    class _M:
        last_layer = loss

    row("Trainer _correct per batch", best(lambda: trainer._correct(_M, t)))

    # batching
    big_x = rng.random((60_000, d)).astype(dt)
    big_t = rng.integers(0, c, 60_000)
    it = BatchIterator(big_x, big_t, n, random_state=0)

    def one_epoch_batches():
        for _ in it:
            pass

    row("BatchIterator: one epoch of batches", best(one_epoch_batches, repeat=3, number=1),
        "per epoch, not per step")
    idx = rng.permutation(60_000)[:n]
    row("  fancy indexing x[idx], t[idx] (the seed-003 loop)",
        best(lambda: (big_x[idx], big_t[idx])))
    row("Trainer.fit entry: check_finite of all x (60000 x 784)",
        best(lambda: validation.check_finite(big_x), repeat=3, number=1), "once per fit call")

    # optimizers
    from chainrule.models import TwoLayerNet

    net = TwoLayerNet(d, h, c, weight_init_std="he", activation="relu", dtype=dt,
                      random_state=0)
    for g in net.grads.values():
        g[...] = rng.standard_normal(g.shape) * 1e-2
    adam = optim.Adam(lr=1e-3)
    adam.update(net.params, net.grads)
    row("Adam.update (4 arrays)", best(lambda: adam.update(net.params, net.grads)))
    ps, gs = list(net.params.values()), list(net.grads.values())
    row("  Adam._apply alone (the arithmetic)", best(lambda: adam._apply(ps, gs)))
    aligned = adam._align(net.params, net.grads)
    row("  _align(params, grads) per call", best(lambda: adam._align(net.params, net.grads)))
    row("  _check(ps, gs, keys) per call", best(lambda: adam._check(*aligned)))
    v = adam.state["exp_avg_sq"][0]
    mask = np.empty(v.shape, bool)
    row("  subnormal flush of v for W1 (less + copyto)",
        best(lambda: optim._flush(v, mask, np.finfo(dt).tiny)))
    row("  one elementwise pass on W1 (np.multiply(v, b, out=v))",
        best(lambda: np.multiply(v, 0.999, out=v)))
    m0, v0, p0, g0 = (adam.state["exp_avg"][0], adam.state["exp_avg_sq"][0], ps[0].copy(),
                      gs[0])
    tmp = np.empty_like(p0)

    def adam_lean():  # the same 12 passes, without the flush
        np.multiply(m0, 0.9, out=m0)
        np.add(m0, np.multiply(g0, 0.1, out=tmp), out=m0)
        np.multiply(v0, 0.999, out=v0)
        np.multiply(g0, g0, out=tmp)
        np.multiply(tmp, 0.001, out=tmp)
        np.add(v0, tmp, out=v0)
        np.sqrt(v0, out=tmp)
        np.add(tmp, 1e-8, out=tmp)
        np.divide(m0, tmp, out=tmp)
        np.multiply(tmp, 1e-3, out=tmp)
        np.subtract(p0, tmp, out=p0)

    row("  Adam arithmetic for W1 as written (14 passes incl. flush)",
        best(lambda: adam._apply(ps[:1], gs[:1])))
    row("  Adam arithmetic for W1, 12 passes, no flush", best(adam_lean))

    def adam_scaled():  # 10 passes: M = m / (1 - b1), V = v / (1 - b2) stored instead
        np.multiply(m0, 0.9, out=m0)
        np.add(m0, g0, out=m0)
        np.multiply(v0, 0.999, out=v0)
        np.add(v0, np.multiply(g0, g0, out=tmp), out=v0)
        np.sqrt(v0, out=tmp)
        np.add(tmp, 1e-8, out=tmp)
        np.divide(m0, tmp, out=tmp)
        np.multiply(tmp, 1e-4, out=tmp)
        np.subtract(p0, tmp, out=p0)

    row("  Adam for W1 with rescaled moments (10 passes)", best(adam_scaled))
    flat = [np.zeros(79_510, dt) for _ in range(4)]

    def adam_flat():  # the 10 passes once over all four parameters in one flat buffer
        fm, fv, fp, fg = flat
        ftmp = flat_tmp
        np.multiply(fm, 0.9, out=fm)
        np.add(fm, fg, out=fm)
        np.multiply(fv, 0.999, out=fv)
        np.add(fv, np.multiply(fg, fg, out=ftmp), out=fv)
        np.sqrt(fv, out=ftmp)
        np.add(ftmp, 1e-8, out=ftmp)
        np.divide(fm, ftmp, out=ftmp)
        np.multiply(ftmp, 1e-4, out=ftmp)
        np.subtract(fp, ftmp, out=fp)

    flat_tmp = np.empty(79_510, dt)
    row("  ... and over one flat buffer of all 79510 parameters", best(adam_flat))
    sgd = optim.SGD(lr=0.1)
    sgd.update(net.params, net.grads)
    row("SGD.update (4 arrays)", best(lambda: sgd.update(net.params, net.grads)))
    row("  SGD._apply alone", best(lambda: sgd._apply(ps, gs)))
    row("  book: p -= lr * g for the 4 arrays",
        best(lambda: [p.__isub__(0.1 * g) for p, g in zip(ps, gs, strict=True)]))

    print(f"\n### micro-benchmarks: {args.dtype}, batch {n}, {args.threads} BLAS threads "
          "(best of 7, µs per call)\n")
    print("| piece | µs | ms per epoch (x 600) | note |")
    print("|---|--:|--:|---|")
    for what, us, note in rows:
        per_epoch = "" if "epoch" in note or "fit" in note else f"{us * steps / 1e3:.1f}"
        if "per epoch" in note or "once per fit" in note:
            per_epoch = f"{us / 1e3:.1f}"
        print(f"| {what} | {us:.1f} | {per_epoch} | {note} |")


def subnormals(x, t, args):
    """How many subnormal numbers Adam's v holds without the flush, and what they cost."""
    import chainrule_mlp as cm
    import numpy as np

    from chainrule import optim

    saved = optim._flush
    optim._flush = lambda v, mask, tiny: None
    try:
        model, opt = setup("relu+adam", args.dtype)
        for epoch in range(5):
            cm.trainer_epoch(model, opt, x, t, args.batch, epoch)
            tiny = np.finfo(np.dtype(args.dtype)).tiny
            counts = [int(np.count_nonzero((v > 0) & (v < tiny)))
                      for v in opt.state["exp_avg_sq"]]
            print(f"after epoch {epoch + 1}: subnormals in v per array {counts}, zeros "
                  f"{[int(np.count_nonzero(v == 0)) for v in opt.state['exp_avg_sq']]}")
    finally:
        optim._flush = saved
    dt = np.dtype(args.dtype)
    normal = np.full(78_400, 1e-30, dt)
    sub = np.full(78_400, np.finfo(dt).tiny / 16, dt)
    out = np.empty_like(normal)
    print(f"multiply 78400 normals: {best(lambda: np.multiply(normal, 0.999, out=out)):.1f} µs; "
          f"subnormals: {best(lambda: np.multiply(sub, 0.999, out=out)):.1f} µs; "
          f"sqrt normals {best(lambda: np.sqrt(normal, out=out)):.1f} µs, subnormals "
          f"{best(lambda: np.sqrt(sub, out=out)):.1f} µs")


# ---- 5. what-if: leaner variants swapped in, in this process only ---------------------


def _variants():
    """name -> (description, function that patches and returns an undo function).

    Each variant computes the same numbers as the library (up to rounding) in fewer
    passes or allocations. They exist to measure a saving, not to be used.
    """
    import numpy as np

    from chainrule import layers, optim, trainer, validation

    def patch(owner, name, value):
        """Replace owner.name; LookupError when the library no longer has it."""
        if name not in vars(owner):
            raise LookupError(f"{getattr(owner, '__name__', owner)}.{name} is gone")
        old = vars(owner)[name]
        setattr(owner, name, value)
        return lambda: setattr(owner, name, old)

    def relu():
        def forward(self, x):
            self.mask = np.greater(x, 0)
            return np.maximum(x, 0)

        def backward(self, dout):
            return np.multiply(dout, self.mask)

        undo = [patch(layers.Relu, "forward", forward), patch(layers.Relu, "backward", backward)]
        return lambda: [u() for u in undo]

    def affine():
        def forward(self, x):
            W, b = self.params
            self.x_shape = x.shape
            self.x = x.reshape(x.shape[0], -1)
            out = self.x @ W
            out += b
            return out

        return patch(layers.Affine, "forward", forward)

    def sigmoid():
        def forward(self, x):
            out = np.negative(x)
            with np.errstate(over="ignore"):
                np.exp(out, out=out)
            out += 1
            np.reciprocal(out, out=out)
            self.out = out
            return out

        def backward(self, dout):
            dx = np.subtract(1.0, self.out)
            dx *= self.out
            dx *= dout
            return dx

        undo = [patch(layers.Sigmoid, "forward", forward),
                patch(layers.Sigmoid, "backward", backward)]
        return lambda: [u() for u in undo]

    def softmax():
        rows = {}

        def forward(self, x, t):
            n = x.shape[0]
            idx = rows.get(n)
            if idx is None:
                idx = rows[n] = np.arange(n)
            y = x - x.max(axis=1, keepdims=True)
            picked = float(y[idx, t].sum())
            np.exp(y, out=y)
            total = y.sum(axis=1, keepdims=True)
            y /= total
            self.y, self.t, self._idx = y, t, idx
            return (float(np.log(total).sum()) - picked) / n

        def backward(self, dout=1):
            dx = self.y.copy()
            dx[self._idx, self.t] -= 1
            dx *= dout / self.y.shape[0]
            return dx

        undo = [patch(layers.SoftmaxWithLoss, "forward", forward),
                patch(layers.SoftmaxWithLoss, "backward", backward)]
        return lambda: [u() for u in undo]

    def no_flush():
        return patch(optim, "_flush", lambda v, mask, tiny: None)

    def adam_scaled():
        def _apply(self, ps, gs):
            # M = m / (1 - b1) and V = v / (1 - b2) are kept instead of m and v:
            # M <- b1 M + g, V <- b2 V + g^2, p <- p - s M / (sqrt(V) + e)
            b1, b2 = self.beta1, self.beta2
            c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
            scale = math.sqrt((1.0 - b2) / c2)
            step, eps = self.lr * (1.0 - b1) / c1 / scale, self.eps / scale
            for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
                m, v, tmp = self.state["exp_avg"][i], self.state["exp_avg_sq"][i], self._tmp[0][i]
                np.multiply(m, b1, out=m)
                m += g
                np.multiply(v, b2, out=v)
                v += np.multiply(g, g, out=tmp)
                np.sqrt(v, out=tmp)
                tmp += eps
                np.divide(m, tmp, out=tmp)
                tmp *= step
                p -= tmp

        return patch(optim.Adam, "_apply", _apply)

    def update_checks():
        def update(self, params, grads):
            if self._tmp is None:
                ps, gs, keys = self._align(params, grads)
                self._prepare(ps, keys)
                self._fast = (ps, gs)
            self.t += 1
            self._apply(*self._fast)

        return patch(optim.Optimizer, "update", update)

    def fit_check():
        return patch(trainer, "check_finite", validation.check_finite_fast)

    def correct():
        return patch(trainer, "_correct", lambda model, t: 0)

    return {
        "relu": ("Relu: np.maximum and a kept x > 0 mask, dout * mask (no np.where)", relu),
        "affine": ("Affine.forward: out = x @ W; out += b (one array, not two)", affine),
        "sigmoid": ("Sigmoid: forward and backward in one array each (out=)", sigmoid),
        "softmax": ("SoftmaxWithLoss: exp in place, arange cached, fewer temporaries",
                    softmax),
        "no_flush": ("Adam: no subnormal flush (2 passes a parameter)", no_flush),
        "adam_scaled": ("Adam: rescaled moments, 10 passes instead of 14", adam_scaled),
        "update_checks": ("optimizer.update without _align/_check after the first call "
                          "(upper bound of that overhead)", update_checks),
        "fit_check": ("Trainer.fit entry: check_finite_fast (a dot product) on all x",
                      fit_check),
        "correct": ("Trainer: no per-batch _correct (upper bound of its cost)", correct),
    }


def whatif(x, t, args):
    import chainrule_mlp as cm
    from run import BUSY, LoadMeter, Settle  # the benchmark's guard against other load

    meter = LoadMeter()
    settle = Settle(meter, pause=0.3, idle_wait=20, budget=300)
    variants = _variants()
    applies = {"relu+adam": ("relu", "affine", "softmax", "no_flush", "adam_scaled",
                             "update_checks", "fit_check", "correct"),
               "sigmoid+sgd": ("sigmoid", "affine", "softmax", "update_checks", "fit_check",
                               "correct")}
    for recipe in [r.strip() for r in args.recipes.split(",") if r.strip()]:
        names = applies[recipe]

        def epoch(seed, recipe=recipe):
            model, opt = setup(recipe, args.dtype, seed=seed)
            start = time.perf_counter()
            cm.trainer_epoch(model, opt, x, t, args.batch, seed)
            return time.perf_counter() - start

        epoch(0)  # warm-up
        print(f"\n### what-if: {recipe}, {args.dtype}, batch {args.batch}: saving per epoch "
              f"(median over {args.epochs} interleaved pairs of epochs)\n")
        usable = []
        for name in names:  # a variant whose target the library changed is left out
            try:
                variants[name][1]()()
                usable.append(name)
            except LookupError as exc:
                print(f"- {variants[name][0]}: not applicable to this version ({exc})")
        names = tuple(usable)
        chosen = [v.strip() for v in args.variants.split(",")] if args.variants else None
        print("\n| change (swapped in for this measurement only) | base s | with it s | "
              "saving ms | saving % | best base s | best with it s |")
        print("|---|--:|--:|--:|--:|--:|--:|")
        for name in (*names, "all"):
            if chosen and name not in chosen:
                continue
            base, new = [], []
            for k in range(args.epochs):
                for _ in range(4):  # a pair disturbed by other processes is measured again
                    settle()
                    before, start = meter.snapshot(), time.perf_counter()
                    b = epoch(k)
                    undo = [variants[n][1]() for n in (names if name == "all" else (name,))]
                    try:
                        w = epoch(k)
                    finally:
                        for u in reversed(undo):
                            u()
                    load = meter.cores(before, meter.snapshot(), time.perf_counter() - start)
                    if load is None or load <= BUSY:
                        break
                base.append(b)
                new.append(w)
            b, w = statistics.median(base), statistics.median(new)
            saving = statistics.median([p - q for p, q in zip(base, new, strict=True)])
            what = "all of the above together" if name == "all" else variants[name][0]
            print(f"| {what} | {b:.3f} | {w:.3f} | {1e3 * saving:.0f} | "
                  f"{100 * saving / b:.0f} | {min(base):.3f} | {min(new):.3f} |")



# ---- 4. a sampling profile from py-spy ------------------------------------------------

CATEGORIES = (  # (label, test on the innermost Python frame's function and file)
    ("optimizer", lambda f: "optim.py" in f),
    ("validation", lambda f: "validation.py" in f or "_x (" in f or "_t (" in f),
    ("batching", lambda f: "batching.py" in f),
    ("SoftmaxWithLoss", lambda f: "layers.py" in f and "WithLoss" in f),
    ("activations", lambda f: "layers.py" in f and ("Relu" in f or "Sigmoid" in f)
     or "functions.py" in f),
    ("Affine", lambda f: "layers.py" in f),
    ("model dispatch", lambda f: "network.py" in f),
    ("Trainer loop", lambda f: "trainer.py" in f),
)


def summarise_collapsed(path):
    """Group py-spy samples by where the main thread was: BLAS, NumPy loops, Python."""
    by_native, by_python, total = defaultdict(int), defaultdict(int), 0
    cross = defaultdict(int)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            if not any(f.startswith("trainer_epoch ") for f in frames):
                continue  # start-up, imports, data loading, model building
            total += n
            leaf = frames[-1]
            where = leaf.rpartition("(")[2].lower()
            if "openblas" in where or "blas" in where:
                kind = "BLAS (GEMMs)"
            elif "libm" in where:
                kind = "libm (exp, log)"
            elif "_multiarray_umath" in where:
                kind = "NumPy C code (ufunc loops, reductions, take, argmax)"
            elif "libc" in where:
                kind = "libc (memcpy, memset, malloc: copies and fresh arrays)"
            elif ".py:" in where:
                kind = "Python code (bytecode)"
            else:
                kind = "the interpreter and other native code"
            by_native[kind] += n
            python_frames = [f for f in frames if ".py:" in f and "chainrule" in f]
            label = "other"
            if python_frames:
                inner = python_frames[-1]
                label = next((name for name, test in CATEGORIES if test(inner)), "other")
            by_python[label] += n
            cross[(label, kind)] += n
    if not total:
        print("no samples from chainrule in", path)
        return
    for title, table in (("where the main thread was (innermost frame)", by_native),
                         ("which part of chainrule it was in (innermost chainrule frame)",
                          by_python)):
        print(f"\n{title}: {total} samples\n")
        print("| part | % of samples |")
        print("|---|--:|")
        for k, v in sorted(table.items(), key=lambda kv: -kv[1]):
            print(f"| {k} | {100 * v / total:.1f} |")
    kinds = sorted(by_native, key=lambda k: -by_native[k])
    short = [k.split(" (")[0] for k in kinds]
    print("\nboth at once (% of samples)\n")
    print("| part | " + " | ".join(short) + " |")
    print("|---|" + "--:|" * len(kinds))
    for label in sorted(by_python, key=lambda k: -by_python[k]):
        cells = [f"{100 * cross[(label, k)] / total:.1f}" for k in kinds]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main(argv=None):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if args.collapsed:
        summarise_collapsed(args.collapsed)
        return
    parts = {p.strip() for p in args.parts.split(",")}
    from workloads import load_data

    (x, t), _ = load_data(args.dtype)
    print(f"python {sys.version.split()[0]}; threads {args.threads}")
    for recipe in [r.strip() for r in args.recipes.split(",") if r.strip()]:
        if "plain" in parts:
            import chainrule_mlp as cm

            for epoch in range(args.epochs):
                model, opt = setup(recipe, args.dtype, seed=epoch)
                cm.trainer_epoch(model, opt, x, t, args.batch, epoch)
        if "timers" in parts:
            run_timers(recipe, x, t, args)
        if "cprofile" in parts:
            run_cprofile(recipe, x, t, args)
    if "whatif" in parts:
        whatif(x, t, args)
    if "micro" in parts:
        micro(args)
    if "subnormals" in parts:
        subnormals(x, t, args)


if __name__ == "__main__":
    main()
