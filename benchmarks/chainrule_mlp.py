"""The chainrule side: one epoch through ``Trainer.fit`` and through the book-2 loop.

The book-2 loop is the four steps of book 2, ch. 1 (``train_custom_loop.py``), written
against chainrule's model protocol: take a mini-batch, ``loss = model.forward(x, t)``,
``model.backward()``, ``optimizer.update(model.params, model.grads)``. Batches come from
``chainrule.data.minibatches`` (a fresh permutation per epoch) and fancy indexing.

Run on its own, for a profiler: ``python benchmarks/chainrule_mlp.py`` trains 784-100-10
(float32, batch 100, ReLU + Adam by default) with ``Trainer.fit`` and prints the seconds
per epoch, e.g. ``python -m cProfile -s tottime benchmarks/chainrule_mlp.py`` or
``py-spy record --native -o spy.svg -- python benchmarks/chainrule_mlp.py --epochs 8``.
"""

from __future__ import annotations

import numpy as np

from chainrule.data import minibatches
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


def trainer_epoch(model, optimizer, x, t, batch_size, seed):
    """One ``Trainer.fit`` epoch (the call includes fit's one-time checks of x and t)."""
    trainer = Trainer(model, optimizer, random_state=seed)
    history = trainer.fit(x, t, max_epoch=1, batch_size=batch_size, verbose=0)
    return history.train_loss[-1]


def loop_epoch(model, optimizer, x, t, batch_size, seed):
    """One epoch of the book-2 loop; returns the last mini-batch loss."""
    loss = None
    for idx in minibatches(x.shape[0], batch_size, random_state=np.random.default_rng(seed)):
        loss = model.forward(x[idx], t[idx])
        model.backward()
        optimizer.update(model.params, model.grads)
    return loss


def train_and_test(sizes, activation, optimizer, lr, dtype, batch_size, epochs, weights, seed,
                   data):
    """Train with the Trainer for ``epochs``; return the test accuracy."""
    (x, t), (xt, tt) = data
    model = build(sizes, activation, dtype, weights, seed)
    trainer = Trainer(model, make_optimizer(optimizer, lr), random_state=seed)
    trainer.fit(x, t, max_epoch=epochs, batch_size=batch_size, verbose=0)
    return float(model.accuracy(xt, tt))


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
    import time

    from workloads import MLP, OPTIMIZERS, initial_weights, load_data

    p = argparse.ArgumentParser(description="Trainer.fit epochs of 784-100-10, float32, "
                                            "batch 100, to run under a profiler")
    p.add_argument("--recipe", default="relu+adam",
                   choices=("relu+adam", "relu+sgd", "sigmoid+sgd"))
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    activation, name = args.recipe.split("+")
    (x, t), (xt, tt) = load_data("float32")
    model = build(MLP, activation, "float32", initial_weights(MLP, activation, "float32", 0))
    trainer = Trainer(model, make_optimizer(name, OPTIMIZERS[name]), random_state=0)
    start = time.perf_counter()
    trainer.fit(x, t, max_epoch=args.epochs, batch_size=100, verbose=0)
    seconds = (time.perf_counter() - start) / args.epochs
    print(f"{args.recipe}: {seconds:.3f} s/epoch, test accuracy {model.accuracy(xt, tt):.4f}")


if __name__ == "__main__":
    main()
