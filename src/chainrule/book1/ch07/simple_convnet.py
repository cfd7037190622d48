"""Book 1, ch. 7's ``simple_convnet.py``: ``SimpleConvNet`` with the book's interface.

conv - relu - pool - affine - relu - affine - softmax, built from
``chainrule.book1.common.layers`` (chainrule's convolution and pooling under the book's
names). ``save_params``/``load_params`` write and read safetensors files, never pickles.
``from simple_convnet import *`` also hands a script ``np``, ``OrderedDict``, the layers
and functions and ``numerical_gradient``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ...validation import InputTypeError, InputValueError, check_number
from .._params_file import load_arrays, save_arrays
from ..common._network import LayeredNet, as_array, check_batch, size, weight_scale
from ..common.gradient import numerical_gradient
from ..common.layers import *  # noqa: F403 - the book's module re-exports them
from ..common.layers import Affine, Convolution, Pooling, Relu, SoftmaxWithLoss
from ..common.layers import __all__ as _layer_names

__all__ = [*_layer_names, "OrderedDict", "numerical_gradient", "SimpleConvNet"]

_CONV_KEYS = ("filter_num", "filter_size", "pad", "stride")


class SimpleConvNet(LayeredNet):
    """Convolution -> Relu -> 2x2 max pooling -> Affine -> Relu -> Affine, book 1's ch. 7 net.

    ``input_dim`` (C, H, W), ``conv_param`` a dict of ``filter_num``, ``filter_size``,
    ``pad``, ``stride``, ``hidden_size``, ``output_size``, ``weight_init_std``. Weights
    ``W1`` (filters), ``W2``, ``W3`` are ``weight_init_std * np.random.randn(...)`` from
    NumPy's global generator, in that order; biases zero. ``layers`` is an
    ``OrderedDict`` (``Conv1``, ``Relu1``, ``Pool1``, ``Affine1``, ``Relu2``,
    ``Affine2``); ``predict`` returns scores; ``accuracy(x, t, batch_size=100)`` runs
    in batches and, as in the book, counts only whole batches but divides by all of x.
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100,
                 output_size=10, weight_init_std=0.01):
        super().__init__()
        if conv_param is None:
            conv_param = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        if not isinstance(conv_param, Mapping) or set(_CONV_KEYS) - set(conv_param):
            raise InputValueError(f"conv_param must be a dict with {', '.join(_CONV_KEYS)}, "
                                  f"got {conv_param!r}")
        if not isinstance(input_dim, (tuple, list)) or len(input_dim) != 3:
            raise InputTypeError(f"input_dim must be (C, H, W), got {input_dim!r}")
        channels, height = size(input_dim[0], "input_dim[0]"), size(input_dim[1], "input_dim[1]")
        filter_num = size(conv_param["filter_num"], "conv_param['filter_num']")
        filter_size = size(conv_param["filter_size"], "conv_param['filter_size']")
        pad = check_number(conv_param["pad"], "conv_param['pad']", integer=True, low=0)
        stride = size(conv_param["stride"], "conv_param['stride']")
        hidden_size, output_size = size(hidden_size, "hidden_size"), size(output_size,
                                                                           "output_size")
        conv_out = (height - filter_size + 2 * pad) / stride + 1
        pool_out = int(filter_num * (conv_out / 2) * (conv_out / 2))
        if pool_out < 1:
            raise InputValueError(f"conv_param does not fit input_dim {tuple(input_dim)}")
        scale = weight_scale(weight_init_std, channels * filter_size * filter_size)
        draw = np.random.randn  # noqa: NPY002 - the book's generator
        self.params["W1"] = scale * draw(filter_num, channels, filter_size, filter_size)
        self.params["b1"] = np.zeros(filter_num)
        self.params["W2"] = weight_scale(weight_init_std, pool_out) * draw(pool_out, hidden_size)
        self.params["b2"] = np.zeros(hidden_size)
        self.params["W3"] = weight_scale(weight_init_std, hidden_size) * draw(hidden_size,
                                                                               output_size)
        self.params["b3"] = np.zeros(output_size)
        self.layers["Conv1"] = Convolution(self.params["W1"], self.params["b1"], stride, pad)
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(self.params["W2"], self.params["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W3"], self.params["b3"])
        self.last_layer = SoftmaxWithLoss()
        for i, name in enumerate(("Conv1", "Affine1", "Affine2"), start=1):
            self._owners[f"W{i}"] = (self.layers[name], "dW")
            self._owners[f"b{i}"] = (self.layers[name], "db")

    def accuracy(self, x, t, batch_size=100):
        """Fraction correct, predicted ``batch_size`` samples at a time (whole batches)."""
        x, t = check_batch(x, t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        correct = 0.0
        for i in range(int(x.shape[0] / batch_size)):
            part = slice(i * batch_size, (i + 1) * batch_size)
            correct += np.sum(np.argmax(self.predict(x[part]), axis=1) == t[part])
        return correct / x.shape[0]

    def save_params(self, file_name="params.safetensors"):
        """Write ``params`` to a safetensors file (whatever its name; the book pickles)."""
        return save_arrays(self.params, file_name, "chainrule.book1.SimpleConvNet")

    def load_params(self, file_name="params.safetensors"):
        """Read a file of ``save_params`` into ``params``, in place; refuses pickles."""
        arrays = load_arrays(file_name)
        if set(arrays) != set(self.params):
            raise InputValueError(f"file_name {file_name!r} holds {sorted(arrays)}, the "
                                  f"network has {sorted(self.params)}")
        for key, value in arrays.items():
            if value.shape != self.params[key].shape:
                raise InputValueError(f"file_name {file_name!r}: {key} has shape "
                                      f"{value.shape}, the network's {self.params[key].shape}")
        for key, value in arrays.items():
            self.params[key][...] = as_array(value, key)
