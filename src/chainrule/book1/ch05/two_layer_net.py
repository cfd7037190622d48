"""Book 1, ch. 5's ``two_layer_net.py``: ``TwoLayerNet`` built from layers, with ReLU.

``from two_layer_net import *`` also hands a script ``np``, ``OrderedDict``, the layers
and functions of ``common.layers`` and ``numerical_gradient``, as the book's module does.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..common._network import LayeredNet, randn_weights, size, weight_scale
from ..common.gradient import numerical_gradient
from ..common.layers import *  # noqa: F403 - the book's module re-exports them
from ..common.layers import Affine, Relu, SoftmaxWithLoss
from ..common.layers import __all__ as _layer_names

__all__ = [*_layer_names, "OrderedDict", "numerical_gradient", "TwoLayerNet"]


class TwoLayerNet(LayeredNet):
    """Affine -> Relu -> Affine -> SoftmaxWithLoss: book 1, ch. 5's network.

    ``params``: ``W1``, ``W2`` drawn as ``weight_init_std * np.random.randn(...)`` from
    NumPy's global generator (W1 first), ``b1``, ``b2`` zeros; ``layers`` an
    ``OrderedDict`` (``Affine1``, ``Relu1``, ``Affine2``) and ``lastLayer`` the loss.
    ``predict`` returns the scores (no softmax). ``gradient`` is backpropagation through
    the layers, ``numerical_gradient`` central differences of ``loss``. ``t`` may be
    labels or one-hot rows.
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        super().__init__()
        sizes = (size(input_size, "input_size"), size(hidden_size, "hidden_size"),
                 size(output_size, "output_size"))
        self.params["W1"] = randn_weights(weight_scale(weight_init_std, sizes[0]),
                                          sizes[0], sizes[1])
        self.params["b1"] = np.zeros(sizes[1])
        self.params["W2"] = randn_weights(weight_scale(weight_init_std, sizes[1]),
                                          sizes[1], sizes[2])
        self.params["b2"] = np.zeros(sizes[2])
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.last_layer = SoftmaxWithLoss()
        for i, name in ((1, "Affine1"), (2, "Affine2")):
            self._owners[f"W{i}"] = (self.layers[name], "dW")
            self._owners[f"b{i}"] = (self.layers[name], "db")

    def __repr__(self):
        (i, h), o = self.params["W1"].shape, self.params["W2"].shape[1]
        return f"TwoLayerNet(input_size={i}, hidden_size={h}, output_size={o})"

    @property
    def lastLayer(self):  # noqa: N802 - the book's name
        """The loss layer (the book's name for ``last_layer``)."""
        return self.last_layer
