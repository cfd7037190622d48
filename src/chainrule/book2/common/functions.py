"""Book 2's ``common/functions.py``: ``sigmoid``, ``relu``, ``softmax``, ``cross_entropy_error``.

The same numbers as book 1's (``chainrule.book1.common.functions``): the ``+1e-7``
cross entropy, with one-hot targets turned into labels. ``from common.functions import
*`` also hands a script ``np`` and ``GPU``.
"""

from __future__ import annotations

import numpy as np

from ...book1.common.functions import cross_entropy_error, relu, sigmoid, softmax
from .config import GPU

__all__ = ["np", "GPU", "sigmoid", "relu", "softmax", "cross_entropy_error"]
