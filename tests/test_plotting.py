"""plot_loss, plot_accuracy and plot_decision_boundary: real PNGs, checks, lazy matplotlib."""

import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from chainrule.data import load_spiral  # noqa: E402
from chainrule.models import TwoLayerNet  # noqa: E402
from chainrule.optim import SGD  # noqa: E402
from chainrule.plotting import plot_accuracy, plot_decision_boundary, plot_loss  # noqa: E402
from chainrule.trainer import History, Trainer  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    """A spiral model after a short run, and its History with and without eval data."""
    x, t = load_spiral(n_per_class=40)
    model = TwoLayerNet(2, 10, 3, random_state=0)
    with_eval = Trainer(model, SGD(lr=1.0), random_state=0).fit(
        x, t, max_epoch=30, batch_size=30, eval_data=(x, t), verbose=0)
    without_eval = Trainer(TwoLayerNet(2, 10, 3, random_state=1), SGD(lr=1.0),
                           random_state=0).fit(x, t, max_epoch=30, batch_size=30, verbose=0)
    return model, x, t, with_eval, without_eval


def read_png(path):
    """The image as an (H, W, channels) array; asserts it is a real, rich picture."""
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300, image.shape
    # one integer per pixel (8 bits a channel), so counting colours is a 1-D unique
    channels = np.round(image.reshape(-1, image.shape[-1]) * 255).astype(np.uint32)
    packed = np.zeros(len(channels), dtype=np.uint32)
    for c in range(channels.shape[1]):
        packed = (packed << 8) | channels[:, c]
    assert len(np.unique(packed)) > 50
    return image


@pytest.mark.parametrize("plot", [plot_loss, plot_accuracy])
def test_history_plots_write_pngs_with_and_without_eval(tmp_path, trained, plot):
    """A > 300x300 PNG with > 50 colours either way; the eval curve changes the picture."""
    *_, with_eval, without_eval = trained
    assert with_eval.eval_loss[0] is not None and without_eval.eval_loss[0] is None
    a, b = tmp_path / "with.png", tmp_path / "without.png"
    fig_a = plot(with_eval, a, title="with eval")
    fig_b = plot(without_eval, b)
    assert isinstance(fig_a, Figure) and isinstance(fig_b, Figure)
    image_a, image_b = read_png(a), read_png(b)
    assert image_a.shape != image_b.shape or not np.array_equal(image_a, image_b)


@pytest.mark.parametrize("plot", [plot_loss, plot_accuracy])
def test_history_plots_accept_a_hand_made_history(tmp_path, plot):
    """A History built from plain lists (as from_dict gives) plots like a trained one."""
    h = History.from_dict({
        "loss": list(np.linspace(2.0, 0.2, 40)),
        "epoch": [1, 2, 3, 4],
        "train_loss": [1.8, 1.1, 0.6, 0.3],
        "train_accuracy": [0.3, 0.55, 0.8, 0.9],
        "eval_loss": [1.9, 1.2, 0.8, 0.5],
        "eval_accuracy": [0.3, 0.5, 0.7, 0.8],
        "lr": [0.1] * 4,
        "seconds": [0.01] * 4,
    })
    assert isinstance(plot(h, tmp_path / "h.png"), Figure)
    read_png(tmp_path / "h.png")


@pytest.mark.parametrize("plot", [plot_loss, plot_accuracy])
def test_history_plots_return_a_figure_without_out(trained, plot):
    """out=None: a matplotlib Figure comes back and nothing is written."""
    *_, with_eval, _ = trained
    fig = plot(with_eval)
    try:
        assert isinstance(fig, Figure)
        assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "epoch"
    finally:
        plt.close(fig)


def test_decision_boundary_png_and_one_hot_equals_labels(tmp_path, trained):
    """Labels (N,) and one-hot (N, C) t draw the very same picture, a real PNG."""
    model, x, t, *_ = trained
    labels = np.argmax(t, axis=1)
    fig = plot_decision_boundary(model, x, t, tmp_path / "onehot.png", resolution=80)
    plot_decision_boundary(model, x, labels, tmp_path / "labels.png", resolution=80)
    assert isinstance(fig, Figure)
    one_hot_image = read_png(tmp_path / "onehot.png")
    labels_image = read_png(tmp_path / "labels.png")
    assert np.array_equal(one_hot_image, labels_image)


def test_decision_boundary_returns_figure_without_out(trained):
    """out=None: a Figure with one axes holding the scatter of every class."""
    model, x, t, *_ = trained
    fig = plot_decision_boundary(model, x, t, resolution=40)
    try:
        assert isinstance(fig, Figure)
        labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
        assert labels == ["class 0", "class 1", "class 2"]
    finally:
        plt.close(fig)


@pytest.mark.parametrize("shape", [(10, 3), (10,), (10, 2, 1), (10, 1)])
def test_decision_boundary_refuses_x_not_n_by_2(trained, shape):
    """x of any other shape: ValueError naming x and the shape it had."""
    model, *_ = trained
    x = np.zeros(shape)
    t = np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\).*got " + re.escape(
            str(shape))):
        plot_decision_boundary(model, x, t)


def test_matplotlib_is_imported_lazily():
    """Importing the package, models, trainer, optim (and plotting) leaves matplotlib out."""
    code = (
        "import sys, chainrule, chainrule.models, chainrule.trainer, chainrule.optim, "
        "chainrule.data, chainrule.schedules, chainrule.plotting\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)


def test_the_evaluation_curves_carry_the_name_the_console_uses():
    from chainrule.plotting import plot_accuracy, plot_loss
    from chainrule.trainer import History

    history = History(loss=[1.0, 0.8, 0.6, 0.5], epoch=[1, 2], train_loss=[0.9, 0.55],
                      train_accuracy=[0.5, 0.7], eval_loss=[0.7, 0.6],
                      eval_accuracy=[0.6, 0.65], lr=[0.1, 0.1], seconds=[1.0, 1.0])
    for plot, what in ((plot_loss, "loss"), (plot_accuracy, "accuracy")):
        figure = plot(history, eval_name="test")
        labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
        assert f"test {what}" in labels and f"eval {what}" not in labels
