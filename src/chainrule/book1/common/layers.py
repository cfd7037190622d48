"""Book 1's ``common/layers.py``: chainrule's layers under the book's names and rules.

Each class is chainrule's core layer (so it keeps the layer protocol: ``params`` and
``grads`` lists, written in place), with the book's attributes added and, where the book
computes differently, the book's rule:

* ``Affine``, ``Convolution``: ``W``, ``b``, ``dW``, ``db`` (the gradients are the
  arrays in ``grads``, overwritten by every ``backward``);
* ``Relu``: ``mask`` (True where x <= 0), the core's arithmetic;
* ``SoftmaxWithLoss``: the book's loss, ``cross_entropy_error(softmax(x), t)`` with
  ``+1e-7`` inside the log and one-hot targets turned into labels, and its backward
  (y - t) / N; keeps ``loss``, ``y`` and ``t``;
* ``Dropout``: no scaling while training, ``x * (1 - dropout_ratio)`` at inference, the
  mask drawn from NumPy's global generator (``np.random.rand``), as the book does;
* ``BatchNormalization``: eps 1e-6 (the book's ``10e-7``), running mean and variance
  starting at 0, ``dgamma``/``dbeta``, the book's order of operations;
* ``Pooling``: stride 2 by default and zero padding, as the book's.

``from common.layers import *`` hands a script every name of ``common.functions`` and
``im2col``/``col2im`` too, as the book's module does.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ... import layers as _core
from ...validation import InputValueError, check_number
from .functions import *  # noqa: F403 - the book's module re-exports them
from .functions import __all__ as _function_names
from .functions import cross_entropy_error, softmax
from .util import col2im, im2col

__all__ = [
    *_function_names,
    "im2col",
    "col2im",
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "Dropout",
    "BatchNormalization",
    "Convolution",
    "Pooling",
]

#: The book's eps inside the square root of batch normalisation (written ``10e-7``).
BN_EPS = 1e-6


class _Weights:
    """``W``, ``b`` (settable, as the book's plain attributes) and ``dW``, ``db``."""

    @property
    def W(self):
        """The weights: ``params[0]``. Assigning replaces the array the layer uses."""
        return self.params[0]

    @W.setter
    def W(self, value):
        self._replace(0, value, "W")

    @property
    def b(self):
        """The biases: ``params[1]``. Assigning replaces the array the layer uses."""
        return self.params[1]

    @b.setter
    def b(self, value):
        self._replace(1, value, "b")

    @property
    def dW(self):
        """dL/dW of the last ``backward`` (``grads[0]``, overwritten by the next one)."""
        return self.grads[0]

    @property
    def db(self):
        """dL/db of the last ``backward`` (``grads[1]``, overwritten by the next one)."""
        return self.grads[1]

    def _replace(self, i, value, name):
        value = np.asarray(value)
        if value.shape != self.params[i].shape:
            raise InputValueError(f"{name} must keep shape {self.params[i].shape}, got "
                                  f"{value.shape}")
        self.params[i] = value
        self.grads[i] = np.zeros_like(value)


class Relu(_core.Relu):
    """y = max(0, x).   Backward: dx = dy where x > 0, else 0 (book 1 and the core agree)."""

    @property
    def mask(self):
        """True where the last input was <= 0 (the positions that pass no gradient)."""
        positive = getattr(self, "positive", None)
        return None if positive is None else ~positive


class Sigmoid(_core.Sigmoid):
    """y = 1 / (1 + exp(-x)).   Backward: dx = dy * (1 - y) * y; keeps ``out``."""


class Affine(_Weights, _core.Affine):
    """y = x @ W + b, inputs of any shape flattened to (N, D); the book's ``W``, ``b``,
    ``dW``, ``db``.   Backward: dx = dy @ W.T, dW = x.T @ dy, db = sum_n dy_n."""


class SoftmaxWithLoss(_core.SoftmaxWithLoss):
    """L = cross_entropy_error(softmax(x), t): book 1's loss layer.

    ``t`` is labels (N,) or one-hot rows (N, C) (rows are turned into labels by argmax
    inside the loss); the ``+1e-7`` inside the log is the book's. Backward:
    dx = (y - t) / N for rows, (y - onehot(t)) / N for labels, times ``dout`` (the book
    ignores ``dout``; it is always 1 in the book's code). Keeps ``loss``, ``y``, ``t``.
    """

    def __init__(self):
        super().__init__()
        self.loss = self.y = self.t = None

    def forward(self, x, t):
        """The loss of scores ``x`` against ``t``; keeps ``y``, ``t`` and ``loss``."""
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        """dL/dx = (y - t) / N (labels as one-hot rows), times ``dout``."""
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx if dout == 1 else dx * dout


class Dropout(_core.Dropout):
    """Book 1's dropout: y = x * m in training, y = x * (1 - ratio) at inference.

    ``m`` is ``np.random.rand(*x.shape) > dropout_ratio``, drawn from NumPy's *global*
    generator at every training forward, so ``np.random.seed`` reproduces a run, as in
    the book. Backward: dx = dy * m. (chainrule's core ``Dropout`` scales by
    1 / (1 - ratio) in training instead and is the identity at inference: the same
    expected activations, but the gradients through it are 1 / (1 - ratio) larger, so
    training takes other steps.) Inside ``held()`` the last mask is reused.
    """

    def __init__(self, dropout_ratio=0.5):
        self.params, self.grads = [], []
        self.dropout_ratio = check_number(dropout_ratio, "dropout_ratio", low=0, high=1,
                                          high_open=True)
        self.mask = None
        self.frozen = False

    def forward(self, x, train_flg=True):
        """x * mask in training (a new mask each call), x * (1 - ratio) at inference."""
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        if not (self.frozen and self.mask is not None and self.mask.shape == x.shape):
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio  # noqa: NPY002 - the book's
        return x * self.mask

    def backward(self, dout):
        """dL/dx = dout * mask."""
        return dout * self.mask

    @contextlib.contextmanager
    def held(self):
        """While inside, every training forward reuses the last mask."""
        self.frozen = True
        try:
            yield self
        finally:
            self.frozen = False


class BatchNormalization(_core.BatchNormalization):
    """Book 1's batch normalisation: y = gamma * (x - mu) / sqrt(var + 1e-6) + beta.

    ``running_mean`` and ``running_var`` start at 0 (the core starts the variance at 1)
    and follow running = momentum * running + (1 - momentum) * batch; inference uses
    them. eps is the book's 1e-6 (the core's default is 1e-5). Inputs (N, C, H, W) are
    flattened to (N, C*H*W), as in the book. ``gamma``, ``beta``, ``dgamma``, ``dbeta``,
    ``xc``, ``xn``, ``std`` and ``batch_size`` are the book's names.

    Backward, through the book's graph with xc = x - mu and s = sqrt(var + eps):
    dbeta = sum dy, dgamma = sum dy * xn, dxn = gamma * dy, dxc = dxn / s,
    ds = -sum dxn * xc / s**2, dvar = ds / 2s, dxc += (2 / N) xc dvar,
    dx = dxc - sum(dxc) / N. (After an inference forward, the running statistics are
    constants and dx = dxn / s.)
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        gamma, beta = np.asarray(gamma), np.asarray(beta)
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise InputValueError(f"gamma and beta must be vectors of one shape (D,), got "
                                  f"{gamma.shape} and {beta.shape}")
        zeros = np.zeros(gamma.shape)
        super().__init__(gamma, beta, momentum=momentum, eps=BN_EPS,
                         running_mean=zeros.copy() if running_mean is None else running_mean,
                         running_var=zeros.copy() if running_var is None else running_var)
        self.input_shape = None
        self.batch_size = self.xc = self.xn = self.std = None

    @property
    def gamma(self):
        """The scales: ``params[0]``."""
        return self.params[0]

    @property
    def beta(self):
        """The shifts: ``params[1]``."""
        return self.params[1]

    def forward(self, x, train_flg=True):
        """Normalise with the batch statistics (training) or the running ones."""
        gamma, beta = self.params
        self.input_shape = x.shape
        self.train = train_flg
        x = x.reshape(x.shape[0], -1)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + self.eps)
            self.batch_size, self.xc, self.std = x.shape[0], xc, std
            self.xn = xc / std
            m = self.momentum
            self.running_mean[...] = m * self.running_mean + (1 - m) * mu
            self.running_var[...] = m * self.running_var + (1 - m) * var
        else:
            self.std = np.sqrt(self.running_var + self.eps)
            self.xn = (x - self.running_mean) / self.std
        return (gamma * self.xn + beta).reshape(self.input_shape)

    def backward(self, dout):
        """dL/dx through the book's graph; fills ``dgamma`` and ``dbeta``."""
        gamma = self.params[0]
        dout = dout.reshape(dout.shape[0], -1)
        self.grads[1][...] = dout.sum(axis=0)
        self.grads[0][...] = np.sum(self.xn * dout, axis=0)
        d_xn = gamma * dout
        if not self.train:
            return (d_xn / self.std).reshape(self.input_shape)
        n, xc, std = self.batch_size, self.xc, self.std
        d_xc = d_xn / std
        d_std = -np.sum((d_xn * xc) / (std * std), axis=0)
        d_var = 0.5 * d_std / std
        d_xc += (2.0 / n) * xc * d_var
        d_mu = np.sum(d_xc, axis=0)
        return (d_xc - d_mu / n).reshape(self.input_shape)


class Convolution(_Weights, _core.Convolution):
    """Convolution (cross-correlation) of (N, C, H, W) images with filters W (FN, C, FH, FW).

    chainrule's core layer with the book's ``W``, ``b``, ``dW``, ``db``, ``stride`` and
    ``pad``; output (N, FN, OH, OW) with OH = (H + 2 pad - FH) // stride + 1. The numbers
    equal the book's up to rounding (the core multiplies per image instead of one big
    ``im2col`` matrix).
    """


class Pooling(_core.Pooling):
    """Max pooling over pool_h x pool_w windows, stride 2 by default, as the book's.

    Padding counts as 0, as in the book (the core pads with -inf). Backward: each
    window's gradient goes to the position of its maximum.
    """

    fill = 0.0

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        super().__init__(pool_h, pool_w, stride=stride, pad=pad)
