"""Checks at the edge: model entry, Trainer.fit, loaders, CLI.

Each raises ``ValueError`` or ``TypeError`` whose message names the argument, what was
expected and what came, with the numbers. Inside the maths nothing is re-checked.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "check_inputs",
    "check_targets",
    "check_finite",
    "check_finite_fast",
    "check_positive",
]


def check_inputs(x, n_features, dtype, name="x"):
    """x as an array of ``dtype``, shape (N, n_features) or (N, d1, ...) with that product.

    A single sample (n_features,) is refused with a hint, because the batch axis would be
    ambiguous; empty batches are refused.
    """
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from None
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
    if x.ndim < 2:
        hint = "; for one sample use x.reshape(1, -1)" if x.size == n_features else ""
        raise ValueError(f"{name} must have shape (N, {n_features}), got {x.shape}{hint}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {x.shape}")
    features = int(np.prod(x.shape[1:]))
    if features != n_features:
        raise ValueError(
            f"{name} must have {n_features} features per sample (the model's input size), "
            f"got {features} (shape {x.shape})"
        )
    return x.astype(dtype, copy=False)


def check_targets(t, n, n_classes, dtype, name="t", x_name="x"):
    """t as labels (n,) in [0, n_classes) or rows (n, n_classes) of ``dtype``.

    Returns integer labels as ``intp`` and rows as ``dtype``. Lengths must match x.
    """
    t = np.asarray(t)
    if t.ndim == 0 or t.shape[0] != n:
        got = t.shape[0] if t.ndim else "a scalar"
        raise ValueError(
            f"inconsistent numbers of samples: {x_name} has {n}, {name} has {got}"
        )
    if t.ndim == 1:
        if t.dtype.kind == "f":
            if not np.all(np.isfinite(t)) or not np.all(t == np.round(t)):
                raise ValueError(f"{name} labels must be whole numbers, got {t[:5]}...")
        elif t.dtype.kind not in "iub":
            raise TypeError(f"{name} must hold integer labels, got dtype {t.dtype}")
        t = t.astype(np.intp, copy=False)
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= n_classes:
            raise ValueError(
                f"{name} labels must be in [0, {n_classes - 1}] for {n_classes} classes, "
                f"got values from {lo} to {hi}"
            )
        return t
    if t.ndim == 2 and t.shape[1] == n_classes:
        if t.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got dtype {t.dtype}")
        check_finite(t, name)
        return t.astype(dtype, copy=False)
    raise ValueError(
        f"{name} must be labels ({n},) or one-hot/probability rows ({n}, {n_classes}), "
        f"got shape {t.shape}"
    )


def check_finite(x, name="x"):
    """Refuse NaN and inf, saying how many and where the first one is."""
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        bad = ~np.isfinite(x)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite, got {int(bad.sum())} NaN or inf values "
            f"(first at index {first})"
        )
    return x


def check_finite_fast(x, name="x"):
    """``check_finite`` for every batch: one dot product first, the full scan only if needed.

    x . x is NaN or infinite whenever x holds a NaN or an inf (and, rarely, when a huge
    but finite x overflows it; the exact check then clears it). It costs about half of
    ``np.isfinite(x).all()``.
    """
    if x.dtype.kind == "f":
        flat = x.reshape(-1)
        if not np.isfinite(np.dot(flat, flat)):
            check_finite(x, name)
    return x


def check_positive(value, name, *, integer=False, allow_zero=False):
    """A positive (or non-negative) number, optionally an integer; bools are refused."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
        ok = ok and np.isfinite(value)
    if not ok:
        what = "integer" if integer else "number"
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {sign} {what}, got {value!r}")
    return value
