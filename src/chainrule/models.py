"""Networks with the seeds' names: ``SimpleNet`` (seeds 000, 002, 004)."""

from __future__ import annotations

import numpy as np

from .functions import cross_entropy_error, softmax
from .rng import as_generator

__all__ = ["SimpleNet"]


class SimpleNet:
    """The seeds' one-layer net: scores = x @ W with W of shape (2, 3), no bias.

    ``loss(x, t) = cross_entropy_error(softmax(x @ W), t)``, with the book's ``+1e-7``
    inside the log, so the seeds' numbers come out exactly. Shapes: ``x`` is ``(2,)`` or
    ``(N, 2)``; ``t`` a label, labels ``(N,)``, or one-hot / probability rows ``(N, 3)``.

    Unlike the layered models, ``predict`` returns the raw scores ``x @ W``, because the
    seeds print it that way (seed 002 prints ``[-0.96961358 1.42048015 -0.01826406]``);
    ``scores`` is the same thing under the name the other models use, and
    ``predict_proba`` gives the class probabilities.

    ``W`` is drawn from the standard normal with ``random_state`` (the seeds call
    ``np.random.randn(2, 3)``, which uses NumPy's global generator and so cannot be
    reproduced); pass ``W=`` to start from a known matrix.
    """

    def __init__(self, W=None, *, random_state=None, dtype=np.float64):
        if W is None:
            W = as_generator(random_state).standard_normal((2, 3))
        W = np.array(W, dtype=dtype)  # a copy: the caller's matrix is never changed
        if W.shape != (2, 3):
            raise ValueError(f"W must have shape (2, 3), got {W.shape}")
        self.W = W

    def __repr__(self):
        return f"SimpleNet(W.shape={self.W.shape}, dtype={self.W.dtype})"

    def _check_x(self, x):
        x = np.asarray(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.W.shape[0]:
            raise ValueError(
                f"x must have shape ({self.W.shape[0]},) or (N, {self.W.shape[0]}), got {x.shape}"
            )
        return x

    def scores(self, x):
        """s = x @ W: ``(2,)`` -> ``(3,)`` or ``(N, 2)`` -> ``(N, 3)``."""
        return np.dot(self._check_x(x), self.W)

    predict = scores

    def predict_proba(self, x):
        """y = softmax(x @ W), class probabilities over the last axis."""
        return softmax(self.scores(x))

    def loss(self, x, t):
        """L = cross_entropy_error(softmax(x @ W), t), the book's +1e-7 form."""
        return cross_entropy_error(self.predict_proba(x), t)
