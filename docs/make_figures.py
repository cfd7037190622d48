"""Draw every figure of the docs into docs/figures/, from chainrule itself.

    python docs/make_figures.py                  # all of them (about a minute)
    python docs/make_figures.py --skip fashion conv   # all but the Fashion-MNIST runs
    python docs/make_figures.py --only descent --out figures-draft

Each figure is made by the same calls the chapters show, so running this script again
after a change to the library shows what the change does to the pictures. Randomness
comes from fixed ``random_state`` arguments only: the figures are the same on every run
(up to the last bits of floating-point sums on another machine).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from chainrule import DivergenceWarning, gradient_descent  # noqa: E402
from chainrule.data import load_fashion_mnist, load_spiral  # noqa: E402
from chainrule.models import TwoLayerNet  # noqa: E402
from chainrule.objectives import sphere  # noqa: E402
from chainrule.optim import SGD, AdaGrad, Adam, Momentum, RMSprop  # noqa: E402
from chainrule.plotting import (  # noqa: E402
    plot_accuracy,
    plot_decision_boundary,
    plot_descent_path,
    plot_gradient_field,
    plot_loss,
)
from chainrule.trainer import Trainer  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 110

# Chapter 5: the five optimizers at one shared rate, and each at the best rate of the grid
# SWEEP by the mean training loss of the last 50 of 300 epochs (`--sweep` prints the grid).
SHARED_LR = 0.1
TUNED_LR = {"SGD": 3.0, "Momentum": 1.0, "AdaGrad": 3.0, "RMSprop": 0.1, "Adam": 0.1}
OPTIMIZERS = {"SGD": SGD, "Momentum": Momentum, "AdaGrad": AdaGrad, "RMSprop": RMSprop,
              "Adam": Adam}
SWEEP = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def gradient_field(out):
    """Chapter 1: the arrows of -grad f for f = x0**2 + x1**2."""
    plot_gradient_field(sphere, out / "gradient_field.png", window=(-2.0, 2.5, -2.0, 2.5),
                        title="-grad f for f(x) = x0² + x1²  (arrows point downhill)")
    return ["gradient_field.png"]


def _descent(lr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        return gradient_descent(sphere, np.array([-3.0, 4.0]), lr=lr, step_num=100,
                                history=True)


def descent(out):
    """Chapter 2: the paths for lr 0.1, 10 and 1e-10, and f along each path."""
    bowl = (-4.5, 4.5, -4.5, 4.5)
    _, path = _descent(0.1)
    plot_descent_path(sphere, path, out / "descent_lr_0.1.png", window=bowl, minimum=(0, 0),
                      title="lr = 0.1: 100 steps, each 0.8 times the last")
    _, path = _descent(10.0)
    fig = plot_descent_path(sphere, path[:3], window=(-1700, 1700, -1700, 1700),
                            minimum=(0, 0),
                            title="lr = 10: the first 2 steps, each 19 times farther out")
    for k, (x0, x1) in enumerate(path[:3]):
        fig.axes[0].annotate(f"x{k} = ({x0:g}, {x1:g})", (x0, x1), textcoords="offset points",
                             xytext=(8, -14 if k == 1 else 6), fontsize=8)
    fig.savefig(out / "descent_lr_10.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    _, path = _descent(1e-10)
    plot_descent_path(sphere, path, out / "descent_lr_1e-10.png", window=bowl, minimum=(0, 0),
                      title="lr = 1e-10: 100 steps that go nowhere")

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for lr, color in ((10.0, "tab:red"), (1e-10, "tab:gray"), (0.1, "tab:blue")):
        _, path = _descent(lr)
        ax.semilogy(np.arange(len(path)), sphere(path.T), color=color, label=f"lr = {lr:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("f(x) = x0² + x1²  (log scale)")
    ax.set_title("f along the descent from (-3, 4)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.savefig(out / "descent_values.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return ["descent_lr_0.1.png", "descent_lr_10.png", "descent_lr_1e-10.png",
            "descent_values.png"]


def train_spiral(name, lr, max_epoch=300):
    """Book 2's spiral experiment with one optimizer: the model and its History."""
    x, t = load_spiral()
    model = TwoLayerNet(2, 10, 3, random_state=0)
    trainer = Trainer(model, OPTIMIZERS[name](lr=lr), random_state=0)
    history = trainer.fit(x, t, max_epoch=max_epoch, batch_size=30, verbose=0)
    return model, history


def optimizers(out):
    """Chapter 5: per-epoch training loss of five optimizers on the spiral."""
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.3), sharey=True)
    colors = dict(zip(OPTIMIZERS, ("tab:gray", "tab:blue", "tab:green", "tab:purple",
                                   "tab:red"), strict=True))
    for ax, tuned in zip(axes, (False, True), strict=True):
        for name in OPTIMIZERS:
            lr = TUNED_LR[name] if tuned else SHARED_LR
            _, history = train_spiral(name, lr)
            ax.semilogy(history.epoch, history.train_loss, color=colors[name],
                        label=f"{name} (lr {lr:g})")
        ax.set_xlabel("epoch")
        ax.set_ylim(0.01, 5)
        ax.grid(alpha=0.3, which="both")
        ax.set_title("each at its best rate of a grid" if tuned
                     else f"all at the same rate, lr = {SHARED_LR:g}")
    axes[1].legend(loc="upper right")  # one legend: the colours are the same in both panels
    axes[0].set_ylabel("training loss (epoch mean, log scale)")
    fig.suptitle("TwoLayerNet(2, 10, 3) on the spiral, batch 30, 300 epochs")
    fig.savefig(out / "optimizers.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return ["optimizers.png"]


def spiral(out):
    """Chapter 5: the decision boundary of book 2's spiral network (SGD, lr 1)."""
    model, _ = train_spiral("SGD", 1.0)
    x, t = load_spiral()
    plot_decision_boundary(model, x, t, out / "spiral_boundary.png",
                           title=f"TwoLayerNet(2, 10, 3), SGD lr 1, 300 epochs: "
                                 f"accuracy {model.accuracy(x, t):.3f}")
    return ["spiral_boundary.png"]


def _to_mid_epoch(line, label):
    """Move a per-epoch running average from the epoch's end to its middle.

    ``History.train_loss`` and ``train_accuracy`` average over the batches of an epoch,
    so they belong at epoch k - 0.5; plot_loss and plot_accuracy draw them at k, where
    the first point sits visibly above the mini-batch losses around it.
    """
    line.set_xdata(np.asarray(line.get_xdata(), dtype=float) - 0.5)
    line.set_label(label)


def fashion(out):
    """Chapter 5: 10 epochs on Fashion-MNIST, as `chainrule train` runs them."""
    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(progress=False)
    model = TwoLayerNet(784, 100, 10, activation="relu", dtype=np.float32, random_state=0)
    trainer = Trainer(model, Adam(lr=0.001), random_state=0)
    history = trainer.fit(x_train, t_train, max_epoch=10, batch_size=100,
                          eval_data=(x_test, t_test), verbose=0)
    what = "Fashion-MNIST, TwoLayerNet 784-100-10 relu, Adam 0.001"

    fig = plot_loss(history, title=f"{what}: loss")
    ax = fig.axes[0]
    _to_mid_epoch(ax.lines[1], "train loss (epoch mean, at mid-epoch)")
    ax.lines[2].set_label("test loss (end of epoch)")
    ax.legend()
    fig.savefig(out / "fashion_loss.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)

    fig = plot_accuracy(history, title=f"{what}: accuracy")
    ax = fig.axes[0]
    _to_mid_epoch(ax.lines[0], "train accuracy (epoch mean, at mid-epoch)")
    ax.lines[1].set_label("test accuracy (end of epoch)")
    ax.set_ylim(0.75, 0.95)  # the library's 0..1 axis flattens these curves into lines
    ax.set_xlim(0, 10.3)
    ax.legend(loc="lower right")
    fig.savefig(out / "fashion_accuracy.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    print(f"fashion: test accuracy after 10 epochs {history.eval_accuracy[-1]:.4f}")
    return ["fashion_loss.png", "fashion_accuracy.png"]


def conv(out):
    """Chapter 6: the first layer's 30 filters of SimpleConvNet before and after 5 epochs on
    Fashion-MNIST, from book 1's initial weights (0.01), which start near zero, so what
    is learned stands out (as in the book's figure)."""
    from chainrule.models import SimpleConvNet
    from chainrule.plotting import plot_filters

    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(progress=False)
    model = SimpleConvNet(dtype=np.float32, random_state=0)
    fig = plot_filters(model.params["W1"], title="SimpleConvNet's 30 filters, untrained")
    fig.savefig(out / "conv_filters_before.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    history = Trainer(model, Adam(lr=0.001), random_state=0).fit(
        x_train, t_train, max_epoch=5, batch_size=100, eval_data=(x_test, t_test), verbose=0)
    fig = plot_filters(model.params["W1"], title="after 5 epochs on Fashion-MNIST")
    fig.savefig(out / "conv_filters_after.png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    print(f"conv: test accuracy after 5 epochs {history.eval_accuracy[-1]:.4f}")
    return ["conv_filters_before.png", "conv_filters_after.png"]


FIGURES = {"gradient_field": gradient_field, "descent": descent, "optimizers": optimizers,
           "spiral": spiral, "fashion": fashion, "conv": conv}


def sweep():
    """Print each optimizer's mean training loss over the last 50 epochs, for each rate."""
    for name in OPTIMIZERS:
        cells = []
        for lr in SWEEP:
            _, history = train_spiral(name, lr)
            cells.append(f"{np.mean(history.train_loss[-50:]):.3f}")
        print(f"{name:<9}" + " ".join(f"{c:>6}" for c in cells))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Draw the figures of chainrule's docs.")
    parser.add_argument("--out", type=Path, default=HERE / "figures",
                        help="folder to write (default: docs/figures)")
    parser.add_argument("--only", nargs="+", choices=list(FIGURES), default=None,
                        help="draw only these")
    parser.add_argument("--skip", nargs="+", choices=list(FIGURES), default=(),
                        help="draw all but these")
    parser.add_argument("--sweep", action="store_true",
                        help="print the learning-rate grid behind TUNED_LR and exit")
    args = parser.parse_args(argv)
    if args.sweep:
        print(f"{'':<9}" + " ".join(f"{lr:>6g}" for lr in SWEEP))
        sweep()
        return []
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in FIGURES.items():
        if (args.only is None or name in args.only) and name not in args.skip:
            files = draw(args.out)
            print(f"{name}: {', '.join(files)}")
            written += files
    return written


if __name__ == "__main__":
    main()
