"""Convolutional networks: im2col/col2im, Convolution and pooling layers, the book's nets.

Independent expectations: a convolution written as the four nested sums of its
definition, the adjoint identity <im2col(x), c> = <x, col2im(c)>, central differences,
and — when PyTorch is installed (it is never a dependency) — torch's conv2d/max_pool2d/
avg_pool2d and autograd on the same weights.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from chainrule.checkpoint import CHECKPOINT_NAME, load_model, restore_checkpoint, save_checkpoint
from chainrule.cli import main
from chainrule.data.idx import write_idx
from chainrule.functions import col2im, conv_output_size, im2col
from chainrule.gradcheck import gradient_check
from chainrule.layers import AvgPooling, Convolution, Flatten, Pooling
from chainrule.models import DeepConvNet, SimpleConvNet
from chainrule.optim import Adam
from chainrule.trainer import Trainer

FASHION = "/usr/share/datasets/fashion-mnist"
CONV_CASES = [  # (N, C, H, W), (FN, FH, FW), stride, pad: non-square, strided, padded
    ((2, 3, 7, 9), (4, 3, 2), 1, 0),
    ((2, 2, 8, 9), (3, 3, 3), 2, 1),
    ((1, 1, 5, 6), (2, 2, 2), 2, 0),
    ((3, 2, 6, 5), (2, 1, 3), 1, 2),
]
POOL_CASES = [  # (N, C, H, W), (pool_h, pool_w), stride, pad
    ((2, 3, 8, 8), (2, 2), 2, 0),
    ((2, 2, 7, 9), (3, 2), 1, 1),
    ((2, 2, 9, 7), (3, 3), 2, 1),
    ((2, 2, 9, 10), (3, 3), 3, 0),
]


def naive_conv(x, W, b, stride, pad):
    """y[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] x_pad[n, c, i s + u, j s + v]."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, w = xp.shape
    fn, c, fh, fw = W.shape
    oh, ow = (h - fh) // stride + 1, (w - fw) // stride + 1
    y = np.zeros((n, fn, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + fh, j * stride:j * stride + fw]
            y[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return y


# ---- im2col / col2im --------------------------------------------------------------------


def test_im2col_rows_are_the_windows_in_the_books_layout():
    x = np.arange(2 * 2 * 4 * 4, dtype=float).reshape(2, 2, 4, 4)
    col = im2col(x, 3, 3, stride=1, pad=0)
    assert col.shape == (2 * 2 * 2, 2 * 3 * 3)
    # row n*OH*OW + i*OW + j: image n, window at (i, j), channel by channel
    np.testing.assert_array_equal(col[1 * 4 + 1 * 2 + 0], x[1, :, 1:4, 0:3].reshape(-1))
    assert conv_output_size(28, 5) == 24 and conv_output_size(28, 3, 1, 1) == 28
    assert conv_output_size(7, 3, 2, 0) == 3  # the last column is dropped, as in PyTorch


@pytest.mark.parametrize("shape, filt, stride, pad", CONV_CASES)
def test_col2im_is_the_exact_adjoint_of_im2col(shape, filt, stride, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    col = im2col(x, filt[1], filt[2], stride, pad)
    c = rng.standard_normal(col.shape)
    left, right = np.vdot(col, c), np.vdot(x, col2im(c, shape, filt[1], filt[2], stride, pad))
    assert left == pytest.approx(right, rel=1e-12)


def test_a_filter_larger_than_the_input_is_refused():
    with pytest.raises(ValueError, match="a filter of 5 with pad 0 does not fit an input of "
                                         "size 4"):
        im2col(np.zeros((1, 1, 4, 4)), 5, 5)


# ---- layers -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape, filt, stride, pad", CONV_CASES)
def test_convolution_forward_is_the_definition_and_backward_passes_gradient_check(
        shape, filt, stride, pad):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    W, b = rng.standard_normal((filt[0], shape[1], filt[1], filt[2])), rng.standard_normal(filt[0])
    layer = Convolution(W, b, stride, pad)
    np.testing.assert_allclose(layer.forward(x), naive_conv(x, W, b, stride, pad), atol=1e-12)
    report = gradient_check(layer, x, mode="exact", random_state=0)
    assert report.passed, str(report)


@pytest.mark.parametrize("cls", [Pooling, AvgPooling])
@pytest.mark.parametrize("shape, pool, stride, pad", POOL_CASES)
def test_pooling_passes_gradient_check(cls, shape, pool, stride, pad):
    # distinct values 0.01 apart: central differences (h = 1e-4) never cross a tie
    x = np.random.default_rng(2).permutation(int(np.prod(shape))).reshape(shape) * 0.01
    report = gradient_check(cls(*pool, stride=stride, pad=pad), x, mode="exact",
                            random_state=0)
    assert report.passed, str(report)


def test_max_pooling_takes_the_first_maximum_on_ties():
    x = np.zeros((1, 1, 2, 2))  # one window, all equal
    layer = Pooling(2, 2, stride=2)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1)))[0, 0], [[1, 0], [0, 0]])


def test_flatten_and_its_backward():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    layer = Flatten()
    assert layer.forward(x).shape == (2, 12)
    np.testing.assert_array_equal(layer.backward(np.ones((2, 12))), np.ones_like(x))


# ---- against PyTorch (run by hand with torch installed; skipped otherwise) -------------


@pytest.mark.parametrize("shape, filt, stride, pad", CONV_CASES)
def test_convolution_equals_torch_conv2d(shape, filt, stride, pad):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    W, b = rng.standard_normal((filt[0], shape[1], filt[1], filt[2])), rng.standard_normal(filt[0])
    layer = Convolution(W.copy(), b.copy(), stride, pad)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
    dy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads[0], wt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.grads[1], bt.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, pool, stride, pad", POOL_CASES)
def test_pooling_equals_torch(kind, shape, pool, stride, pad):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    x[0, 0, :3, :3] = 1.0  # ties inside a window
    layer = (Pooling if kind == "max" else AvgPooling)(*pool, stride=stride, pad=pad)
    op = getattr(torch.nn.functional, f"{kind}_pool2d")
    xt = torch.tensor(x, requires_grad=True)
    yt = op(xt, pool, stride, pad)
    dy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=0, atol=1e-10)


def test_simple_conv_net_loss_and_gradients_equal_torch_autograd():
    torch = pytest.importorskip("torch")
    net = SimpleConvNet(input_dim=(2, 10, 9), hidden_size=7, output_size=4,
                        conv_param={"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
                        weight_init_std="he", random_state=0)
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal((6, 2, 10, 9)), rng.integers(0, 4, 6)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    F = torch.nn.functional
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x), p["W1"], p["b1"], padding=1)), 2, 2)
    h = F.relu(h.reshape(6, -1) @ p["W2"] + p["b2"])
    loss = F.cross_entropy(h @ p["W3"] + p["b3"], torch.tensor(t))
    loss.backward()
    assert net.loss(x, t, train_flg=True) == pytest.approx(loss.item(), rel=1e-12)
    grads = net.gradient(x, t)
    for name in net.params:
        np.testing.assert_allclose(grads[name], p[name].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


# ---- the book's networks on the protocol ------------------------------------------------


def test_simple_conv_net_has_the_books_shapes_and_names():
    net = SimpleConvNet(random_state=0)
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,),
        "W3": (100, 10), "b3": (10,)}
    assert net.input_shape == (1, 28, 28) and net.output_size == 10
    x = np.random.default_rng(0).random((3, 784))  # rows are reshaped to images
    np.testing.assert_allclose(net.predict(x).sum(axis=1), 1.0)


def test_deep_conv_net_trains_and_passes_gradient_check():
    net = DeepConvNet(input_dim=(1, 12, 12), hidden_size=10, output_size=3, random_state=0)
    assert list(net.params) == [f"{k}{i}" for i in range(1, 9) for k in "Wb"]
    rng = np.random.default_rng(6)
    x, t = rng.standard_normal((6, 1, 12, 12)), rng.integers(0, 3, 6)
    # h = 1e-6: a step of 1e-4 along a random direction of a whole filter bank moves some
    # ReLU inputs across 0 (a kink), which central differences cannot straddle
    report = gradient_check(net, x, t, mode="directional", h=1e-6, random_state=0)
    assert report.passed, str(report)
    before = net.loss(x, t)
    optimizer = Adam(lr=0.01)
    for _ in range(30):
        net.forward(x, t)
        net.backward()
        optimizer.update(net.params, net.grads)
    assert net.loss(x, t) < 0.5 * before


@pytest.mark.parametrize("make", [
    lambda: SimpleConvNet(input_dim=(1, 12, 12), hidden_size=8, output_size=3,
                          conv_param={"filter_num": 4, "filter_size": 3, "pad": 0,
                                      "stride": 1}, random_state=0),
    lambda: DeepConvNet(input_dim=(1, 12, 12), hidden_size=8, output_size=3, random_state=0),
], ids=["SimpleConvNet", "DeepConvNet"])
def test_conv_nets_save_load_and_resume_bit_for_bit(make, tmp_path):
    rng = np.random.default_rng(7)
    x, t = rng.standard_normal((40, 1, 12, 12)), rng.integers(0, 3, 40)
    reference = Trainer(make(), Adam(lr=0.01), random_state=0)
    reference.fit(x, t, max_epoch=3, batch_size=10, verbose=0)
    first = Trainer(make(), Adam(lr=0.01), random_state=0)

    def stop(trainer):
        if trainer.iteration == 6:
            trainer.stop_requested = True

    first.fit(x, t, max_epoch=3, batch_size=10, verbose=0, step_callbacks=[stop])
    save_checkpoint(first, tmp_path / CHECKPOINT_NAME)
    resumed = Trainer(make(), Adam(lr=0.01), random_state=0)
    restore_checkpoint(resumed, tmp_path / CHECKPOINT_NAME)
    resumed.fit(x, t, max_epoch=3, batch_size=10, verbose=0)
    for name, value in reference.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value, err_msg=name)
    from chainrule.checkpoint import save_model

    path = save_model(reference.model, tmp_path / "model.safetensors")
    np.testing.assert_array_equal(load_model(path).predict(x), reference.model.predict(x))


def test_bad_conv_arguments_name_what_was_expected():
    with pytest.raises(ValueError, match="conv_param must be a dict with keys filter_num"):
        SimpleConvNet(conv_param={"filter_num": 3})
    with pytest.raises(TypeError, match=r"input_dim must be \(C, H, W\)"):
        SimpleConvNet(input_dim=784)
    with pytest.raises(ValueError, match=r"W must have shape \(FN, C, FH, FW\)"):
        Convolution(np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(TypeError, match="stride must be an integer"):
        Pooling(2, 2, stride=1.5)


# ---- the command line -------------------------------------------------------------------


@pytest.fixture()
def tiny_mnist(tmp_path):
    """A small MNIST-shaped data set: the class is the image's brightest quadrant."""
    rng = np.random.default_rng(8)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for split, n in (("train", 300), ("t10k", 100)):
        labels = rng.integers(0, 4, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 2)
            images[i, r * 14:(r + 1) * 14, c * 14:(c + 1) * 14] += 180
        write_idx(folder / f"{split}-images-idx3-ubyte", images.astype(np.uint8))
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels.astype(np.uint8))
    return folder


def test_a_data_file_of_the_wrong_size_is_bad_input_exit_2(tiny_mnist, capsys, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tiny_mnist),
                 "--model", "simple-conv"]) == 2
    err = capsys.readouterr().err
    assert "expected shape (60000, 28, 28), got (300, 28, 28)" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("cls", [SimpleConvNet, DeepConvNet])
def test_cli_predicts_with_a_saved_conv_net(cls, tiny_mnist, tmp_path, capsys):
    from chainrule.checkpoint import save_model
    from chainrule.data.idx import read_idx

    x = read_idx(tiny_mnist / "train-images-idx3-ubyte")[:, None] / 255.0
    t = read_idx(tiny_mnist / "train-labels-idx1-ubyte").astype(np.intp)
    model = cls(input_dim=(1, 28, 28), output_size=4, random_state=0)
    Trainer(model, Adam(lr=0.003), random_state=0).fit(x, t, max_epoch=2, batch_size=30,
                                                       verbose=0)
    assert model.accuracy(x, t) > 0.5  # four classes: chance is 0.25
    path = save_model(model, tmp_path / "model.safetensors")
    images = x[:5, 0] * 255  # raw 8-bit pixels, as a user would have them
    np.save(tmp_path / "x.npy", images.astype(np.uint8))
    assert main(["predict", str(path), str(tmp_path / "x.npy"), "--scale", "255",
                 "--out", str(tmp_path / "p.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), model.predict(x[:5]), rtol=1e-6)


@pytest.mark.parametrize("model", ["simple-conv", "deep-conv"])
def test_cli_gradcheck_of_the_conv_nets_passes(model, capsys):
    assert main(["gradcheck", "--model", model, "--input-size", "144", "--hidden", "8",
                 "--output-size", "3"]) == 0
    assert "passed (rtol 1e-05)" in capsys.readouterr().out


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="needs Debian's dataset-fashion-mnist")
def test_cli_evaluates_a_conv_net_on_fashion_mnist(tmp_path, monkeypatch, capsys):
    from chainrule.checkpoint import save_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    model = SimpleConvNet(weight_init_std="he", random_state=0)
    path = save_model(model, tmp_path / "model.safetensors")
    assert main(["evaluate", str(path), "--dataset", "fashion-mnist", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["samples"] == 10_000 and 0.0 <= result["accuracy"] <= 0.3  # untrained
    assert np.asarray(result["confusion"]).sum() == 10_000


def test_cli_refuses_a_conv_net_for_non_image_data(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "simple-conv"]) == 2
    assert "needs square images of at least 8x8 pixels, but the data has 2 values" in \
        capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(FASHION), reason="needs Debian's dataset-fashion-mnist")
def test_simple_conv_net_passes_0_895_on_fashion_mnist_in_five_epochs(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    assert main(["train", "--dataset", "fashion-mnist", "--model", "simple-conv", "--optimizer",
                 "adam", "--lr", "0.001", "--epochs", "5", "--batch-size", "100", "--seed", "0",
                 "--quiet", "--json", "--out", str(tmp_path / "r")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["test_accuracy"] >= 0.895
