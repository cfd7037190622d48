"""Gradient checking: backprop against central differences, for layers, nodes and models.

``gradient_check`` compares, for the input and every parameter, the analytic gradient
from ``backward`` with central differences (f(θ + h e) - f(θ - h e)) / 2h, in float64 on
a copy of the target, so the caller's layer or model never changes.

Two modes. ``'exact'`` perturbs every element; for a model it asks the model's own
``numerical_gradient(x, t, h=h, with_input=True)`` for all of them at once, which for
``Sequential`` (so ``TwoLayerNet``, ``MultiLayerNet``) is the fast path of
``chainrule.fastgrad``: the same central differences, for 784-100-10 in under a second.
``'directional'`` perturbs each tensor along a few unit directions v and compares
(f(θ + h v) - f(θ - h v)) / 2h with ⟨∇f, v⟩, as PyTorch's fast gradcheck and JAX's
``check_grads`` do: one direction is the analytic gradient itself (any scaling error
shows at full size), the others are random. When a tensor fails, a sample of its
elements is checked one by one to say where. ``'auto'`` picks exact up to
``exact_limit`` elements in all and directional above.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field

import numpy as np

from . import protocol
from .numerical import numerical_gradient
from .protocol import Model
from .rng import as_generator
from .validation import InputValueError

__all__ = ["gradient_check", "GradCheckReport", "GradCheckEntry"]


@dataclass
class GradCheckEntry:
    """The check of one array: its worst relative error and where it was."""

    name: str
    shape: tuple
    mode: str
    max_rel_error: float
    passed: bool
    worst_index: tuple | None = None


@dataclass
class GradCheckReport:
    """Per-array results of ``gradient_check``; ``passed`` is True when all passed."""

    entries: list = field(default_factory=list)
    rtol: float = 1e-6

    @property
    def passed(self):
        return all(e.passed for e in self.entries)

    def __getitem__(self, name):
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def __str__(self):
        lines = [f"{'array':<10}{'shape':<16}{'mode':<13}{'max rel error':>14}  verdict"]
        for e in self.entries:
            where = f" at {e.worst_index}" if (not e.passed and e.worst_index is not None) else ""
            verdict = "ok" if e.passed else "FAILED" + where
            lines.append(f"{e.name:<10}{str(e.shape):<16}{e.mode:<13}{e.max_rel_error:>14.2e}  "
                         f"{verdict}")
        lines.append(f"{'passed' if self.passed else 'FAILED'} (rtol {self.rtol:g})")
        return "\n".join(lines)


def _is_model(target):
    return isinstance(target, Model)


def _float64_copy(target):
    """A float64 copy of the target that computes its input gradient too."""
    if _is_model(target):
        target = target.astype(np.float64)
        target.input_grad = True
        return target
    target = protocol.layer_astype(copy.deepcopy(target), np.float64)
    protocol.set_input_grad(target, True)
    return target


def _takes(method, *names):
    """Whether ``method``'s signature has parameters of all these names."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return all(name in parameters for name in names)


def _problem(target, inputs, t, rng):
    """Return (f, backprop, named arrays, numeric) for the kind of target.

    f() evaluates the scalar at the current values of the arrays (they are perturbed in
    place); backprop() returns the analytic gradient of each named array; numeric(h),
    or None, returns the central differences of every named array at once (a model's
    own ``numerical_gradient``, when it takes ``h`` and ``with_input``).
    """
    if _is_model(target):
        x, t = target.validate(inputs[0], t)

        def f():
            return target.forward_checked(x, t)

        def backprop():
            target.forward_checked(x, t)
            return [target.backward(), *target.grads.values()]

        def numeric(h):
            grads, dx = target.numerical_gradient(x, t, h=h, with_input=True)
            return [dx, *(grads[name] for name in target.params)]

        own = _takes(target.numerical_gradient, "h", "with_input")
        return f, backprop, [("x", x), *target.params.items()], numeric if own else None

    names = [f"x{i}" for i in range(len(inputs))] if len(inputs) > 1 else ["x"]
    pnames = protocol.param_names(target)
    arrays = [*zip(names, inputs, strict=True), *zip(pnames, target.params, strict=False)]
    if t is not None:  # a loss layer: the scalar is its output

        def f():
            return target.forward(*inputs, t)

        def backprop():
            target.forward(*inputs, t)
            return [target.backward(1), *target.grads]

        return f, backprop, arrays, None

    out = target.forward(*inputs)
    outs = out if isinstance(out, list) else [out]
    weights = [rng.standard_normal(o.shape) for o in outs]  # f = sum_k <w_k, out_k>

    def f():
        res = target.forward(*inputs)
        res = res if isinstance(res, list) else [res]
        return sum(float(np.sum(w * r)) for w, r in zip(weights, res, strict=True))

    def backprop():
        target.forward(*inputs)
        dx = target.backward(weights if isinstance(out, list) else weights[0])
        dx = list(dx) if isinstance(dx, tuple) else [dx]
        return [*dx, *target.grads]

    return f, backprop, arrays, None


def _rel_errors(analytic, numeric, floor):
    return np.abs(analytic - numeric) / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)),
                                                   floor)


def _directional(f, array, grad, h, n_dirs, rng, floor):
    worst = 0.0
    g_norm = float(np.linalg.norm(grad))
    dirs = [grad / g_norm] if g_norm > 0 else []
    while len(dirs) < n_dirs:
        v = rng.standard_normal(array.shape)
        dirs.append(v / np.linalg.norm(v))
    keep = array.copy()
    try:
        for v in dirs:
            array += h * v
            fp = f()
            array[...] = keep - h * v
            fm = f()
            array[...] = keep
            numeric, analytic = (fp - fm) / (2 * h), float(np.sum(grad * v))
            worst = max(worst, float(_rel_errors(analytic, numeric, floor)))
    finally:
        array[...] = keep
    return worst


def _drill_down(f, array, grad, h, rng, floor, samples=20):
    """Check a random sample of elements one by one; return the worst one's index and error."""
    flat = rng.choice(array.size, size=min(samples, array.size), replace=False)
    worst, where = 0.0, None
    for i in flat:
        idx = np.unravel_index(i, array.shape)
        keep = array[idx]
        try:
            array[idx] = keep + h
            fp = f()
            array[idx] = keep - h
            fm = f()
        finally:
            array[idx] = keep
        err = float(_rel_errors(grad[idx], (fp - fm) / (2 * h), floor))
        if err >= worst:
            worst, where = err, tuple(int(j) for j in idx)
    return worst, where


def gradient_check(target, x, t=None, *, mode="auto", rtol=1e-6, atol=1e-9, h=1e-4,
                   directions=3, exact_limit=20_000, random_state=None):
    """Compare backprop with central differences for the input and every parameter.

    ``target`` is a layer or node (the scalar checked is sum(w * forward(x)) with a fixed
    random w), a loss layer (pass ``t``; the scalar is its loss) or a model (pass ``t``;
    the training-mode loss). ``x`` is an array, or a tuple of arrays for two-input nodes
    (``Add``, ``Mul``). Element i passes when |a_i - n_i| <= rtol max(|a_i|, |n_i|) or
    the difference is below ``atol``; the report gives each array's worst relative
    error |a - n| / max(|a|, |n|, atol / rtol). Dropout masks are drawn once and held;
    the check runs on a float64 copy, so the target itself never changes.
    """
    if mode not in ("auto", "exact", "directional"):
        raise InputValueError(f"mode must be 'auto', 'exact' or 'directional', got {mode!r}")
    if not (rtol > 0 and atol >= 0 and h > 0):
        raise InputValueError(f"rtol and h must be positive and atol non-negative, got "
                              f"rtol={rtol!r}, atol={atol!r}, h={h!r}")
    rng = as_generator(random_state)
    target = _float64_copy(target)
    raw = list(x) if isinstance(x, tuple) else [x]
    inputs = [np.array(xi, dtype=np.float64) for xi in raw]
    f, backprop, arrays, numeric = _problem(target, inputs, t, rng)
    grads = backprop()  # the first training forward draws the dropout masks ...
    total = sum(a.size for _, a in arrays)
    exact = mode == "exact" or (mode == "auto" and total <= exact_limit)
    with target.held() if _is_model(target) else protocol.held(target):  # ... then held
        numerics = numeric(h) if exact and numeric is not None else [None] * len(arrays)
        return _compare(f, arrays, grads, numerics, exact, rtol, atol, h, directions, rng)


def _compare(f, arrays, grads, numerics, exact, rtol, atol, h, directions, rng):
    """The report: each array's backprop gradient against its central differences
    (``numerics``, or computed here element by element) or against directions."""
    floor = atol / rtol
    report = GradCheckReport(rtol=rtol)
    for (name, array), grad, numeric in zip(arrays, grads, numerics, strict=True):
        if grad is None:
            continue
        if exact:
            if numeric is None:
                numeric = numerical_gradient(lambda _: f(), array, h)
            errors = _rel_errors(grad, numeric, floor)
            worst_flat = int(np.argmax(errors)) if errors.size else 0
            worst = float(errors.max()) if errors.size else 0.0
            where = tuple(int(i) for i in np.unravel_index(worst_flat, array.shape))
            report.entries.append(GradCheckEntry(name, array.shape, "exact", worst,
                                                 worst <= rtol, where))
            continue
        worst = _directional(f, array, grad, h, directions, rng, floor)
        where = None
        if worst > rtol:
            element_worst, where = _drill_down(f, array, grad, h, rng, floor)
            worst = max(worst, element_worst)
        report.entries.append(GradCheckEntry(name, array.shape, "directional", worst,
                                             worst <= rtol, where))
    return report
