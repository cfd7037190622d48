"""Convolutional networks with book 1's names: ``SimpleConvNet`` (ch. 7), ``DeepConvNet`` (ch. 8).

Both are ``Sequential`` stacks on the model protocol, so the Trainer, ``gradient_check``,
checkpoints and the command line take them like any other model. Inputs are images
(N, C, H, W); rows of H*W values are reshaped to that by ``validate``. Re-exported by
``chainrule.models``.
"""

from __future__ import annotations

import numpy as np

from .conv_layers import Convolution, Pooling
from .functions import conv_output_size
from .layers import Affine, Dropout, Relu
from .limits import check_parameters
from .network import Sequential
from .rng import as_generator
from .validation import InputTypeError, InputValueError, check_float_dtype, check_number

__all__ = ["SimpleConvNet", "DeepConvNet"]

CONV_KEYS = ("filter_num", "filter_size", "pad", "stride")


def _input_dim(input_dim):
    if isinstance(input_dim, (str, bytes)) or not hasattr(input_dim, "__len__") \
            or len(input_dim) != 3:
        raise InputTypeError(f"input_dim must be (C, H, W), got {input_dim!r}")
    return tuple(check_number(d, "input_dim entries", integer=True, low=1) for d in input_dim)


def _conv_param(param, name):
    """A conv_param dict with book 1's four keys, checked."""
    if not isinstance(param, dict) or set(param) != set(CONV_KEYS):
        raise InputValueError(f"{name} must be a dict with keys {', '.join(CONV_KEYS)}, "
                              f"got {param!r}")
    out = {key: check_number(param[key], f"{name}[{key!r}]", integer=True,
                             low=0 if key == "pad" else 1) for key in CONV_KEYS}
    return out


def _check_deep_size(input_dim, params, hidden_size, output_size, dtype):
    """DeepConvNet's parameters and one sample's largest columns, checked before drawing."""
    (c, h, w), shapes = input_dim, []
    for i, p in enumerate(params):
        fn, fs = p["filter_num"], p["filter_size"]
        h = conv_output_size(h, fs, p["stride"], p["pad"])
        w = conv_output_size(w, fs, p["stride"], p["pad"])
        shapes += [(fn, c, fs, fs), (fn,), (c * fs * fs, h * w)]
        c = fn
        if i % 2 == 1:
            h, w = conv_output_size(h, 2, 2), conv_output_size(w, 2, 2)
    shapes += [(c * h * w, hidden_size), (hidden_size,), (hidden_size, output_size),
               (output_size,)]
    check_parameters("DeepConvNet", shapes, dtype,
                     noun="parameters and numbers of one sample's feature maps")


def _weights(rng, shape, std, fan_in, dtype):
    from .models import init_scale

    return (init_scale(std, fan_in) * rng.standard_normal(shape)).astype(dtype)


class SimpleConvNet(Sequential):
    """conv -> ReLU -> max-pool 2x2 -> Affine -> ReLU -> Affine -> SoftmaxWithLoss (book 1, ch. 7).

    ``W1`` (filter_num, C, fs, fs) and ``b1`` are the convolution's, ``W2``/``b2`` the
    hidden Affine's (filter_num * (OH/2) * (OW/2), hidden_size), ``W3``/``b3`` the
    output's. ``weight_init_std`` is 0.01 as in the book, or ``'he'``/``'relu'``
    (sqrt(2 / fan-in)) or ``'xavier'``/``'sigmoid'``. ``dtype`` and ``random_state`` as
    for the other models.
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param=None, hidden_size=100, output_size=10, weight_init_std=0.01,
                 dtype=np.float64, random_state=None):
        conv_param = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1} \
            if conv_param is None else conv_param
        c, h, w = input_dim = _input_dim(input_dim)
        p = _conv_param(conv_param, "conv_param")
        hidden_size = check_number(hidden_size, "hidden_size", integer=True, low=1)
        output_size = check_number(output_size, "output_size", integer=True, low=1)
        dtype = check_float_dtype(dtype)
        self.rng = as_generator(random_state)
        fn, fs = p["filter_num"], p["filter_size"]
        oh = conv_output_size(h, fs, p["stride"], p["pad"])
        ow = conv_output_size(w, fs, p["stride"], p["pad"])
        pooled = fn * conv_output_size(oh, 2, 2) * conv_output_size(ow, 2, 2)
        check_parameters("SimpleConvNet", [  # and one sample's columns and feature maps
            (fn, c, fs, fs), (fn,), (pooled, hidden_size), (hidden_size,),
            (hidden_size, output_size), (output_size,), (c * fs * fs, oh * ow), (fn, oh, ow)],
            dtype, noun="parameters and numbers of one sample's feature maps")
        rng = self.rng
        layers = [
            Convolution(_weights(rng, (fn, c, fs, fs), weight_init_std, c * fs * fs, dtype),
                        np.zeros(fn, dtype), p["stride"], p["pad"]),
            Relu(), Pooling(2, 2, stride=2),
            Affine(_weights(rng, (pooled, hidden_size), weight_init_std, pooled, dtype),
                   np.zeros(hidden_size, dtype)),
            Relu(),
            Affine(_weights(rng, (hidden_size, output_size), weight_init_std, hidden_size,
                            dtype), np.zeros(output_size, dtype)),
        ]
        super().__init__(layers, input_shape=input_dim)
        self.config = {"input_dim": list(input_dim), "conv_param": p,
                       "hidden_size": hidden_size, "output_size": output_size,
                       "weight_init_std": weight_init_std, "dtype": dtype.name}

    def __repr__(self):
        c = self.config
        return (f"SimpleConvNet(input_dim={tuple(c['input_dim'])}, conv_param={c['conv_param']}, "
                f"hidden_size={c['hidden_size']}, output_size={c['output_size']}, "
                f"dtype={c['dtype']})")


DEEP_CONV_PARAMS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


class DeepConvNet(Sequential):
    """Book 1, ch. 8: [conv-ReLU-conv-ReLU-pool] x 3 -> Affine-ReLU-Dropout -> Affine-Dropout.

    Six 3x3 convolutions with 16, 16, 32, 32, 64, 64 filters (the fourth padded by 2, the
    others by 1; ``conv_param_1``...``conv_param_6`` as in the book), max-pooling 2x2
    after every second, then ``hidden_size`` (50) units and ``output_size`` classes,
    each followed by Dropout(``dropout_ratio`` = 0.5); He initialisation
    (sqrt(2 / fan-in)). Parameters ``W1``...``W8``, ``b1``...``b8``. The flattened size
    after the last pool is computed from ``input_dim`` (the book writes 64*4*4 for 28x28
    images). Dropout masks come from ``random_state``'s stream.
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param_1=None, conv_param_2=None,
                 conv_param_3=None, conv_param_4=None, conv_param_5=None, conv_param_6=None,
                 hidden_size=50, output_size=10, *, dropout_ratio=0.5, dtype=np.float64,
                 random_state=None):
        c, h, w = input_dim = _input_dim(input_dim)
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5,
                 conv_param_6)
        params = [_conv_param(dict(DEEP_CONV_PARAMS[i]) if p is None else p,
                              f"conv_param_{i + 1}") for i, p in enumerate(given)]
        hidden_size = check_number(hidden_size, "hidden_size", integer=True, low=1)
        output_size = check_number(output_size, "output_size", integer=True, low=1)
        dtype = check_float_dtype(dtype)
        _check_deep_size(input_dim, params, hidden_size, output_size, dtype)
        rng = self.rng = as_generator(random_state)
        layers = []
        for i, p in enumerate(params):
            fn, fs = p["filter_num"], p["filter_size"]
            layers += [Convolution(_weights(rng, (fn, c, fs, fs), "he", c * fs * fs, dtype),
                                   np.zeros(fn, dtype), p["stride"], p["pad"]), Relu()]
            h = conv_output_size(h, fs, p["stride"], p["pad"])
            w = conv_output_size(w, fs, p["stride"], p["pad"])
            c = fn
            if i % 2 == 1:
                layers.append(Pooling(2, 2, stride=2))
                h, w = conv_output_size(h, 2, 2), conv_output_size(w, 2, 2)
        flat = c * h * w
        layers += [Affine(_weights(rng, (flat, hidden_size), "he", flat, dtype),
                          np.zeros(hidden_size, dtype)), Relu(),
                   Dropout(dropout_ratio, random_state=rng),
                   Affine(_weights(rng, (hidden_size, output_size), "he", hidden_size, dtype),
                          np.zeros(output_size, dtype)),
                   Dropout(dropout_ratio, random_state=rng)]
        super().__init__(layers, input_shape=input_dim)
        self.config = {"input_dim": list(input_dim),
                       **{f"conv_param_{i + 1}": p for i, p in enumerate(params)},
                       "hidden_size": hidden_size, "output_size": output_size,
                       "dropout_ratio": float(dropout_ratio), "dtype": dtype.name}

    def __repr__(self):
        c = self.config
        return (f"DeepConvNet(input_dim={tuple(c['input_dim'])}, hidden_size="
                f"{c['hidden_size']}, output_size={c['output_size']}, dtype={c['dtype']})")
