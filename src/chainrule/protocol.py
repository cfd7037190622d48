"""The layer and model protocol: what every other module may rely on, and nothing more.

The Trainer, ``gradient_check``, checkpoints, ``evaluate``/``predict`` and the command
line talk to layers and models only through the names written here (docs/protocol.md
explains them with examples). A layer or model that follows the protocol works with
all of them without editing them.

**Layers** (book 2's protocol). Required: ``params`` and ``grads``, lists of arrays of
the same shapes (empty when there are none); ``forward(x)`` keeps what ``backward``
needs; ``backward(dout)`` returns dL/dx and writes parameter gradients in place
(``grads[i][...] = ...``). Loss layers take ``forward(x, t)`` and ``backward(dout=1)``
and have ``predict(scores)`` (probabilities from scores). Optional declarations, read
by the functions below with the defaults given (``Layer`` holds the defaults):

=================  ==========================================================  ==========
declaration        meaning                                                     default
=================  ==========================================================  ==========
takes_train_flag   ``forward(x, train_flg)`` differs in training and inference  from the
                                                                               signature
param_names        the book's names of ``params`` (``("W", "b")``)             class name
decay              names of the params weight decay applies to                 ndim ≥ 2
buffer_names       attributes holding non-trained state saved with the model   ``()``
held()             context manager: fixed function for central differences     buffers kept
input_grad         settable bool: a first layer may skip dL/dx                 absent
=================  ==========================================================  ==========

Layers may also declare what ``chainrule.fastgrad`` needs to compute a model's central
differences from what each perturbation changes: ``elementwise``, ``linear_within``,
``input_matrix``, ``column_change``, ``terms_change``, ``param_columns``, and
``loss_change`` on loss layers (docs/protocol.md explains each). Without them a model
runs the plain loop.

**Models**: subclass ``Model`` and provide ``params``/``grads`` (mappings name ->
array), ``forward(x, t, train_flg=True)`` (the loss; keeps ``last_output``, the scores
of that batch), ``backward(dout=1)`` and ``scores(x, train_flg=False)``; ``Model``
derives the rest (``predict``, ``loss``, ``accuracy``, ``gradient``,
``numerical_gradient``, ``validate``, ``forward_checked``, ``held``, ``astype``) and
states the defaults.
"""

from __future__ import annotations

import contextlib
import copy
import inspect

import numpy as np

from .validation import InputTypeError, InputValueError, check_finite_fast

__all__ = [
    "Layer",
    "Model",
    "takes_train_flag",
    "param_names",
    "decayed",
    "buffers",
    "held",
    "set_input_grad",
    "layer_astype",
    "count_correct",
]


class Layer:
    """Defaults of the layer protocol: no parameters, the same in training and inference.

    Subclasses set ``params``/``grads`` and override the declarations they need.
    """

    takes_train_flag = False
    param_names = ()
    decay = None  # None: the params with ndim >= 2
    buffer_names = ()

    def __init__(self):
        self.params, self.grads = [], []

    def __repr__(self):
        return f"{type(self).__name__}()"

    @property
    def buffers(self):
        """Non-trained state by name (e.g. batch-norm running statistics)."""
        return {name: getattr(self, name) for name in self.buffer_names}

    @contextlib.contextmanager
    def held(self):
        """While inside, the layer is one fixed function; buffers are restored on exit."""
        with _buffers_kept(self):
            yield self


# ---- reading a layer's declarations -------------------------------------------------

def takes_train_flag(layer):
    """Whether ``layer.forward`` takes the training flag: declared, else from its signature."""
    declared = getattr(layer, "takes_train_flag", None)
    if declared is not None:
        return bool(declared)
    try:
        signature = inspect.signature(layer.forward)
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "train_flg" in signature.parameters


def param_names(layer, default="p{i}"):
    """The names of ``layer.params``: its ``param_names``, then ``default`` for the rest.

    ``default`` is formatted with ``i`` (the position) and ``layer`` (the class name in
    lower case).
    """
    names = list(getattr(layer, "param_names", ()) or ())[:len(layer.params)]
    kind = type(layer).__name__.lower()
    return names + [default.format(i=i, layer=kind)
                    for i in range(len(names), len(layer.params))]


def decayed(layer):
    """One bool per parameter: does weight decay apply to it?

    The layer's ``decay`` (names) decides; without it, common practice: matrices and
    filters (ndim >= 2) are decayed, biases and normalisation scales (ndim 1) are not.
    """
    declared = getattr(layer, "decay", None)
    if declared is None:
        return [np.ndim(p) >= 2 for p in layer.params]
    declared = set(declared)
    return [name in declared for name in param_names(layer)]


def buffers(layer):
    """The layer's non-trained state by name (``{}`` when it declares none)."""
    names = getattr(layer, "buffer_names", ()) or ()
    return {name: getattr(layer, name) for name in names}


@contextlib.contextmanager
def _buffers_kept(layer):
    saved = {name: np.copy(a) for name, a in buffers(layer).items()}
    try:
        yield layer
    finally:
        for name, value in saved.items():
            getattr(layer, name)[...] = value


def held(layer):
    """The layer's ``held()`` context (dropout keeps its mask), else buffers kept."""
    method = getattr(layer, "held", None)
    return method() if method is not None else _buffers_kept(layer)


def set_input_grad(layer, flag):
    """Ask ``layer`` to compute dL/dx or not, where it declares ``input_grad``."""
    if getattr(layer, "input_grad", None) is not None:
        layer.input_grad = bool(flag)


def layer_astype(layer, dtype):
    """Convert a layer's params, grads and buffers to ``dtype`` in place (new arrays)."""
    for i, p in enumerate(layer.params):
        if p.dtype != dtype:
            layer.params[i] = p.astype(dtype)
            layer.grads[i] = np.zeros_like(layer.params[i])
    for name, value in buffers(layer).items():
        if value.dtype != dtype:
            setattr(layer, name, value.astype(dtype))
    return layer


# ---- metrics shared by the Trainer and evaluate -------------------------------------

def count_correct(scores, t):
    """Correct predictions among scores (N, C) — or (N,)/(N, 1) for one sigmoid output.

    Labels ``t`` are integers (N,) or rows (N, C) whose argmax is the class. With one
    output the prediction is scores > 0 (probability > 0.5), against t > 0.5.
    """
    if scores.ndim == 1 or scores.shape[1] == 1:
        return int(np.count_nonzero((scores.reshape(-1) > 0) == (t.reshape(-1) > 0.5)))
    labels = t if t.ndim == 1 else np.argmax(t, axis=1)
    return int(np.count_nonzero(np.argmax(scores, axis=1) == labels))


# ---- models --------------------------------------------------------------------------

class Model:
    """Base of every model: the parts of the protocol derived from the required ones.

    Required from a subclass: ``params`` and ``grads`` (mappings name -> the arrays that
    are trained and their gradients), ``forward(x, t, train_flg=True)`` returning the
    loss as a float and setting ``last_output`` (the scores of that batch),
    ``backward(dout=1)`` filling ``grads`` in place (returning dL/dx, or None), and
    ``scores(x, train_flg=False)``. Declarations with defaults: ``input_shape`` (the
    shape of one sample; None accepts any), ``output_size``, ``dtype``,
    ``weight_decay_lambda`` (book 1's penalty inside the model; 0), ``buffers`` ({}),
    ``link`` (scores -> probabilities; softmax), ``config`` (constructor arguments for
    ``save_model``; None: not saveable by architecture), ``rng`` (the generator of its
    random masks, saved in checkpoints; None).
    """

    input_shape = None
    output_size = None
    weight_decay_lambda = 0.0
    config = None
    last_output = None
    rng = None  # the model's own generator (dropout masks), saved in checkpoints

    @property
    def dtype(self):
        """The dtype of the first parameter (float64 when there are none)."""
        first = next(iter(self.params.values()), None)
        return np.float64 if first is None else first.dtype

    @property
    def buffers(self):
        """Non-trained state saved with the model, by name (none by default)."""
        return {}

    @property
    def num_params(self):
        """Number of trainable numbers in all parameter arrays."""
        return int(sum(p.size for p in self.params.values()))

    @property
    def input_grad(self):
        """Whether ``backward`` returns dL/dx (models that can skip it override this)."""
        return True

    @input_grad.setter
    def input_grad(self, value):
        pass

    def link(self, scores):
        """Probabilities from scores: softmax over the last axis."""
        from .functions import softmax

        return softmax(scores)

    # ---- validation -----------------------------------------------------------------

    def validate(self, x, t=None, *, x_name="x", t_name="t"):
        """(x, t) checked and converted to the model's dtype (t None: x alone).

        x must be finite, with shape (N, *input_shape) (reshaped when only the sample
        shape differs); t labels (N,) in [0, output_size) or rows (N, output_size).
        """
        from .validation import check_inputs, check_targets

        if self.input_shape is None:
            x = np.asarray(x)
            if x.ndim < 1 or x.shape[0] == 0:
                raise InputValueError(f"{x_name} must hold at least one sample, "
                                      f"got shape {x.shape}")
            x = x.astype(self.dtype, copy=False)
        else:
            x = check_inputs(x, self.input_shape, self.dtype, x_name)
        x = np.ascontiguousarray(check_finite_fast(x, x_name))
        if t is None:
            return x
        n_classes = self.output_size if self.output_size is not None else np.iinfo(np.intp).max
        t = check_targets(t, x.shape[0], n_classes, self.dtype, t_name, x_name)
        return x, np.ascontiguousarray(t)

    # ---- derived from forward / backward / scores --------------------------------

    def forward_checked(self, x, t, train_flg=True):
        """``forward`` for x and t that ``validate`` already returned (the training loop's
        call: the Trainer validates the whole data set once). Defaults to ``forward``."""
        return self.forward(x, t, train_flg)

    def predict(self, x, train_flg=False):
        """Class probabilities: ``link(scores(x))``."""
        return self.link(self.scores(x, train_flg))

    def loss(self, x, t, train_flg=False):
        """The loss in inference mode (dropout off, batch norm on running statistics)."""
        return self.forward(x, t, train_flg)

    def accuracy(self, x, t):
        """Fraction of samples whose highest score is the label (argmax of rows for t)."""
        x, t = self.validate(x, t)
        return count_correct(self.scores(x), t) / x.shape[0]

    def gradient(self, x, t):
        """Backprop gradients of the training-mode loss: a dict name -> array (copies)."""
        self.forward(x, t, train_flg=True)
        self.backward()
        return {name: grad.copy() for name, grad in self.grads.items()}

    @contextlib.contextmanager
    def held(self):
        """While inside, the training-mode loss is one fixed function of the parameters.

        The default keeps ``buffers`` (restored on exit); models with dropout also hold
        the masks. Central differences and ``gradient_check`` run inside it.
        """
        saved = {name: np.copy(a) for name, a in self.buffers.items()}
        try:
            yield self
        finally:
            for name, value in saved.items():
                self.buffers[name][...] = value

    def numerical_gradient(self, x, t, *, h=1e-4, with_input=False):
        """(L(θ + h e_i) - L(θ - h e_i)) / 2h for every parameter element, as a dict.

        L is the training-mode loss. Two loss evaluations per element: slow, meant for
        checking ``gradient``. Runs inside ``held()``, so the model is unchanged
        afterwards. ``with_input=True`` returns the pair (that dict, the same central
        differences for the elements of ``x``), which ``gradient_check`` asks for;
        models with a faster way to the same numbers override this
        (``Sequential``).
        """
        from .numerical import numerical_gradient

        x, t = self.validate(x, t)
        if with_input:
            x = x.copy()  # perturbed in place: never the caller's array
        with self.held():
            self.forward(x, t, train_flg=True)  # draws any random masks once
            f = lambda _: self.forward_checked(x, t, train_flg=True)  # noqa: E731
            grads = {name: numerical_gradient(f, p, h) for name, p in self.params.items()}
            return (grads, numerical_gradient(f, x, h)) if with_input else grads

    def astype(self, dtype):
        """A deep copy whose parameters, gradients and buffers have ``dtype``.

        The default copies and refuses a change of dtype; models that can convert
        themselves (all of chainrule's) override it.
        """
        dtype = np.dtype(dtype)
        if any(p.dtype != dtype for p in self.params.values()):
            raise InputTypeError(f"{type(self).__name__} cannot convert its parameters to "
                                 f"{dtype}; override astype(dtype) to allow it")
        return copy.deepcopy(self)
