"""Book 2's ``common/optimizer.py``: the book's update rules on lists of arrays.

``update(params, grads)`` takes aligned lists (``model.params``, ``model.grads``) and
changes the arrays in place; state is kept per position. SGD, Momentum, AdaGrad,
RMSprop and Adam are book 1's rules (``chainrule.book1.common.optimizer``, which take
lists as well as dicts); book 2's ``Nesterov`` updates the velocity first:

    Nesterov  v <- mu v - lr g;  p <- p + mu^2 v - (1 + mu) lr g   (the new v)

``from common.optimizer import *`` also hands a script ``np`` and ``GPU``.
"""

from __future__ import annotations

import numpy as np

from ...book1.common import optimizer as _book1
from ...book1.common.optimizer import SGD, AdaGrad, Adam, Momentum, RMSprop
from .config import GPU

__all__ = ["np", "GPU", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


class Nesterov(_book1.Nesterov):
    """v <- mu v - lr g, then p <- p + mu^2 v - (1 + mu) lr g with the *new* v (book 2).

    Book 1's ``Nesterov`` (and ``torch.optim``'s) uses the old v; the two paths differ
    by mu^2 (v_new - v_old) a step.
    """

    def _step(self, params, grads, key):
        v = self._state("v", key, params[key])
        mu, g = self.momentum, grads[key]
        v *= mu
        v -= self.lr * g
        params[key] += mu * mu * v
        params[key] -= (1 + mu) * self.lr * g
