"""The PyTorch side: the same MLPs with ``nn.Linear``, ``F.cross_entropy`` and ``torch.optim``.

This is the most efficient straightforward PyTorch code for the job, not a tuned one:
the data live in two tensors made once (``torch.from_numpy``), every epoch permutes
them with ``torch.randperm`` and walks slices of the permuted copy (no ``DataLoader``),
and each step is ``zero_grad``, forward, ``cross_entropy``, ``backward``, ``step`` with
the optimizers' default implementations. The images do not require grad, so the first
layer computes no input gradient, as in chainrule.

PyTorch is optional and imported lazily (run.py checks that it is installed before it
calls anything here). chainrule never imports this module.
"""

from __future__ import annotations

import re


def info():
    """Threads and BLAS of this PyTorch build (a dict of strings)."""
    import torch

    match = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    blas = match.group(1) if match else "unknown"
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_blas": blas}


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


def build(sizes, activation, dtype, weights=None, seed=0):
    """nn.Sequential(Linear, activation, ..., Linear); ``weights`` [(W, b), ...] copied in.

    W is stored (d_in, d_out) as in chainrule, so the Linear weight is its transpose.
    Without ``weights`` PyTorch's default initialisation is used.
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]
    layers = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(d_in, d_out, dtype=_dtype(dtype)))
        if i < len(sizes) - 2:
            layers.append(act())
    model = nn.Sequential(*layers)
    if weights is not None:
        linears = [m for m in model if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, (W, b) in zip(linears, weights, strict=True):
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b))
    return model


def make_optimizer(model, name, lr):
    import torch

    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    return torch.optim.Adam(model.parameters(), lr=lr)


def train_epoch(model, optimizer, x, t, batch_size, seed, order=None):
    """One epoch over a permutation of the tensors (x, t); returns the last batch loss.

    The permutation is ``torch.randperm`` seeded with ``seed``, or ``order`` (an index
    array) when given: the accuracy check passes chainrule's, so both see the same batches.
    """
    import torch
    import torch.nn.functional as F

    if order is None:
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.from_numpy(order)
    xs, ts = x[order], t[order]
    loss = None
    for start in range(0, x.shape[0], batch_size):
        xb, tb = xs[start:start + batch_size], ts[start:start + batch_size]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), tb)
        loss.backward()
        optimizer.step()
    return float(loss.item())


def accuracy(model, x, t):
    import torch

    with torch.inference_mode():
        return float((model(x).argmax(dim=1) == t).double().mean().item())


def train_and_test(sizes, activation, optimizer, lr, dtype, batch_size, epochs, weights, seed,
                   data):
    """Train for ``epochs``; return the test accuracy.

    The epochs walk the permutations of ``numpy.random.default_rng(seed)``, the same ones
    chainrule's Trainer and the book baseline draw for that seed.
    """
    import numpy as np

    (x, t), (xt, tt) = data
    model = build(sizes, activation, dtype, weights, seed)
    opt = make_optimizer(model, optimizer, lr)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        train_epoch(model, opt, x, t, batch_size, epoch, order=rng.permutation(x.shape[0]))
    return accuracy(model, xt, tt)


def peak_gemm(n, dtype, repeats):
    """Best GFLOP/s of an (n, n) @ (n, n) product with torch.mm."""
    import time

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
