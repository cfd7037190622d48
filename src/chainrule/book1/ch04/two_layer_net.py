"""Book 1, ch. 4's ``two_layer_net.py``: ``TwoLayerNet`` with sigmoid, written as formulas.

``from two_layer_net import *`` also hands a script ``np``, the functions of
``common.functions`` and ``numerical_gradient``, as the book's module does.
"""

from __future__ import annotations

import numpy as np

from ..common._network import as_array, check_batch, randn_weights, size, weight_scale
from ..common.functions import *  # noqa: F403 - the book's module re-exports them
from ..common.functions import __all__ as _function_names
from ..common.functions import cross_entropy_error, sigmoid, sigmoid_grad, softmax
from ..common.gradient import numerical_gradient

__all__ = [*_function_names, "numerical_gradient", "TwoLayerNet"]


class TwoLayerNet:
    """y = softmax(sigmoid(x @ W1 + b1) @ W2 + b2): book 1's first network (ch. 4).

    ``params``: ``W1`` (input_size, hidden_size) and ``W2`` drawn as
    ``weight_init_std * np.random.randn(...)`` from NumPy's global generator (W1
    first), ``b1``, ``b2`` zeros. ``predict`` returns the probabilities (this network
    applies softmax; ch. 5's returns scores). ``loss`` is ``cross_entropy_error`` with
    the book's ``+1e-7``. ``gradient`` is backpropagation written out as formulas:
    dy = (y - t) / N, dW2 = z1.T @ dy, da1 = sigmoid_grad(a1) * (dy @ W2.T), dW1 = x.T @ da1.
    ``t`` is one-hot rows, as in the book (labels are turned into rows for ``gradient``).
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        sizes = (size(input_size, "input_size"), size(hidden_size, "hidden_size"),
                 size(output_size, "output_size"))
        scale = weight_scale(weight_init_std, sizes[0])
        self.params = {}
        self.params["W1"] = randn_weights(scale, sizes[0], sizes[1])
        self.params["b1"] = np.zeros(sizes[1])
        self.params["W2"] = randn_weights(weight_scale(weight_init_std, sizes[1]),
                                          sizes[1], sizes[2])
        self.params["b2"] = np.zeros(sizes[2])

    def __repr__(self):
        (i, h), o = self.params["W1"].shape, self.params["W2"].shape[1]
        return f"TwoLayerNet(input_size={i}, hidden_size={h}, output_size={o})"

    def predict(self, x):
        """Class probabilities softmax(sigmoid(x @ W1 + b1) @ W2 + b2), (N, output_size)."""
        x = as_array(x, "x")
        W1, W2 = self.params["W1"], self.params["W2"]
        b1, b2 = self.params["b1"], self.params["b2"]
        z1 = sigmoid(np.dot(x, W1) + b1)
        return softmax(np.dot(z1, W2) + b2)

    def loss(self, x, t):
        """cross_entropy_error(predict(x), t), with the book's +1e-7."""
        x, t = check_batch(x, t)
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x, t):
        """Fraction of samples whose most probable class is the label (argmax of rows)."""
        x, t = check_batch(x, t)
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        """Central differences of ``loss`` for W1, b1, W2, b2 (slow: two losses a number)."""
        x, t = check_batch(x, t)

        def loss_w(_):
            return self.loss(x, t)

        return {name: numerical_gradient(loss_w, self.params[name])
                for name in ("W1", "b1", "W2", "b2")}

    def gradient(self, x, t):
        """Backpropagation by the formulas above: a dict W1, b1, W2, b2 of new arrays."""
        x, t = check_batch(x, t)
        W1, W2 = self.params["W1"], self.params["W2"]
        b1, b2 = self.params["b1"], self.params["b2"]
        if t.ndim == 1:
            t = np.eye(W2.shape[1])[t.astype(np.intp)]
        n = x.shape[0]
        a1 = np.dot(x, W1) + b1
        z1 = sigmoid(a1)
        y = softmax(np.dot(z1, W2) + b2)
        dy = (y - t) / n
        grads = {"W2": np.dot(z1.T, dy), "b2": np.sum(dy, axis=0)}
        da1 = sigmoid_grad(a1) * np.dot(dy, W2.T)
        grads["W1"] = np.dot(x.T, da1)
        grads["b1"] = np.sum(da1, axis=0)
        return {name: grads[name] for name in ("W1", "b1", "W2", "b2")}
