"""Book 2, ch. 1's ``forward_net.py``, its classes without the demo: the forward pass only.

``Sigmoid`` and ``Affine`` have ``params`` and ``forward``; ``TwoLayerNet`` draws W1,
b1, W2, b2 (biases too) from ``np.random.randn`` (NumPy's global generator), in that
order, and ``predict`` returns the scores. Importing this module prints nothing (the
book's file runs its demo at import).
"""

from __future__ import annotations

import numpy as np

from ... import functions as _functions
from ...book1.common._network import as_array, size

__all__ = ["np", "Sigmoid", "Affine", "TwoLayerNet"]


class Sigmoid:
    """y = 1 / (1 + exp(-x)), forward only; no parameters."""

    def __init__(self):
        self.params = []

    def forward(self, x):
        """sigmoid(x), elementwise."""
        return _functions.sigmoid(x)


class Affine:
    """y = x @ W + b, forward only; ``params`` = [W, b]."""

    def __init__(self, W, b):
        self.params = [W, b]

    def forward(self, x):
        """x @ W + b."""
        W, b = self.params
        return np.dot(x, W) + b


class TwoLayerNet:
    """Affine -> Sigmoid -> Affine with standard-normal weights *and* biases (forward only)."""

    def __init__(self, input_size, hidden_size, output_size):
        I, H, O = (size(input_size, "input_size"), size(hidden_size, "hidden_size"),  # noqa: E741
                   size(output_size, "output_size"))
        W1 = np.random.randn(I, H)  # noqa: NPY002 - the book's generator, in its order
        b1 = np.random.randn(H)  # noqa: NPY002
        W2 = np.random.randn(H, O)  # noqa: NPY002
        b2 = np.random.randn(O)  # noqa: NPY002
        self.layers = [Affine(W1, b1), Sigmoid(), Affine(W2, b2)]
        self.params = []
        for layer in self.layers:
            self.params += layer.params

    def predict(self, x):
        """The scores (N, output_size)."""
        x = as_array(x, "x")
        for layer in self.layers:
            x = layer.forward(x)
        return x
