"""A lean hand-written NumPy loop: the yardstick of what NumPy alone allows on this machine.

No layers, no checks, no Python objects per step: every array (batch, activations,
gradients, optimizer state, scratch) is allocated once, every operation writes with
``out=``, and a step is the products, the few elementwise passes the maths needs and the
update. It trains exactly what the other implementations train (same first weights, same
permutations from ``numpy.random.default_rng(seed)``, the same batches, the last one
short when the batch does not divide 60000), computes the mean loss every step as a
training loop does, and deals with subnormals as chainrule does (the loss gradient's
entries below the smallest normal number set to 0, the optimizer's state flushed every
10 updates), so a slowdown over epochs cannot hide in it. run.py times it with one BLAS
thread and with ``--threads``, and reports the faster: chainrule's Trainer is judged
against PyTorch, and this loop says how much of the gap any NumPy code could close here.

chainrule is not used except to read the data. Adam is torch.optim's (the same form as
``chainrule.optim.Adam``); SGD is p -= lr g.
"""

from __future__ import annotations

import math
import time

import numpy as np

FLUSH_EVERY = 10


def _activate(h, relu):
    """h <- relu(h) or sigmoid(h), in place."""
    if relu:
        np.maximum(h, 0, out=h)
    else:
        np.negative(h, out=h)
        np.exp(h, out=h)
        np.add(h, 1, out=h)
        np.reciprocal(h, out=h)


def _activate_back(d, h, relu, tmp):
    """d <- d * f'(pre-activation), from the activation's output h."""
    if relu:  # multiplying by the mask beats np.copyto(d, 0, where=...) several times over
        np.greater(h, 0, out=tmp)
        np.multiply(d, tmp, out=d)
    else:
        np.subtract(1, h, out=tmp)
        np.multiply(tmp, h, out=tmp)
        np.multiply(d, tmp, out=d)


class _Adam:
    """torch.optim.Adam: p -= (lr sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2))."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]
        self.mask = [np.empty(p.shape, bool) for p in params]

    def step(self, grads):
        self.t += 1
        b1, b2 = self.b1, self.b2
        c1, root_c2 = 1 - b1**self.t, math.sqrt(1 - b2**self.t)
        size, eps = self.lr * root_c2 / c1, self.eps * root_c2
        tiny = np.finfo(self.params[0].dtype).tiny
        flush = self.t % FLUSH_EVERY == 0
        for p, g, m, v, tmp, mask in zip(self.params, grads, self.m, self.v, self.tmp,
                                         self.mask, strict=True):
            np.multiply(m, b1, out=m)
            np.add(m, np.multiply(g, 1 - b1, out=tmp), out=m)
            np.multiply(v, b2, out=v)
            np.multiply(g, g, out=tmp)
            np.multiply(tmp, 1 - b2, out=tmp)
            np.add(v, tmp, out=v)
            if flush:
                np.copyto(v, 0, where=np.less(v, tiny, out=mask))
                np.copyto(m, 0, where=np.less(np.abs(m, out=tmp), tiny, out=mask))
            np.sqrt(v, out=tmp)
            np.add(tmp, eps, out=tmp)
            np.divide(m, tmp, out=tmp)
            np.multiply(tmp, size, out=tmp)
            np.subtract(p, tmp, out=p)


class _SGD:
    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def step(self, grads):
        for p, g in zip(self.params, grads, strict=True):
            np.multiply(g, self.lr, out=g)
            np.subtract(p, g, out=p)


def train(w, weights, data, epochs, seed):
    """``epochs`` epochs of workload ``w``: {"seconds": [one per epoch], "accuracy", ...}."""
    (x, t), (xt, tt) = data
    relu, dt, B, n = w.activation == "relu", x.dtype, w.batch, x.shape[0]
    Ws = [np.array(W, dtype=dt) for W, _ in weights]
    bs = [np.array(b, dtype=dt) for _, b in weights]
    gWs, gbs = [np.empty_like(W) for W in Ws], [np.empty_like(b) for b in bs]
    params, grads = [p for pair in zip(Ws, bs, strict=True) for p in pair], [
        g for pair in zip(gWs, gbs, strict=True) for g in pair]
    opt = _Adam(params, w.lr) if w.optimizer == "adam" else _SGD(params, w.lr)
    xb, tb = np.empty((B, x.shape[1]), dt), np.empty(B, t.dtype)
    hs = [np.empty((B, W.shape[1]), dt) for W in Ws]  # each layer's output
    ds = [np.empty((B, W.shape[1]), dt) for W in Ws[:-1]]  # gradients at hidden outputs
    tmps = [np.empty((B, W.shape[1]), dt) for W in Ws]
    bools = [np.empty((B, W.shape[1]), bool) for W in Ws]
    rows, tiny = np.arange(B), np.finfo(dt).tiny
    rng = np.random.default_rng(seed)
    seconds, loss = [], None
    for _ in range(epochs):
        start = time.perf_counter()
        perm = rng.permutation(n)
        for lo in range(0, n, B):
            idx = perm[lo:lo + B]
            k = idx.size
            a, tk = xb[:k], tb[:k]
            np.take(x, idx, axis=0, out=a, mode="clip")
            np.take(t, idx, axis=0, out=tk, mode="clip")
            acts = [a]
            for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
                h = hs[i][:k]
                np.matmul(acts[-1], W, out=h)
                np.add(h, b, out=h)
                if i < len(Ws) - 1:
                    _activate(h, relu)
                acts.append(h)
            y = acts[-1]  # softmax in place, then the loss and its gradient
            np.subtract(y, y.max(axis=1, keepdims=True), out=y)
            np.exp(y, out=y)
            np.divide(y, y.sum(axis=1, keepdims=True), out=y)
            picked = y[rows[:k], tk]
            loss = -float(np.log(picked + 1e-7).sum()) / k
            y[rows[:k], tk] = picked - 1
            np.multiply(y, 1.0 / k, out=y)
            np.copyto(y, 0, where=np.less(np.abs(y, out=tmps[-1][:k]), tiny,
                                           out=bools[-1][:k]))
            d = y
            for i in range(len(Ws) - 1, -1, -1):
                np.matmul(acts[i].T, d, out=gWs[i])
                np.sum(d, axis=0, out=gbs[i])
                if i > 0:
                    dh = ds[i - 1][:k]
                    np.matmul(d, Ws[i].T, out=dh)
                    _activate_back(dh, acts[i], relu, bools[i - 1][:k] if relu
                                   else tmps[i - 1][:k])
                    d = dh
            opt.step(grads)
        seconds.append(time.perf_counter() - start)
    h = xt.astype(dt, copy=False)
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        h = h @ W + b
        if i < len(Ws) - 1:
            h = np.maximum(h, 0) if relu else 1 / (1 + np.exp(-h))
    acc = float((h.argmax(axis=1) == tt).mean())
    return {"seconds": seconds, "accuracy": acc, "last_loss": loss}


def time_products(w, threads):
    """µs of each matrix product of one step of ``w`` (``workloads.product_shapes``),
    laid out as chainrule and the loop above do, with ``threads`` BLAS threads:
    x W, x^T dy (a transposed view) and dy W^T (a transposed view)."""
    from threadpoolctl import threadpool_limits
    from workloads import best_microseconds, product_shapes

    rng = np.random.default_rng(0)
    out = {}
    with threadpool_limits(threads, user_api="blas"):
        for label, (m, k, n) in product_shapes(w.sizes, w.batch):
            if label.startswith("dW"):  # (x^T) dy: x is (batch, d_in) = (k, m)
                a = rng.standard_normal((k, m)).astype(w.dtype).T
                b = rng.standard_normal((k, n)).astype(w.dtype)
            elif label.startswith("dx"):  # dy (W^T): W is (d_in, d_out) = (n, k)
                a = rng.standard_normal((m, k)).astype(w.dtype)
                b = rng.standard_normal((n, k)).astype(w.dtype).T
            else:
                a = rng.standard_normal((m, k)).astype(w.dtype)
                b = rng.standard_normal((k, n)).astype(w.dtype)
            c = np.empty((m, n), w.dtype)
            out[label] = best_microseconds(lambda a=a, b=b, c=c: np.matmul(a, b, out=c))
    return out
