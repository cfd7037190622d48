"""The spiral toy data set of "Deep Learning from Scratch 2" (dataset/spiral.py)."""

from __future__ import annotations

import numbers

import numpy as np

from ..validation import InputTypeError, InputValueError, check_positive

__all__ = ["load_spiral"]


def load_spiral(n_per_class=100, n_classes=3, random_state=1984):
    """Points on ``n_classes`` noisy spiral arms, one arm per class.

    For arm j and i = 0 .. n_per_class - 1, with rate = i / n_per_class::

        theta = 4 j + 4 rate + 0.2 z,   z ~ N(0, 1)
        x[n_per_class j + i] = rate * (sin theta, cos theta),   t[n_per_class j + i, j] = 1

    Shapes: returns ``(x, t)`` with ``x`` float64 (N, 2) and ``t`` one-hot int64
    (N, n_classes), N = n_per_class * n_classes, rows grouped by class.

    ``random_state``: an int seeds a private legacy ``np.random.RandomState``, drawn in
    the book's order, so the default (1984, the book's seed) gives exactly the book's
    data; NumPy's global generator is never touched (the book calls
    ``np.random.seed``). A ``numpy.random.Generator`` is drawn from instead (its own
    stream, so the numbers differ from the book's for any seed); ``None`` uses fresh OS
    entropy.
    """
    check_positive(n_per_class, "n_per_class", integer=True)
    check_positive(n_classes, "n_classes", integer=True)
    n_per_class, n_classes = int(n_per_class), int(n_classes)
    size = n_per_class * n_classes
    if isinstance(random_state, np.random.Generator):
        z = random_state.standard_normal(size)
    elif random_state is None:
        z = np.random.default_rng().standard_normal(size)
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**32:
            raise InputValueError(
                f"random_state must be an int in [0, 2**32 - 1], got {random_state}"
            )
        # The legacy stream is the one the book's np.random.seed(1984) draws from; a private
        # RandomState reproduces it without touching the global generator. randn(size)
        # yields the same values, in the same order, as the book's `size` scalar randn() calls.
        z = np.random.RandomState(int(random_state)).randn(size)  # noqa: NPY002
    else:
        raise InputTypeError(
            "random_state must be None, an int or a numpy.random.Generator, "
            f"got {type(random_state).__name__}"
        )
    rate = np.arange(n_per_class) / n_per_class
    radius = 1.0 * rate
    j = np.arange(n_classes)[:, None]
    # the book's order of operations: (j*4.0 + 4.0*rate) + randn()*0.2
    theta = (j * 4.0 + 4.0 * rate) + z.reshape(n_classes, n_per_class) * 0.2
    x = np.empty((n_classes, n_per_class, 2))
    x[..., 0] = radius * np.sin(theta)
    x[..., 1] = radius * np.cos(theta)
    t = np.zeros((size, n_classes), dtype=np.int64)
    t[np.arange(size), np.repeat(np.arange(n_classes), n_per_class)] = 1
    return x.reshape(size, 2), t
