"""Exact central differences for layered models, computed from what a perturbation changes.

``Sequential.numerical_gradient`` (so ``TwoLayerNet`` and ``MultiLayerNet`` too) and
``gradient_check(model, ..., mode='exact')`` use this module. The result is the one the
element-by-element loop of ``chainrule.numerical.numerical_gradient`` gives — for every
parameter element, (f(θ + h e_i) − f(θ − h e_i)) / 2h with h = 1e-4 and the loss
evaluated at both points, not linearised — but a one-element perturbation changes
little of a network, and only that is recomputed:

* W[i, j] of an ``Affine`` layer moves column j of its output, by ±h x[:, i]; b[j], and
  gamma[j] or beta[j] of a batch normalisation, move column j too;
* elementwise layers (sigmoid, ReLU, tanh), a held dropout mask and batch normalisation
  in training mode (statistics per feature) keep a change inside its column, which is
  recomputed (N numbers instead of N x width);
* the next ``Affine`` turns the changed column d into the rank-1 change d ⊗ W[j, :] of
  all its outputs. Later layers take that change in factored form where they can —
  batch normalisation gets its new mean and variance from d and W[j, :] in closed form,
  ReLU and dropout are linear wherever the change cannot reach a kink (checked, and the
  few entries that might are computed exactly) — and recompute densely otherwise, on
  the narrow widths that remain;
* the loss layer evaluates the change of the loss exactly (for softmax cross entropy,
  each row's log-normaliser changes by log1p(Σ_k p_k expm1(ds_k))), and weight decay's
  ½λ‖W‖² changes by ½λ δ (2 W_i + δ).

Many perturbations — a block of elements, both signs — go through as one stack of
arrays; ``BLOCK_ELEMENTS`` bounds the largest array of a block. The steps ±h are the
ones the plain loop takes: θ_i + h and θ_i − h rounded to the parameter's dtype.

Accuracy. f(θ ± h e) − f(θ) is computed as a difference of small quantities, not as the
difference of two full losses, so it keeps more digits than the plain loop. In float64
the two agree to about 1e-8 of each array's largest gradient, and that difference is the
plain loop's rounding (where the two differ most, the same central difference evaluated
in extended precision agrees with the fast one to about 1e-11); they cannot agree bit
for bit, as the order of the floating-point operations differs. Both agree with backprop
to about 1e-6 (the O(h²) error of central differences) — except where a step of h
crosses a ReLU kink, where every central difference differs from the derivative, the
fast one exactly as the plain one does. In float32 the plain loop's two losses carry
float32 rounding (about 1e-3 of the gradient after dividing by 2h, hence its warning);
the fast path computes the changes in float64 from the float32 parameters and
activations, so it is nearer the true central difference, and the two agree only to the
plain loop's noise.

What a layer declares (``elementwise``, ``linear_within``, ``input_matrix``,
``column_change``, ``terms_change``, ``param_columns``, ``loss_change``; docs/protocol.md
explains each): a model whose every layer is known through these declarations, with a
loss layer that has ``loss_change``, takes the fast path; any other (a layer of your
own that declares none of them, a parameter shared by two layers, a model that
overrides ``forward_checked`` or ``penalty``) takes the plain loop, with identical
results. A declaration inherited from a class above the one that defines ``forward``
does not count, since a subclass that rewrote ``forward`` may have broken it.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import protocol

__all__ = ["numerical_gradient", "supports", "BLOCK_ELEMENTS"]

#: Numbers in the largest array of one block of perturbations (2**21 float64: 16 MiB).
BLOCK_ELEMENTS = 1 << 21
#: Numbers in one chunk of the dense change the loss layer evaluates (512 KiB).
LOSS_CHUNK = 1 << 16


def _declared(layer, name):
    """The layer's declaration ``name``, or None.

    An instance attribute counts; a class attribute counts when the class that defines it
    is the class that defines ``forward`` or a subclass of it.
    """
    if name in getattr(layer, "__dict__", {}):
        return getattr(layer, name)
    mro = type(layer).__mro__
    owner = next((c for c in mro if name in vars(c)), None)
    if owner is None:
        return None
    forward_owner = next((c for c in mro if "forward" in vars(c)), None)
    if forward_owner is not None and not issubclass(owner, forward_owner):
        return None
    value = getattr(layer, name, None)
    return value if value is not False else None


class _Step:
    """One layer and what it declares for the fast path."""

    def __init__(self, layer):
        self.layer = layer
        self.flag = protocol.takes_train_flag(layer)
        self.mixes = _declared(layer, "input_matrix") is not None
        self.column_change = _declared(layer, "column_change")
        self.terms_change = _declared(layer, "terms_change")
        self.linear_within = _declared(layer, "linear_within")
        self.elementwise = _declared(layer, "elementwise") is not None
        self.param_columns = _declared(layer, "param_columns")
        self.known = (self.mixes or self.elementwise or self.column_change is not None
                      or self.linear_within is not None)

    def forward(self, x):
        return self.layer.forward(x, True) if self.flag else self.layer.forward(x)


def _plan(model):
    """(steps, sources) when the fast path knows every part of ``model``; else None.

    ``sources`` lists (name, layer index, param index) in the order of ``model.params``.
    """
    from .network import Sequential

    cls = type(model)
    if (getattr(cls, "forward_checked", None) is not Sequential.forward_checked
            or getattr(cls, "penalty", None) is not Sequential.penalty):
        return None
    if _declared(model.last_layer, "loss_change") is None:
        return None
    names = {id(array): name for name, array in model.params.items()}
    steps, sources, seen = [], {}, set()
    for q, layer in enumerate(model.layers):
        step = _Step(layer)
        if not step.known:
            return None
        for p, array in enumerate(layer.params):
            name = names.get(id(array))
            if name is None or id(array) in seen or step.param_columns is None:
                return None  # unnamed, shared by two layers, or no declared effect
            seen.add(id(array))
            sources[name] = (q, p)
        steps.append(step)
    if len(seen) != len(model.params):
        return None
    return steps, [(name, *sources[name]) for name in model.params]


def supports(model):
    """Whether ``model.numerical_gradient`` takes the fast path (else the plain loop)."""
    return _plan(model) is not None


def numerical_gradient(model, x, t, h=1e-4, *, with_input=False):
    """Central differences of the training-mode loss for every parameter, or None.

    ``x`` and ``t`` are what ``model.validate(x, t)`` returned. Call it inside
    ``model.held()`` (dropout masks fixed, running statistics restored afterwards).
    Returns a dict name -> array like ``Model.numerical_gradient``, and with
    ``with_input=True`` the pair (that dict, the central differences for ``x``); None
    when the model is not one the fast path knows (see ``supports``), before running
    anything, so the caller's plain loop sees the model untouched.
    """
    plan = _plan(model)
    if plan is None:
        return None
    steps, sources = plan
    if any(np.dtype(model.params[name].dtype).itemsize < 8 for name, _, _ in sources):
        warnings.warn(
            f"numerical_gradient on {model.dtype}: with h = {h:g} the perturbed value "
            "x + h is rounded to the array's precision, leaving only about 3 correct "
            "digits; use float64 (model.astype(np.float64)) for gradient checks",
            UserWarning, stacklevel=3)
    run = _Run(model, steps, x, t, h)
    grads = {name: run.param_gradient(model.params[name], q, p) for name, q, p in sources}
    dx = run.input_gradient() if with_input else None
    model.forward_checked(x, t, train_flg=True)  # the layers' caches: unperturbed again
    return (grads, dx) if with_input else grads


# ---- changes of an activation ----------------------------------------------------------


class _Cols:
    """A change of a few columns of an (N, F) activation: ``cols`` (B, k), ``vals`` (B, N, k)."""

    __slots__ = ("cols", "vals")

    def __init__(self, cols, vals):
        self.cols, self.vals = cols, vals


class _Wide:
    """A change of every column: the sum of ``terms``, ``dense`` and ``sparse``.

    A term (F, u, v) is F[n, c] u[b, n] v[b, c] (F (N, width), u (B, N), v (B, width);
    None stands for ones); ``dense`` is (B, N, width) or None; ``sparse`` is
    (b, n, c, value) arrays or None.
    """

    __slots__ = ("terms", "dense", "sparse")

    def __init__(self, terms=(), dense=None, sparse=None):
        self.terms, self.dense, self.sparse = list(terms), dense, sparse


def _term(F, u, v, n):
    """The (B, N, width) array of one term."""
    if u is None:
        out = np.repeat(v[:, None, :], n, axis=1)
    else:
        out = np.einsum("bn,bc->bnc", u, v)
    if F is not None:
        out *= F
    return out


def _part(change, lo, hi):
    """The change of perturbations lo:hi alone."""
    if isinstance(change, _Cols):
        return _Cols(change.cols[lo:hi], change.vals[lo:hi])
    terms = [(F, None if u is None else u[lo:hi], v[lo:hi]) for F, u, v in change.terms]
    dense = None if change.dense is None else change.dense[lo:hi]
    sparse = change.sparse
    if sparse is not None:
        keep = (sparse[0] >= lo) & (sparse[0] < hi)
        sparse = (sparse[0][keep] - lo, *(a[keep] for a in sparse[1:])) if keep.any() else None
    return _Wide(terms, dense, sparse)


def _dense(change, n, width, count):
    """The change of ``count`` perturbations as one (count, N, width) array."""
    if isinstance(change, _Cols):
        out = np.zeros((count, n, width))
        out[np.arange(count)[:, None], :, change.cols] = np.swapaxes(change.vals, 1, 2)
        return out
    if not change.terms and change.sparse is None and change.dense is not None:
        return change.dense
    out = None if change.dense is None else np.array(change.dense, dtype=np.float64)
    for F, u, v in change.terms:
        part = _term(F, u, v, n)
        out = part if out is None else np.add(out, part, out=out)
    if out is None:
        out = np.zeros((count, n, width))
    if change.sparse is not None:
        b, rows, cols, values = change.sparse
        np.add.at(out, (b, rows, cols), values)
    return out


class _Run:
    """The base forward pass of one model and the propagation of changes through it."""

    def __init__(self, model, steps, x, t, h):
        self.steps, self.t, self.h = steps, t, h
        self.x = x
        self.n = x.shape[0]
        acts = [x]
        for step in steps:
            acts.append(np.array(step.forward(acts[-1]), copy=True))
        self.scores = acts[-1]
        self.flat = [a.reshape(self.n, -1) for a in acts]
        self.loss = model.last_layer
        lam = float(model.weight_decay_lambda or 0.0)
        self.decay = lam
        self.no_decay = getattr(model.params, "no_decay", frozenset())
        self.names = {id(a): name for name, a in model.params.items()}
        self.cache = {}

    # -- per-layer constants, computed once -------------------------------------------

    def _elementwise_base(self, q):
        """(input, output) of layer q in float64, for f(x + d) - f(x)."""
        key = ("elementwise", q)
        if key not in self.cache:
            x_in = self.flat[q]
            if x_in.dtype == np.float64 and self.flat[q + 1].dtype == np.float64:
                out = self.flat[q + 1]
            else:
                x_in = x_in.astype(np.float64)
                out = np.asarray(self.steps[q].forward(x_in), dtype=np.float64)
                out = out.reshape(self.n, -1)
            self.cache[key] = (x_in, out)
        return self.cache[key]

    def _linear(self, q):
        """(slope, radius, smallest radius per column) of a layer declaring linear_within."""
        key = ("linear", q)
        if key not in self.cache:
            x_in = self.flat[q]
            slope, radius = self.steps[q].linear_within(x_in)
            shape = x_in.shape
            slope = np.broadcast_to(np.asarray(slope, dtype=np.float64), shape)
            radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), shape)
            self.cache[key] = (slope, radius, radius.min(axis=0))
        return self.cache[key]

    def _require_elementwise(self, q):
        """Layer q's step, if it is elementwise; else a RuntimeError: a change went past
        the radius of its ``linear_within`` and nothing else can evaluate it."""
        step = self.steps[q]
        if not step.elementwise:
            raise RuntimeError(
                f"{step.layer!r} declares linear_within with a finite radius but not "
                "elementwise, so the fast numerical gradient cannot evaluate it exactly")
        return step

    def _exact(self, q, rows, cols, d):
        """f(x + d) - f(x) of layer q at the entries (rows, cols), by its forward."""
        step = self._require_elementwise(q)
        x_in, out = self._elementwise_base(q)
        return np.asarray(step.forward(x_in[rows, cols] + d)) - out[rows, cols]

    # -- through one layer ------------------------------------------------------------

    def through(self, q, change, count):
        """The change of layer q's output (N, out) from the change of its input."""
        if isinstance(change, _Cols):
            return self._columns_through(q, change)
        return self._wide_through(q, change, count)

    def _columns_through(self, q, change):
        """A change of a few columns: it stays in them, except through a mixing layer,
        which turns column k's change d_k into the rank-1 change d_k ⊗ M[k, :]."""
        step, x = self.steps[q], self.flat[q]
        cols, vals = change.cols, change.vals
        if step.mixes:
            M = step.layer.input_matrix
            return _Wide([(None, vals[:, :, k], M[cols[:, k]]) for k in range(cols.shape[1])])
        if step.column_change is not None:
            return _Cols(cols, step.column_change(x, vals, cols))
        if step.elementwise:  # f(x + d) - f(x) on the changed columns
            x_in, out = self._elementwise_base(q)
            x_cols = np.moveaxis(x_in[:, cols], 0, 1)
            out_cols = np.moveaxis(out[:, cols], 0, 1)
            return _Cols(cols, np.asarray(step.forward(x_cols + vals)) - out_cols)
        slope, radius, _ = self._linear(q)
        if np.any(np.abs(vals) >= np.moveaxis(radius[:, cols], 0, 1)):
            self._require_elementwise(q)  # raises: the change went past the radius
        return _Cols(cols, np.moveaxis(slope[:, cols], 0, 1) * vals)

    def _wide_through(self, q, change, count):
        """A change of every column: kept in factored form where the layer allows it
        (mixing, linear near its input, batch norm's closed form), else made dense."""
        step, x = self.steps[q], self.flat[q]
        if step.mixes:
            return self._mix(q, change, count)
        structured = change.dense is None and change.sparse is None
        if step.linear_within is not None and structured:
            return self._linear_terms(q, change)
        if (step.terms_change is not None and structured
                and all(F is None for F, _, _ in change.terms)):
            return _Wide(step.terms_change(x, change.terms))
        d = _dense(change, self.n, x.shape[1], count)
        if step.column_change is not None:
            return _Wide(dense=step.column_change(x, d, None))
        if step.elementwise:
            x_in, out = self._elementwise_base(q)
            return _Wide(dense=np.asarray(step.forward(x_in + d)) - out)
        slope, radius, _ = self._linear(q)
        if np.any(np.abs(d) >= radius):
            self._require_elementwise(q)  # raises: the change went past the radius
        return _Wide(dense=slope * d)

    def _mix(self, q, change, count):
        """A layer whose output changes by dx @ M: rank-1 terms stay rank-1."""
        M = self.steps[q].layer.input_matrix
        terms, dense = [], None
        fan_in, fan_out = M.shape
        for r, (F, u, v) in enumerate(change.terms):
            if F is None:
                terms.append((None, u, v @ M))
                continue
            # sum_c F[n, c] v[b, c] M[c, h] for all b: one matrix product v @ T with
            # T[c, (n, h)] = F[n, c] M[c, h], the same for every block (kept)
            T = self._product(("mix", q, r), F, M)
            if T is not None:
                part = (v @ T).reshape(count, self.n, fan_out)
            else:  # T too large to keep: G[c, (b, h)] = v[b, c] M[c, h] per block
                G = np.empty((fan_in, count, fan_out))
                np.multiply(v.T[:, :, None], M[:, None, :], out=G)
                part = (F @ G.reshape(fan_in, -1)).reshape(self.n, count, fan_out)
                part = np.ascontiguousarray(part.transpose(1, 0, 2))
            if u is not None:
                part *= u[:, :, None]
            dense = part if dense is None else np.add(dense, part, out=dense)
        if change.dense is not None:
            b = change.dense.shape[0]
            part = (change.dense.reshape(-1, fan_in) @ M).reshape(b, self.n, fan_out)
            dense = part if dense is None else np.add(dense, part, out=dense)
        if change.sparse is not None:
            b, rows, cols, values = change.sparse
            if dense is None:
                dense = np.zeros((count, self.n, fan_out))
            np.add.at(dense, (b, rows), values[:, None] * M[cols])
        return _Wide(terms, dense)

    def _product(self, key, F, M):
        """T[c, (n, h)] = F[n, c] M[c, h] as a (fan_in, N * fan_out) matrix, kept between
        blocks while F is the same; None when it would be larger than four blocks."""
        (n, fan_in), fan_out = F.shape, M.shape[1]
        if fan_in * n * fan_out > 4 * BLOCK_ELEMENTS:
            return None
        kept = self.cache.get(key)
        if kept is not None and kept[0].shape == F.shape and np.array_equal(kept[0], F):
            return kept[1]
        T = np.empty((fan_in, n, fan_out))
        np.multiply(F.T[:, :, None], M[:, None, :], out=T)
        T = T.reshape(fan_in, n * fan_out)
        self.cache[key] = (np.array(F, copy=True), T)
        return T

    def _linear_terms(self, q, change):
        """A layer that is linear near its input: scale each term by the slope, and compute
        exactly the entries a change might push past a kink."""
        slope, radius, smallest = self._linear(q)
        bound = 0.0
        for F, u, v in change.terms:
            size = np.abs(v)
            if F is not None:
                size = size * np.abs(F).max(axis=0)
            if u is not None:
                size = size * np.abs(u).max(axis=1)[:, None]
            bound = bound + size
        terms = [(slope if F is None else F * slope, u, v) for F, u, v in change.terms]
        risky_b, risky_c = np.nonzero(bound >= smallest)
        if risky_b.size == 0:
            return _Wide(terms)
        d = 0.0  # the exact change in the risky columns, (R, N)
        for F, u, v in change.terms:
            part = v[risky_b, risky_c][:, None]
            if u is not None:
                part = part * u[risky_b]
            if F is not None:
                part = part * F[:, risky_c].T
            d = d + part
        d = np.broadcast_to(d, (risky_b.size, self.n))
        which, rows = np.nonzero(np.abs(d) >= radius[:, risky_c].T)
        if which.size == 0:
            return _Wide(terms)
        cols, values = risky_c[which], d[which, rows]
        fix = self._exact(q, rows, cols, values) - slope[rows, cols] * values
        keep = fix != 0
        if not keep.any():
            return _Wide(terms)
        sparse = (risky_b[which][keep], rows[keep], cols[keep], fix[keep])
        return _Wide(terms, sparse=sparse)

    # -- from a source to the loss ------------------------------------------------------

    def loss_change(self, change, start, count):
        """L(perturbed) - L for ``count`` perturbations whose change enters layer ``start``.

        The loss layer takes the change as one dense array, made and used in chunks of
        ``LOSS_CHUNK`` numbers (they stay in the processor's cache).
        """
        for q in range(start, len(self.steps)):
            change = self.through(q, change, count)
        width = self.flat[-1].shape[1]
        rows = max(1, LOSS_CHUNK // (self.n * width))
        out = np.empty(count)
        for lo in range(0, count, rows):
            hi = min(lo + rows, count)
            d = _dense(_part(change, lo, hi), self.n, width, hi - lo)
            d = d.reshape(hi - lo, *self.scores.shape)
            out[lo:hi] = self.loss.loss_change(self.scores, d, self.t)
        return out

    def _block(self, start):
        """Perturbed elements per block for changes entering layer ``start``.

        Follows the form the change will take through the layers (a few columns,
        factored terms, or dense) to find the largest array one perturbation needs.
        """
        n = self.n
        per_eval, form = n * max(self.flat[-1].shape[1], 1), "columns"
        for q in range(start, len(self.steps)):
            step = self.steps[q]
            fan_in, fan_out = self.flat[q].shape[1], self.flat[q + 1].shape[1]
            if form == "columns":
                form = "rank-1" if step.mixes else form
            elif step.mixes:
                kept = fan_in * n * fan_out <= 4 * BLOCK_ELEMENTS  # see _product
                if form == "factored" and not kept:  # F @ (v W) per block, then dense
                    per_eval = max(per_eval, fan_in * fan_out)
                if form != "rank-1":
                    form = "dense"
            elif step.linear_within is not None and form != "dense":
                form = "factored"
            elif step.terms_change is not None and form == "rank-1":
                form = "factored"
            else:
                form = "dense"
            if form == "dense":
                per_eval = max(per_eval, n * fan_out)
        return max(1, BLOCK_ELEMENTS // per_eval // 2)

    def _steps(self, array):
        """The plain loop's perturbations of each element: up and down, exactly."""
        theta = array.reshape(-1)
        wide = theta.astype(np.float64)
        up = (wide + self.h).astype(array.dtype).astype(np.float64) - wide
        down = (theta - self.h).astype(np.float64) - wide
        return wide, up, down

    def _gradient(self, array, start, change_of, decayed):
        """(L(θ + δ⁺ e_i) - L(θ - δ⁻ e_i)) / 2h for every element i of ``array``.

        ``change_of(elements, steps)`` gives the change the perturbations make to the
        input of layer ``start``; weight decay's ½λ θ_i² changes by ½λ δ (2 θ_i + δ)
        when ``decayed``. Elements go through in blocks, both signs together.
        """
        wide, up, down = self._steps(array)
        grad = np.zeros(array.size, dtype=np.float64)
        per = self._block(start)
        for first in range(0, array.size, per):
            idx = np.arange(first, min(first + per, array.size))
            m = idx.size
            both = np.concatenate([idx, idx])
            step = np.concatenate([up[idx], down[idx]])
            change = change_of(both, step)
            dl = self.loss_change(change, start, 2 * m)
            if decayed:
                dl = dl + 0.5 * self.decay * step * (2.0 * wide[both] + step)
            grad[idx] = (dl[:m] - dl[m:]) / (2 * self.h)
        return grad.reshape(array.shape).astype(array.dtype, copy=False)

    def param_gradient(self, array, q, p):
        """Central differences of ``array``, parameter ``p`` of layer ``q``: each element
        moves one column of the layer's output, as the layer's ``param_columns`` says."""
        name = self.names[id(array)]
        decayed = bool(self.decay) and name not in self.no_decay

        def change_of(flat, step):
            cols, vals = self.steps[q].param_columns(p, flat, step)
            cols = np.asarray(cols).reshape(-1, 1)
            return _Cols(cols, np.asarray(vals, dtype=np.float64)[:, :, None])

        return self._gradient(array, q + 1, change_of, decayed)

    def input_gradient(self):
        """Central differences of the input x (N, D): x[n, i] ± h moves entry n of the
        input's column i, which the first layer takes like any changed column."""
        x = self.x
        width = self.flat[0].shape[1]

        def change_of(flat, step):
            rows, cols = np.divmod(flat, width)
            vals = np.zeros((flat.size, self.n, 1))
            vals[np.arange(flat.size), rows, 0] = step
            return _Cols(cols[:, None], vals)

        return self._gradient(x, 0, change_of, False)
