"""The chainrule side: seconds per epoch of one continuing run, by ``Trainer`` or the book-2 loop.

``train_trainer`` is one ``Trainer.fit(x, t, max_epoch=k, batch_size=B, verbose=0)`` call,
as the docs show it; a callback stamps the time at each epoch's end, so epoch 1 includes
fit's one-time checks of the whole data set and each later epoch everything the Trainer
does between two epoch ends (permutation, batch gathering into reused buffers, steps,
its loss and accuracy bookkeeping, the end-of-epoch weight check).

``train_loop`` is the four steps of book 2, ch. 1 (``train_custom_loop.py``) written
against chainrule's model protocol: for each ``(x_batch, t_batch)`` of a
``chainrule.data.BatchIterator`` (a fresh permutation per epoch, rows gathered with
``np.take(..., out=)`` into reused buffers), ``model.forward(x_batch, t_batch)``,
``model.backward()``, ``optimizer.update(model.params, model.grads)``.

Both draw their permutations from ``numpy.random.default_rng(seed)``, as the PyTorch
worker and the book baseline do, so every implementation sees the same batches.

Run on its own, for a profiler: ``python benchmarks/chainrule_mlp.py`` trains 784-100-10
(float32, batch 100, ReLU + Adam by default) with ``Trainer.fit`` and prints the seconds
of each epoch, e.g. ``python -m cProfile -s tottime benchmarks/chainrule_mlp.py`` or
``py-spy record --native -o spy.svg -- python benchmarks/chainrule_mlp.py --epochs 8``.
"""

from __future__ import annotations

import time

import numpy as np

from chainrule.data import BatchIterator
from chainrule.gradcheck import gradient_check
from chainrule.models import MultiLayerNet, TwoLayerNet
from chainrule.optim import SGD, Adam
from chainrule.trainer import Trainer


def build(sizes, activation, dtype, weights=None, seed=0):
    """TwoLayerNet for one hidden layer, MultiLayerNet otherwise; ``weights`` copied in."""
    if len(sizes) == 3:
        model = TwoLayerNet(sizes[0], sizes[1], sizes[2], weight_init_std=activation,
                            activation=activation, dtype=dtype, random_state=seed)
    else:
        model = MultiLayerNet(sizes[0], list(sizes[1:-1]), sizes[-1], activation=activation,
                              weight_init_std=activation, dtype=dtype, random_state=seed)
    for i, (W, b) in enumerate(weights or (), start=1):
        model.params[f"W{i}"] = W  # ParamDict copies into the layer's array
        model.params[f"b{i}"] = b
    return model


def make_optimizer(name, lr):
    return SGD(lr=lr) if name == "sgd" else Adam(lr=lr)


def train_trainer(w, weights, data, epochs, seed, threads="auto"):
    """``epochs`` epochs of one ``Trainer.fit``: {"seconds": [one per epoch], "accuracy"}."""
    (x, t), (xt, tt) = data
    model = build(w.sizes, w.activation, w.dtype, weights, seed)
    trainer = Trainer(model, make_optimizer(w.optimizer, w.lr), random_state=seed,
                      threads=threads)
    stamps, threads = [time.perf_counter()], []

    def epoch_end(trainer):
        stamps.append(time.perf_counter())
        threads.append(trainer.blas.current)  # what the thread policy ran this epoch with

    trainer.fit(x, t, max_epoch=epochs, batch_size=w.batch, verbose=0, callbacks=[epoch_end])
    return {"seconds": [float(s) for s in np.diff(stamps)], "threads": threads,
            "accuracy": float(model.accuracy(xt, tt)), "last_loss": float(trainer.last_loss)}


def train_loop(w, weights, data, epochs, seed):
    """``epochs`` epochs of the book-2 loop: {"seconds": [one per epoch], "accuracy"}."""
    (x, t), (xt, tt) = data
    model = build(w.sizes, w.activation, w.dtype, weights, seed)
    optimizer = make_optimizer(w.optimizer, w.lr)
    batches = BatchIterator(x, t, w.batch, random_state=np.random.default_rng(seed))
    seconds, loss = [], None
    for _ in range(epochs):
        start = time.perf_counter()
        for x_batch, t_batch in batches:
            loss = model.forward(x_batch, t_batch)
            model.backward()
            optimizer.update(model.params, model.grads)
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "accuracy": float(model.accuracy(xt, tt)),
            "last_loss": float(loss)}


def gradcheck_mlp(x, t, seed=0):
    """``gradient_check`` of a float32 784-100-10 ReLU net on (x, t), directional mode."""
    model = build((784, 100, 10), "relu", np.float32, seed=seed)
    return gradient_check(model, x, t, mode="directional", random_state=seed)


def gradcheck_small(seed=0):
    """``gradient_check`` of a 2-10-3 sigmoid net on 30 spiral points, every element."""
    from chainrule.data import load_spiral

    x, t = load_spiral(n_per_class=10)
    model = build((2, 10, 3), "sigmoid", np.float64, seed=seed)
    return gradient_check(model, x, t, mode="exact", random_state=seed)


def main(argv=None):
    import argparse

    from workloads import MLP, Workload, initial_weights, load_data

    p = argparse.ArgumentParser(description="Trainer.fit epochs of 784-100-10, float32, "
                                            "batch 100, to run under a profiler")
    p.add_argument("--recipe", default="relu+adam",
                   choices=("relu+adam", "relu+sgd", "sigmoid+sgd"))
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    activation, name = args.recipe.split("+")
    w = Workload(MLP, activation, name, "float32", 100)
    out = train_trainer(w, initial_weights(MLP, activation, "float32", 0), load_data("float32"),
                        args.epochs, seed=0)
    print(f"{args.recipe}: " + ", ".join(f"{s:.3f}" for s in out["seconds"])
          + f" s per epoch; test accuracy {out['accuracy']:.4f}")


if __name__ == "__main__":
    main()
