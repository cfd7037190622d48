"""Random generators from ``random_state``; chainrule never touches NumPy's global one."""

from __future__ import annotations

import numbers

import numpy as np

from .validation import InputTypeError, InputValueError

__all__ = ["as_generator"]


def as_generator(random_state=None):
    """Return a ``numpy.random.Generator`` for ``random_state``.

    ``None`` gives fresh OS entropy, an int seeds a new PCG64 generator, and a
    ``Generator`` is returned as is (so the caller shares its stream).
    """
    if random_state is None or (
        isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    ):
        if random_state is not None and random_state < 0:
            raise InputValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise InputTypeError(
        "random_state must be None, an int or a numpy.random.Generator, "
        f"got {type(random_state).__name__}"
    )
