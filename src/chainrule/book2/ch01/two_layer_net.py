"""Book 2, ch. 1's ``two_layer_net.py``: ``TwoLayerNet`` with ``params``/``grads`` lists.

``from two_layer_net import *`` also hands a script ``np`` and the three layers.
"""

from __future__ import annotations

import numpy as np

from ...book1.common._network import as_array, size
from ..common.layers import Affine, Sigmoid, SoftmaxWithLoss

__all__ = ["np", "Affine", "Sigmoid", "SoftmaxWithLoss", "TwoLayerNet"]


class TwoLayerNet:
    """Affine -> Sigmoid -> Affine, with ``SoftmaxWithLoss``: book 2's first network.

    W1 (input_size, hidden_size) and W2 are ``0.01 * np.random.randn(...)`` from NumPy's
    global generator (W1 first), b1 and b2 zeros. ``params`` and ``grads`` are lists
    (W1, b1, W2, b2) of the layers' own arrays, for ``optimizer.update(model.params,
    model.grads)``. ``predict`` returns the scores; ``forward(x, t)`` the loss;
    ``backward()`` fills ``grads`` in place.
    """

    def __init__(self, input_size, hidden_size, output_size):
        I, H, O = (size(input_size, "input_size"), size(hidden_size, "hidden_size"),  # noqa: E741
                   size(output_size, "output_size"))
        W1 = 0.01 * np.random.randn(I, H)  # noqa: NPY002 - the book's generator
        b1 = np.zeros(H)
        W2 = 0.01 * np.random.randn(H, O)  # noqa: NPY002
        b2 = np.zeros(O)
        self.layers = [Affine(W1, b1), Sigmoid(), Affine(W2, b2)]
        self.loss_layer = SoftmaxWithLoss()
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def __repr__(self):
        (i, h), o = self.params[0].shape, self.params[2].shape[1]
        return f"TwoLayerNet(input_size={i}, hidden_size={h}, output_size={o})"

    def predict(self, x):
        """The scores of the last layer (N, output_size), no softmax."""
        x = as_array(x, "x")
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def forward(self, x, t):
        """The loss of (x, t): cross entropy of softmax(scores) with the book's +1e-7."""
        return self.loss_layer.forward(self.predict(x), as_array(t, "t"))

    def backward(self, dout=1):
        """Backpropagate the last ``forward``; fills ``grads`` in place, returns dL/dx."""
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout
