"""Book 2's ``dataset/spiral.py``: ``load_data(seed=1984)``, the three-armed spiral.

The points are chainrule's ``load_spiral(random_state=seed)``, the book's exact data.
Like the book's function, ``load_data`` *seeds NumPy's global generator* with ``seed``
and draws the 300 noise values from it, so the global generator is left where the
book leaves it: the book's scripts then draw their initial weights and mini-batch
orders from it, and their runs repeat. (chainrule's core never touches the global
generator; ``chainrule.data.load_spiral`` is the way to get the data without this
side effect.)
"""

from __future__ import annotations

import numpy as np

from ...data import load_spiral
from ...validation import check_number

__all__ = ["np", "load_data"]

N = 100  # points per class
DIM = 2
CLS_NUM = 3


def load_data(seed=1984):
    """(x, t): x float64 (300, 2), t one-hot int32 (300, 3), rows grouped by class.

    Seeds NumPy's global generator with ``seed`` and draws 300 normals from it, as the
    book's ``load_data`` does (see the module docstring).
    """
    seed = check_number(seed, "seed", integer=True, low=0, high=2**32 - 1)
    np.random.seed(seed)  # noqa: NPY002 - the book's side effect, kept on purpose
    np.random.randn(N * CLS_NUM)  # noqa: NPY002 - the book's draws, in its order
    x, t = load_spiral(N, CLS_NUM, random_state=seed)
    return x, t.astype(np.int32)
