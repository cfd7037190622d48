"""Stateless maths of book 1: activations, softmax and losses.

Every function takes NumPy arrays and returns new arrays; none mutates its input.
The names are the book's (``identity_function``, ``step_function``, ``sigmoid``,
``softmax``, ``cross_entropy_error``, ...), so the book's code runs with only its
imports changed.
"""

from __future__ import annotations

import numpy as np

from .validation import InputValueError

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
    "conv_output_size",
    "im2col",
    "col2im",
    "windows_of",
    "fold",
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

    Book 1's version is 1 at x = 0 (``grad[x >= 0] = 1``; early versions of its code wrote
    ``np.zeros(x)``, a bug), unlike its own ``Relu`` layer; chainrule takes the
    subgradient 0 at x = 0, as PyTorch does, so it matches ``layers.Relu``
    (``chainrule.book1.common.functions.relu_grad`` keeps the book's).
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


# ---- convolution as a matrix product (book 1, ch. 7) ---------------------------------


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """OH = floor((H + 2 pad - FH) / stride) + 1: output size of a convolution or pooling.

    Rows or columns left over at the far edge are dropped, as in PyTorch and in book 1's
    ``im2col`` (whose ``conv_output_size`` returns the unfloored quotient).
    """
    size = (input_size + 2 * pad - filter_size) // stride + 1
    if size < 1:
        raise InputValueError(
            f"a filter of {filter_size} with pad {pad} does not fit an input of size "
            f"{input_size}: the output would have {size} rows or columns"
        )
    return int(size)


def windows_of(x, filter_h, filter_w, stride=1, pad=0, fill=0.0):
    """(N, C, OH, OW, FH, FW): every filter window of x padded with ``fill``, as a view.

    No copy is made (``numpy.lib.stride_tricks.sliding_window_view``); ``im2col`` and the
    convolution layer arrange it into the layout they multiply.
    """
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(x, (filter_h, filter_w), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unfold images into rows of filter windows: (N, C, H, W) -> (N*OH*OW, C*FH*FW).

    Row n*OH*OW + i*OW + j holds the window under output pixel (i, j) of image n, channel
    by channel, so a convolution is one matrix product ``im2col(x) @ W.reshape(FN, -1).T``
    (book 1, ch. 7, same signature and layout). Built from a strided view of the padded
    input (no Python loop over samples or pixels), copied once into the result.
    """
    n, c, h, w = input_data.shape
    oh = conv_output_size(h, filter_h, stride, pad)
    ow = conv_output_size(w, filter_w, stride, pad)
    windows = windows_of(input_data, filter_h, filter_w, stride, pad)
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * filter_h * filter_w)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of ``im2col``: add every window's values back where they came from.

    (N*OH*OW, C*FH*FW) -> ``input_shape`` (N, C, H, W). Where windows overlap the values
    add up, so <im2col(x), c> = <x, col2im(c)> for every x and c: this is how a
    convolution's gradient reaches its input. One vectorised addition per filter offset
    (FH*FW of them), as in book 1.
    """
    n, c, h, w = input_shape
    oh = conv_output_size(h, filter_h, stride, pad)
    ow = conv_output_size(w, filter_w, stride, pad)
    cols = col.reshape(n, oh, ow, c, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    return fold(cols, (n, c, h, w), stride, pad)


def fold(cols, input_shape, stride=1, pad=0):
    """The adjoint of ``windows_of``: sum (N, C, FH, FW, OH, OW) window values into an
    (N, C, H, W) image (overlaps add up; the padding is cut off)."""
    n, c, h, w = input_shape
    _, _, filter_h, filter_w, oh, ow = cols.shape
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for y in range(filter_h):
        y_max = y + stride * oh
        for x in range(filter_w):
            x_max = x + stride * ow
            img[:, :, y:y_max:stride, x:x_max:stride] += cols[:, :, y, x]
    return np.ascontiguousarray(img[:, :, pad:h + pad, pad:w + pad]) if pad else img
