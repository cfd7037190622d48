"""The PyTorch side: seconds per epoch of one continuing run, ``nn.Linear`` + ``torch.optim``.

The loop is the one of ``torch_standalone.py`` (run.py checks that the two agree): the data
in two tensors made once, every epoch a permutation gathered with
``torch.index_select(..., out=)`` into two buffers allocated once, slices of those as
batches, ``zero_grad(set_to_none=True)``, forward, ``F.cross_entropy``, ``backward``,
``step``. The images do not require grad, so the first layer computes no input gradient,
as in chainrule. Two differences from the standalone script, both so that every
implementation trains the same thing: the first weights are copied in from
``workloads.initial_weights`` and the permutations come from
``numpy.random.default_rng(seed)``, like chainrule's.

``variant`` picks torch.optim's implementation: "default" (what ``torch.optim.SGD(params,
lr)`` runs on CPU tensors: the for-loop one) or "fused" (``fused=True``, which the
PyTorch docs call the fastest). run.py times both and compares chainrule with the faster.

PyTorch is optional and imported lazily. chainrule never imports this module.
"""

from __future__ import annotations

import re
import time

VARIANTS = ("default", "fused")


def info():
    """Version, threads and BLAS of this PyTorch build."""
    import torch

    match = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_blas": match.group(1) if match else "unknown"}


def set_threads(n):
    import torch

    torch.set_num_threads(n)


def _dtype(name):
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[name]


def tensors(x, t, dtype):
    """NumPy arrays to tensors of ``dtype`` (features) and int64 (labels), made once."""
    import torch

    return torch.from_numpy(x).to(_dtype(dtype)), torch.from_numpy(t).long()


def build(sizes, activation, dtype, weights):
    """nn.Sequential(Linear, activation, ..., Linear) with ``weights`` [(W, b), ...] copied in.

    W is stored (d_in, d_out) as in chainrule, so the Linear weight is its transpose.
    """
    import torch
    from torch import nn

    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]
    layers = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(d_in, d_out, dtype=_dtype(dtype)), act()]
    model = nn.Sequential(*layers[:-1])
    with torch.no_grad():
        for lin, (W, b) in zip(model[::2], weights, strict=True):
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    return model


def make_optimizer(model, name, lr, variant="default"):
    import torch

    cls = torch.optim.SGD if name == "sgd" else torch.optim.Adam
    return cls(model.parameters(), lr=lr, **({"fused": True} if variant == "fused" else {}))


def train(w, weights, data, epochs, seed, variant="default"):
    """Train ``epochs`` epochs of workload ``w``: {"seconds": [one per epoch], "accuracy"}.

    ``data`` is ((x, t), (x_test, t_test)) as tensors. Every epoch's time covers the
    permutation, the gather and all steps; the test accuracy is taken after the last one.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    (x, t), (xt, tt) = data
    model = build(w.sizes, w.activation, w.dtype, weights)
    opt = make_optimizer(model, w.optimizer, w.lr, variant)
    rng = np.random.default_rng(seed)
    xbuf, tbuf = torch.empty_like(x), torch.empty_like(t)
    n, b = x.shape[0], w.batch
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(n))
        torch.index_select(x, 0, perm, out=xbuf)
        torch.index_select(t, 0, perm, out=tbuf)
        for i in range(0, n, b):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xbuf[i:i + b]), tbuf[i:i + b])
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
    with torch.inference_mode():
        acc = float((model(xt).argmax(dim=1) == tt).double().mean().item())
    return {"seconds": seconds, "accuracy": acc, "last_loss": float(loss.item())}


def peak_gemm(n, dtype, repeats):
    """Best GFLOP/s of an (n, n) @ (n, n) product with torch.mm."""
    import torch

    a = torch.randn(n, n, dtype=_dtype(dtype))
    b = torch.randn(n, n, dtype=_dtype(dtype))
    out = torch.empty(n, n, dtype=_dtype(dtype))
    torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def time_products(w):
    """µs of each matrix product of one step of ``w`` (``workloads.product_shapes``), laid
    out as ``nn.Linear`` and autograd do (weight (d_out, d_in)): addmm(b, x, weight^T),
    dy^T x (the weight gradient, (d_out, d_in)) and dy weight (the input gradient), at
    torch's current thread count."""
    import torch
    from workloads import best_microseconds, product_shapes

    g = torch.Generator().manual_seed(0)
    dt = _dtype(w.dtype)
    out = {}
    for label, (m, k, n) in product_shapes(w.sizes, w.batch):
        if label.startswith("dW"):  # dy^T x: (d_out, batch) (batch, d_in)
            a = torch.randn(k, n, generator=g, dtype=dt).t()
            b = torch.randn(k, m, generator=g, dtype=dt)
            c = torch.empty(n, m, dtype=dt)
            call = lambda a=a, b=b, c=c: torch.mm(a, b, out=c)  # noqa: E731
        elif label.startswith("dx"):  # dy weight: (batch, d_out) (d_out, d_in)
            a = torch.randn(m, k, generator=g, dtype=dt)
            b = torch.randn(k, n, generator=g, dtype=dt)
            c = torch.empty(m, n, dtype=dt)
            call = lambda a=a, b=b, c=c: torch.mm(a, b, out=c)  # noqa: E731
        else:  # addmm(bias, x, weight^T)
            a = torch.randn(m, k, generator=g, dtype=dt)
            b = torch.randn(n, k, generator=g, dtype=dt).t()
            bias = torch.zeros(n, dtype=dt)
            c = torch.empty(m, n, dtype=dt)
            call = lambda a=a, b=b, c=c, bias=bias: torch.addmm(bias, a, b, out=c)  # noqa: E731
        with torch.no_grad():
            out[label] = best_microseconds(call)
    return out
