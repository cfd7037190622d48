"""Numerical differentiation by central differences, and gradient descent / ascent.

These follow book 1, ch. 4 exactly (h = 1e-4, ``(f(x+h) - f(x-h)) / 2h``, the same order
of floating-point operations), so the numbers the book prints come out to the last digit.
They also fix the book's traps: integer arrays are refused instead of silently
truncating ``x + h``, ``x`` is restored even when ``f`` raises, and descent never
mutates the caller's starting point.
"""

from __future__ import annotations

import warnings

import numpy as np

from .validation import InputTypeError, InputValueError

__all__ = [
    "numerical_diff",
    "numerical_gradient",
    "gradient_descent",
    "gradient_ascent",
    "DivergenceWarning",
]


class DivergenceWarning(UserWarning):
    """Gradient descent or ascent ran away: non-finite values or a growing objective."""


def numerical_diff(f, x, h=1e-4):
    """df/dx ~= (f(x + h) - f(x - h)) / 2h, the central difference.

    ``x`` is a scalar; ``f`` maps a scalar to a scalar. The error of the central
    difference is O(h**2), against O(h) for the forward difference (f(x+h) - f(x)) / h.
    """
    _check_step(h)
    return (f(x + h) - f(x - h)) / (2 * h)


def _check_step(h):
    if not isinstance(h, (int, float, np.floating)) or isinstance(h, bool) or not h > 0:
        raise InputValueError(f"h must be a positive number, got {h!r}")


def numerical_gradient(f, x, h=1e-4):
    """grad_i = (f(x + h e_i) - f(x - h e_i)) / 2h for every element i of ``x``.

    Shapes: ``x`` is a float array of any ndim; the result has its shape and dtype.

    ``x`` is perturbed *in place*, one element at a time, and restored exactly, so a
    closure that ignores its argument and reads the array elsewhere works:
    ``numerical_gradient(lambda w: net.loss(x, t), net.W)``, as in book 1, ch. 4,
    ``gradient_simplenet.py``. The element is restored even when ``f`` raises.

    Raises ``TypeError`` for integer (or other non-float) arrays: ``x + h`` would be
    truncated back to the integer and the gradient silently wrong (the book's code
    returns ``[25000, 35000]`` for an integer ``[3, 4]``). Raises ``ValueError`` for a
    read-only array. Warns for float32: with h = 1e-4, rounding ``x + h`` to 24 bits
    leaves only about 3 correct digits.
    """
    _check_step(h)
    if not isinstance(x, np.ndarray):
        raise InputTypeError(
            f"x must be a NumPy float array (it is perturbed in place), got {type(x).__name__}; "
            "use np.asarray(x, dtype=np.float64)"
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise InputTypeError(
            f"x must be a float array, got dtype {x.dtype}: with an integer array x + h is "
            "truncated back to x and the gradient is wrong; use x.astype(np.float64)"
        )
    if not x.flags.writeable:
        raise InputValueError("x must be writeable (it is perturbed in place), "
                              "got a read-only array")
    if x.dtype == np.float32 or x.dtype == np.float16:
        warnings.warn(
            f"numerical_gradient on {x.dtype}: with h = {h:g} the perturbed value x + h is "
            "rounded to the array's precision, leaving only about 3 correct digits; "
            "use float64 (x.astype(np.float64)) for gradient checks",
            UserWarning,
            stacklevel=2,
        )
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        tmp = x[idx]
        try:
            x[idx] = float(tmp) + h
            fxh1 = f(x)
            x[idx] = tmp - h
            fxh2 = f(x)
        finally:
            x[idx] = tmp
        grad[idx] = (fxh1 - fxh2) / (2 * h)
    return grad


def _descend(f, init_x, lr, step_num, history, sign, name):
    """Shared loop of gradient descent (sign = -1) and ascent (sign = +1)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not lr > 0:
        raise InputValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(step_num, bool) or not isinstance(step_num, (int, np.integer)) or step_num < 0:
        raise InputValueError(f"step_num must be a non-negative integer, got {step_num!r}")
    x = np.array(init_x, dtype=np.float64)  # a copy: the caller's init_x is never touched
    if x.ndim == 0 or x.size == 0:
        raise InputValueError(f"init_x must be a non-empty array of coordinates, got {init_x!r}")
    start = x.copy()
    path = [start] if history else None
    f0 = float(f(x.copy()))
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(step_num):
            grad = numerical_gradient(f, x)
            x += sign * lr * grad
            if history:
                path.append(x.copy())
            if not np.all(np.isfinite(x)):
                break
        f_end = float(f(x.copy())) if np.all(np.isfinite(x)) else float("nan")
    if _diverged(x, start, f0, f_end, sign):
        warnings.warn(
            f"{name} diverged with lr={lr:g}: it ended at f = {f_end:.6g} "
            f"(start f = {f0:.6g}), x = {np.array2string(x, precision=6)}; "
            "try a smaller learning rate",
            DivergenceWarning,
            stacklevel=3,
        )
    if history:
        return x, np.array(path)
    return x


def _diverged(x, init, f0, f_end, sign):
    """True when the run went non-finite, or ended worse than it started and far away.

    "Worse" is a larger f for descent (sign = -1) and a smaller one for ascent; "far" is
    more than 100 times the starting scale away from the start.
    """
    if not (np.all(np.isfinite(x)) and np.isfinite(f_end)):
        return True
    worse = (f_end - f0) * -sign > 0
    far = np.linalg.norm(x - init) > 100.0 * max(1.0, float(np.linalg.norm(init)))
    return bool(worse and far)


def gradient_descent(f, init_x, lr=0.01, step_num=100, *, history=False):
    """x <- x - lr * grad f(x), repeated ``step_num`` times from ``init_x``.

    The gradient is ``numerical_gradient(f, x)``. ``init_x`` may be a list or an integer
    array; it is copied to float64 and never mutated. Returns the final ``x``, or
    ``(x, path)`` with ``history=True``, where ``path`` has shape ``(step_num + 1, D)``:
    the start and every step. (The book updates ``init_x`` in place; started from an
    integer array such as ``[3, 2]``, the book's loop truncates its first step and prints
    different numbers.)

    Emits ``DivergenceWarning`` naming the learning rate when the run diverges: values
    become non-finite (the loop stops there), or f ends larger than it started while x
    moved more than 100 times the starting scale.
    """
    return _descend(f, init_x, lr, step_num, history, -1, "gradient_descent")


def gradient_ascent(f, init_x, lr=0.01, step_num=100, *, history=False):
    """x <- x + lr * grad f(x), repeated ``step_num`` times: climbs to a maximum of f.

    Same arguments, return values and divergence warning as ``gradient_descent``.
    """
    return _descend(f, init_x, lr, step_num, history, +1, "gradient_ascent")
