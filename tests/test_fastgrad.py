"""The fast numerical gradient (chainrule.fastgrad) gives the plain loop's central differences.

Every layer the fast path knows, both loss layers, both dtypes, every kind of target,
weight decay, held dropout masks, batch norm in training mode, ReLU kinks inside the
step, the input's central differences; models it does not know fall back to the plain
loop with identical results; ``gradient_check`` takes the fast path. All small nets but
one, the issue's own case (TwoLayerNet(784, 100, 10) on 100 images), checked against
backprop and against a sample of elements perturbed one at a time.
"""

import copy
import functools

import numpy as np
import pytest

from chainrule import fastgrad
from chainrule.gradcheck import gradient_check
from chainrule.layers import (
    Affine,
    BatchNormalization,
    Dropout,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    SoftmaxWithLoss,
    Tanh,
)
from chainrule.models import MultiLayerNet, SimpleConvNet, TwoLayerNet
from chainrule.network import Sequential
from chainrule.protocol import Model

H = 1e-4


def assert_same_differences(fast, plain, rtol=1e-8):
    """Every element within rtol of its array's largest central difference.

    An array whose true gradient is zero (a bias right before batch normalisation) holds
    only rounding noise; it is measured against a thousandth of the model's largest.
    """
    assert list(fast) == list(plain)
    overall = max(float(np.abs(p).max()) for p in plain.values())
    for name, p in plain.items():
        f = fast[name]
        assert f.shape == p.shape and f.dtype == p.dtype, name
        scale = max(float(np.abs(p).max()), 1e-3 * overall)
        error = float(np.abs(f.astype(np.float64) - p).max()) / scale
        assert error <= rtol, f"{name}: {error:.2e} of its largest gradient"


def both(net, x, t, **kwargs):
    """(fast, plain) central differences of the same model."""
    return (net.numerical_gradient(x, t, **kwargs),
            net.numerical_gradient(x, t, method="plain", **kwargs))


def affine(rng, n_in, n_out, dtype=np.float64, scale=0.5):
    W = (scale * rng.standard_normal((n_in, n_out))).astype(dtype)
    return Affine(W, (0.1 * rng.standard_normal(n_out)).astype(dtype))


def batchnorm(rng, width, dtype=np.float64):
    return BatchNormalization(rng.uniform(0.5, 1.5, width).astype(dtype),
                              (0.1 * rng.standard_normal(width)).astype(dtype))


# Each middle part sits between Affine(5, 6) and Affine(6, 3): the parts the fast path knows.
MIDDLES = {
    "sigmoid": lambda rng, dtype: [Sigmoid()],
    "relu": lambda rng, dtype: [Relu()],
    "tanh": lambda rng, dtype: [Tanh()],
    "dropout": lambda rng, dtype: [Relu(), Dropout(0.4, random_state=rng)],
    "batchnorm": lambda rng, dtype: [batchnorm(rng, 6, dtype), Relu()],
    "batchnorm-tanh": lambda rng, dtype: [batchnorm(rng, 6, dtype), Tanh()],
    "two-affines": lambda rng, dtype: [Tanh(), affine(rng, 6, 6, dtype), Relu()],
    "batchnorm-affine": lambda rng, dtype: [batchnorm(rng, 6, dtype), affine(rng, 6, 6, dtype)],
    "affine-batchnorm": lambda rng, dtype: [Relu(), affine(rng, 6, 6, dtype),
                                            batchnorm(rng, 6, dtype), Relu()],
    "sigmoid-batchnorm": lambda rng, dtype: [Sigmoid(), affine(rng, 6, 6, dtype),
                                             batchnorm(rng, 6, dtype), Relu()],
    "deep-batchnorm": lambda rng, dtype: [batchnorm(rng, 6, dtype), Relu(),
                                          affine(rng, 6, 6, dtype), batchnorm(rng, 6, dtype),
                                          Sigmoid(), Dropout(0.3, random_state=rng)],
}


def sequential(middle, dtype=np.float64, loss_layer=None, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    layers = [affine(rng, 5, 6, dtype), *MIDDLES[middle](rng, dtype), affine(rng, 6, 3, dtype)]
    return Sequential(layers, loss_layer, **kwargs)


def data(n=7, seed=1, targets="labels"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5))
    labels = rng.integers(0, 3, n)
    t = {"labels": labels, "one-hot": np.eye(3)[labels],
         "soft": rng.random((n, 3)),  # rows that do not sum to one, as book 1's call
         "binary": (rng.random((n, 3)) < 0.5).astype(np.float64)}[targets]
    return x, t


# ---- the same numbers as the plain loop ------------------------------------------------


@pytest.mark.parametrize("middle", list(MIDDLES))
def test_every_known_layer_float64(middle):
    net = sequential(middle)
    assert fastgrad.supports(net)
    fast, plain = both(net, *data())
    assert_same_differences(fast, plain)


@pytest.mark.parametrize("targets", ["labels", "one-hot", "soft"])
@pytest.mark.parametrize("middle", ["relu", "batchnorm"])
def test_softmax_targets(middle, targets):
    net = sequential(middle)
    fast, plain = both(net, *data(targets=targets))
    assert_same_differences(fast, plain)


@pytest.mark.parametrize("targets", ["binary", "soft"])
def test_sigmoid_with_loss(targets):
    net = sequential("batchnorm", loss_layer=SigmoidWithLoss())
    assert fastgrad.supports(net)
    fast, plain = both(net, *data(targets=targets))
    assert_same_differences(fast, plain)


@pytest.mark.parametrize("middle", ["sigmoid", "dropout", "batchnorm", "deep-batchnorm"])
def test_weight_decay(middle):
    net = sequential(middle, weight_decay_lambda=0.3)
    fast, plain = both(net, *data())
    assert_same_differences(fast, plain)
    without = sequential(middle).numerical_gradient(*data())
    assert not np.allclose(fast["W1"], without["W1"])  # the decay term is in there
    np.testing.assert_allclose(fast["b1"], without["b1"], rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("middle", ["tanh", "batchnorm", "deep-batchnorm"])
def test_float32_within_the_plain_loops_noise(middle):
    net = sequential(middle, dtype=np.float32)
    wide = net.astype(np.float64)  # before any forward: it draws the same dropout masks
    x, t = data()
    with pytest.warns(UserWarning, match="float32"):
        fast = net.numerical_gradient(x, t)
    with pytest.warns(UserWarning, match="float32"):
        plain = net.numerical_gradient(x, t, method="plain")
    truth = wide.numerical_gradient(x, t)
    # the plain loop's two float32 losses each carry a few ulp of rounding: divided by 2h
    noise = 50 * np.finfo(np.float32).eps * max(1.0, abs(wide.loss(x, t))) / H
    for name in plain:
        assert fast[name].dtype == np.float32
        assert np.abs(fast[name] - plain[name]).max() <= noise, name
        # the fast path computes the changes in float64: nearer the float64 differences
        assert np.abs(fast[name] - truth[name]).max() <= noise, name


def test_multilayer_net_with_everything():
    net = MultiLayerNet(6, [5, 4], 3, use_batchnorm=True, use_dropout=True,
                        dropout_ratio=0.3, weight_decay_lambda=0.1, random_state=0)
    x, t = data(n=8)
    x = np.random.default_rng(3).standard_normal((8, 6))
    fast, plain = both(net, x, t)
    assert_same_differences(fast, plain)


def test_input_differences_too():
    for middle in ("sigmoid", "batchnorm", "dropout", "batchnorm-affine", "affine-batchnorm"):
        net = sequential(middle)
        (fast, fast_x), (plain, plain_x) = both(net, *data(), with_input=True)
        assert_same_differences({"x": fast_x, **fast}, {"x": plain_x, **plain})


def _kinked(make_layers):
    """A net whose every Relu has one input 2e-6 above its kink (moved there by the bias
    or beta of the layer before it), so steps of h = 1e-4 cross it."""
    rng = np.random.default_rng(4)
    net = Sequential(make_layers(rng))
    x, t = data(n=6)
    for q, layer in enumerate(net.layers):
        if isinstance(layer, Relu):
            a = x
            for before in net.layers[:q]:
                a = before.forward(a)
            net.layers[q - 1].params[-1][1] -= a[0, 1] - 2e-6
    return net, x, t


@pytest.mark.parametrize("make_layers", [
    lambda rng: [affine(rng, 5, 6), Relu(), affine(rng, 6, 6), Relu(), affine(rng, 6, 3), Relu()],
    lambda rng: [affine(rng, 5, 6), Relu(), affine(rng, 6, 6), batchnorm(rng, 6), Relu(),
                 affine(rng, 6, 3)],
], ids=["relu-relu-relu", "batchnorm-relu"])
def test_a_relu_kink_inside_the_step_is_computed_exactly(make_layers):
    """Backprop differs from every central difference there; the fast path still gives
    the plain loop's."""
    net, x, t = _kinked(make_layers)
    (fast, fast_x), (plain, plain_x) = both(net, x, t, with_input=True)
    assert_same_differences({"x": fast_x, **fast}, {"x": plain_x, **plain})
    backprop = net.gradient(x, t)
    assert np.abs(plain["W1"] - backprop["W1"]).max() > 1e-3 * np.abs(backprop["W1"]).max()


def test_the_model_is_left_as_it_was():
    net = MultiLayerNet(6, [5], 3, use_batchnorm=True, use_dropout=True, random_state=0)
    x = np.random.default_rng(5).standard_normal((8, 6))
    t = np.arange(8) % 3
    net.forward(x, t)
    params = {k: v.copy() for k, v in net.params.items()}
    buffers = {k: v.copy() for k, v in net.buffers.items()}
    rng_state = copy.deepcopy(net.rng.bit_generator.state)
    x_keep = x.copy()
    fast, plain = both(net, x, t)  # the plain loop reuses the mask the fast path held
    assert_same_differences(fast, plain)
    for name, value in params.items():
        np.testing.assert_array_equal(net.params[name], value, strict=True)
    for name, value in buffers.items():
        np.testing.assert_array_equal(net.buffers[name], value, strict=True)
    assert net.rng.bit_generator.state == rng_state
    assert not any(getattr(layer, "frozen", False) for layer in net.layers)
    np.testing.assert_array_equal(x, x_keep)


@pytest.mark.parametrize("middle", ["deep-batchnorm", "affine-batchnorm"])
def test_blocks_of_any_size_give_the_same_numbers(monkeypatch, middle):
    net = sequential(middle)
    x, t = data()
    whole, whole_x = net.numerical_gradient(x, t, with_input=True)
    monkeypatch.setattr(fastgrad, "BLOCK_ELEMENTS", 50)  # one element per block
    monkeypatch.setattr(fastgrad, "LOSS_CHUNK", 10)
    small, small_x = net.numerical_gradient(x, t, with_input=True)
    assert_same_differences({"x": small_x, **small}, {"x": whole_x, **whole}, rtol=1e-12)


# ---- what the fast path does not know: the plain loop, identical -------------------------


class LeakyRelu:
    """A layer written the book's way, declaring nothing."""

    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x):
        self.scale = np.where(x > 0, 1.0, 0.1)
        return x * self.scale

    def backward(self, dout):
        return dout * self.scale


class Shifted(Relu):
    """A subclass that rewrites forward: what Relu declares no longer holds."""

    def forward(self, x):
        return super().forward(x - 0.5)


def _custom(layer):
    rng = np.random.default_rng(6)
    return Sequential([affine(rng, 5, 6), layer, affine(rng, 6, 3)])


class OwnLoss(SoftmaxWithLoss):
    """A loss layer that rewrites forward (half the loss): its loss_change no longer holds."""

    def forward(self, x, t):
        return 0.5 * super().forward(x, t)


class Logged(Sequential):
    """A model that rewrites forward_checked: the fast path cannot know what it does."""

    def forward_checked(self, x, t, train_flg=True):
        self.calls = getattr(self, "calls", 0) + 1
        return super().forward_checked(x, t, train_flg)


def _tied():
    rng = np.random.default_rng(7)
    W = 0.5 * rng.standard_normal((5, 5))
    return Sequential([Affine(W, np.zeros(5)), Tanh(), Affine(W, np.zeros(5)), affine(rng, 5, 3)])


@pytest.mark.parametrize("make", [
    lambda: _custom(LeakyRelu()), lambda: _custom(Shifted()), _tied,
    lambda: sequential("relu", loss_layer=OwnLoss()),
    lambda: Logged(sequential("batchnorm").layers),
], ids=["own-layer", "rewritten-forward", "tied-weights", "own-loss", "own-forward_checked"])
def test_unknown_models_fall_back_to_the_plain_loop(make):
    net = make()
    assert not fastgrad.supports(net)
    fast, plain = both(net, *data())
    for name in plain:
        np.testing.assert_array_equal(fast[name], plain[name], strict=True)


def test_conv_net_falls_back():
    net = SimpleConvNet((1, 6, 6), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1},
                        hidden_size=4, output_size=3, weight_init_std=0.3, random_state=0)
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((3, 1, 6, 6)), np.array([0, 2, 1])
    assert not fastgrad.supports(net)
    fast, plain = both(net, x, t)
    for name in plain:
        np.testing.assert_array_equal(fast[name], plain[name], strict=True)
    backprop = net.gradient(x, t)
    assert np.abs(fast["W1"] - backprop["W1"]).max() < 1e-6 * np.abs(backprop["W1"]).max() + 1e-8


def test_plain_functions_keep_the_plain_loop():
    from chainrule import numerical_gradient

    w = np.array([3.0, 4.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 2), w), [6.0, 8.0])


# ---- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, words", [
    ({"method": "x"}, "method must be 'fast' or 'plain', got 'x'"),
    ({"method": None}, "method must be 'fast' or 'plain', got None"),
    ({"h": 0.0}, "h must be"),
    ({"h": -1e-4}, "h must be"),
])
def test_bad_arguments_name_themselves(kwargs, words):
    net = sequential("relu")
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        net.numerical_gradient(*data(), **kwargs)


def test_bad_data_is_refused_before_anything_runs():
    net = sequential("relu")
    x, t = data()
    with pytest.raises(ValueError, match="x"):
        net.numerical_gradient(x[:, :4], t)
    with pytest.raises(ValueError, match="t"):
        net.numerical_gradient(x, t[:3])


# ---- gradient_check takes the fast path ------------------------------------------------


def test_gradient_check_asks_the_model(monkeypatch):
    net = MultiLayerNet(6, [5], 3, use_batchnorm=True, weight_decay_lambda=0.1, random_state=0)
    x = np.random.default_rng(9).standard_normal((5, 6))
    t = np.array([0, 1, 2, 1, 0])
    calls = []
    original = Sequential.numerical_gradient

    @functools.wraps(original)  # the same signature: gradient_check reads it
    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Sequential, "numerical_gradient", spy)
    report = gradient_check(net, x, t, mode="exact", random_state=0)
    assert report.passed, str(report)
    assert calls == [{"h": 1e-4, "with_input": True}]


def test_gradient_check_of_a_model_with_its_own_numerical_gradient():
    """A model whose numerical_gradient takes only (x, t) is checked element by element."""

    class Old(Sequential):
        def numerical_gradient(self, x, t):
            raise AssertionError("not called: it cannot give the input's differences")

    rng = np.random.default_rng(10)
    net = Old([affine(rng, 5, 4), Tanh(), affine(rng, 4, 3)])
    report = gradient_check(net, *data(n=4), mode="exact", random_state=0)
    assert report.passed, str(report)
    assert [e.name for e in report.entries] == ["x", "W1", "b1", "W2", "b2"]


def test_the_base_model_gives_the_input_differences_too():
    class Linear(Model):
        input_shape, output_size = (5,), 3

        def __init__(self):
            from chainrule.network import ParamDict

            self.params = ParamDict(W=np.random.default_rng(11).standard_normal((5, 3)))
            self.grads = ParamDict(W=np.zeros((5, 3)))

        def scores(self, x, train_flg=False):
            return self.validate(x) @ self.params["W"]

        def forward(self, x, t, train_flg=True):
            self.last_output = s = x @ self.params["W"]
            return SoftmaxWithLoss().forward(s, t)

    x, t = data(n=4)
    grads, dx = Linear().numerical_gradient(x, t, with_input=True)
    w = Linear().params["W"]
    y = np.exp(x @ w)
    y /= y.sum(axis=1, keepdims=True)
    ds = (y - np.eye(3)[t]) / 4
    np.testing.assert_allclose(grads["W"], x.T @ ds, rtol=1e-6)
    np.testing.assert_allclose(dx, ds @ w.T, rtol=1e-6)


def test_held_dropout_stays_held_when_nested():
    layer = Dropout(0.5, random_state=0)
    with layer.held():
        with layer.held():
            pass
        assert layer.frozen
    assert not layer.frozen


# ---- the issue's own size --------------------------------------------------------------


def test_two_layer_net_of_the_book_on_100_images():
    """Book 1's call: TwoLayerNet(784, 100, 10), 100 random images, random soft targets."""
    net = TwoLayerNet(784, 100, 10, random_state=0)
    rng = np.random.default_rng(2)
    x, t = rng.random((100, 784)), rng.random((100, 10))
    fast = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    for name in backprop:
        scale = np.abs(backprop[name]).max()
        assert np.abs(fast[name] - backprop[name]).max() <= 1e-6 * scale, name
    # and a sample of elements, each perturbed alone as the plain loop does; its two
    # losses (about 12) carry rounding of about 1e-15 each, which 2h turns into 1e-11
    xv, tv = net.validate(x, t)
    noise = 8 * np.finfo(np.float64).eps * net.loss(x, t) / H
    for name, count in (("W1", 6), ("b1", 2), ("W2", 3), ("b2", 2)):
        array = net.params[name]
        for flat in rng.choice(array.size, count, replace=False):
            idx = np.unravel_index(flat, array.shape)
            keep = array[idx]
            array[idx] = keep + H
            up = net.forward_checked(xv, tv)
            array[idx] = keep - H
            down = net.forward_checked(xv, tv)
            array[idx] = keep
            plain = (up - down) / (2 * H)
            assert abs(fast[name][idx] - plain) <= max(1e-8 * np.abs(fast[name]).max(),
                                                       noise), (name, idx)
