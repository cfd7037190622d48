"""The baseline: a plain NumPy network written the way "Deep Learning from Scratch" writes it.

Layers are small classes with ``forward`` and ``backward``; the network keeps them in an
ordered dict and its weights in a ``params`` dict; ``gradient`` runs the loss forward and
the layers backward in reverse and collects ``dW``/``db`` into a dict; the optimizers
update that dict in place. No buffers are reused, every operation allocates its result,
and the first layer computes its input gradient although nobody uses it: that is the
straightforward code a reader of the book writes, and the speed chainrule is compared to.

Differences from the book, all neutral for speed: weights come from
``numpy.random.default_rng`` (never the global generator), the dtype is a choice
(float64 by default, as in the book), and an epoch walks one permutation of the data
instead of drawing batches with replacement, so every implementation sees the same
60000 samples.

Run on its own: ``python benchmarks/book_baseline.py`` trains 784-100-10 on
Fashion-MNIST for one epoch and prints the time and the test accuracy.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np

# ---- functions ---------------------------------------------------------------------


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)  # subtract the row maximum against overflow
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:  # one-hot rows: turn them into labels
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


# ---- layers ------------------------------------------------------------------------


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.x = None
        self.original_x_shape = None
        self.dW, self.db = None, None

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


class SoftmaxWithLoss:
    def __init__(self):
        self.loss, self.y, self.t = None, None, None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:  # one-hot rows
            return (self.y - self.t) / n
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n


# ---- networks ----------------------------------------------------------------------


class MultiLayerNet:
    """Affine -> activation -> ... -> Affine -> SoftmaxWithLoss, the book's layered network.

    ``params`` holds W1, b1, W2, b2, ...; the layers hold the same arrays, so updating
    ``params`` in place updates the network.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", dtype=np.float64, random_state=None):
        rng = np.random.default_rng(random_state)
        sizes = [input_size, *hidden_size_list, output_size]
        self.params = {}
        for i in range(1, len(sizes)):
            if weight_init_std in ("relu", "he"):
                scale = np.sqrt(2.0 / sizes[i - 1])
            elif weight_init_std in ("sigmoid", "xavier"):
                scale = np.sqrt(1.0 / sizes[i - 1])
            else:
                scale = weight_init_std
            W = scale * rng.standard_normal((sizes[i - 1], sizes[i]))
            self.params[f"W{i}"] = W.astype(dtype)
            self.params[f"b{i}"] = np.zeros(sizes[i], dtype=dtype)
        act = {"relu": Relu, "sigmoid": Sigmoid}[activation]
        self.layers = OrderedDict()
        last = len(sizes) - 1
        for i in range(1, last):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            self.layers[f"Activation{i}"] = act()
        self.layers[f"Affine{last}"] = Affine(self.params[f"W{last}"], self.params[f"b{last}"])
        self.last_layer = SoftmaxWithLoss()
        self.n_affine = last

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for i in range(1, self.n_affine + 1):
            grads[f"W{i}"] = self.layers[f"Affine{i}"].dW
            grads[f"b{i}"] = self.layers[f"Affine{i}"].db
        return grads


class TwoLayerNet(MultiLayerNet):
    """The book's TwoLayerNet: one hidden layer."""

    def __init__(self, input_size, hidden_size, output_size, activation="relu",
                 weight_init_std="relu", dtype=np.float64, random_state=None):
        super().__init__(input_size, [hidden_size], output_size, activation, weight_init_std,
                         dtype, random_state)


# ---- optimizers --------------------------------------------------------------------


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class Adam:
    """Book 1's Adam: bias corrections folded into lr_t, eps added to the raw sqrt(v)."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter, self.m, self.v = 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


# ---- the loop ----------------------------------------------------------------------


def build(sizes, activation, dtype, weights=None, seed=0):
    """A network of ``sizes`` (input first); ``weights`` [(W, b), ...] replaces the draw."""
    net = MultiLayerNet(sizes[0], list(sizes[1:-1]), sizes[-1], activation=activation,
                        weight_init_std=activation, dtype=dtype, random_state=seed)
    for i, (W, b) in enumerate(weights or (), start=1):
        net.params[f"W{i}"][...] = W
        net.params[f"b{i}"][...] = b
    return net


def make_optimizer(name, lr):
    return SGD(lr) if name == "sgd" else Adam(lr)


def train_epoch(net, optimizer, x, t, batch_size, rng):
    """One pass over a fresh permutation of (x, t); returns the last mini-batch loss."""
    order = rng.permutation(x.shape[0])
    loss = None
    for start in range(0, x.shape[0], batch_size):
        batch_mask = order[start:start + batch_size]
        x_batch, t_batch = x[batch_mask], t[batch_mask]
        grads = net.gradient(x_batch, t_batch)
        optimizer.update(net.params, grads)
        loss = net.last_layer.loss
    return float(loss)


def train(w, weights, data, epochs, seed):
    """``epochs`` epochs of workload ``w``: {"seconds": [one per epoch], "accuracy"}.

    The permutations come from ``numpy.random.default_rng(seed)``, as on every other side.
    """
    (x, t), (xt, tt) = data
    net = build(w.sizes, w.activation, w.dtype, weights, seed)
    opt = make_optimizer(w.optimizer, w.lr)
    rng = np.random.default_rng(seed)
    seconds, loss = [], None
    for _ in range(epochs):
        start = time.perf_counter()
        loss = train_epoch(net, opt, x, t, w.batch, rng)
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "accuracy": float(net.accuracy(xt, tt)), "last_loss": loss}


def main():
    from workloads import load_data  # a sibling module: run this file as a script

    (x, t), (xt, tt) = load_data("float64")
    net = TwoLayerNet(784, 100, 10, activation="sigmoid", weight_init_std="sigmoid",
                      random_state=0)
    start = time.perf_counter()
    loss = train_epoch(net, SGD(0.1), x, t, 100, np.random.default_rng(0))
    seconds = time.perf_counter() - start
    print(f"one epoch: {seconds:.3f} s, last loss {loss:.4f}, "
          f"test accuracy {net.accuracy(xt, tt):.4f}")


if __name__ == "__main__":
    main()
