"""Checks at the edge: model entry, Trainer.fit, optimizers, loaders, CLI.

One rule everywhere: a value of the wrong *type* raises ``InputTypeError`` (a
``TypeError``), a value of the right type but outside what is allowed raises
``InputValueError`` (a ``ValueError``). Both subclass ``ChainruleInputError``, and each
message names the argument, what was expected and what came, with the numbers. The
command line turns exactly these (and nothing else) into a usage error, exit status 2;
any other exception is a failure or a bug, exit 1. Inside the maths nothing is
re-checked.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "ChainruleInputError",
    "InputValueError",
    "InputTypeError",
    "check_number",
    "check_bool",
    "check_float_dtype",
    "as_number_array",
    "check_inputs",
    "check_targets",
    "check_finite",
    "check_finite_fast",
    "check_positive",
]


class ChainruleInputError(Exception):
    """Base of the errors chainrule raises for input it was given (arguments, files)."""


class InputValueError(ChainruleInputError, ValueError):
    """An argument of the right type with a value that is not allowed."""


class InputTypeError(ChainruleInputError, TypeError):
    """An argument of the wrong type."""


_REAL = (numbers.Real, np.integer, np.floating)
_INTEGRAL = (numbers.Integral, np.integer)


def check_number(value, name, *, integer=False, low=None, high=None, low_open=False,
                 high_open=False):
    """``value`` as a float (or int with ``integer=True``) in the interval [low, high].

    ``low_open``/``high_open`` exclude the ends. Bools, strings and other non-numbers
    raise ``InputTypeError``; NaN, inf and values outside raise ``InputValueError``.
    """
    kinds = _INTEGRAL if integer else _REAL
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        what = "an integer" if integer else "a number"
        raise InputTypeError(f"{name} must be {what}, got {type(value).__name__} {value!r}")
    ok = math.isfinite(value)
    if low is not None:
        ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        raise InputValueError(f"{name} must be {_interval(integer, low, high, low_open, high_open)}"
                              f", got {value!r}")
    return int(value) if integer else float(value)


def _interval(integer, low, high, low_open, high_open):
    what = "integer" if integer else "number"
    if high is None:
        if integer and low == 1 and not low_open:
            return "a positive integer"
        if low == 0:
            return f"a {'positive' if low_open else 'non-negative'} {what}"
        if low is None:
            return f"a finite {what}"
        return f"a {what} {'>' if low_open else '>='} {low}"
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return f"a {what} in {left}{low}, {high}{right}"


def check_bool(value, name):
    """``value`` as a bool; anything but True/False raises ``InputTypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"{name} must be True or False, got {type(value).__name__} "
                             f"{value!r}")
    return bool(value)


def check_float_dtype(dtype, name="dtype"):
    """A NumPy float dtype (float32, float64, ...), else ``InputTypeError``."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InputTypeError(f"{name} must be a NumPy float dtype, got {dtype!r}") from None
    if dtype.kind != "f":
        raise InputTypeError(f"{name} must be a float dtype such as float64 or float32, "
                             f"got {dtype}")
    return dtype


def as_number_array(x, name):
    """``x`` as a NumPy array of numbers (bool, int or float; not copied when it is one),
    else ``InputTypeError`` naming ``name``."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            raise InputTypeError(f"{name} must be an array of numbers, "
                                 f"got {type(x).__name__}") from None
    if x.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must hold numbers, got dtype {x.dtype}")
    return x


def check_inputs(x, input_shape, dtype, name="x"):
    """x as an array of ``dtype`` with shape (N, *input_shape).

    ``input_shape`` is the shape of one sample: (D,) for feature vectors, (C, H, W) for
    images, (T, D) for sequences. A batch whose samples have another shape but the same
    number of values, such as (N, 28, 28) for (784,), is reshaped (a view). A single
    sample without the batch axis is refused with a hint, because the batch axis would
    be ambiguous; empty batches are refused.
    """
    input_shape = tuple(input_shape)
    size = int(np.prod(input_shape))
    want = "(N, " + ", ".join(map(str, input_shape)) + ")"
    x = as_number_array(x, name)
    if x.ndim < 2 or (x.shape[1:] != input_shape and x.ndim <= len(input_shape)
                      and x.size == size):
        hint = "; for one sample use x[None]" if x.size == size else ""
        raise InputValueError(f"{name} must have shape {want}, got {x.shape}{hint}")
    if x.shape[0] == 0:
        raise InputValueError(f"{name} must hold at least one sample, got shape {x.shape}")
    if x.shape[1:] != input_shape:
        features = int(np.prod(x.shape[1:]))
        if features != size:
            raise InputValueError(
                f"{name} must have {size} features per sample (the model's input shape "
                f"{want}), got {features} (shape {x.shape})"
            )
        x = x.reshape(x.shape[0], *input_shape)
    return x.astype(dtype, copy=False)


def check_targets(t, n, n_classes, dtype, name="t", x_name="x"):
    """t as labels (n,) in [0, n_classes) or rows (n, n_classes) of ``dtype``.

    Returns integer labels as ``intp`` and rows as ``dtype``. Lengths must match x.
    """
    t = np.asarray(t)
    if t.ndim == 0 or t.shape[0] != n:
        got = t.shape[0] if t.ndim else "a scalar"
        raise InputValueError(
            f"inconsistent numbers of samples: {x_name} has {n}, {name} has {got}"
        )
    if t.ndim == 1:
        if t.dtype.kind == "f":
            if not np.all(np.isfinite(t)) or not np.all(t == np.round(t)):
                raise InputValueError(f"{name} labels must be whole numbers, got {t[:5]}...")
        elif t.dtype.kind not in "iub":
            raise InputTypeError(f"{name} must hold integer labels, got dtype {t.dtype}")
        t = t.astype(np.intp, copy=False)
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= n_classes:
            raise InputValueError(
                f"{name} labels must be in [0, {n_classes - 1}] for {n_classes} classes, "
                f"got values from {lo} to {hi}"
            )
        return t
    if t.ndim == 2 and t.shape[1] == n_classes:
        if t.dtype.kind not in "biuf":
            raise InputTypeError(f"{name} must hold numbers, got dtype {t.dtype}")
        check_finite(t, name)
        return t.astype(dtype, copy=False)
    raise InputValueError(
        f"{name} must be labels ({n},) or one-hot/probability rows ({n}, {n_classes}), "
        f"got shape {t.shape}"
    )


def check_finite(x, name="x"):
    """Refuse NaN and inf, saying how many and where the first one is."""
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        bad = ~np.isfinite(x)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputValueError(
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
    """A positive (or, with ``allow_zero``, non-negative) number or integer."""
    return check_number(value, name, integer=integer, low=0, low_open=not allow_zero)
