"""Layers with forward and backward, on the book-2 layer protocol.

Protocol (every layer, no exceptions): ``params`` and ``grads`` are lists (empty when
there are none) of the same-shaped arrays; ``forward`` keeps only what ``backward``
needs; ``backward(dout)`` returns dL/dx and writes parameter gradients in place
(``grads[i][...] = ...``), so a model can gather the arrays once. ``backward`` never
mutates ``dout`` or a cached input. Loss layers take ``forward(x, t)`` and
``backward(dout=1)``; layers that differ between training and inference take
``forward(x, train_flg=True)`` and declare ``takes_train_flag = True``.
``param_names`` gives the book's names of the parameters (``W``/``b``,
``gamma``/``beta``), which models number by layer; ``decay`` names those weight decay
applies to; ``buffer_names`` the non-trained state saved with the model. The full
protocol, with its defaults, is in ``chainrule.protocol``.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .conv_layers import AvgPooling, Convolution, Flatten, Pooling
from .functions import sigmoid, softmax
from .nodes import MatMul
from .protocol import Layer
from .rng import as_generator
from .validation import check_number

__all__ = [
    "Affine",
    "MatMul",
    "Sigmoid",
    "Relu",
    "Tanh",
    "Softmax",
    "SoftmaxWithLoss",
    "SigmoidWithLoss",
    "Dropout",
    "BatchNormalization",
    "Convolution",
    "Pooling",
    "AvgPooling",
    "Flatten",
]

class Affine(Layer):
    """y = x @ W + b: (N, D) @ (D, H) + (H,) -> (N, H).

    Backward: dx = dy @ W.T, dW = x.T @ dy, db = sum_n dy_n (the bias was repeated over
    the N rows, so its gradient is summed: ``Affine`` is ``MatMul`` plus a ``Repeat``
    bias). Inputs (N, d1, d2, ...) are flattened to (N, d1*d2*...) as in book 1, and dx
    takes the input's shape again. Set ``input_grad = False`` on a first layer to skip
    dx, which nobody needs there.
    """

    param_names = ("W", "b")
    decay = ("W",)

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.input_grad = True
        self.x = None
        self.x_shape = None

    def __repr__(self):
        return f"Affine({self.params[0].shape[0]}, {self.params[0].shape[1]})"

    W = property(lambda self: self.params[0], doc="The weights, ``params[0]`` (book 1's name).")
    b = property(lambda self: self.params[1], doc="The biases, ``params[1]`` (book 1's name).")
    dW = property(lambda self: self.grads[0], doc="dL/dW of the last backward, ``grads[0]``.")
    db = property(lambda self: self.grads[1], doc="dL/db of the last backward, ``grads[1]``.")

    @property
    def input_shape(self):
        """The shape of one input sample: (D,) for W of shape (D, H)."""
        return (self.params[0].shape[0],)

    @property
    def input_matrix(self):
        """W: the output changes by dx @ W when the flattened input changes by dx
        (declared for fast numerical gradients, ``chainrule.fastgrad``)."""
        return self.params[0]

    def param_columns(self, p, flat, step):
        """Elements ``flat`` of ``params[p]`` changed by ``step`` (B,): the output column
        each one moves, and by how much (B, N), from the last forward's input.

        W[i, j] + s moves column j by s * x[:, i]; b[j] + s moves column j by s.
        """
        n, width = self.x.shape[0], self.params[0].shape[1]
        if p == 0:
            rows, cols = np.divmod(flat, width)
            return cols, step[:, None] * self.x.T[rows]
        return flat, np.repeat(step[:, None], n, axis=1)

    def forward(self, x):
        W, b = self.params
        self.x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        out = self.x @ W
        out += b  # in place: one (N, H) array, not two
        return out

    def backward(self, dout):
        W, _ = self.params
        np.matmul(self.x.T, dout, out=self.grads[0])
        dout.sum(axis=0, out=self.grads[1])
        if not self.input_grad:
            return None
        return (dout @ W.T).reshape(self.x_shape)


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x)).   Backward: dx = dy * y * (1 - y), from the output alone."""

    elementwise = True  # forward acts on each element alone, on any shape

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Relu(Layer):
    """y = max(0, x).   Backward: dx = dy * [x > 0] (0 at x = 0, as in PyTorch)."""

    elementwise = True

    @staticmethod
    def linear_within(x):
        """(slope, radius): relu(x + d) = relu(x) + slope * d wherever |d| < radius."""
        return (x > 0).astype(x.dtype), np.abs(x)

    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return np.multiply(dout, self.positive)


class Tanh(Layer):
    """y = tanh(x).   Backward: dx = dy * (1 - y**2)."""

    elementwise = True

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out**2)


class Softmax(Layer):
    """y = softmax(x) over the last axis.   Backward: dx = y * (dy - sum_k dy_k y_k).

    The Jacobian of softmax is diag(y) - y y^T; applied to dy it gives the rule above.
    """

    def forward(self, x):
        self.out = softmax(x)
        return self.out

    def backward(self, dout):
        dx = self.out * dout
        dx -= self.out * np.sum(dx, axis=-1, keepdims=True)
        return dx


def _is_label_vector(t, x):
    """True for integer labels (N,); False for rows (N, C) of one-hot or probabilities."""
    return t.ndim == x.ndim - 1


class SoftmaxWithLoss(Layer):
    """L = -(1/N) sum_n sum_k t_nk log softmax(x)_nk, from logits x: (N, C).

    ``t`` is integer labels (N,), one-hot rows (N, C) or probability rows (N, C); soft
    targets are honoured as the true cross entropy. The loss comes from a stable
    log-softmax, log y = (x - max x) - log sum exp(x - max x), so no logit can overflow
    and no log(0) appears (the book applies ``cross_entropy_error`` to softmax(x), with
    +1e-7 inside the log; the two differ by about 1e-7 / y relative).

    Backward: dx = (y - t) / N * dout, with labels turned into one-hot rows. For rows
    that do not sum to 1 (book 1, ch. 4 takes ``np.random.rand(100, 10)`` as targets for
    ``two_layer_net.py``) the exact rule is dx = (y * sum_k t_k - t) / N * dout, which is
    what is computed. Entries of dx below the dtype's smallest normal number (1.2e-38 in
    float32) are set to 0: a confident network's y of a wrong class divided by N lands
    there, and every product the backward pass makes from such subnormal numbers is
    slow (an RMSprop run of 784-256-256-256-10 grew 1.15-1.19x slower over 10 epochs;
    1.08-1.09x with this); the change to any gradient is below that number.
    """

    def forward(self, x, t):
        shifted = x - x.max(axis=-1, keepdims=True)
        y = np.exp(shifted)
        total = y.sum(axis=-1, keepdims=True)
        y /= total
        self.y, self.t = y, t
        log_total = np.log(total)
        n = x.shape[0]
        if _is_label_vector(t, x):
            picked = shifted[np.arange(n), t]
            return float(log_total.sum() - picked.sum()) / n
        return float(-(t * (shifted - log_total)).sum()) / n

    def backward(self, dout=1):
        n = self.y.shape[0]
        if _is_label_vector(self.t, self.y):
            dx = self.y.copy()
            dx[np.arange(n), self.t] -= 1
        else:
            dx = self.y * np.sum(self.t, axis=-1, keepdims=True) - self.t
        dx *= dout / n
        dx[np.abs(dx) < np.finfo(dx.dtype).tiny] = 0  # no subnormals into the backward pass
        return dx

    def loss_change(self, x, dx, t):
        """L(x + dx[b], t) - L(x, t) for B changes dx (B, N, C) of the logits x, exactly.

        For fast numerical gradients: with p = softmax(x), row n's log-normaliser changes
        by log1p(sum_k p_k expm1(dx_k)) and its target term by sum_k t_k dx_k, which keeps
        the digits of small changes; rows this cannot take (changes of order 10 and
        more) are evaluated from x + dx directly. Changes no state.
        """
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        p = softmax(x)
        if _is_label_vector(t, x):
            weight, linear = np.ones(n), dx[:, np.arange(n), t].sum(axis=1)
        else:
            weight, linear = t.sum(axis=-1), np.einsum("bnk,nk->b", dx, t)
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.einsum("bnk,nk->bn", np.expm1(dx), p)
            change = np.log1p(z)
        bad = ~np.isfinite(change) | (z < -0.5)
        if bad.any():
            b, rows = np.nonzero(bad)

            def log_normaliser(s):
                top = s.max(axis=-1, keepdims=True)
                return top[:, 0] + np.log(np.exp(s - top).sum(axis=-1))

            change[b, rows] = log_normaliser(x[rows] + dx[b, rows]) - log_normaliser(x[rows])
        return (change @ weight - linear) / n

    @staticmethod
    def predict(x):
        """Class probabilities from logits: softmax over the last axis."""
        return softmax(x)


class SigmoidWithLoss(Layer):
    """L = (1/N) sum [softplus(x) - t x] = binary cross entropy of sigmoid(x) against t.

    Shapes: ``x`` (N,) or (N, K) logits; ``t`` the same shape, labels 0/1 or
    probabilities. Computed as max(x, 0) - t x + log(1 + exp(-|x|)), which never
    overflows. Backward: dx = (sigmoid(x) - t) / N * dout.
    """

    def forward(self, x, t):
        self.t = t
        self.y = sigmoid(x)
        loss = np.maximum(x, 0) - t * x + np.log1p(np.exp(-np.abs(x)))
        return float(np.sum(loss) / x.shape[0])

    def backward(self, dout=1):
        return (self.y - self.t) * (dout / self.t.shape[0])

    def loss_change(self, x, dx, t):
        """L(x + dx[b], t) - L(x, t) for B changes dx (B, *x.shape) of the logits, exactly.

        For fast numerical gradients: softplus(x + d) - softplus(x) =
        log1p(sigmoid(x) expm1(d)), which keeps the digits of small changes; entries this
        cannot take are evaluated from x + dx directly. Changes no state.
        """
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            z = sigmoid(x) * np.expm1(dx)
            change = np.log1p(z)
        bad = ~np.isfinite(change) | (z < -0.5)
        if bad.any():
            def softplus(s):
                return np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s)))

            base = np.broadcast_to(x, dx.shape)[bad]
            change[bad] = softplus(base + dx[bad]) - softplus(base)
        b = dx.shape[0]
        change = change.reshape(b, -1).sum(axis=1)
        return (change - (dx * t).reshape(b, -1).sum(axis=1)) / x.shape[0]

    @staticmethod
    def predict(x):
        """Probabilities from logits: sigmoid, elementwise."""
        return sigmoid(x)


class Dropout(Layer):
    """Inverted dropout: y = x * m / (1 - p) in training, y = x in inference.

    ``m`` is a fresh 0/1 mask with P(m = 0) = ``dropout_ratio`` drawn from
    ``random_state`` at every training forward; scaling by 1 / (1 - p) keeps the
    expectation, so inference is the identity (the book scales by (1 - p) at inference
    instead, which gives the same predictions). Backward: dx = dy * m / (1 - p).

    Set ``frozen = True`` to reuse the last mask (gradient checks do, so every
    evaluation sees the same network).
    """

    takes_train_flag = True

    def __init__(self, dropout_ratio=0.5, random_state=None):
        super().__init__()
        self.dropout_ratio = check_number(dropout_ratio, "dropout_ratio", low=0, high=1,
                                          high_open=True)
        self.rng = as_generator(random_state)
        self.frozen = False
        self.scale = None

    def __repr__(self):
        return f"Dropout({self.dropout_ratio:g})"

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x
        if not (self.frozen and self.scale is not None and self.scale.shape == x.shape):
            keep = self.rng.random(x.shape) >= self.dropout_ratio
            self.scale = (keep / (1.0 - self.dropout_ratio)).astype(x.dtype)
        return x * self.scale

    def backward(self, dout):
        return dout * self.scale

    def linear_within(self, x):
        """(slope, radius) with the held mask: y = x * scale changes by scale * d, always."""
        return self.scale.reshape(x.shape), np.inf

    @contextlib.contextmanager
    def held(self):
        """While inside, every training forward reuses the last mask (``frozen``).

        Nested uses are fine: leaving the inner one keeps the mask held for the outer.
        """
        before, self.frozen = self.frozen, True
        try:
            yield self
        finally:
            self.frozen = before


class BatchNormalization(Layer):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta, per feature over the batch.

    Shapes: ``x`` (N, D) or (N, d1, d2, ...) flattened to (N, D); ``gamma``, ``beta``
    (D,). Training uses the batch mean and (biased) variance and updates the running
    statistics, ``running = momentum * running + (1 - momentum) * batch`` (book 1's
    convention; PyTorch's ``momentum=0.1`` means the same as 0.9 here, and PyTorch keeps
    the unbiased variance). Inference uses the running statistics.

    Backward (training), with xn the normalised input and s = sqrt(var + eps):
    dbeta = sum dy, dgamma = sum dy * xn,
    dx = (1/s) (dxn - mean(dxn) - xn * mean(dxn * xn)) with dxn = dy * gamma.
    """

    param_names = ("gamma", "beta")
    decay = ()
    buffer_names = ("running_mean", "running_var")
    takes_train_flag = True

    def __init__(self, gamma, beta, momentum=0.9, eps=1e-5, running_mean=None, running_var=None):
        momentum = check_number(momentum, "momentum", low=0, high=1)
        eps = check_number(eps, "eps", low=0, low_open=True)
        self.params = [gamma, beta]
        self.grads = [np.zeros_like(gamma), np.zeros_like(beta)]
        self.momentum = momentum
        self.eps = eps
        self.running_mean = np.zeros_like(gamma) if running_mean is None else running_mean
        self.running_var = np.ones_like(gamma) if running_var is None else running_var

    def __repr__(self):
        return f"BatchNormalization({self.params[0].shape[0]})"

    dgamma = property(lambda self: self.grads[0],
                      doc="dL/dgamma of the last backward, ``grads[0]`` (book 1's name).")
    dbeta = property(lambda self: self.grads[1],
                     doc="dL/dbeta of the last backward, ``grads[1]`` (book 1's name).")

    def forward(self, x, train_flg=True):
        gamma, beta = self.params
        self.x_shape = x.shape
        self.train = train_flg
        x = x.reshape(x.shape[0], -1)
        if train_flg:
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            m = self.momentum
            self.running_mean[...] = m * self.running_mean + (1 - m) * mu
            self.running_var[...] = m * self.running_var + (1 - m) * var
        else:
            mu, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + self.eps)
        self.xn = (x - mu) / self.std
        return (gamma * self.xn + beta).reshape(self.x_shape)

    def backward(self, dout):
        gamma, _ = self.params
        dout = dout.reshape(dout.shape[0], -1)
        self.grads[0][...] = np.sum(dout * self.xn, axis=0)
        self.grads[1][...] = np.sum(dout, axis=0)
        dxn = dout * gamma
        if not self.train:  # the running statistics are constants
            return (dxn / self.std).reshape(self.x_shape)
        dx = dxn - dxn.mean(axis=0) - self.xn * np.mean(dxn * self.xn, axis=0)
        return (dx / self.std).reshape(self.x_shape)

    # ---- declared for fast numerical gradients (chainrule.fastgrad); training mode ----

    def param_columns(self, p, flat, step):
        """gamma[j] + s moves output column j by s * xn[:, j], beta[j] + s by s."""
        if p == 0:
            return flat, step[:, None] * self.xn.T[flat]
        return flat, np.repeat(step[:, None], self.xn.shape[0], axis=1)

    def _statistics(self, x):
        x = np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1)
        return x - x.mean(axis=0), x.var(axis=0) + self.eps

    def column_change(self, x, dx, columns=None):
        """The output's change in the input's changed columns (a feature's statistics are its own).

        ``x`` (N, D) is the input of a training forward, ``dx`` (B, N, k) changes of its
        columns ``columns`` (B, k) — of all columns when None (dx (B, N, D)). With d the
        change less its mean and q = mean(2 (x - mu) d + d^2) the change of the variance,
        the output changes by gamma (d / s' - (x - mu) q / (s s' (s + s'))), where
        s = sqrt(var + eps) and s' = sqrt(var + eps + q): the recomputed statistics.
        """
        centred, var = self._statistics(x)
        gamma = self.params[0]
        if columns is not None:
            centred = np.moveaxis(centred[:, columns], 0, 1)
            var, gamma = var[columns][:, None, :], gamma[columns][:, None, :]
        d = dx - dx.mean(axis=1, keepdims=True)
        q = (2 * (centred * d).sum(axis=1, keepdims=True)
             + (d * d).sum(axis=1, keepdims=True)) / x.shape[0]
        s, s_new = np.sqrt(var), np.sqrt(var + q)
        return gamma * (d / s_new - centred * (q / (s * s_new * (s + s_new))))

    def terms_change(self, x, terms):
        """The output's change for an input change sum_r u_r (x) v_r, in closed form.

        ``x`` (N, D) is the input of a training forward; a term (None, u, v) stands for
        the change u[b, n] v[b, d] (u (B, N), v (B, D)), the form an ``Affine`` gives a
        changed column. With u~ = u - mean(u), column d's variance changes by
        q = sum_r v_r (2 cov(x_d, u_r) + sum_r' v_r' cov(u_r, u_r')), so with
        s = sqrt(var + eps) and s' = sqrt(var + eps + q) the output changes by
        xn gamma (s / s' - 1) + sum_r u~_r (x) gamma v_r / s', returned as the terms
        [(xn, None, -gamma q / (s' (s + s'))), (None, u~_r, gamma v_r / s'), ...]
        (F[n, d] u[b, n] v[b, d], None for ones; s / s' - 1 written so that it keeps
        its digits when q is small).
        """
        if any(F is not None for F, _, _ in terms):
            raise ValueError("terms_change takes terms (None, u, v) only")
        centred, var = self._statistics(x)
        gamma = self.params[0]
        pairs = [(u - u.mean(axis=1, keepdims=True), v) for _, u, v in terms
                 if u is not None]  # a change the same in every row leaves y as it is
        q = np.zeros((terms[0][2].shape[0], centred.shape[1]))
        for u, v in pairs:  # in place: these are (B, D) arrays, for thousands of B
            inner = u @ centred
            inner *= 2
            for u2, v2 in pairs:
                inner += np.einsum("bn,bn->b", u, u2)[:, None] * v2
            inner *= v
            q += inner
        q /= x.shape[0]
        s = np.sqrt(var)
        s_new = np.sqrt(var + q)
        shrink = s + s_new
        shrink *= s_new
        np.divide(q, shrink, out=shrink)
        shrink *= -gamma
        out = [(centred / s, None, shrink)]
        for u, v in pairs:
            scale = gamma * v
            scale /= s_new
            out.append((None, u, scale))
        return out
