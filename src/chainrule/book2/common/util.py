"""Book 2's ``common/util.py``, the part chapter 1 uses: ``clip_grads``.

``from common.util import *`` also hands a script ``np`` and ``GPU``.
"""

from __future__ import annotations

import numpy as np

from ...validation import InputTypeError, check_number
from .config import GPU

__all__ = ["np", "GPU", "clip_grads"]


def clip_grads(grads, max_norm):
    """g <- g * max_norm / (||g|| + 1e-6) for every array when that rate is below 1.

    ``||g||`` is the norm of all the arrays of ``grads`` (a list) together. Scales in
    place and returns None, as the book's. (chainrule's ``trainer.clip_grads`` does the
    same and returns the norm.)
    """
    max_norm = check_number(max_norm, "max_norm", low=0, low_open=True)
    if not isinstance(grads, (list, tuple)):
        raise InputTypeError(f"grads must be a list of arrays, got {type(grads).__name__}")
    total_norm = 0
    for grad in grads:
        total_norm += np.sum(grad**2)
    total_norm = np.sqrt(total_norm)
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for grad in grads:
            grad *= rate
