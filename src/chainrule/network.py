"""``Sequential``: any stack of layers with a loss layer, on the model protocol.

Model protocol (book 1 and book 2 code both run against it): ``params`` and ``grads``
map names (``W1``, ``b1``, ``gamma1``, ...) to the very arrays the layers hold;
``predict(x)`` gives class probabilities, ``scores(x)`` the raw outputs, ``loss(x, t)``,
``accuracy(x, t)``, ``gradient(x, t)`` (backprop, a dict) and ``numerical_gradient(x, t)``
(central differences, a dict); ``forward(x, t)`` returns the loss and ``backward()``
fills ``grads`` for ``optimizer.update(model.params, model.grads)``.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import numerical
from .layers import BatchNormalization, Dropout, SoftmaxWithLoss
from .validation import check_finite, check_finite_fast, check_inputs, check_targets

__all__ = ["ParamDict", "Sequential"]


class ParamDict(dict):
    """An ordered name -> array mapping that also answers to positions.

    ``params['W1']`` is book 1's way and ``params[0]`` book 2's (its optimizers loop
    ``for i in range(len(params))``), so both books' optimizers update the same arrays.
    Assigning to an existing name copies into the array in place, so the layers keep
    seeing it; a different shape is refused.
    """

    def _key(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            keys = list(self.keys())
            if not -len(keys) <= key < len(keys):
                raise IndexError(f"parameter index {key} out of range for {len(keys)} arrays")
            return keys[key]
        return key

    def __getitem__(self, key):
        return super().__getitem__(self._key(key))

    def __setitem__(self, key, value):
        key = self._key(key)
        if key in self:
            current = super().__getitem__(key)
            if value is not current:
                value = np.asarray(value)
                if value.shape != current.shape:
                    raise ValueError(
                        f"parameter {key!r} must keep shape {current.shape}, got {value.shape}"
                    )
                current[...] = value
            return
        super().__setitem__(key, value)


def _layer_params(layers):
    """Name every parameter: W/b numbered by weight layer, gamma/beta by the one before."""
    names, index = [], 0
    for layer in layers:
        if not layer.params:
            continue
        kinds = getattr(layer, "param_names", ()) or ()
        if kinds[:1] == ("W",):
            index += 1
        for j, array in enumerate(layer.params):
            if j < len(kinds):
                name = f"{kinds[j]}{max(index, 1)}"
            else:
                name = f"{type(layer).__name__.lower()}{max(index, 1)}_{j}"
            names.append((name, array, layer.grads[j]))
    return names


class Sequential:
    """y = loss_layer(layer_n(... layer_1(x)), t): a stack of layers and a loss.

    ``layers`` follow the layer protocol; ``loss_layer`` defaults to ``SoftmaxWithLoss``.
    With ``weight_decay_lambda`` = lambda > 0 the loss gains 0.5 lambda sum ||W||^2 and
    every weight gradient lambda W (biases and batch-norm parameters are not decayed).
    The first ``Affine`` skips its input gradient, which training never uses; set
    ``input_grad = True`` to get dL/dx back from ``backward``.
    """

    def __init__(self, layers, loss_layer=None, *, weight_decay_lambda=0.0):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("layers must hold at least one layer, got an empty list")
        self.last_layer = SoftmaxWithLoss() if loss_layer is None else loss_layer
        if isinstance(weight_decay_lambda, bool) or not weight_decay_lambda >= 0:
            raise ValueError(
                f"weight_decay_lambda must be a non-negative number, got {weight_decay_lambda!r}"
            )
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.collect_params()
        self.input_grad = False

    def collect_params(self):
        """(Re)build ``params`` and ``grads`` from the arrays the layers hold now."""
        # which layers take train_flg, resolved once rather than at every forward
        self._calls = [(layer, isinstance(layer, (Dropout, BatchNormalization)))
                       for layer in self.layers]
        self.params, self.grads = ParamDict(), ParamDict()
        for name, array, grad in _layer_params(self.layers):
            if name in self.params:
                raise ValueError(f"two parameters would both be named {name!r}")
            self.params[name], self.grads[name] = array, grad
        weights = [p for p in self.params.values() if p.ndim == 2]
        if not weights:
            raise ValueError("layers must include a weight layer (Affine or MatMul)")
        self.input_size, self.output_size = weights[0].shape[0], weights[-1].shape[1]
        self.dtype = weights[0].dtype

    @property
    def input_grad(self):
        """Whether ``backward`` returns dL/dx (off by default: it costs one matrix product)."""
        return self._input_grad

    @input_grad.setter
    def input_grad(self, value):
        self._input_grad = bool(value)
        if hasattr(self.layers[0], "input_grad"):
            self.layers[0].input_grad = self._input_grad

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}([{inner}], {type(self.last_layer).__name__}())"

    # ---- forward -------------------------------------------------------------------

    def _x(self, x, name="x"):
        return check_inputs(x, self.input_size, self.dtype, name)

    def _t(self, t, n, name="t", x_name="x"):
        return check_targets(t, n, self.output_size, self.dtype, name, x_name)

    def _run(self, x, train_flg):
        for layer, takes_flag in self._calls:
            x = layer.forward(x, train_flg) if takes_flag else layer.forward(x)
        return x

    def scores(self, x, train_flg=False):
        """Raw outputs (logits) of the last layer: (N, input_size) -> (N, output_size)."""
        return self._run(self._x(x), train_flg)

    def predict(self, x, train_flg=False):
        """Class probabilities: the loss layer's link (softmax) applied to ``scores``."""
        return self.last_layer.predict(self.scores(x, train_flg))

    def _decay(self):
        if not self.weight_decay_lambda:
            return 0.0
        total = sum(np.sum(W * W) for name, W in self.params.items() if name.startswith("W"))
        return 0.5 * self.weight_decay_lambda * float(total)

    def forward(self, x, t, train_flg=True):
        """L = loss_layer(scores(x), t) + 0.5 lambda sum ||W||^2; keeps what backward needs.

        Checks x and t (shapes, label range, NaN/inf) on every call; the Trainer, which
        checked its whole data set once, calls ``forward_checked`` instead.
        """
        x = check_finite_fast(self._x(x))
        t = self._t(t, x.shape[0])
        return self.forward_checked(x, t, train_flg)

    def forward_checked(self, x, t, train_flg=True):
        """``forward`` for x and t already checked and converted (the training hot path)."""
        return self.last_layer.forward(self._run(x, train_flg), t) + self._decay()

    def loss(self, x, t, train_flg=False):
        """The loss in inference mode (dropout off, batch norm on running statistics)."""
        return self.forward(x, t, train_flg)

    def accuracy(self, x, t):
        """Fraction of samples whose highest score is the label (argmax of rows for t)."""
        x = check_finite(self._x(x))
        t = self._t(t, x.shape[0])
        labels = t if t.ndim == 1 else np.argmax(t, axis=1)
        return float(np.mean(np.argmax(self._run(x, False), axis=1) == labels))

    # ---- backward ------------------------------------------------------------------

    def backward(self, dout=1):
        """Backpropagate from the loss; fills ``grads`` in place. Returns dL/dx or None."""
        dout = self.last_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        if self.weight_decay_lambda:
            for name, W in self.params.items():
                if name.startswith("W"):
                    self.grads[name] += self.weight_decay_lambda * W
        return dout

    def gradient(self, x, t):
        """Backprop gradients of the training-mode loss: a dict name -> array (copies)."""
        self.forward(x, t, train_flg=True)
        self.backward()
        return {name: grad.copy() for name, grad in self.grads.items()}

    @contextlib.contextmanager
    def held_state(self):
        """Freeze dropout masks and keep batch-norm running statistics while inside.

        Repeated training-mode evaluations (central differences) then see one fixed
        function, and the running statistics are the same afterwards.
        """
        dropouts = [layer for layer in self.layers if isinstance(layer, Dropout)]
        norms = [layer for layer in self.layers if isinstance(layer, BatchNormalization)]
        saved = [(n.running_mean.copy(), n.running_var.copy()) for n in norms]
        for d in dropouts:
            d.frozen = True
        try:
            yield self
        finally:
            for d in dropouts:
                d.frozen = False
            for n, (mean, var) in zip(norms, saved, strict=True):
                n.running_mean[...], n.running_var[...] = mean, var

    def numerical_gradient(self, x, t):
        """Central-difference gradients (h = 1e-4) of the training-mode loss, as a dict.

        Slow (two forward passes per parameter element) and meant for checking
        ``gradient``; dropout masks are held fixed and batch-norm running statistics
        are restored, so the model is unchanged afterwards.
        """
        x = self._x(x)
        t = self._t(t, x.shape[0])
        with self.held_state():
            self.forward(x, t, train_flg=True)  # draws the dropout masks once
            f = lambda _: self.forward_checked(x, t)  # noqa: E731
            return {name: numerical.numerical_gradient(f, p) for name, p in self.params.items()}

    @property
    def buffers(self):
        """Non-trained state by name: batch-norm running statistics (``running_mean1``, ...).

        Numbered like the ``gamma``/``beta`` of the same layer; saved with the weights.
        """
        out, index = {}, 0
        for layer in self.layers:
            if getattr(layer, "param_names", ())[:1] == ("W",):
                index += 1
            if isinstance(layer, BatchNormalization):
                out[f"running_mean{max(index, 1)}"] = layer.running_mean
                out[f"running_var{max(index, 1)}"] = layer.running_var
        return out

    # ---- description ---------------------------------------------------------------

    def summary(self):
        """A table of the layers, their output shapes and parameter counts (a string)."""
        rows, x = [], np.zeros((1, self.input_size), dtype=self.dtype)
        for layer in self.layers:
            x = self._run_one(layer, x)
            count = sum(p.size for p in layer.params)
            rows.append((repr(layer), "(N, " + ", ".join(map(str, x.shape[1:])) + ")", count))
        rows.append((type(self.last_layer).__name__, "loss", 0))
        width = max(len(r[0]) for r in rows) + 2
        lines = [f"{type(self).__name__} ({np.dtype(self.dtype).name})",
                 f"{'layer':<{width}}{'output shape':<16}{'params':>10}"]
        lines += [f"{name:<{width}}{shape:<16}{count:>10,}" for name, shape, count in rows]
        lines.append(f"total parameters: {self.num_params:,}")
        return "\n".join(lines)

    @staticmethod
    def _run_one(layer, x):
        if isinstance(layer, (Dropout, BatchNormalization)):
            return layer.forward(x, False)
        return layer.forward(x)

    @property
    def num_params(self):
        """Number of trainable numbers in all parameter arrays."""
        return int(sum(p.size for p in self.params.values()))
