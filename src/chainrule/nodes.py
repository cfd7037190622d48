"""Computational-graph nodes of book 2, ch. 1, on the layer protocol.

Every node has ``params`` and ``grads`` (lists, empty when it has none),
``forward(...)`` that keeps only what ``backward`` needs, and ``backward(dout)`` that
returns the gradient with respect to the inputs and writes parameter gradients into
``grads`` in place. Nodes with two inputs return a tuple of two gradients; ``Branch``
takes a sequence of upstream gradients. Each backward rule is written in the class
docstring and sits right under its forward.
"""

from __future__ import annotations

import numpy as np

from .validation import InputValueError

__all__ = ["Add", "Mul", "Branch", "Repeat", "Sum", "MatMul"]


class Add:
    """z = x + y.   Backward: dx = dz, dy = dz (addition passes the gradient on unchanged).

    Shapes: ``x`` and ``y`` the same shape; ``z`` that shape.
    """

    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        return dout, dout


class Mul:
    """z = x * y (elementwise).   Backward: dx = dz * y, dy = dz * x (the inputs swap).

    Shapes: ``x`` and ``y`` the same shape; ``z`` that shape.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.x = self.y = None

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        return dout * self.y, dout * self.x


class Branch:
    """(z_1, ..., z_n) = (x, ..., x).   Backward: dx = dz_1 + ... + dz_n.

    One input copied to ``n`` outputs; the gradients flowing back are summed. The
    outputs are the same array object, so nothing is copied (do not modify them).
    """

    def __init__(self, n=2):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputValueError(f"n must be a positive integer, got {n!r}")
        self.params, self.grads = [], []
        self.n = n

    def forward(self, x):
        return [x] * self.n

    def backward(self, douts):
        if len(douts) != self.n:
            raise InputValueError(f"douts must hold {self.n} gradients, got {len(douts)}")
        return sum(douts[1:], start=douts[0].copy())


class Repeat:
    """y = x repeated N times along axis 0: (1, D) -> (N, D).   Backward: dx = sum_n dy_n.

    The node behind a broadcast bias: each of the N rows used the same x, so the N
    gradients are summed back into one row of shape (1, D).
    """

    def __init__(self, n):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputValueError(f"n must be a positive integer, got {n!r}")
        self.params, self.grads = [], []
        self.n = n

    def forward(self, x):
        return np.repeat(x, self.n, axis=0)

    def backward(self, dout):
        return np.sum(dout, axis=0, keepdims=True)


class Sum:
    """y = sum_n x_n over axis 0: (N, D) -> (1, D).   Backward: dx = dy repeated N times.

    The mirror image of ``Repeat``: every row contributed to the sum with weight 1.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.n = None

    def forward(self, x):
        self.n = x.shape[0]
        return np.sum(x, axis=0, keepdims=True)

    def backward(self, dout):
        return np.repeat(dout, self.n, axis=0)


class MatMul:
    """y = x @ W: (N, D) @ (D, H) -> (N, H).   Backward: dx = dy @ W.T, dW = x.T @ dy.

    ``W`` is the node's only parameter; its gradient is written into ``grads[0]``.
    """

    param_names = ("W",)

    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.x = None

    @property
    def input_shape(self):
        """The shape of one input sample: (D,) for W of shape (D, H)."""
        return (self.params[0].shape[0],)

    def forward(self, x):
        (W,) = self.params
        self.x = x
        return x @ W

    def backward(self, dout):
        (W,) = self.params
        self.grads[0][...] = self.x.T @ dout
        return dout @ W.T
