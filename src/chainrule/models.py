"""Networks with the books' names: ``SimpleNet``, ``TwoLayerNet``, ``MultiLayerNet``.

``TwoLayerNet`` and ``MultiLayerNet`` are ``Sequential`` stacks (see ``network``) built
from the constructor arguments of the books, so their code runs against them; each
keeps those arguments in ``config``.
"""

from __future__ import annotations

import numpy as np

from .functions import cross_entropy_error, softmax
from .layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, Tanh
from .limits import check_parameters
from .network import ParamDict, Sequential
from .protocol import Model
from .rng import as_generator
from .validation import InputTypeError, InputValueError, check_float_dtype, check_number

__all__ = ["SimpleNet", "TwoLayerNet", "MultiLayerNet", "SimpleConvNet", "DeepConvNet",
           "Sequential", "init_scale"]

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": Relu, "tanh": Tanh}


def _activation(name):
    if name not in ACTIVATIONS:
        raise InputValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def _size(value, name):
    return check_number(value, name, integer=True, low=1)


def init_scale(weight_init_std, n_in):
    """Standard deviation of the initial weights of a layer with ``n_in`` inputs.

    A number is used as is; ``'relu'``/``'he'`` give sqrt(2 / n_in) (He) and
    ``'sigmoid'``/``'xavier'`` give sqrt(1 / n_in) (Xavier, as book 1 writes it).
    """
    if isinstance(weight_init_std, str):
        key = weight_init_std.lower()
        if key in ("relu", "he"):
            return np.sqrt(2.0 / n_in)
        if key in ("sigmoid", "xavier"):
            return np.sqrt(1.0 / n_in)
    elif isinstance(weight_init_std, (int, float, np.number)) and not isinstance(
        weight_init_std, bool
    ) and weight_init_std > 0:
        return float(weight_init_std)
    raise InputValueError(
        "weight_init_std must be a positive number or one of 'relu', 'he', 'sigmoid', "
        f"'xavier', got {weight_init_std!r}"
    )


def _affine_shapes(sizes):
    """The (W, b) shapes of Affine layers joining consecutive ``sizes``."""
    return [shape for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
            for shape in ((n_in, n_out), (n_out,))]


def _affine(rng, n_in, n_out, std, dtype):
    W = (init_scale(std, n_in) * rng.standard_normal((n_in, n_out))).astype(dtype)
    return Affine(W, np.zeros(n_out, dtype=dtype))


class TwoLayerNet(Sequential):
    """Affine -> activation -> Affine -> SoftmaxWithLoss, with book 1's names.

    ``params`` holds ``W1`` (input_size, hidden_size), ``b1``, ``W2`` (hidden_size,
    output_size), ``b2``. ``weight_decay_lambda`` (not in the book's TwoLayerNet) adds
    0.5 lambda sum ||W||^2 to the loss, as in ``MultiLayerNet``. Weights are
    ``weight_init_std`` times standard normals from ``random_state`` (0.01 by default,
    as in the book; ``'he'``/``'xavier'`` also work), biases zero. ``predict`` returns
    class probabilities, ``scores`` the logits.

    The loss is the exact cross entropy from a stable log-softmax (``SoftmaxWithLoss``),
    so ``gradient`` and ``numerical_gradient`` agree to about 1e-9; the book computes
    ``cross_entropy_error(softmax(.))`` with +1e-7 inside the log, which differs from the
    exact value by about 1e-7 / y relative (about 1e-6 on ordinary inputs).
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01,
                 activation="sigmoid", dtype=np.float64, random_state=None, *,
                 weight_decay_lambda=0):
        sizes = [_size(input_size, "input_size"), _size(hidden_size, "hidden_size"),
                 _size(output_size, "output_size")]
        dtype = check_float_dtype(dtype)
        init_scale(weight_init_std, 1)  # validate before drawing anything
        act = _activation(activation)
        check_parameters("TwoLayerNet", _affine_shapes(sizes), dtype)
        self.rng = as_generator(random_state)
        layers = [_affine(self.rng, sizes[0], sizes[1], weight_init_std, dtype), act(),
                  _affine(self.rng, sizes[1], sizes[2], weight_init_std, dtype)]
        super().__init__(layers, weight_decay_lambda=weight_decay_lambda)
        self.config = {"input_size": sizes[0], "hidden_size": sizes[1],
                       "output_size": sizes[2], "weight_init_std": weight_init_std,
                       "activation": activation, "dtype": dtype.name,
                       "weight_decay_lambda": self.weight_decay_lambda}

    def __repr__(self):
        c = self.config
        return (f"TwoLayerNet(input_size={c['input_size']}, hidden_size={c['hidden_size']}, "
                f"output_size={c['output_size']}, activation={c['activation']!r}, "
                f"dtype={c['dtype']})")


class MultiLayerNet(Sequential):
    """[Affine -> (BatchNorm) -> activation -> (Dropout)] x L -> Affine -> SoftmaxWithLoss.

    Book 1's fully connected network (``MultiLayerNetExtend``): one block per entry of
    ``hidden_size_list``. Parameters ``W1..W{L+1}``, ``b1..``, and with
    ``use_batchnorm`` ``gamma1..gammaL``, ``beta1..``. ``weight_init_std`` is a number
    or ``'relu'``/``'he'`` (sqrt(2/n)) or ``'sigmoid'``/``'xavier'`` (sqrt(1/n)).
    ``weight_decay_lambda`` adds 0.5 lambda sum ||W||^2 to the loss and lambda W to
    each weight gradient. Dropout masks come from the same ``random_state`` stream as
    the initial weights.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ratio=0.5, use_batchnorm=False, dtype=np.float64, random_state=None):
        if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
            raise InputTypeError(
                f"hidden_size_list must be a list of positive integers, got {hidden_size_list!r}"
            )
        hidden = [_size(h, "hidden_size_list entries") for h in hidden_size_list]
        sizes = [_size(input_size, "input_size"), *hidden, _size(output_size, "output_size")]
        dtype = check_float_dtype(dtype)
        init_scale(weight_init_std, 1)
        act = _activation(activation)
        check_parameters("MultiLayerNet", _affine_shapes(sizes), dtype)
        self.rng = as_generator(random_state)
        layers = []
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
            layers.append(_affine(self.rng, n_in, n_out, weight_init_std, dtype))
            if use_batchnorm:
                layers.append(BatchNormalization(np.ones(n_out, dtype), np.zeros(n_out, dtype)))
            layers.append(act())
            if use_dropout:
                layers.append(Dropout(dropout_ratio, random_state=self.rng))
        layers.append(_affine(self.rng, sizes[-2], sizes[-1], weight_init_std, dtype))
        super().__init__(layers, weight_decay_lambda=weight_decay_lambda)
        self.config = {"input_size": sizes[0], "hidden_size_list": hidden,
                       "output_size": sizes[-1], "activation": activation,
                       "weight_init_std": weight_init_std,
                       "weight_decay_lambda": float(weight_decay_lambda),
                       "use_dropout": bool(use_dropout), "dropout_ratio": float(dropout_ratio),
                       "use_batchnorm": bool(use_batchnorm), "dtype": dtype.name}

    def __repr__(self):
        c = self.config
        extras = "".join([
            f", weight_decay_lambda={c['weight_decay_lambda']:g}" if c["weight_decay_lambda"]
            else "",
            f", use_dropout=True, dropout_ratio={c['dropout_ratio']:g}" if c["use_dropout"]
            else "",
            ", use_batchnorm=True" if c["use_batchnorm"] else "",
        ])
        return (f"MultiLayerNet(input_size={c['input_size']}, "
                f"hidden_size_list={c['hidden_size_list']}, output_size={c['output_size']}, "
                f"activation={c['activation']!r}{extras}, dtype={c['dtype']})")


class SimpleNet(Model):
    """Book 1's ``simpleNet``: scores = x @ W with W of shape (2, 3), no bias.

    ``loss(x, t) = cross_entropy_error(softmax(x @ W), t)``, with the book's ``+1e-7``
    inside the log, so the book's numbers come out exactly. Shapes: ``x`` is ``(2,)`` or
    ``(N, 2)``; ``t`` a label, labels ``(N,)``, or one-hot / probability rows ``(N, 3)``.

    Unlike the layered models, ``predict`` returns the raw scores ``x @ W``, because the
    book prints it that way (book 1, ch. 4, ``gradient_simplenet.py``:
    ``[-0.96961358 1.42048015 -0.01826406]``);
    ``scores`` is the same thing under the name the other models use, and
    ``predict_proba`` gives the class probabilities.

    It follows the model protocol (``params``/``grads`` hold ``W``; ``forward`` and
    ``backward``), so the Trainer, ``gradient_check`` and ``save_model`` take it too.
    Backward of the +1e-7 loss, with y = softmax(s) and N rows:
    dL/dy = -t / (y + 1e-7) / N, ds = y * (dL/dy - sum_k dL/dy_k y_k), dW = x.T @ ds.

    ``W`` is drawn from the standard normal with ``random_state`` (the book calls
    ``np.random.randn(2, 3)``, which uses NumPy's global generator and so cannot be
    reproduced); pass ``W=`` to start from a known matrix.
    """

    input_shape = (2,)
    output_size = 3

    def __init__(self, W=None, *, random_state=None, dtype=np.float64):
        dtype = check_float_dtype(dtype)
        if W is None:
            W = as_generator(random_state).standard_normal((2, 3))
        W = np.array(W, dtype=dtype)  # a copy: the caller's matrix is never changed
        if W.shape != (2, 3):
            raise InputValueError(f"W must have shape (2, 3), got {W.shape}")
        self.W = W
        self.params = ParamDict(W=self.W)
        self.grads = ParamDict(W=np.zeros_like(self.W))
        self.config = {"dtype": dtype.name}

    def __repr__(self):
        return f"SimpleNet(W.shape={self.W.shape}, dtype={self.W.dtype})"

    def _check_x(self, x):
        x = np.asarray(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.W.shape[0]:
            raise InputValueError(
                f"x must have shape ({self.W.shape[0]},) or (N, {self.W.shape[0]}), "
                f"got {x.shape}"
            )
        return x

    def scores(self, x, train_flg=False):
        """s = x @ W: ``(2,)`` -> ``(3,)`` or ``(N, 2)`` -> ``(N, 3)``."""
        return np.dot(self._check_x(x), self.W)

    predict = scores

    def predict_proba(self, x):
        """y = softmax(x @ W), class probabilities over the last axis."""
        return softmax(self.scores(x))

    def forward(self, x, t, train_flg=True):
        """L = cross_entropy_error(softmax(x @ W), t), the book's +1e-7 form."""
        x = self._check_x(x)
        self.x, self.t = x, np.asarray(t)
        self.last_output = np.dot(x, self.W)
        self.y = softmax(self.last_output)
        return float(cross_entropy_error(self.y, t))

    def loss(self, x, t, train_flg=False):
        """L = cross_entropy_error(softmax(x @ W), t), the book's +1e-7 form."""
        return self.forward(x, t, train_flg)

    def backward(self, dout=1):
        """dW of the last ``forward``'s loss, into ``grads['W']``; returns dL/dx."""
        y = self.y.reshape(-1, 3)
        x = self.x.reshape(-1, 2)
        t = self.t.reshape(-1) if self.t.ndim <= (self.y.ndim - 1) else self.t.reshape(-1, 3)
        if t.ndim == 1:  # labels -> one-hot rows
            t = np.eye(3, dtype=y.dtype)[t.astype(np.intp)]
        dy = -t / (y + 1e-7) / y.shape[0] * dout
        ds = y * (dy - np.sum(dy * y, axis=1, keepdims=True))
        self.grads["W"][...] = x.T @ ds
        return (ds @ self.W.T).reshape(self.x.shape)

    def astype(self, dtype):
        """A copy of the network with W in ``dtype``."""
        return SimpleNet(self.W, dtype=dtype)


from .convnets import DeepConvNet, SimpleConvNet  # noqa: E402  (they use init_scale above)
