"""Book 2's ``common/np.py``: ``from common.np import *`` gives ``np`` (NumPy; never CuPy)
and ``GPU``."""

import numpy as np

from .config import GPU

__all__ = ["np", "GPU"]
