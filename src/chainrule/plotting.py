"""Figures: descent paths on contours and gradient fields.

matplotlib is imported only when a figure is drawn (install the ``plot`` extra:
``pip install 'chainrule[plot]'``); with no display the Agg backend is used, so
figures are written as PNG files on servers and in CI.
"""

from __future__ import annotations

import os

import numpy as np

from .evaluation import chunk_rows
from .validation import InputValueError

__all__ = [
    "available",
    "plot_descent_path",
    "plot_gradient_field",
    "plot_loss",
    "plot_accuracy",
    "plot_decision_boundary",
    "plot_filters",
    "plot_confusion_matrix",
]


def available():
    """Whether matplotlib can be imported (figures need the ``plot`` extra)."""
    try:
        _pyplot()
    except ImportError:
        return False
    return True


def _pyplot():
    """Import matplotlib.pyplot lazily, choosing Agg when there is no display."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: pip install 'chainrule[plot]'"
        ) from None
    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(window, n):
    x0 = np.linspace(window[0], window[1], n)
    x1 = np.linspace(window[2], window[3], n)
    return np.stack(np.meshgrid(x0, x1))  # (2, n, n)


def _grid_gradient(f, grid, h=1e-4):
    """Central differences of f at every grid point at once: (2, H, W) -> (2, H, W)."""
    grad = np.empty_like(grid)
    for i in range(2):
        step = np.zeros((2, 1, 1))
        step[i] = h
        grad[i] = (f(grid + step) - f(grid - step)) / (2 * h)
    return grad


def _finish(plt, fig, path):
    """Write the figure to ``path`` (and close it) when a path is given; return it."""
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
    return fig


def plot_descent_path(f, path, out=None, *, window=None, title=None, minimum=None):
    """Contours of f with the points of a descent, start to end.

    ``f`` maps stacked grids ``(2, H, W)`` to values ``(H, W)`` (the functions in
    ``chainrule.objectives`` do); ``path`` is ``(steps + 1, 2)`` as returned by
    ``gradient_descent(..., history=True)``. Writes a PNG to ``out`` when given and
    returns the matplotlib Figure.
    """
    plt = _pyplot()
    path = np.asarray(path, dtype=np.float64)
    finite = path[np.all(np.isfinite(path), axis=1)]
    if window is None:
        lo, hi = finite.min(axis=0), finite.max(axis=0)
        pad = np.maximum(0.2 * (hi - lo), 1.0)
        window = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    grid = _grid(window, 200)
    with np.errstate(over="ignore", invalid="ignore"):
        values = f(grid)
    fig, ax = plt.subplots(figsize=(6, 5))
    shifted = values - np.nanmin(values) + 1e-3
    levels = np.geomspace(np.nanmin(shifted), np.nanmax(shifted), 25)
    ax.contour(grid[0], grid[1], shifted, levels=levels, cmap="viridis", linewidths=0.8)
    marker = "o-" if len(finite) <= 60 else "-"  # dots only where they can be told apart
    ax.plot(finite[:, 0], finite[:, 1], marker, color="tab:red", markersize=3, linewidth=1.2,
            label=f"path ({len(path) - 1} steps)")
    ax.plot(*finite[0], "s", color="black", markersize=7, label="start")
    ax.plot(*finite[-1], "*", color="tab:orange", markersize=12, label="end")
    if minimum is not None:
        ax.plot(*minimum, "+", color="black", markersize=12, label="minimum")
    ax.set_xlim(window[0], window[1])
    ax.set_ylim(window[2], window[3])
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_title(title or "gradient descent")
    ax.legend(loc="upper right", fontsize=8)
    return _finish(plt, fig, out)


def plot_gradient_field(f, out=None, *, window=(-2.0, 2.5, -2.0, 2.5), n=18, title=None):
    """Arrows along -grad f on a grid (the book's gradient figure for x0**2 + x1**2).

    The gradient is taken by central differences at every grid point, so any f that
    maps stacked grids ``(2, H, W)`` to ``(H, W)`` works. Arrows point downhill: the
    direction in which f decreases fastest. Writes a PNG to ``out`` when given and
    returns the matplotlib Figure.
    """
    plt = _pyplot()
    grid = _grid(window, n)
    grad = _grid_gradient(f, grid)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.quiver(grid[0], grid[1], -grad[0], -grad[1], np.hypot(grad[0], grad[1]),
              angles="xy", cmap="viridis")
    ax.set_xlim(window[0], window[1])
    ax.set_ylim(window[2], window[3])
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_title(title or "-grad f")
    ax.grid(alpha=0.3)
    return _finish(plt, fig, out)


def plot_loss(history, out=None, *, title=None, eval_name="eval"):
    """Per-iteration mini-batch loss with the per-epoch train (and eval) loss on top.

    ``history`` is a ``trainer.History``. The x axis counts epochs; each iteration sits
    at its fraction of an epoch, each epoch's mean train loss at the epoch's middle (it
    is an average over the epoch) and the eval loss at its end, labelled ``eval_name``
    ("test" when the evaluation data is the test split). Writes a PNG to ``out`` when
    given; returns the Figure.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    epochs = len(history.epoch)
    if history.loss and epochs:
        per_epoch = len(history.loss) / epochs
        steps = (np.arange(len(history.loss)) + 1) / per_epoch
        ax.plot(steps, history.loss, color="tab:blue", alpha=0.35, linewidth=0.8,
                label="mini-batch loss")
    dots = "o-" if epochs <= 50 else "-"
    # a running average over epoch e describes its middle, e - 0.5; eval is at its end, e
    middle = np.asarray(history.epoch, dtype=float) - 0.5
    ax.plot(middle, history.train_loss, dots, color="tab:blue", markersize=3,
            label="train loss (epoch mean)")
    if any(v is not None for v in history.eval_loss):
        ax.plot(history.epoch, history.eval_loss, dots, color="tab:orange", markersize=3,
                label=f"{eval_name} loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title or "loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(plt, fig, out)


def plot_accuracy(history, out=None, *, title=None, eval_name="eval"):
    """Per-epoch train (and eval) accuracy from a ``History``; returns the Figure.

    The evaluation curve is labelled ``eval_name`` ("test" in ``chainrule train``).

    The train accuracy is a running average over each epoch, so it is drawn at the
    epoch's middle; the eval accuracy, measured at the epoch's end, at its end. The y
    axis is zoomed on the curves.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    dots = "o-" if len(history.epoch) <= 50 else "-"
    middle = np.asarray(history.epoch, dtype=float) - 0.5  # running averages: mid-epoch
    ax.plot(middle, history.train_accuracy, dots, markersize=3, label="train accuracy (running)")
    values = list(history.train_accuracy)
    if any(v is not None for v in history.eval_accuracy):
        ax.plot(history.epoch, history.eval_accuracy, dots, markersize=3,
                label=f"{eval_name} accuracy")
        values += [v for v in history.eval_accuracy if v is not None]
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    if values:  # zoom on the curves, but keep 1.0 in view when they come close to it
        low, high = min(values), max(values)
        pad = max(0.02, 0.1 * (high - low))
        ax.set_ylim(max(0.0, low - pad), min(1.01, high + pad))
    ax.set_title(title or "accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _finish(plt, fig, out)


def plot_decision_boundary(model, x, t, out=None, *, resolution=300, title=None):
    """The class the model predicts over the plane, with the data on top (2-D inputs).

    ``x`` is (N, 2); ``t`` labels (N,) or one-hot rows (N, C). Every grid point is
    classified with ``model.predict``, in one batch when it fits in memory (see
    ``evaluation.chunk_rows``). Returns the Figure.
    """
    plt = _pyplot()
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise InputValueError(f"x must have shape (N, 2) for a decision boundary, got {x.shape}")
    t = np.asarray(t)
    labels = t if t.ndim == 1 else np.argmax(t, axis=1)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    grid = _grid((lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]), resolution)
    points = grid.reshape(2, -1).T
    rows = chunk_rows(model, points, points.shape[0])  # in chunks that fit in memory
    classes = np.concatenate([np.argmax(model.predict(points[i:i + rows]), axis=1)
                              for i in range(0, points.shape[0], rows)])
    classes = classes.reshape(resolution, resolution)
    n_classes = int(max(labels.max() + 1, classes.max() + 1))
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.contourf(grid[0], grid[1], classes, levels=np.arange(n_classes + 1) - 0.5,
                colors=[cmap(i) for i in range(n_classes)], alpha=0.25)
    for c in range(n_classes):
        sel = labels == c
        ax.scatter(x[sel, 0], x[sel, 1], s=14, color=cmap(c), edgecolors="black",
                   linewidths=0.3, label=f"class {c}")
    ax.set_title(title or "decision boundary")
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.legend(loc="upper right", fontsize=8)
    return _finish(plt, fig, out)


def plot_confusion_matrix(matrix, out=None, *, labels=None, title=None):
    """A confusion matrix as a heat map: rows are true classes, columns predicted ones.

    ``matrix`` is (C, C) counts; each cell shows its count, and the colour its share of
    the row (so rare classes are as visible as common ones). Returns the Figure.
    """
    plt = _pyplot()
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.55 * n))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    names = labels or [str(i) for i in range(n)]
    ax.set_xticks(range(n), names, rotation=45 if labels else 0, ha="right" if labels else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    return _finish(plt, fig, out)


def plot_filters(W, out=None, *, columns=10, title=None):
    """Convolution filters as small images: W (FN, C, FH, FW), one tile per filter.

    Each filter is scaled on its own to the grey range (dark: negative weights, light:
    positive); with several input channels their mean is drawn (book 1, ch. 7 draws the
    first layer's filters this way). Returns the Figure.
    """
    plt = _pyplot()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 4:
        raise InputValueError(f"W must have shape (FN, C, FH, FW), got {W.shape}")
    tiles = W.mean(axis=1)
    count = tiles.shape[0]
    cols = max(1, min(columns, count))
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.75 * cols, 0.75 * rows + 0.4),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < count:
            ax.imshow(tiles[k], cmap="gray", interpolation="nearest")
    fig.suptitle(title or f"{count} filters", fontsize=9)
    return _finish(plt, fig, out)
