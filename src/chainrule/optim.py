"""Optimizers: p <- p - (a step computed from the gradient and some state), in place.

Every optimizer has ``update(params, grads)``: ``params`` and ``grads`` are either
mappings name -> array (book 1, a model's ``ParamDict`` included; ``grads`` is looked up
by the keys of ``params``, in their order) or aligned lists (book 2). The arrays in
``params`` are changed in place and never rebound, so the layers keep seeing them (plain
numbers in a dict, which cannot change in place, are replaced by their new values).

State (momentum buffers, moments) is made lazily on the first update, zeros of each
parameter's shape and dtype, and belongs to the parameter's name (``keys``; positions
for book 2's lists): a restored state is matched by name, and names or shapes that do
not match are refused. ``t`` counts the updates.

Weight decay is the optimizer's alone (``weight_decay``, L2 folded into the gradient as
torch.optim does, or decoupled in ``AdamW``). It applies to every parameter except the
names a model lists in ``params.no_decay`` (biases and normalisation parameters, the
common practice); plain dicts and lists are decayed whole.
``lr`` is a plain attribute that a Trainer or a schedule may change between updates.
``state_dict()`` is plain data (numbers, bools, strings, lists of arrays) and
``load_state_dict`` restores it, so a resumed run continues bit for bit.

The update rules are the ones documented for ``torch.optim`` (dampening 0, no amsgrad, no
maximize); each docstring says how the book's ``common/optimizer.py`` differs. They run
with ``out=`` into preallocated scratch arrays and keep the parameters' dtype. One
departure from torch: every state array (momentum buffers, Adam's two moments, RMSprop's
and AdaGrad's averages) has its values of magnitude below the dtype's smallest normal
number (``np.finfo(dtype).tiny``, 1.2e-38 in float32) set to zero every ``FLUSH_EVERY``
updates (and on the first), because subnormal numbers make float arithmetic many times
slower on common processors. A parameter whose gradient stays 0 (an always-black pixel's
weights, a dead unit) has its moments decay by beta every step into that range: after one
epoch of Fashion-MNIST with Adam, about 3,000 entries of m were subnormal. What flushing
changes: a moment below 1.2e-38 becomes 0. In the update that is a step below
lr * 1.2e-38 / eps (momentum: lr * 1.2e-38), under the rounding of any weight of
magnitude above 1e-30; sqrt of a subnormal v is below 1.1e-19, far under ``eps``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, MutableMapping

import numpy as np

from .validation import InputTypeError, InputValueError, check_bool, check_number

__all__ = [
    "Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdamW",
    "OPTIMIZERS", "get_optimizer",
]


_RULES = {
    "positive": {"low": 0, "low_open": True},
    "non-negative": {"low": 0},
    "fraction": {"low": 0, "high": 1, "high_open": True},
}


def _hyperparam(value, name, rule):
    """``value`` as a float obeying ``rule`` (or a bool); see ``chainrule.validation``."""
    if rule == "bool":
        return check_bool(value, name)
    return check_number(value, name, **_RULES[rule])


def _label(keys, i):
    """How errors name parameter i: by key and position for mappings, else by position."""
    return f"params[{i}]" if keys is None else f"params[{keys[i]!r}] (position {i})"


def _scalar_keys(params):
    """The keys of a dict whose values are plain real numbers (not arrays), in order."""
    if not isinstance(params, MutableMapping):
        return []
    return [key for key, value in params.items() if not isinstance(value, np.ndarray)
            and isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))]


#: Subnormal state values are flushed to zero on every FLUSH_EVERY-th update.
FLUSH_EVERY = 10


def _flush(v, mask, tiny, tmp=None):
    """v[|v| < tiny] = 0 without new arrays: removes subnormals.

    ``tmp`` (scratch of v's shape) is needed for signed state (momentum, Adam's m);
    without it v must be >= 0 (second moments, AdaGrad's sum).
    """
    if tmp is not None:
        np.abs(v, out=tmp)
        np.less(tmp, tiny, out=mask)
    else:
        np.less(v, tiny, out=mask)
    np.copyto(v, 0, where=mask)


class Optimizer:
    """Base class: aligns params with grads, owns the state, saves and restores it.

    Subclasses set ``_hyper`` (hyperparameter name -> rule), ``_slots`` (names of the
    state arrays) and ``_n_tmp`` (scratch arrays per parameter), and implement
    ``_apply(ps, gs)`` on lists of arrays already checked, after ``t`` was incremented.
    ``self._decay[i]`` says whether weight decay applies to parameter i.
    """

    _hyper = {"lr": "positive", "weight_decay": "non-negative"}
    _slots = ()
    _n_tmp = 1

    def __init__(self, **hyperparams):
        self.__dict__.update(self._validate(hyperparams))
        self.t = 0  # updates done: t in the formulas
        self.state = {slot: [] for slot in self._slots}
        self.keys = None  # the parameter names of the state's positions, or None
        self._shapes = None  # shapes by position, fixed by the first update or a load
        self._tmp = None  # scratch arrays [kind][position], made on the first update
        self._ids = None  # identities of the arrays the scratch was made for

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyper)
        return f"{type(self).__name__}({args})"

    def _flush_due(self):
        """Whether this update flushes subnormal state (every FLUSH_EVERY-th, and the first)."""
        return self.t % FLUSH_EVERY == 0 or self.t == 1

    def _flush_now(self, i):
        """Whether parameter i's second moment is flushed of subnormals at this update."""
        return self._tiny[i] is not None and self._flush_due()

    @classmethod
    def _validate(cls, hp):
        return {name: _hyperparam(hp[name], name, rule) for name, rule in cls._hyper.items()}

    @classmethod
    def _slots_for(cls, hp):
        return cls._slots

    # ---- params and grads ---------------------------------------------------------

    @staticmethod
    def _align(params, grads):
        """Lists of parameter and gradient arrays in params' order, and params' keys."""
        keys = None
        grads_map = isinstance(grads, Mapping)
        if isinstance(params, Mapping):
            keys, ps = list(params), list(params.values())
            if grads_map:
                gs = [grads.get(key) for key in keys]  # .get skips ParamDict's int lookup
                if len(grads) != len(keys) or any(g is None for g in gs):
                    missing = [key for key in keys if key not in grads]
                    extra = [key for key in grads if key not in params]
                    raise InputValueError(f"grads must have the same keys as params; "
                                          f"missing {missing}, extra {extra}")
            else:
                gs = list(grads)
        else:
            ps = list(params)
            gs = list(grads.values()) if grads_map else list(grads)
        if len(gs) != len(ps):
            raise InputValueError(f"grads must hold one array per parameter: params has "
                                  f"{len(ps)}, grads has {len(gs)}")
        return ps, [g if isinstance(g, np.ndarray) else np.asarray(g) for g in gs], keys

    def _prepare(self, params, ps, keys):
        """Check the parameters, make (or match a loaded) state, allocate scratch arrays.

        A state made or loaded for named parameters is matched by name, so parameters
        that come in another order keep their own state; names or shapes that do not
        match are refused. Optimizers without state adapt to any parameters.
        """
        for i, p in enumerate(ps):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f" or not p.flags.writeable:
                what = f"dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
                raise InputTypeError(f"{_label(keys, i)} must be a writeable float NumPy "
                                     f"array (it is updated in place), got {what}")
        has_state = any(self.state.get(slot) for slot in self._slots)
        if not has_state:
            self.state = {s: [np.zeros(p.shape, p.dtype) for p in ps] for s in self._slots}
            self.keys = None if keys is None else list(keys)
        elif self.keys is not None and keys is not None:
            self._match_names(ps, keys)
        else:
            self._match_positions(ps, keys)
        self._shapes = [p.shape for p in ps]
        for slot, arrays in self.state.items():  # a loaded state takes the params' dtype
            self.state[slot] = [a.astype(p.dtype, copy=False)
                                for a, p in zip(arrays, ps, strict=True)]
        no_decay = getattr(params, "no_decay", frozenset()) if keys is not None else ()
        self._decay = [keys is None or key not in no_decay for key in (keys or ps)]
        self._tmp = [[np.empty(p.shape, p.dtype) for p in ps] for _ in range(self._n_tmp)]
        self._mask = [np.empty(p.shape, bool) for p in ps]
        self._tiny = [np.finfo(p.dtype).tiny if p.dtype in (np.float32, np.float64) else None
                      for p in ps]
        self._ids = [id(p) for p in ps]

    def _match_names(self, ps, keys):
        """Reorder a named state to ``keys``; refuse other names or shapes."""
        missing = [k for k in keys if k not in self.keys]
        extra = [k for k in self.keys if k not in keys]
        if missing or extra:
            what = [f"params {missing} have no state"] if missing else []
            what += [f"the state of {extra} has no parameter"] if extra else []
            raise InputValueError(
                f"params do not match the optimizer's state ({'; '.join(what)}); use a new "
                "optimizer for a new model"
            )
        where = {k: i for i, k in enumerate(self.keys)}
        for key, p in zip(keys, ps, strict=True):
            shape = self.state[self._slots[0]][where[key]].shape
            if p.shape != shape:
                raise InputValueError(f"params[{key!r}] has shape {p.shape}, but the "
                                      f"optimizer's state for it has shape {shape}")
        self.state = {s: [arrays[where[k]] for k in keys] for s, arrays in self.state.items()}
        self.keys = list(keys)

    def _match_positions(self, ps, keys):
        n = len(next(iter(self.state.values())))
        if len(ps) != n:
            raise InputValueError(f"params has {len(ps)} arrays, but the optimizer's state "
                                  f"was made for {n}; use a new optimizer for a new model")
        for i, p in enumerate(ps):
            shape = self.state[self._slots[0]][i].shape
            if p.shape != shape:
                raise InputValueError(f"{_label(keys, i)} has shape {p.shape}, but the "
                                      f"optimizer's state was made for shape {shape}")
        if keys is not None:
            self.keys = list(keys)

    def _check(self, gs, keys):
        for i, (g, shape) in enumerate(zip(gs, self._shapes, strict=True)):
            if g.shape != shape:
                raise InputValueError(f"the gradient of {_label(keys, i)} has shape "
                                      f"{g.shape}, but the parameter has shape {shape}")

    def update(self, params, grads):
        """One step: every array in ``params`` moves in place using its gradient.

        Weight decay applies to every parameter except the names in
        ``params.no_decay`` (a model's ``params`` lists its biases and normalisation
        parameters there); plain dicts and lists are decayed whole, as in torch.
        Plain numbers in a dict (``{'x': -7.0, 'y': 2.0}``, as book 1, ch. 6 passes
        them) cannot change in place: they are replaced by their new values (floats).
        """
        scalars = _scalar_keys(params)
        if scalars:
            boxed = {k: np.array(float(v)) if k in scalars else v for k, v in params.items()}
            self.update(boxed, grads)
            for key in scalars:
                params[key] = float(boxed[key])
            return
        ps, gs, keys = self._align(params, grads)
        if self._ids is None or len(ps) != len(self._ids) or any(
                id(p) != i for p, i in zip(ps, self._ids, strict=True)):
            self._prepare(params, ps, keys)
        self._check(gs, keys)
        self.t += 1
        self._apply(ps, gs)

    def _apply(self, ps, gs):
        raise NotImplementedError

    # ---- saving and restoring -----------------------------------------------------

    def state_dict(self):
        """{"type", "hyperparams", "step", "keys", "state": {slot: [arrays]}}, copied.

        ``keys`` names the parameter of each position (None for book 2's lists), so a
        restored state is matched to parameters by name.
        """
        hp = {name: getattr(self, name) for name in self._hyper}
        hp = {k: v if isinstance(v, bool) else float(v) for k, v in hp.items()}
        state = {slot: [a.copy() for a in self.state.get(slot, [])] for slot in self._slots}
        keys = None if self.keys is None or not any(state.values()) else list(self.keys)
        return {"type": type(self).__name__, "hyperparams": hp, "step": int(self.t),
                "keys": keys, "state": state}

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict`` returned (arrays copied); checks all of it first.

        Without ``keys`` (or with None) the state is matched to parameters by position.
        """
        if not isinstance(state_dict, Mapping):
            raise InputTypeError(f"state_dict must be a mapping, got "
                                 f"{type(state_dict).__name__}")
        missing = {"type", "hyperparams", "step", "state"} - set(state_dict)
        if missing:
            raise InputValueError(f"state_dict is missing {sorted(missing)}")
        kind, hp, step, state = (state_dict[k] for k in ("type", "hyperparams", "step", "state"))
        if kind != type(self).__name__:
            raise InputValueError(f"state_dict is for {kind}, not {type(self).__name__}")
        if not isinstance(hp, Mapping) or set(hp) != set(self._hyper):
            got = sorted(hp) if isinstance(hp, Mapping) else type(hp).__name__
            raise InputValueError(f"{kind} hyperparams must be {sorted(self._hyper)}, "
                                  f"got {got}")
        hp = self._validate(hp)
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise InputValueError(f"step must be a non-negative integer, got {step!r}")
        slots = self._slots_for(hp)
        if not isinstance(state, Mapping) or set(state) != set(slots):
            got = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise InputValueError(f"{kind} state must have slots {sorted(slots)}, got {got}")
        arrays = {slot: [np.array(a, copy=True) for a in state[slot]] for slot in slots}
        shapes = _state_shapes(arrays, step)
        keys = state_dict.get("keys")
        if keys is not None:
            n = len(shapes or ())
            if (not isinstance(keys, (list, tuple)) or len(keys) != n
                    or not all(isinstance(k, str) for k in keys) or len(set(keys)) != n):
                raise InputValueError(f"keys must be {n} distinct parameter names, got "
                                      f"{keys!r}")
            keys = list(keys)
        self.__dict__.update(hp)
        self.t, self.state, self._shapes, self._tmp = int(step), arrays, shapes, None
        self.keys, self._ids = keys, None


def _state_shapes(arrays, step):
    """The shapes by position shared by every slot, or None when there are no arrays."""
    counts = {slot: len(items) for slot, items in arrays.items()}
    if len(set(counts.values())) > 1:
        raise InputValueError(f"state slots must hold the same number of arrays, got {counts}")
    n = next(iter(counts.values()), 0)
    if not counts or (n == 0 and step == 0):
        return None
    if n == 0 or step == 0:
        raise InputValueError(f"state is inconsistent: step {step} with {n} arrays per slot")
    shapes = [np.shape(a) for a in next(iter(arrays.values()))]
    for slot, items in arrays.items():
        got = [a.shape for a in items]
        if got != shapes or any(a.dtype.kind != "f" for a in items):
            raise InputValueError(f"state slot {slot!r} must hold float arrays of shapes "
                                  f"{shapes}, got {got} ({', '.join(str(a.dtype) for a in items)})")
    return shapes


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, Nesterov and L2 decay.

    g <- g + weight_decay * p                          (if weight_decay > 0)
    b <- g on the first step, else momentum * b + g    (if momentum > 0; dampening 0)
    g <- g + momentum * b if nesterov, else b          (if momentum > 0)
    p <- p - lr * g

    Book 1's ``SGD`` is p -= lr * g; its ``Momentum`` (v = mu v - lr g; p += v) has
    v = -lr b, the same trajectory for a constant lr (torch rescales the whole buffer
    when lr changes; the book keeps the old steps at their old lr).
    """

    _hyper = {"lr": "positive", "momentum": "fraction", "nesterov": "bool",
              "weight_decay": "non-negative"}

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay)

    @classmethod
    def _validate(cls, hp):
        out = super()._validate(hp)
        if out["nesterov"] and out["momentum"] == 0:
            raise InputValueError(f"nesterov=True requires momentum > 0, "
                                  f"got momentum={hp['momentum']!r}")
        return out

    @classmethod
    def _slots_for(cls, hp):
        return ("momentum_buffer",) if hp["momentum"] else ()

    @property
    def _slots(self):
        return self._slots_for(self.__dict__)

    @property
    def _n_tmp(self):
        return 2 if self.momentum else 1

    def _apply(self, ps, gs):
        lr, mu, first = float(self.lr), self.momentum, self.t == 1
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            tmp = self._tmp[0][i]
            wd = self.weight_decay if self._decay[i] else 0.0
            if wd:
                np.multiply(p, wd, out=tmp)
                g = np.add(g, tmp, out=tmp)
            if mu:
                b = self.state["momentum_buffer"][i]
                if first:
                    np.copyto(b, g)
                else:
                    np.multiply(b, mu, out=b)
                    np.add(b, g, out=b)
                if self._flush_now(i):  # tmp[0] may hold g: tmp[1] is the scratch
                    _flush(b, self._mask[i], self._tiny[i], self._tmp[1][i])
                if self.nesterov:
                    g = np.add(g, np.multiply(b, mu, out=self._tmp[1][i]), out=tmp)
                else:
                    g = b
            np.multiply(g, lr, out=tmp)
            np.subtract(p, tmp, out=p)


class Momentum(SGD):
    """SGD with momentum: b <- g on the first step, else mu b + g; p <- p - lr b.

    The same as ``SGD(lr, momentum=mu)``. Book 1's Momentum writes v = mu v - lr g;
    p += v, which is v = -lr b: the same trajectory while lr stays constant.
    """

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        super().__init__(lr=lr, momentum=momentum, weight_decay=weight_decay)


class Nesterov(SGD):
    """Nesterov momentum: b <- mu b + g (b = g on the first step); p <- p - lr (g + mu b).

    The same as ``SGD(lr, momentum=mu, nesterov=True)``; in velocity form (v = -lr b)
    it is p += mu^2 v_old - (1 + mu) lr g, the reformulation of Bengio et al. (2012).
    Book 1's Nesterov is this velocity form (the same path while lr is constant); book
    2's computes p += mu^2 v - (1 + mu) lr g with v already updated, so its trajectory
    differs from this one (and torch's) by mu^2 (v_new - v_old) a step.
    """

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        super().__init__(lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)


class AdaGrad(Optimizer):
    """AdaGrad: g <- g + wd p; s <- s + g^2; p <- p - lr g / (sqrt(s) + eps).

    torch.optim.Adagrad with lr_decay = 0 and initial_accumulator_value = 0 (wd is
    ``weight_decay``, 0 by default). Book 1's AdaGrad is the same with eps = 1e-7 and no
    decay. Values of s below the dtype's smallest normal number are flushed to zero
    (see the module docstring).
    """

    _hyper = {"lr": "positive", "eps": "positive", "weight_decay": "non-negative"}
    _slots = ("sum",)
    _n_tmp = 2

    def __init__(self, lr=0.01, eps=1e-10, weight_decay=0.0):
        super().__init__(lr=lr, eps=eps, weight_decay=weight_decay)

    def _apply(self, ps, gs):
        lr, eps = float(self.lr), self.eps
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            s, tmp = self.state["sum"][i], self._tmp[0][i]
            g = _l2(g, p, self.weight_decay if self._decay[i] else 0.0, self._tmp[1][i])
            np.add(s, np.multiply(g, g, out=tmp), out=s)
            if self._flush_now(i):
                _flush(s, self._mask[i], self._tiny[i])
            _step(p, g, s, eps, lr, tmp)


def _l2(g, p, wd, tmp):
    """g + wd * p through ``tmp`` (L2 weight decay folded into the gradient), or g."""
    if not wd:
        return g
    return np.add(g, np.multiply(p, wd, out=tmp), out=tmp)


#: Adam updates parameters of at most this many entries (biases, small weights) packed
#: into one flat array per dtype and decay: a third of the NumPy calls for them, the
#: same numbers (every operation is elementwise, in the same order).
PACK_SIZE = 4096


class _Pack:
    """Parameters ``index`` of one dtype updated as one flat array.

    The optimizer state of each becomes a view into the flat ``m`` and ``v`` (so
    ``state`` and ``state_dict`` are unchanged); each step gathers the gradients (and,
    for L2 decay, the parameters) into flat scratch, updates once, and subtracts each
    parameter's slice of ``tmp``.
    """

    def __init__(self, index, ps, decay, state):
        self.index, self.decay = index, decay
        sizes = [ps[i].size for i in index]
        self.offsets = np.cumsum([0, *sizes]).tolist()
        dtype = ps[index[0]].dtype
        total = self.offsets[-1]
        self.m, self.v, self.g, self.p, self.tmp, self.tmp2 = (
            np.empty(total, dtype) for _ in range(6))
        self.mask = np.empty(total, bool)
        self.tiny = np.finfo(dtype).tiny if dtype in (np.float32, np.float64) else None
        self.tmp_views = self.views(self.tmp, ps)
        self.g_views, self.p_views = self.views(self.g, ps), self.views(self.p, ps)
        for slot, flat in (("exp_avg", self.m), ("exp_avg_sq", self.v)):
            for i, view in zip(index, self.views(flat, ps), strict=True):
                view[...] = state[slot][i]
                state[slot][i] = view

    def views(self, flat, ps):
        """Each packed parameter's slice of ``flat``, in its shape."""
        return [flat[lo:hi].reshape(ps[i].shape) for i, lo, hi
                in zip(self.index, self.offsets[:-1], self.offsets[1:], strict=True)]

    def gather(self, arrays, views):
        """The packed positions of ``arrays`` copied into ``views`` (``g_views`` or
        ``p_views``), so into the flat array behind them."""
        for i, view in zip(self.index, views, strict=True):
            np.copyto(view, arrays[i])


def _packs(ps, decay, state):
    """Packs of the small parameters (two or more of one dtype and decay), and the
    positions they hold."""
    groups = {}
    for i, p in enumerate(ps):
        if p.size <= PACK_SIZE:
            groups.setdefault((p.dtype.str, decay[i]), []).append(i)
    packs = [_Pack(index, ps, d, state) for (_, d), index in groups.items()
             if len(index) > 1]
    return packs, {i for pack in packs for i in pack.index}


def _delta(numerator, v, eps, step_size, tmp):
    """tmp <- step_size * numerator / (sqrt(v) + eps): the step to subtract."""
    np.sqrt(v, out=tmp)
    np.add(tmp, eps, out=tmp)
    np.divide(numerator, tmp, out=tmp)
    np.multiply(tmp, step_size, out=tmp)


def _step(p, numerator, v, eps, step_size, tmp):
    """p <- p - step_size * numerator / (sqrt(v) + eps), through ``tmp``."""
    _delta(numerator, v, eps, step_size, tmp)
    np.subtract(p, tmp, out=p)


def _average_square(v, g, rate, tmp):
    """v <- rate v + (1 - rate) g^2, through ``tmp``."""
    np.multiply(v, rate, out=v)
    np.multiply(g, g, out=tmp)
    np.multiply(tmp, 1.0 - rate, out=tmp)
    np.add(v, tmp, out=v)


class RMSprop(Optimizer):
    """RMSprop: g <- g + wd p; v <- a v + (1 - a) g^2; p <- p - lr g / (sqrt(v) + eps).

    torch.optim.RMSprop (its alpha is our a = decay_rate; wd is ``weight_decay``, 0 by
    default) without momentum or centering. Book 1's RMSprop is the same with eps = 1e-7
    and no decay. Values of v below the dtype's smallest normal number are flushed to
    zero (see the module docstring).
    """

    _hyper = {"lr": "positive", "decay_rate": "fraction", "eps": "positive",
              "weight_decay": "non-negative"}
    _slots = ("square_avg",)
    _n_tmp = 2

    def __init__(self, lr=0.01, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, decay_rate=decay_rate, eps=eps, weight_decay=weight_decay)

    def _apply(self, ps, gs):
        lr, a, eps = float(self.lr), self.decay_rate, self.eps
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            v, tmp = self.state["square_avg"][i], self._tmp[0][i]
            g = _l2(g, p, self.weight_decay if self._decay[i] else 0.0, self._tmp[1][i])
            _average_square(v, g, a, tmp)
            if self._flush_now(i):
                _flush(v, self._mask[i], self._tiny[i])
            _step(p, g, v, eps, lr, tmp)


class Adam(Optimizer):
    """Adam with L2 weight decay, as torch.optim.Adam (no amsgrad), at step t:

    g <- g + weight_decay * p                       (if weight_decay > 0)
    m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
    p <- p - lr mhat / (sqrt(vhat) + eps),  mhat = m / (1 - beta1^t), vhat = v / (1 - beta2^t)

    computed as p -= (lr sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2)) with c = 1 - beta^t,
    the same number up to rounding, with one pass fewer. Book 1's Adam folds the bias
    corrections into lr_t = lr sqrt(c2) / c1 but adds eps = 1e-7 to the uncorrected
    sqrt(v), so its steps differ slightly, most in the first steps. Values of v below the
    dtype's smallest normal number are flushed to zero (see the module docstring).
    Parameters of at most ``PACK_SIZE`` entries (biases, small weights) are updated
    packed into one flat array per dtype and decay: the same numbers, a third of the
    NumPy calls (measured: 53 -> 33 microseconds a step for 784-100-10's b1, W2, b2).
    """

    _hyper = {"lr": "positive", "beta1": "fraction", "beta2": "fraction", "eps": "positive",
              "weight_decay": "non-negative"}
    _slots = ("exp_avg", "exp_avg_sq")
    _n_tmp = 2
    _decoupled = False

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)

    def _prepare(self, params, ps, keys):
        super()._prepare(params, ps, keys)
        self._packs, packed = _packs(ps, self._decay, self.state)
        self._single = [i for i in range(len(ps)) if i not in packed]

    def _apply(self, ps, gs):
        lr, b1, b2 = float(self.lr), self.beta1, self.beta2
        c1, root_c2 = 1.0 - b1**self.t, math.sqrt(1.0 - b2**self.t)
        step_size, eps = lr * root_c2 / c1, self.eps * root_c2
        flush = self._flush_due()
        for i in self._single:
            wd = self.weight_decay if self._decay[i] else 0.0
            if wd and self._decoupled:
                np.multiply(ps[i], 1.0 - lr * wd, out=ps[i])
            g = gs[i] if self._decoupled else _l2(gs[i], ps[i], wd, self._tmp[1][i])
            self._moments(g, self.state["exp_avg"][i], self.state["exp_avg_sq"][i],
                          self._tmp[0][i], flush and self._tiny[i] is not None,
                          self._mask[i], self._tiny[i])
            _step(ps[i], self.state["exp_avg"][i], self.state["exp_avg_sq"][i], eps,
                  step_size, self._tmp[0][i])
        for pack in self._packs:
            wd = self.weight_decay if pack.decay else 0.0
            pack.gather(gs, pack.g_views)
            g = pack.g
            if wd and self._decoupled:
                for i in pack.index:
                    np.multiply(ps[i], 1.0 - lr * wd, out=ps[i])
            elif wd:
                pack.gather(ps, pack.p_views)
                g = _l2(g, pack.p, wd, pack.tmp2)
            self._moments(g, pack.m, pack.v, pack.tmp, flush and pack.tiny is not None,
                          pack.mask, pack.tiny)
            _delta(pack.m, pack.v, eps, step_size, pack.tmp)
            for i, delta in zip(pack.index, pack.tmp_views, strict=True):
                np.subtract(ps[i], delta, out=ps[i])

    def _moments(self, g, m, v, tmp, flush, mask, tiny):
        """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  subnormals flushed if due."""
        b1 = self.beta1
        np.multiply(m, b1, out=m)
        np.add(m, np.multiply(g, 1.0 - b1, out=tmp), out=m)
        _average_square(v, g, self.beta2, tmp)
        if flush:
            _flush(v, mask, tiny)
            _flush(m, mask, tiny, tmp)


class AdamW(Adam):
    """Adam with decoupled weight decay, as torch.optim.AdamW (no amsgrad):

    p <- p (1 - lr weight_decay), then the Adam step above without the L2 term.

    The decay shrinks the weights directly instead of entering m and v, so it is not
    rescaled by sqrt(vhat) (Loshchilov and Hutter, 2019). The book has no AdamW.
    """

    _decoupled = True

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get_optimizer(name, **kwargs):
    """An optimizer by name (case-insensitive), e.g. ``get_optimizer("adam", lr=1e-3)``."""
    if not isinstance(name, str):
        raise InputTypeError(f"name must be a string, got {type(name).__name__} {name!r}")
    if name.lower() not in OPTIMIZERS:
        raise InputValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name.lower()](**kwargs)
