"""Book 1's ``common/functions.py``: activations, softmax and losses, with the book's semantics.

Where chainrule's core (``chainrule.functions``) computes the same numbers, its function
is used; where the book differs, the book's rule is kept here:

* ``relu_grad`` is 1 at x >= 0 (the core's is 0 at 0, as its ``Relu`` layer);
* ``cross_entropy_error`` turns any target with as many values as ``y`` into labels by
  argmax (the core uses soft targets as they are), then averages -log(y_t + 1e-7);
* ``sum_squared_error`` is the book's name for half the sum of squares.

``from common.functions import *`` also hands a script ``np``, as the book's module does.
"""

from __future__ import annotations

import numpy as np

from ... import functions as _core
from ...validation import as_number_array

__all__ = [
    "np",
    "identity_function",
    "step_function",
    "sigmoid",
    "sigmoid_grad",
    "relu",
    "relu_grad",
    "softmax",
    "sum_squared_error",
    "mean_squared_error",
    "cross_entropy_error",
    "softmax_loss",
]

identity_function = _core.identity_function
step_function = _core.step_function
sigmoid = _core.sigmoid
sigmoid_grad = _core.sigmoid_grad
relu = _core.relu
softmax = _core.softmax
mean_squared_error = _core.mean_squared_error


def relu_grad(x):
    """dy/dx of ReLU as book 1 writes it: 1 where x >= 0, else 0 (same dtype as x).

    Note the book's ``Relu`` layer passes no gradient at x = 0; this function passes 1
    there. chainrule's core ``relu_grad`` is 0 at 0, like both ``Relu`` layers.
    """
    x = np.asarray(x)
    grad = np.zeros_like(x)
    grad[x >= 0] = 1
    return grad


def sum_squared_error(y, t):
    """E = 0.5 * sum (y - t)**2 over every element (book 1's name; the text calls it
    ``mean_squared_error``)."""
    return _core.mean_squared_error(y, t)


def cross_entropy_error(y, t):
    """E = -(1/N) sum_n log(y[n, t_n] + 1e-7), book 1's (and book 2's) definition.

    ``y`` holds probabilities, (C,) or (N, C). ``t`` is labels (N,) or rows (N, C); rows
    (any ``t`` with as many values as ``y``) are turned into labels by argmax, so soft
    targets are rounded to their largest entry, as in the book. The sum runs over the
    picked values only, in the book's order, so the book's numbers come out to the last
    digit.
    """
    y, t = as_number_array(y, "y"), as_number_array(t, "t")
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    picked = y[np.arange(batch_size), t.astype(np.intp, copy=False).reshape(-1)]
    return -np.sum(np.log(picked + _core.CE_DELTA)) / batch_size


def softmax_loss(X, t):
    """E = cross_entropy_error(softmax(X), t): logits with labels or one-hot rows."""
    return cross_entropy_error(softmax(X), t)
