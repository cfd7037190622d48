"""Book 1's ``common/multi_layer_net.py``: ``MultiLayerNet``, a fully connected network.

``from common.multi_layer_net import *`` also hands a script ``np`` and ``OrderedDict``,
as the book's module does.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ...validation import InputValueError, check_number
from ._network import LayeredNet, randn_weights, size, size_list, weight_scale
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss

__all__ = ["np", "OrderedDict", "MultiLayerNet"]

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": Relu}


def _activation(name):
    if name not in ACTIVATIONS:
        raise InputValueError(f"activation must be 'relu' or 'sigmoid', got {name!r}")
    return ACTIVATIONS[name]


class MultiLayerNet(LayeredNet):
    """[Affine -> activation] x L -> Affine -> SoftmaxWithLoss, book 1's ``MultiLayerNet``.

    One hidden layer per entry of ``hidden_size_list``. ``params``: ``W1`` ... ``W{L+1}``
    drawn as ``scale * np.random.randn(n_in, n_out)`` from NumPy's global generator, in
    the book's order (``weight_init_std``: a number, 'relu'/'he' for sqrt(2/n_in),
    'sigmoid'/'xavier' for sqrt(1/n_in)), and zero biases ``b1`` ... . ``layers`` is an
    ``OrderedDict`` (``Affine1``, ``Activation_function1``, ...), ``last_layer`` the
    loss. ``weight_decay_lambda`` adds 0.5 lambda sum ||W||^2 to the loss and lambda W
    to each weight's gradient. ``predict`` returns the scores (no softmax).
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0):
        super().__init__()
        self._build(input_size, hidden_size_list, output_size, activation, weight_init_std,
                    weight_decay_lambda)

    def _build(self, input_size, hidden_size_list, output_size, activation, weight_init_std,
               weight_decay_lambda, use_dropout=False, dropout_ratio=0.5, use_batchnorm=False):
        self.input_size = size(input_size, "input_size")
        self.hidden_size_list = size_list(hidden_size_list, "hidden_size_list")
        self.output_size = size(output_size, "output_size")
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = check_number(weight_decay_lambda, "weight_decay_lambda",
                                                low=0)
        act = _activation(activation)
        sizes = [self.input_size, *self.hidden_size_list, self.output_size]
        weight_scale(weight_init_std, 1)  # validate before drawing anything
        for idx in range(1, len(sizes)):
            scale = weight_scale(weight_init_std, sizes[idx - 1])
            self.params[f"W{idx}"] = randn_weights(scale, sizes[idx - 1], sizes[idx])
            self.params[f"b{idx}"] = np.zeros(sizes[idx])
        for idx in range(1, len(sizes)):
            affine = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            self.layers[f"Affine{idx}"] = affine
            self._owners[f"W{idx}"] = (affine, "dW")
            self._owners[f"b{idx}"] = (affine, "db")
            if idx == len(sizes) - 1:
                break
            if use_batchnorm:
                n = sizes[idx]
                self.params[f"gamma{idx}"] = np.ones(n)
                self.params[f"beta{idx}"] = np.zeros(n)
                norm = BatchNormalization(self.params[f"gamma{idx}"], self.params[f"beta{idx}"])
                self.layers[f"BatchNorm{idx}"] = norm
                self._owners[f"gamma{idx}"] = (norm, "dgamma")
                self._owners[f"beta{idx}"] = (norm, "dbeta")
            self.layers[f"Activation_function{idx}"] = act()
            if use_dropout:
                self.layers[f"Dropout{idx}"] = Dropout(dropout_ratio)
        self.last_layer = SoftmaxWithLoss()

    def __repr__(self):
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size_list={self.hidden_size_list}, output_size={self.output_size})")
