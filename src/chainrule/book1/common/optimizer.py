"""Book 1's ``common/optimizer.py``: the book's update rules, on dicts, lists or numbers.

``update(params, grads)`` moves every entry of ``params`` (a dict, as in book 1, or a
list, as in book 2) using ``grads`` looked up by the same keys. Arrays are changed in
place; plain Python numbers (``{'x': -7.0, 'y': 2.0}``, as ch. 6's
``optimizer_compare_naive.py`` passes them) are replaced by their new values. State
(velocities, sums of squares, moments) is made per key on first use, so one optimizer
can be shared between two networks as the book's ch. 6 scripts do (entries with the
same key share it, as in the book).

The rules are the book's, in its order of operations, so the book's numbers come out
to the last digit (chainrule's core optimizers follow ``torch.optim`` instead):

    SGD       p <- p - lr g
    Momentum  v <- mu v - lr g;  p <- p + v
    Nesterov  p <- p + mu^2 v - (1 + mu) lr g;  v <- mu v - lr g
    AdaGrad   h <- h + g^2;  p <- p - lr g / (sqrt(h) + 1e-7)
    RMSprop   h <- rho h + (1 - rho) g^2;  p <- p - lr g / (sqrt(h) + 1e-7)
    Adam      m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v);
              p <- p - lr_t m / (sqrt(v) + 1e-7),  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)

``from common.optimizer import *`` also hands a script ``np``, as the book's module does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...validation import InputTypeError, InputValueError, check_number

__all__ = ["np", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]

#: The book's guard added to square roots in AdaGrad, RMSprop and Adam.
EPS = 1e-7


def _positive(value, name):
    return check_number(value, name, low=0, low_open=True)


def _fraction(value, name):
    return check_number(value, name, low=0, high=1, high_open=True)


class _BookOptimizer:
    """Shared by the book's optimizers: keys, checks and state made per key."""

    _state_names = ()

    def __init__(self):
        for name in self._state_names:
            setattr(self, name, None)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if k not in self._state_names and k != "iter" and not k.startswith("_"))
        return f"{type(self).__name__}({args})"

    def _keys(self, params, grads):
        """The keys of ``params`` (positions for a list), checked against ``grads``."""
        if isinstance(params, Mapping):
            if not isinstance(grads, Mapping):
                raise InputTypeError(f"grads must be a dict like params, got "
                                     f"{type(grads).__name__}")
            keys = list(params.keys())
            missing = [k for k in keys if k not in grads]
            if missing:
                raise InputValueError(f"grads must hold a gradient for every key of params; "
                                      f"missing {missing}")
            return keys
        if not isinstance(params, (list, tuple)):
            raise InputTypeError(f"params must be a dict or a list of arrays, got "
                                 f"{type(params).__name__}")
        if isinstance(grads, Mapping) or not hasattr(grads, "__len__"):
            raise InputTypeError(f"grads must be a list like params, got "
                                 f"{type(grads).__name__}")
        if len(grads) != len(params):
            raise InputValueError(f"grads must hold one gradient per parameter: params has "
                                  f"{len(params)}, grads has {len(grads)}")
        return list(range(len(params)))

    def _state(self, name, key, like):
        """The state array ``name`` of parameter ``key``, zeros on first use."""
        table = getattr(self, name)
        if table is None:
            table = {}
            setattr(self, name, table)
        if key not in table:
            table[key] = np.zeros_like(like)
        return table[key]

    def update(self, params, grads):
        """One step of the rule for every parameter (in place for arrays)."""
        for key in self._keys(params, grads):
            self._step(params, grads, key)

    def _step(self, params, grads, key):
        raise NotImplementedError


class SGD(_BookOptimizer):
    """p <- p - lr g."""

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = _positive(lr, "lr")

    def _step(self, params, grads, key):
        params[key] -= self.lr * grads[key]


class Momentum(_BookOptimizer):
    """v <- momentum v - lr g;  p <- p + v (v starts at 0)."""

    _state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr = _positive(lr, "lr")
        self.momentum = _fraction(momentum, "momentum")

    def _step(self, params, grads, key):
        v = self._state("v", key, params[key])
        self.v[key] = v = self.momentum * v - self.lr * grads[key]
        params[key] += v


class Nesterov(Momentum):
    """p <- p + mu^2 v - (1 + mu) lr g with the old v, then v <- mu v - lr g.

    Book 1's order (Bengio et al.'s reformulation; the same path as ``torch.optim``'s
    Nesterov). Book 2's ``Nesterov`` updates v first and uses the new one.
    """

    def _step(self, params, grads, key):
        v = self._state("v", key, params[key])
        mu, g = self.momentum, grads[key]
        params[key] += mu * mu * v
        params[key] -= (1 + mu) * self.lr * g
        v *= mu
        v -= self.lr * g


class AdaGrad(_BookOptimizer):
    """h <- h + g^2;  p <- p - lr g / (sqrt(h) + 1e-7)."""

    _state_names = ("h",)

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = _positive(lr, "lr")

    def _step(self, params, grads, key):
        h, g = self._state("h", key, params[key]), grads[key]
        h += g * g
        params[key] -= self.lr * g / (np.sqrt(h) + EPS)


class RMSprop(_BookOptimizer):
    """h <- decay_rate h + (1 - decay_rate) g^2;  p <- p - lr g / (sqrt(h) + 1e-7)."""

    _state_names = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__()
        self.lr = _positive(lr, "lr")
        self.decay_rate = _fraction(decay_rate, "decay_rate")

    def _step(self, params, grads, key):
        h, g = self._state("h", key, params[key]), grads[key]
        h *= self.decay_rate
        h += (1 - self.decay_rate) * g * g
        params[key] -= self.lr * g / (np.sqrt(h) + EPS)


class Adam(_BookOptimizer):
    """The book's Adam: bias corrections folded into lr_t, eps 1e-7 on the raw sqrt(v).

    m <- m + (1 - beta1)(g - m);  v <- v + (1 - beta2)(g^2 - v);
    p <- p - lr_t m / (sqrt(v) + 1e-7),  lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t),
    where t (``iter``) counts the calls of ``update``.
    """

    _state_names = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__()
        self.lr = _positive(lr, "lr")
        self.beta1 = _fraction(beta1, "beta1")
        self.beta2 = _fraction(beta2, "beta2")
        self.iter = 0

    def update(self, params, grads):
        """One Adam step for every parameter; ``iter`` counts the calls."""
        keys = self._keys(params, grads)
        self.iter += 1
        self._lr_t = (self.lr * np.sqrt(1.0 - self.beta2**self.iter)
                      / (1.0 - self.beta1**self.iter))
        for key in keys:
            self._step(params, grads, key)

    def _step(self, params, grads, key):
        m = self._state("m", key, params[key])
        v = self._state("v", key, params[key])
        g = grads[key]
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g**2 - v)
        params[key] -= self._lr_t * m / (np.sqrt(v) + EPS)
