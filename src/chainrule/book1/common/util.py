"""Book 1's ``common/util.py``: ``smooth_curve``, ``shuffle_dataset``, ``conv_output_size``,
``im2col`` and ``col2im``.

``im2col``/``col2im`` are chainrule's (the same signature and layout as the book's),
returning float64 as the book's do. ``shuffle_dataset`` draws its permutation from
NumPy's global generator, as the book does.
"""

from __future__ import annotations

import numpy as np

from ... import functions as _core
from ...validation import InputTypeError, InputValueError, check_number

__all__ = ["np", "smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"]

#: The window of ``smooth_curve``: 11 points of a Kaiser window with beta 2.
SMOOTH_WINDOW = 11


def smooth_curve(x):
    """A loss curve smoothed by a normalised 11-point Kaiser window (beta = 2).

    Shapes: a sequence of N numbers (N >= 11) -> an array of N numbers. The ends are
    padded with the curve reflected about its first and last points, so the result has
    the input's length; this is the book's smoothing for its loss plots, to the last
    digit.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise InputValueError(f"x must be a sequence of numbers, got shape {x.shape}")
    n = SMOOTH_WINDOW
    if x.size < n:
        raise InputValueError(f"x must hold at least {n} values to be smoothed, got {x.size}")
    padded = np.concatenate([x[n - 1:0:-1], x, x[-1:-n:-1]])
    window = np.kaiser(n, 2)
    smoothed = np.convolve(window / window.sum(), padded, mode="valid")
    half = n // 2
    return smoothed[half:len(smoothed) - half]


def shuffle_dataset(x, t):
    """(x[p], t[p]) for a random permutation p of the samples (axis 0).

    ``p`` is ``np.random.permutation(len(x))`` from NumPy's global generator, as in the
    book, so ``np.random.seed`` fixes it. ``x`` and ``t`` must have the same number of
    samples.
    """
    if not hasattr(x, "shape") or not hasattr(t, "shape"):
        raise InputTypeError("x and t must be NumPy arrays")
    if x.ndim == 0 or t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise InputValueError(f"x and t must hold the same number of samples, got shapes "
                              f"{x.shape} and {t.shape}")
    permutation = np.random.permutation(x.shape[0])  # noqa: NPY002 - the book's generator
    return x[permutation], t[permutation]


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """(input_size + 2 pad - filter_size) / stride + 1, *not* floored, as the book returns it.

    A float; a filter that does not tile the input evenly gives a fraction (chainrule's
    core ``conv_output_size`` floors it, as PyTorch and the book's ``im2col`` do).
    """
    input_size = check_number(input_size, "input_size", integer=True, low=1)
    filter_size = check_number(filter_size, "filter_size", integer=True, low=1)
    stride = check_number(stride, "stride", integer=True, low=1)
    pad = check_number(pad, "pad", integer=True, low=0)
    return (input_size + 2 * pad - filter_size) / stride + 1


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Images (N, C, H, W) -> rows of filter windows (N*OH*OW, C*FH*FW), float64.

    chainrule's ``im2col`` (the book's layout: row n*OH*OW + i*OW + j is the window under
    output pixel (i, j) of image n).
    """
    data = np.asarray(input_data)
    if data.ndim != 4:
        raise InputValueError(f"input_data must be images (N, C, H, W), got shape {data.shape}")
    return _core.im2col(data.astype(np.float64, copy=False), filter_h, filter_w, stride, pad)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of ``im2col``: window rows added back into images of ``input_shape``."""
    if len(tuple(input_shape)) != 4:
        raise InputValueError(f"input_shape must be (N, C, H, W), got {input_shape!r}")
    return _core.col2im(np.asarray(col, dtype=np.float64), tuple(input_shape), filter_h,
                        filter_w, stride, pad)
