"""``gradient_check`` itself: it catches planted bugs (exact and directional), passes correct
models, leaves its target untouched, validates its arguments and reports readably.
"""

import copy
import warnings

import numpy as np
import pytest

from chainrule import layers
from chainrule.gradcheck import gradient_check
from chainrule.models import MultiLayerNet, Sequential, TwoLayerNet


class DoubledDxAffine(layers.Affine):
    """A planted bug: dx comes back twice as large; dW and db are right."""

    def backward(self, dout):
        dx = super().backward(dout)
        return None if dx is None else 2 * dx


class DoubledDWAffine(layers.Affine):
    """A planted bug: dW is written twice as large; dx and db are right."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads[0] *= 2
        return dx


class DoubledDxSigmoid(layers.Sigmoid):
    def backward(self, dout):
        return 2 * super().backward(dout)


def _affine(cls, rng, d=4, h=3):
    return cls(rng.standard_normal((d, h)), rng.standard_normal(h))


def _failed(report):
    return {e.name for e in report.entries if not e.passed}


def _snapshot(model):
    """Copies of every parameter and of batch-norm running statistics."""
    state = {name: p.copy() for name, p in model.params.items()}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, layers.BatchNormalization):
            state[f"running_mean{i}"] = layer.running_mean.copy()
            state[f"running_var{i}"] = layer.running_var.copy()
    return state


def _assert_same_state(model, before):
    after = _snapshot(model)
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert after[name].dtype == value.dtype, name
        np.testing.assert_array_equal(after[name], value, err_msg=name, strict=True)


# ---- planted bugs in a single layer (exact mode) ------------------------------------


def test_correct_affine_passes():
    rng = np.random.default_rng(0)
    report = gradient_check(_affine(layers.Affine, rng), rng.standard_normal((5, 4)),
                            mode="exact", random_state=0)
    assert report.passed is True
    assert _failed(report) == set()


def test_doubled_dx_is_flagged_on_x_only():
    rng = np.random.default_rng(0)
    report = gradient_check(_affine(DoubledDxAffine, rng), rng.standard_normal((5, 4)),
                            mode="exact", random_state=0)
    assert report.passed is False
    assert _failed(report) == {"x"}
    assert report["x"].max_rel_error == pytest.approx(0.5, rel=1e-6)  # |2g - g| / |2g|
    assert report["x"].worst_index is not None


def test_doubled_dW_is_flagged_on_W_only():
    rng = np.random.default_rng(1)
    report = gradient_check(_affine(DoubledDWAffine, rng), rng.standard_normal((5, 4)),
                            mode="exact", random_state=0)
    assert report.passed is False
    assert _failed(report) == {"W"}
    assert report["W"].max_rel_error == pytest.approx(0.5, rel=1e-6)


def test_sigmoid_with_doubled_dx_fails_and_correct_one_passes():
    x = np.random.default_rng(2).standard_normal((3, 4))
    assert gradient_check(layers.Sigmoid(), x, mode="exact", random_state=0).passed is True
    report = gradient_check(DoubledDxSigmoid(), x, mode="exact", random_state=0)
    assert report.passed is False
    assert _failed(report) == {"x"}


def test_planted_bug_is_caught_in_directional_mode_on_a_layer():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4))
    assert gradient_check(_affine(layers.Affine, rng), x, mode="directional",
                          random_state=0).passed
    report = gradient_check(_affine(DoubledDWAffine, rng), x, mode="directional",
                            random_state=0)
    assert _failed(report) == {"W"}
    assert report["W"].mode == "directional"
    assert report["W"].max_rel_error >= 0.4
    assert report["W"].worst_index is not None  # the drill-down says where


# ---- directional mode on a big model ------------------------------------------------


def _mnist_like(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784)), rng.integers(0, 10, n)


def test_multilayer_net_passes_directional():
    net = MultiLayerNet(784, [100, 100], 10, random_state=0)
    x, t = _mnist_like()
    report = gradient_check(net, x, t, mode="directional", random_state=0)
    assert report.passed, str(report)
    assert [e.name for e in report.entries] == ["x", "W1", "b1", "W2", "b2", "W3", "b3"]
    assert {e.mode for e in report.entries} == {"directional"}


def test_auto_mode_picks_directional_above_the_limit():
    net = MultiLayerNet(784, [100, 100], 10, random_state=0)
    x, t = _mnist_like()
    report = gradient_check(net, x, t, random_state=0)
    assert {e.mode for e in report.entries} == {"directional"}
    small = gradient_check(TwoLayerNet(4, 3, 2, random_state=0), np.ones((2, 4)), [0, 1],
                           random_state=0)
    assert {e.mode for e in small.entries} == {"exact"}


def test_buggy_second_affine_swapped_into_multilayer_net_fails_directional():
    net = MultiLayerNet(784, [100, 100], 10, random_state=0)
    assert isinstance(net.layers[2], layers.Affine)  # Affine, Relu, [Affine], Relu, Affine
    W, b = net.layers[2].params
    net.layers[2] = DoubledDWAffine(W, b)
    net.collect_params()
    x, t = _mnist_like()
    report = gradient_check(net, x, t, mode="directional", random_state=0)
    assert report.passed is False
    assert _failed(report) == {"W2"}
    assert report["W2"].worst_index is not None
    assert "W2" in str(report) and "FAILED" in str(report)


def test_buggy_affine_in_sequential_fails_directional_where_dx_flows():
    """A doubled dx in the second Affine doubles every gradient below it, and only those."""
    rng = np.random.default_rng(4)
    stack = [_affine(layers.Affine, rng, 784, 50), layers.Tanh(),
             _affine(DoubledDxAffine, rng, 50, 20), layers.Tanh(),
             _affine(layers.Affine, rng, 20, 10)]
    model = Sequential(stack)
    x, t = _mnist_like(seed=1)
    report = gradient_check(model, x, t, mode="directional", random_state=0)
    assert _failed(report) == {"x", "W1", "b1"}


# ---- models in exact mode -----------------------------------------------------------


def test_two_layer_net_passes_exact():
    net = TwoLayerNet(6, 5, 3, weight_init_std=0.5, random_state=0)
    rng = np.random.default_rng(5)
    report = gradient_check(net, rng.standard_normal((4, 6)), rng.integers(0, 3, 4),
                            mode="exact", random_state=0)
    assert report.passed, str(report)
    assert [e.name for e in report.entries] == ["x", "W1", "b1", "W2", "b2"]
    assert all(e.max_rel_error < 1e-6 for e in report.entries)


def test_two_layer_net_passes_exact_with_soft_targets():
    net = TwoLayerNet(6, 5, 3, weight_init_std="xavier", activation="tanh", random_state=1)
    rng = np.random.default_rng(6)
    report = gradient_check(net, rng.standard_normal((4, 6)), rng.dirichlet(np.ones(3), 4),
                            mode="exact", random_state=0)
    assert report.passed, str(report)


def test_multilayer_net_with_dropout_batchnorm_and_decay_passes_exact():
    net = MultiLayerNet(6, [5, 4], 3, use_dropout=True, use_batchnorm=True,
                        weight_decay_lambda=0.1, random_state=0)
    rng = np.random.default_rng(7)
    report = gradient_check(net, rng.standard_normal((8, 6)), rng.integers(0, 3, 8),
                            mode="exact", random_state=0)
    assert report.passed, str(report)
    names = [e.name for e in report.entries]
    assert names[0] == "x"
    assert {"W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"} == set(
        names[1:])
    assert all(e.max_rel_error < 1e-6 for e in report.entries)


def test_weight_decay_gradient_is_checked():
    """Dropping the lambda W term from the weight gradients must be caught."""
    net = MultiLayerNet(6, [5], 3, weight_decay_lambda=0.5, random_state=0)
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    assert gradient_check(net, x, t, mode="exact", random_state=0).passed

    class NoDecayGradient(Sequential):
        def backward(self, dout=1):
            lam, self.weight_decay_lambda = self.weight_decay_lambda, 0.0
            try:
                return super().backward(dout)
            finally:
                self.weight_decay_lambda = lam

    bad = NoDecayGradient(net.layers, weight_decay_lambda=0.5)
    report = gradient_check(bad, x, t, mode="exact", random_state=0)
    assert _failed(report) == {"W1", "W2"}


# ---- the target is untouched --------------------------------------------------------


def test_model_parameters_and_running_stats_untouched():
    net = MultiLayerNet(6, [5, 4], 3, use_dropout=True, use_batchnorm=True,
                        weight_decay_lambda=0.1, random_state=0)
    rng = np.random.default_rng(9)
    x, t = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    net.forward(x, t)  # running statistics away from their initial values
    before = _snapshot(net)
    grads_before = {k: g.copy() for k, g in net.grads.items()}
    frozen_before = [getattr(layer, "frozen", None) for layer in net.layers]
    rng_state = copy.deepcopy(net.rng.bit_generator.state)
    x_keep, t_keep = x.copy(), t.copy()
    for mode in ("exact", "directional"):
        gradient_check(net, x, t, mode=mode, random_state=0)
    _assert_same_state(net, before)
    for k, g in net.grads.items():
        np.testing.assert_array_equal(g, grads_before[k])
    assert [getattr(layer, "frozen", None) for layer in net.layers] == frozen_before
    assert net.rng.bit_generator.state == rng_state
    assert net.input_grad is False and net.layers[0].input_grad is False
    np.testing.assert_array_equal(x, x_keep)
    np.testing.assert_array_equal(t, t_keep)


def test_layer_parameters_and_running_stats_untouched():
    rng = np.random.default_rng(10)
    layer = layers.BatchNormalization(rng.uniform(0.5, 2, 3), rng.standard_normal(3),
                                      running_mean=rng.standard_normal(3),
                                      running_var=rng.uniform(0.5, 2, 3))
    keep = [a.copy() for a in (*layer.params, layer.running_mean, layer.running_var)]
    x = rng.standard_normal((5, 3))
    x_keep = x.copy()
    gradient_check(layer, x, mode="exact", random_state=0)
    now = (*layer.params, layer.running_mean, layer.running_var)
    for a, b in zip(now, keep, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    np.testing.assert_array_equal(x, x_keep)
    affine = layers.Affine(rng.standard_normal((3, 2)), rng.standard_normal(2))
    affine.input_grad = False
    keep = [p.copy() for p in affine.params]
    assert gradient_check(affine, x, mode="exact", random_state=0).passed
    for a, b in zip(affine.params, keep, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    assert affine.input_grad is False


def test_float32_model_is_checked_in_float64_and_stays_float32():
    net = MultiLayerNet(6, [5], 3, use_batchnorm=True, weight_init_std=0.5,
                        dtype=np.float32, random_state=0)
    rng = np.random.default_rng(11)
    x, t = rng.standard_normal((6, 6)).astype(np.float32), rng.integers(0, 3, 6)
    before = _snapshot(net)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no float32 precision warning: the copy is float64
        report = gradient_check(net, x, t, mode="exact", random_state=0)
    assert report.passed, str(report)
    assert all(e.max_rel_error < 1e-6 for e in report.entries)
    _assert_same_state(net, before)
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert all(g.dtype == np.float32 for g in net.grads.values())
    assert net.dtype == np.float32


def test_float32_layer_is_checked_in_float64():
    rng = np.random.default_rng(12)
    layer = layers.Affine(rng.standard_normal((4, 3)).astype(np.float32),
                          rng.standard_normal(3).astype(np.float32))
    report = gradient_check(layer, rng.standard_normal((5, 4)).astype(np.float32),
                            mode="exact", random_state=0)
    assert report.passed, str(report)
    assert layer.params[0].dtype == np.float32 and layer.grads[0].dtype == np.float32


def test_same_random_state_same_report():
    net = MultiLayerNet(784, [100, 100], 10, random_state=0)
    x, t = _mnist_like()
    a = gradient_check(net, x, t, mode="directional", random_state=3)
    b = gradient_check(net, x, t, mode="directional", random_state=3)
    assert [e.max_rel_error for e in a.entries] == [e.max_rel_error for e in b.entries]


# ---- bad arguments ------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"mode": "nosuch"}, "mode"),
    ({"rtol": 0}, "rtol"),
    ({"rtol": -1e-6}, "rtol"),
    ({"h": 0}, "h="),
    ({"atol": -1.0}, "atol"),
])
def test_bad_arguments_raise_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        gradient_check(layers.Sigmoid(), np.ones((2, 2)), **kwargs)


# ---- the report ---------------------------------------------------------------------


def test_report_str_lists_every_array_and_the_verdict():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 4))
    good = gradient_check(_affine(layers.Affine, rng), x, mode="exact", random_state=0)
    text = str(good)
    for name in ("x", "W", "b"):
        assert any(line.split()[0] == name for line in text.splitlines()[1:-1])
    assert text.splitlines()[-1].startswith("passed")
    assert "FAILED" not in text
    bad = gradient_check(_affine(DoubledDWAffine, rng), x, mode="exact", random_state=0)
    text = str(bad)
    rows = {line.split()[0]: line for line in text.splitlines()[1:-1]}
    assert set(rows) == {"x", "W", "b"}
    assert "FAILED" in rows["W"] and "FAILED" not in rows["x"] and "FAILED" not in rows["b"]
    assert text.splitlines()[-1].startswith("FAILED")


def test_report_indexing_by_name():
    rng = np.random.default_rng(14)
    report = gradient_check(_affine(layers.Affine, rng), rng.standard_normal((2, 4)),
                            mode="exact", random_state=0)
    assert report["W"].shape == (4, 3) and report["b"].shape == (3,)
    with pytest.raises(KeyError):
        report["nosuch"]
