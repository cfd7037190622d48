"""What book 1's layered networks share: predict, loss, accuracy and both gradients.

A network keeps the book's ``params`` (a dict of the arrays its layers hold), ``layers``
(an ``OrderedDict`` named as in the book) and ``last_layer``; ``_owners`` says which
layer attribute holds each parameter's gradient, in the book's order of ``grads``.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict

import numpy as np

from ...models import init_scale
from ...protocol import takes_train_flag
from ...validation import InputTypeError, InputValueError, check_number
from ...validation import as_number_array as as_array
from .gradient import numerical_gradient


def size(value, name):
    """A positive integer size, else an input error naming ``name``."""
    return check_number(value, name, integer=True, low=1)


def size_list(values, name):
    """A list of positive integer sizes (book 1's ``hidden_size_list``)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputTypeError(f"{name} must be a list of positive integers, got {values!r}")
    return [size(v, f"{name} entries") for v in values]


def weight_scale(weight_init_std, n_in):
    """The book's scale: the number itself, or sqrt(2/n) for 'relu'/'he', sqrt(1/n) for
    'sigmoid'/'xavier' (chainrule's ``init_scale``)."""
    if isinstance(weight_init_std, numbers.Number) and not isinstance(weight_init_std, bool):
        init_scale(weight_init_std, n_in)  # validates
        return weight_init_std
    return init_scale(weight_init_std, n_in)


def randn_weights(scale, n_in, n_out):
    """scale * np.random.randn(n_in, n_out): from NumPy's global generator, as the book."""
    return scale * np.random.randn(n_in, n_out)  # noqa: NPY002 - the book's generator


def check_batch(x, t):
    """(x, t) as arrays with the same number of samples (N >= 1)."""
    x, t = as_array(x, "x"), as_array(t, "t")
    if x.ndim < 2:
        raise InputValueError(f"x must be a batch (N, ...), got shape {x.shape}; "
                              "for one sample use x[None]")
    if t.ndim == 0 or t.shape[0] != x.shape[0]:
        raise InputValueError(f"inconsistent numbers of samples: x has {x.shape[0]}, t has "
                              f"{t.shape[0] if t.ndim else 'a scalar'}")
    return x, t


class LayeredNet:
    """A stack of the book's layers with the book's methods (see the module docstring).

    Subclasses fill ``params``, ``layers``, ``last_layer`` and ``_owners`` (name ->
    (layer, gradient attribute)), and set ``weight_decay_lambda`` (0 for none).
    """

    weight_decay_lambda = 0

    def __init__(self):
        self.params = {}
        self.layers = OrderedDict()
        self.last_layer = None
        self._owners = {}

    def predict(self, x, train_flg=False):
        """The scores of the last affine layer (no softmax), as in the book."""
        x = as_array(x, "x")
        for layer in self.layers.values():
            x = layer.forward(x, train_flg) if takes_train_flag(layer) else layer.forward(x)
        return x

    def _weight_decay(self):
        """0.5 lambda sum_l ||W_l||^2, summed layer by layer as the book does."""
        total = 0
        if self.weight_decay_lambda:
            for name in self._owners:
                if name.startswith("W"):
                    W = self.params[name]
                    total += 0.5 * self.weight_decay_lambda * np.sum(W**2)
        return total

    def loss(self, x, t, train_flg=False):
        """The loss layer's value on the scores, plus book 1's weight-decay term."""
        x, t = check_batch(x, t)
        y = self.predict(x, train_flg)
        loss = self.last_layer.forward(y, t)
        return loss + self._weight_decay() if self.weight_decay_lambda else loss

    def accuracy(self, x, t):
        """Fraction of samples whose highest score is the label (argmax of one-hot rows)."""
        x, t = check_batch(x, t)
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        """Central differences of ``loss(x, t, train_flg=True)`` for every parameter: a dict
        in the book's order (W1, b1, [gamma1, beta1,] W2, ...). Slow: two losses per number.

        As in the book, each loss is a fresh training-mode pass (dropout draws new masks
        from the global generator, batch normalisation updates its running statistics).
        """
        x, t = check_batch(x, t)

        def loss_w(_):
            return self.loss(x, t, train_flg=True)

        return {name: numerical_gradient(loss_w, self.params[name]) for name in self._owners}

    def gradient(self, x, t):
        """Backpropagation: a dict name -> gradient (new arrays), in the book's order.

        One training-mode forward and backward; weights also get lambda * W (book 1's
        weight decay).
        """
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        grads = {}
        for name, (layer, attribute) in self._owners.items():
            grad = getattr(layer, attribute)
            if name.startswith("W"):
                grads[name] = grad + self.weight_decay_lambda * self.params[name]
            else:
                grads[name] = grad.copy()
        return grads
