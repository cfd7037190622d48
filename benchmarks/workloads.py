"""What the benchmarks train, shared by every side: workloads, targets, data, first weights, FLOPs.

Nothing here imports a deep-learning library. NumPy is imported lazily, so the driver
(``run.py``) can use the workload table without starting any BLAS threads.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

N_TRAIN = 60_000  # samples in one Fashion-MNIST epoch
OPTIMIZERS = {"sgd": 0.1, "adam": 0.001}  # optimizer name -> learning rate


@dataclass(frozen=True)
class Workload:
    """One training configuration: a ReLU or sigmoid MLP, an optimizer, a dtype, a batch."""

    sizes: tuple  # layer widths, input first: (784, 100, 10)
    activation: str  # "relu" or "sigmoid"
    optimizer: str  # "sgd" or "adam"
    dtype: str  # "float32" or "float64"
    batch: int

    @property
    def lr(self):
        return OPTIMIZERS[self.optimizer]

    @property
    def net(self):
        return "-".join(map(str, self.sizes))

    @property
    def key(self):
        """A stable name for --only and the tables, e.g. 784-100-10/relu+adam/f32/b100."""
        return (f"{self.net}/{self.activation}+{self.optimizer}/"
                f"f{self.dtype[-2:]}/b{self.batch}")

    @property
    def recipe(self):
        return (f"{self.activation} + {'SGD' if self.optimizer == 'sgd' else 'Adam'} "
                f"{self.lr:g}")

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_key(cls, key):
        """The inverse of ``key``: '784-100-10/relu+adam/f32/b100' -> Workload."""
        m = re.fullmatch(r"([\d-]+)/(relu|sigmoid)\+(sgd|adam)/f(32|64)/b(\d+)", key)
        if m is None:
            raise ValueError(f"not a workload name: {key!r} (e.g. 784-100-10/relu+adam/f32/b100)")
        sizes = tuple(int(s) for s in m.group(1).split("-"))
        return cls(sizes, m.group(2), m.group(3), f"float{m.group(4)}", int(m.group(5)))


MLP = (784, 100, 10)
DEEP = (784, 256, 256, 256, 10)
RECIPES = (("sigmoid", "sgd"), ("relu", "sgd"), ("relu", "adam"))


def workloads(quick=False):
    """The benchmark grid, in the order the tables show it.

    Batch 100: the three recipes on 784-100-10 in float32 and float64. Batch 32 and 512:
    the three recipes in float32. The deep net: ReLU with SGD and Adam, float32 and
    float64. ``quick`` keeps only the float32, batch-100 784-100-10 rows.
    """
    grid = [Workload(MLP, a, o, d, 100) for d in ("float32", "float64") for a, o in RECIPES]
    if quick:
        return [w for w in grid if w.dtype == "float32"]
    grid += [Workload(MLP, a, o, "float32", b) for b in (32, 512) for a, o in RECIPES]
    grid += [Workload(DEEP, "relu", o, d, 100) for d in ("float32", "float64")
             for o in ("sgd", "adam")]
    return grid


def target(w):
    """The most a chainrule steady-state epoch may take, as a multiple of PyTorch's; or None.

    float32 only: 784-100-10 at batch 100 must be at most 1.0x PyTorch with sigmoid + SGD,
    0.85x with ReLU + SGD and 0.8x with ReLU + Adam; the deep net (SGD and Adam) and
    every batch-32 row at most 1.0x. Other rows are shown without a target.
    """
    if w.dtype != "float32":
        return None
    if w.sizes == MLP and w.batch == 100:
        return {("sigmoid", "sgd"): 1.0, ("relu", "sgd"): 0.85,
                ("relu", "adam"): 0.8}[(w.activation, w.optimizer)]
    if (w.sizes == DEEP and w.batch == 100) or (w.sizes == MLP and w.batch == 32):
        return 1.0
    return None


def flops_per_epoch(sizes, n_samples=N_TRAIN, first_dx=False):
    """Matrix-product FLOPs of one epoch of forward and backward passes.

    For layers of widths d_0 -> d_1 -> ... -> d_L and F = sum_i d_i d_(i+1):
    forward x W costs 2 N F, backward dW = x^T dy costs 2 N F, and dx = dy W^T costs
    2 N (F - d_0 d_1) when the first layer skips its input gradient (chainrule and
    PyTorch do: the images need no gradient), 2 N F when it computes it (the book does).
    Total: 2 N (3 F - d_0 d_1), or 6 N F. Biases, activations and the optimizer are
    elementwise and not counted. For 784-100-10 and N = 60000 that is 19.2 GFLOP
    (28.6 GFLOP with the first dx).
    """
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    f = sum(a * b for a, b in pairs)
    first = 0 if first_dx else pairs[0][0] * pairs[0][1]
    return 2 * n_samples * (3 * f - first)


def load_data(dtype="float32"):
    """Fashion-MNIST as ((x_train, t_train), (x_test, t_test)): x (N, 784) of ``dtype``, t int64."""
    import numpy as np

    from chainrule.data import load_fashion_mnist

    (x, t), (xt, tt) = load_fashion_mnist(download=False)
    return (x.astype(dtype, copy=False), t), (xt.astype(np.dtype(dtype), copy=False), tt)


def initial_weights(sizes, activation, dtype, seed):
    """The same first weights for every implementation: [(W (d_in, d_out), b (d_out,)), ...].

    W ~ N(0, s^2) with s = sqrt(2 / d_in) for ReLU (He) and sqrt(1 / d_in) for sigmoid
    (Xavier, as book 1 writes it); b = 0. Drawn from ``numpy.random.default_rng(seed)``.
    ``torch_standalone.py`` draws from the same distributions with ``torch.nn.init``.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    gain = 2.0 if activation == "relu" else 1.0
    out = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = (np.sqrt(gain / d_in) * rng.standard_normal((d_in, d_out))).astype(dtype)
        out.append((W, np.zeros(d_out, dtype=dtype)))
    return out


def steady(seconds):
    """The steady-state epoch of one run: the median of epochs 2..k (epoch 1 if k is 1)."""
    import statistics

    return statistics.median(seconds[1:] or seconds)


def steps_per_epoch(batch, n_samples=N_TRAIN):
    """Steps of one epoch: every batch full but perhaps the last (counted as a step)."""
    return -(-n_samples // batch)


def product_shapes(sizes, batch):
    """The matrix products of one training step, as (label, (m, k, n)): an (m, k) by (k, n).

    Per layer d_in -> d_out: the forward x W (batch, d_in, d_out), the weight gradient
    x^T dy (d_in, batch, d_out), and, for every layer but the first, the input gradient
    dy W^T (batch, d_out, d_in). Each library lays its operands out its own way
    (``numpy_lean.time_products``, ``torch_mlp.time_products``).
    """
    out = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        out.append((f"x·W{i + 1}", (batch, d_in, d_out)))
        out.append((f"dW{i + 1}", (d_in, batch, d_out)))
        if i:
            out.append((f"dx{i + 1}", (batch, d_out, d_in)))
    return out


def best_microseconds(call, budget=2e-3, repeats=7):
    """The fastest mean of ``repeats`` timed loops of ``call()``, in µs (warm caches).

    Each loop repeats the call enough times to last about ``budget`` seconds. A lower
    bound of the same call inside a training step, where caches are colder.
    """
    import time

    for _ in range(3):
        call()
    start = time.perf_counter()
    call()
    reps = max(3, int(budget / max(time.perf_counter() - start, 1e-7)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(reps):
            call()
        best = min(best, (time.perf_counter() - start) / reps)
    return best * 1e6
