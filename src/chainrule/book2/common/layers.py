"""Book 2's ``common/layers.py`` (chapter 1's layers) on chainrule's core.

``MatMul``, ``Affine``, ``Softmax`` and ``Sigmoid`` are chainrule's own layers (the same
arithmetic as the book's, ``params``/``grads`` lists written in place). The book's
rules are kept where they differ from the core's:

* ``SoftmaxWithLoss``: ``cross_entropy_error(softmax(x), t)`` with ``+1e-7``, one-hot
  targets turned into labels, backward (y - onehot(t)) * dout / N;
* ``SigmoidWithLoss``: ``cross_entropy_error`` of the two columns (1 - y, y), ``+1e-7``;
* ``Dropout``: no scaling in training, ``x * (1 - ratio)`` at inference, masks from
  NumPy's global generator (book 1's ``Dropout``).

``from common.layers import *`` also hands a script ``np``, ``GPU``, ``softmax`` and
``cross_entropy_error``, as the book's module does.
"""

from __future__ import annotations

import numpy as np

from ... import layers as _core
from ...book1.common.layers import Dropout
from ...nodes import MatMul
from .config import GPU
from .functions import cross_entropy_error, sigmoid, softmax

__all__ = ["np", "GPU", "softmax", "cross_entropy_error", "MatMul", "Affine", "Softmax",
           "SoftmaxWithLoss", "Sigmoid", "SigmoidWithLoss", "Dropout"]


class Affine(_core.Affine):
    """y = x @ W + b.   Backward: dx = dy @ W.T, dW = x.T @ dy, db = sum_n dy_n (in place)."""


class Softmax(_core.Softmax):
    """y = softmax(x) over the last axis.   Backward: dx = y * (dy - sum_k dy_k y_k)."""


class Sigmoid(_core.Sigmoid):
    """y = 1 / (1 + exp(-x)).   Backward: dx = dy * (1 - y) * y."""


class SoftmaxWithLoss(_core.SoftmaxWithLoss):
    """L = cross_entropy_error(softmax(x), t), book 2's loss layer.

    ``t`` is labels (N,) or one-hot rows (N, C); rows are turned into labels by argmax
    in ``forward`` (kept in ``t``). Backward: dx = (y - onehot(t)) * dout / N.
    """

    def __init__(self):
        super().__init__()
        self.y = self.t = None

    def forward(self, x, t):
        """The loss of scores ``x`` against ``t`` (rows become labels, kept in ``t``)."""
        self.t = t
        self.y = softmax(x)
        if self.t.size == self.y.size:
            self.t = self.t.argmax(axis=1)
        return cross_entropy_error(self.y, self.t)

    def backward(self, dout=1):
        """dL/dx = (y - onehot(t)) * dout / N."""
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        dx *= dout
        return dx / batch_size


class SigmoidWithLoss(_core.SigmoidWithLoss):
    """L = cross_entropy_error([1 - y, y], t) with y = sigmoid(x): book 2's binary loss.

    ``x`` (N,) scores and ``t`` (N,) labels 0/1; the ``+1e-7`` is the book's (the core's
    ``SigmoidWithLoss`` is exact, from the logits). Backward: dx = (y - t) * dout / N.
    """

    def __init__(self):
        super().__init__()
        self.loss = self.y = self.t = None

    def forward(self, x, t):
        """The loss of scores ``x`` against labels ``t``; keeps ``y``, ``t`` and ``loss``."""
        self.t = t
        self.y = sigmoid(x)
        self.loss = cross_entropy_error(np.c_[1 - self.y, self.y], self.t)
        return self.loss

    def backward(self, dout=1):
        """dL/dx = (y - t) * dout / N."""
        return (self.y - self.t) * dout / self.t.shape[0]
