"""``Sequential``: any stack of layers with a loss layer, on the model protocol.

Model protocol (book 1 and book 2 code both run against it; ``chainrule.protocol``):
``params`` and ``grads`` map names (``W1``, ``b1``, ``gamma1``, ...) to the very arrays
the layers hold; ``predict(x)`` gives class probabilities, ``scores(x)`` the raw
outputs, ``loss(x, t)``, ``accuracy(x, t)``, ``gradient(x, t)`` (backprop, a dict) and
``numerical_gradient(x, t)`` (central differences, a dict); ``forward(x, t)`` returns
the loss and ``backward()`` fills ``grads`` for ``optimizer.update(model.params,
model.grads)``. Everything ``Sequential`` knows about its layers comes from what they
declare (``chainrule.protocol``): no layer class is special.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import protocol
from .layers import SoftmaxWithLoss
from .protocol import Model
from .validation import InputValueError, check_number

__all__ = ["ParamDict", "Sequential"]


class ParamDict(dict):
    """An ordered name -> array mapping that also answers to positions.

    ``params['W1']`` is book 1's way and ``params[0]`` book 2's (its optimizers loop
    ``for i in range(len(params))``), so both books' optimizers update the same arrays.
    Assigning to an existing name copies into the array in place, so the layers keep
    seeing it; a different shape is refused. ``no_decay`` holds the names that weight
    decay leaves alone (biases, normalisation parameters), which optimizers honour.
    """

    no_decay = frozenset()

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
                    raise InputValueError(
                        f"parameter {key!r} must keep shape {current.shape}, got {value.shape}"
                    )
                current[...] = value
            return
        super().__setitem__(key, value)


def _collect(layers):
    """Name every parameter and buffer; find arrays shared by several layers.

    W/b (and any layer whose first parameter is ``W``) start a new number; gamma/beta
    and buffers take the number of the weight layer before them, as in book 1.
    Returns (params, layer grads by name (one list per parameter), decayed names,
    buffers).
    """
    params, grads, decay, bufs, seen, index = {}, {}, set(), {}, {}, 0
    for layer in layers:
        names = protocol.param_names(layer, default="")  # "" where the layer names none
        if names[:1] == ["W"]:
            index += 1
        number = max(index, 1)
        kind = type(layer).__name__.lower()
        for j, (name, array, grad, decays) in enumerate(zip(
                names, layer.params, layer.grads, protocol.decayed(layer), strict=True)):
            if id(array) in seen:  # the same array in another layer: one parameter
                grads[seen[id(array)]].append(grad)
                continue
            full = f"{name}{number}" if name else f"{kind}{number}_{j}"
            if full in params:
                raise InputValueError(f"two parameters would both be named {full!r}")
            params[full], grads[full], seen[id(array)] = array, [grad], full
            if decays:
                decay.add(full)
        for name, array in protocol.buffers(layer).items():
            bufs[f"{name}{number}"] = array
    return params, grads, decay, bufs


class Sequential(Model):
    """y = loss_layer(layer_n(... layer_1(x)), t): a stack of layers and a loss.

    ``layers`` follow the layer protocol; ``loss_layer`` defaults to ``SoftmaxWithLoss``.
    ``input_shape`` is the shape of one sample ((D,), (C, H, W), ...); by default the
    first layer's declared ``input_shape`` (``Affine(W, b)`` declares (W.shape[0],)).
    With ``weight_decay_lambda`` = lambda > 0 (book 1's penalty) the loss gains
    0.5 lambda sum ||W||^2 and every decayed weight's gradient lambda W — decayed as
    the layers declare (biases and batch-norm parameters are not). Two layers that hold
    the same array share one parameter, updated once with the sum of their gradients;
    the same layer object twice is refused (its forward cache would be overwritten).
    The first layer skips its input gradient where it can; set ``input_grad = True`` to
    get dL/dx back from ``backward``.
    """

    def __init__(self, layers, loss_layer=None, *, input_shape=None, weight_decay_lambda=0.0):
        self.layers = list(layers)
        if not self.layers:
            raise InputValueError("layers must hold at least one layer, got an empty list")
        ids = [id(layer) for layer in self.layers]
        if len(set(ids)) != len(ids):
            twice = next(layer for layer in self.layers if ids.count(id(layer)) > 1)
            raise InputValueError(
                f"layers must not hold the same layer object twice, got {twice!r} twice; "
                "to share weights, make a second layer on the same arrays"
            )
        self.last_layer = SoftmaxWithLoss() if loss_layer is None else loss_layer
        self.weight_decay_lambda = check_number(weight_decay_lambda, "weight_decay_lambda",
                                                low=0)
        if input_shape is None:
            input_shape = getattr(self.layers[0], "input_shape", None)
            if input_shape is None:
                raise InputValueError(
                    f"input_shape is needed: the first layer {self.layers[0]!r} does not "
                    "declare the shape of one sample; pass e.g. input_shape=(1, 28, 28)"
                )
        self.input_shape = tuple(int(d) for d in input_shape)
        self.collect_params()
        self.input_grad = False

    def collect_params(self):
        """(Re)build ``params``, ``grads`` and ``buffers`` from the layers' arrays now."""
        self._calls = [(layer, protocol.takes_train_flag(layer)) for layer in self.layers]
        params, layer_grads, decay, self._buffers = _collect(self.layers)
        self.params, self.grads = ParamDict(), ParamDict()
        self._shared = []
        for name, array in params.items():
            self.params[name] = array
            contributors = layer_grads[name]
            if len(contributors) == 1:
                self.grads[name] = contributors[0]
            else:  # summed after every backward
                self.grads[name] = np.zeros_like(array)
                self._shared.append((self.grads[name], contributors))
        self.params.no_decay = self.grads.no_decay = frozenset(set(params) - decay)
        self._decayed = [(self.params[n], self.grads[n]) for n in params if n in decay]
        first = next(iter(self.params.values()), None)
        self._dtype = np.dtype(np.float64 if first is None else first.dtype)
        probe = np.zeros((1, *self.input_shape), dtype=self._dtype)
        self.output_size = int(np.prod(self._run(probe, False).shape[1:]))

    @property
    def dtype(self):
        return self._dtype

    @property
    def input_size(self):
        """Number of values in one sample: the product of ``input_shape``."""
        return int(np.prod(self.input_shape))

    @property
    def buffers(self):
        """Non-trained state by name: batch-norm ``running_mean1``, ``running_var1``, ...

        Numbered like the parameters of the same block; saved with the weights.
        """
        return dict(self._buffers)

    @property
    def input_grad(self):
        """Whether ``backward`` returns dL/dx (off by default: it costs one matrix product)."""
        return self._input_grad

    @input_grad.setter
    def input_grad(self, value):
        self._input_grad = bool(value)
        protocol.set_input_grad(self.layers[0], self._input_grad)

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}([{inner}], {type(self.last_layer).__name__}())"

    # ---- forward -------------------------------------------------------------------

    def _run(self, x, train_flg):
        for layer, takes_flag in self._calls:
            x = layer.forward(x, train_flg) if takes_flag else layer.forward(x)
        return x

    def scores(self, x, train_flg=False):
        """Raw outputs (logits) of the last layer: (N, *input_shape) -> (N, output_size)."""
        return self._run(self.validate(x), train_flg)

    def link(self, scores):
        """Probabilities from scores: the loss layer's ``predict`` (softmax, sigmoid)."""
        return self.last_layer.predict(scores)

    def penalty(self):
        """Book 1's weight-decay term 0.5 lambda sum ||W||^2 over the decayed weights."""
        if not self.weight_decay_lambda:
            return 0.0
        total = sum(float(np.vdot(W, W)) for W, _ in self._decayed)
        return 0.5 * self.weight_decay_lambda * total

    def forward(self, x, t, train_flg=True):
        """L = loss_layer(scores(x), t) + 0.5 lambda sum ||W||^2; keeps what backward needs.

        Checks x and t (shapes, label range, NaN/inf) on every call; the Trainer, which
        checked its whole data set once, calls ``forward_checked`` instead.
        """
        x, t = self.validate(x, t)
        return self.forward_checked(x, t, train_flg)

    def forward_checked(self, x, t, train_flg=True):
        """``forward`` for x and t already checked and converted (the training hot path)."""
        self.last_output = scores = self._run(x, train_flg)
        return self.last_layer.forward(scores, t) + self.penalty()

    # ---- backward ------------------------------------------------------------------

    def backward(self, dout=1):
        """Backpropagate from the loss; fills ``grads`` in place. Returns dL/dx or None."""
        dout = self.last_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        for total, contributors in self._shared:
            np.copyto(total, contributors[0])
            for grad in contributors[1:]:
                total += grad
        if self.weight_decay_lambda:
            for W, dW in self._decayed:
                dW += self.weight_decay_lambda * W
        return dout

    @contextlib.contextmanager
    def held(self):
        """Dropout masks fixed and batch-norm running statistics kept while inside.

        Repeated training-mode evaluations (central differences) then see one fixed
        function, and the running statistics are the same afterwards.
        """
        with contextlib.ExitStack() as stack:
            for layer in self.layers:
                stack.enter_context(protocol.held(layer))
            yield self

    held_state = held  # the earlier name

    def numerical_gradient(self, x, t, method="fast", *, h=1e-4, with_input=False):
        """(L(θ + h e_i) - L(θ - h e_i)) / 2h for every parameter element, as a dict.

        L is the training-mode loss, evaluated in full at both points. ``method='fast'``
        (the default) computes the same central differences from what each one-element
        perturbation changes (``chainrule.fastgrad``): equal to the plain loop's up to
        that loop's own rounding, about 1e-8 of each array's largest gradient in float64
        (not bit for bit: the order of the floating-point operations differs), in under
        a second instead of minutes for TwoLayerNet(784, 100, 10) on 100 images. A model
        with a layer that does not declare what the fast path needs (docs/protocol.md)
        runs the plain loop of ``Model.numerical_gradient``; ``method='plain'`` forces it.
        ``with_input=True`` returns (that dict, the central differences for ``x``).
        """
        from . import fastgrad

        if method not in ("fast", "plain"):
            raise InputValueError(f"method must be 'fast' or 'plain', got {method!r}")
        h = check_number(h, "h", low=0, low_open=True)
        if method == "plain" or not fastgrad.supports(self):
            return super().numerical_gradient(x, t, h=h, with_input=with_input)
        x, t = self.validate(x, t)
        with self.held():
            return fastgrad.numerical_gradient(self, x, t, h, with_input=with_input)

    def astype(self, dtype):
        """A deep copy with parameters, gradients and buffers in ``dtype``."""
        import copy

        clone = copy.deepcopy(self)
        for layer in [*clone.layers, clone.last_layer]:
            protocol.layer_astype(layer, np.dtype(dtype))
        clone.collect_params()
        clone.input_grad = self.input_grad
        return clone

    # ---- description ---------------------------------------------------------------

    def summary(self):
        """A table of the layers, their output shapes and parameter counts (a string)."""
        rows, x = [], np.zeros((1, *self.input_shape), dtype=self.dtype)
        for layer, takes_flag in self._calls:
            x = layer.forward(x, False) if takes_flag else layer.forward(x)
            count = sum(p.size for p in layer.params)
            rows.append((repr(layer), "(N, " + ", ".join(map(str, x.shape[1:])) + ")", count))
        rows.append((type(self.last_layer).__name__, "loss", 0))
        width = max(len(r[0]) for r in rows) + 2
        lines = [f"{type(self).__name__} ({np.dtype(self.dtype).name})",
                 f"{'layer':<{width}}{'output shape':<16}{'params':>10}"]
        lines += [f"{name:<{width}}{shape:<16}{count:>10,}" for name, shape, count in rows]
        lines.append(f"total parameters: {self.num_params:,}")
        return "\n".join(lines)
