"""What the benchmarks train, shared by every side: workloads, data, first weights, FLOPs.

Nothing here imports a deep-learning library. NumPy is imported lazily, so the driver
(``run.py``) can use the workload table without starting any BLAS threads.
"""

from __future__ import annotations

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
        lr = "0.1" if self.optimizer == "sgd" else "0.001"
        return f"{self.activation} + {'SGD' if self.optimizer == 'sgd' else 'Adam'} {lr}"

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(tuple(data["sizes"]), data["activation"], data["optimizer"], data["dtype"],
                   int(data["batch"]))


MLP = (784, 100, 10)
DEEP = (784, 256, 256, 256, 10)
RECIPES = (("sigmoid", "sgd"), ("relu", "sgd"), ("relu", "adam"))


def workloads(quick=False):
    """The benchmark grid, in the order the tables show it.

    Batch 100: the three recipes on 784-100-10 in float32 and float64. Batch 32 and 512:
    the three recipes in float32. The deep net: ReLU with SGD and Adam, float32 and
    float64. ``quick`` keeps only the float32, batch-100 rows.
    """
    grid = [Workload(MLP, a, o, d, 100) for d in ("float32", "float64") for a, o in RECIPES]
    if quick:
        return [w for w in grid if w.dtype == "float32"]
    grid += [Workload(MLP, a, o, "float32", b) for b in (32, 512) for a, o in RECIPES]
    grid += [Workload(DEEP, "relu", o, d, 100) for d in ("float32", "float64")
             for o in ("sgd", "adam")]
    return grid


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
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    gain = 2.0 if activation == "relu" else 1.0
    out = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = (np.sqrt(gain / d_in) * rng.standard_normal((d_in, d_out))).astype(dtype)
        out.append((W, np.zeros(d_out, dtype=dtype)))
    return out
