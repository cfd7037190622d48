"""Book 1's ``common/gradient.py``: central differences, element by element or row by row.

``numerical_gradient`` is chainrule's core function (the same arithmetic as the book's,
h = 1e-4, every element of any shape in C order; integer arrays are refused instead of
silently truncating ``x + h``). ``numerical_gradient_2d`` is the book's row-wise
version: for a 2-D ``X`` it takes the gradient of ``f`` at each row, calling ``f`` with
one row at a time, as ch. 4's ``gradient_2d.py`` does to draw the field of arrows.
"""

from __future__ import annotations

import numpy as np

from ...numerical import numerical_gradient as _core_numerical_gradient
from ...validation import InputTypeError, InputValueError

__all__ = ["np", "numerical_gradient", "numerical_gradient_2d"]


def numerical_gradient(f, x):
    """grad_i = (f(x + h e_i) - f(x - h e_i)) / 2h, h = 1e-4, for every element of ``x``.

    ``x`` is perturbed in place, one element at a time, and restored, so
    ``numerical_gradient(lambda w: net.loss(x, t), net.params['W1'])`` works as in the
    book. ``x`` must be a writeable float array (``InputTypeError`` otherwise).
    """
    if not callable(f):
        raise InputTypeError(f"f must be a function of x, got {type(f).__name__}")
    return _core_numerical_gradient(f, x)


def _numerical_gradient_1d(f, x):
    """The gradient of ``f`` at the 1-D point ``x`` (``f`` receives ``x`` itself)."""
    return _core_numerical_gradient(f, x)


def numerical_gradient_2d(f, X):
    """Row-wise central differences: row i of the result is grad f at ``X[i]``.

    Shapes: ``X`` (D,) gives the gradient at one point, (N, D) one gradient per row;
    ``f`` is always called with a 1-D point (a view of one row, perturbed in place and
    restored). This is book 1, ch. 4's ``numerical_gradient`` of ``gradient_2d.py``:
    with ``X = np.array([X0, X1]).T`` it computes the gradient at every grid point.
    """
    if not callable(f):
        raise InputTypeError(f"f must be a function of a point, got {type(f).__name__}")
    if not isinstance(X, np.ndarray):
        raise InputTypeError(f"X must be a NumPy float array (it is perturbed in place), "
                             f"got {type(X).__name__}")
    if X.ndim == 1:
        return _numerical_gradient_1d(f, X)
    if X.ndim != 2:
        raise InputValueError(f"X must be one point (D,) or one point per row (N, D), "
                              f"got shape {X.shape}")
    grad = np.zeros_like(X)
    for i, row in enumerate(X):
        grad[i] = _numerical_gradient_1d(f, row)
    return grad
