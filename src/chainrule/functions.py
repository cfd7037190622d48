"""Stateless maths of book 1: activations, softmax and losses.

Every function takes NumPy arrays and returns new arrays; none mutates its input.
The names are the book's (``identity_function``, ``step_function``, ``sigmoid``,
``softmax``, ``cross_entropy_error``, ...), so the book's code runs with only its
imports changed.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "identity_function",
    "step_function",
    "sigmoid",
    "sigmoid_grad",
    "relu",
    "relu_grad",
    "tanh",
    "softmax",
    "log_softmax",
    "cross_entropy_error",
    "mean_squared_error",
    "softmax_loss",
]

#: The book's guard inside the logarithm of ``cross_entropy_error``.
CE_DELTA = 1e-7


def identity_function(x):
    """y = x. Any shape; returns ``x`` itself (the book's output layer for regression)."""
    return x


def step_function(x):
    """y = 1 if x > 0 else 0, elementwise. Any shape; returns int64.

    The book writes ``np.array(x > 0, dtype=np.int)``; ``np.int`` no longer exists in NumPy 2.
    """
    return (np.asarray(x) > 0).astype(np.int64)


def sigmoid(x):
    """y = 1 / (1 + exp(-x)), elementwise. Any shape.

    The book's formula, so the book's numbers come out exactly. For very negative x,
    exp(-x) overflows to inf and y is the correct 0; that overflow is expected and not
    reported as a warning.
    """
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    """dy/dx = sigmoid(x) * (1 - sigmoid(x)), elementwise. Any shape."""
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x):
    """y = max(0, x), elementwise. Any shape."""
    return np.maximum(0, x)


def relu_grad(x):
    """dy/dx = 1 if x > 0 else 0, elementwise. Any shape.

    The book's version writes ``np.zeros(x)`` (a bug) and uses 1 at x = 0; chainrule
    takes the subgradient 0 at x = 0, as PyTorch does, so it matches ``layers.Relu``.
    """
    x = np.asarray(x)
    return (x > 0).astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)


def tanh(x):
    """y = tanh(x), elementwise; dy/dx = 1 - y**2. Any shape."""
    return np.tanh(x)


def softmax(x):
    """y_k = exp(x_k - max x) / sum_i exp(x_i - max x), over the last axis.

    Shapes: any ndim; the normalisation runs over the last axis, so ``(C,)`` gives one
    distribution and ``(N, C)`` one per row. Subtracting the maximum first makes it
    finite for any finite logits (``softmax([1000, 1010, 990])`` works).
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(x):
    """log y_k = (x_k - max x) - log sum_i exp(x_i - max x), over the last axis.

    Shapes: any ndim. Never produces ``log(0)``: the stable form used by
    ``SoftmaxWithLoss`` for the exact cross entropy.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _as_batch(y, t):
    """Reshape a single sample ``(C,)`` to a batch of one ``(1, C)``, as the book does."""
    y = np.asarray(y)
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, y.size)
        t = t.reshape(1, t.size) if t.size == y.size else t.reshape(t.size)
    return y, t


def cross_entropy_error(y, t):
    """E = -(1/N) sum_n sum_k t_nk log(y_nk + 1e-7).

    Shapes: ``y`` holds probabilities, ``(C,)`` or ``(N, C)``. ``t`` is integer labels
    ``(N,)`` (or a scalar label for one sample), one-hot rows ``(N, C)``, or probability
    rows ``(N, C)``. Labels pick ``y[n, t_n]``; one-hot and soft targets are used as
    weights, so soft targets give the true cross entropy (the book's code takes the
    argmax of any target with ``t.size == y.size``, which rounds soft targets).

    The ``+1e-7`` is the book's guard against ``log(0)``; it makes the value slightly
    smaller than the exact cross entropy (about 1e-7 / y relative). Use
    ``layers.SoftmaxWithLoss`` for the exact value from logits.
    """
    y, t = _as_batch(y, t)
    batch_size = y.shape[0]
    if t.shape == y.shape:
        return -np.sum(t * np.log(y + CE_DELTA)) / batch_size
    labels = t.astype(np.intp, copy=False).reshape(batch_size)
    return -np.sum(np.log(y[np.arange(batch_size), labels] + CE_DELTA)) / batch_size


def mean_squared_error(y, t):
    """E = 0.5 * sum_k (y_k - t_k)**2 over every element (the book's definition).

    Shapes: ``y`` and ``t`` the same shape. Note the book's name: it is half the *sum*
    of squares, not a mean.
    """
    return 0.5 * np.sum((np.asarray(y) - np.asarray(t)) ** 2)


def softmax_loss(x, t):
    """E = cross_entropy_error(softmax(x), t): logits ``(N, C)`` or ``(C,)`` with targets."""
    return cross_entropy_error(softmax(x), t)
