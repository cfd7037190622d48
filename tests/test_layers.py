"""Layers: exact gradient checks over random shapes, agreement with the graph nodes and with
the stateless functions, numerical edge cases, dropout and batch-norm behaviour.

Independent expectations: central differences (``gradient_check``, float64, every element),
hand-composed ``nodes`` graphs, ``functions.softmax`` / ``cross_entropy_error`` and
hand-written NumPy formulas.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule import layers, nodes
from chainrule.functions import cross_entropy_error, sigmoid, softmax
from chainrule.gradcheck import gradient_check

dims = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)


def _check(report, names):
    """Passed, one entry per expected array (in order), each accurate to 1e-6 relative."""
    assert report.passed, str(report)
    assert [e.name for e in report.entries] == names, str(report)
    for entry in report.entries:
        assert entry.max_rel_error < 1e-6, str(report)


def _onehot(labels, c):
    return np.eye(c)[labels]


# ---- exact gradient checks ----------------------------------------------------------


@given(n=dims, d=dims, h=dims, seed=seeds)
def test_affine_gradient(n, d, h, seed):
    rng = np.random.default_rng(seed)
    layer = layers.Affine(rng.standard_normal((d, h)), rng.standard_normal(h))
    x = rng.standard_normal((n, d))
    _check(gradient_check(layer, x, mode="exact", random_state=seed), ["x", "W", "b"])


@given(n=dims, d1=dims, d2=dims, h=dims, seed=seeds)
def test_affine_gradient_on_image_shaped_input(n, d1, d2, h, seed):
    """(N, d1, d2) is flattened to (N, d1*d2); dx comes back in the input's shape."""
    rng = np.random.default_rng(seed)
    layer = layers.Affine(rng.standard_normal((d1 * d2, h)), rng.standard_normal(h))
    x = rng.standard_normal((n, d1, d2))
    np.testing.assert_allclose(layer.forward(x), x.reshape(n, -1) @ layer.params[0]
                               + layer.params[1])
    assert layer.backward(np.ones((n, h))).shape == (n, d1, d2)
    report = gradient_check(layer, x, mode="exact", random_state=seed)
    _check(report, ["x", "W", "b"])
    assert report["x"].shape == (n, d1, d2)


@pytest.mark.parametrize("make", [layers.Sigmoid, layers.Tanh, layers.Softmax])
@given(n=dims, d=dims, seed=seeds)
def test_smooth_activation_gradient(make, n, d, seed):
    x = 2.0 * np.random.default_rng(seed).standard_normal((n, d))
    _check(gradient_check(make(), x, mode="exact", random_state=seed), ["x"])


@given(n=dims, d=dims, seed=seeds)
def test_relu_gradient_away_from_the_kink(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    x = np.where(x >= 0, x + 1e-3, x - 1e-3)  # |x| >= 1e-3 > h: no difference crosses 0
    _check(gradient_check(layers.Relu(), x, mode="exact", random_state=seed), ["x"])


@given(n=dims, c=st.integers(2, 5),
       kind=st.sampled_from(["labels", "onehot", "soft", "unnormalised"]), seed=seeds)
def test_softmax_with_loss_gradient(n, c, kind, seed):
    """Also rows that do not sum to 1 (seed 002 trains on uniform random targets)."""
    rng = np.random.default_rng(seed)
    x = 2.0 * rng.standard_normal((n, c))
    labels = rng.integers(0, c, n)
    t = {"labels": labels, "onehot": _onehot(labels, c),
         "soft": rng.dirichlet(np.ones(c), n), "unnormalised": rng.random((n, c))}[kind]
    _check(gradient_check(layers.SoftmaxWithLoss(), x, t, mode="exact", random_state=seed),
           ["x"])


@given(n=dims, k=st.integers(0, 4), seed=seeds)
def test_sigmoid_with_loss_gradient(n, k, seed):
    """Logits (N,) when k == 0, else (N, k); targets 0/1 labels or probabilities."""
    rng = np.random.default_rng(seed)
    shape = (n,) if k == 0 else (n, k)
    x = 2.0 * rng.standard_normal(shape)
    for t in (rng.integers(0, 2, shape).astype(np.float64), rng.random(shape)):
        _check(gradient_check(layers.SigmoidWithLoss(), x, t, mode="exact", random_state=seed),
               ["x"])


@given(n=dims, d=dims, p=st.sampled_from([0.0, 0.2, 0.5, 0.8]), seed=seeds)
def test_dropout_gradient_with_frozen_mask(n, d, p, seed):
    rng = np.random.default_rng(seed)
    layer = layers.Dropout(p, random_state=seed)
    x = rng.standard_normal((n, d))
    layer.forward(x)
    layer.frozen = True
    _check(gradient_check(layer, x, mode="exact", random_state=seed), ["x"])


def _spread(rng, n, d):
    """(n, d) data whose every column has standard deviation between 1 and 2.

    Batch norm's third derivatives grow like 1 / std**3, so tiny spreads are excluded.
    """
    x = rng.standard_normal((n, d))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x * rng.uniform(1.0, 2.0, d) + rng.standard_normal(d)


# dx of batch norm is orthogonal to the ones vector and to xn per feature, so for small N it
# can be tiny by chance; it is then judged against the absolute floor atol = 1e-9, which the
# O(h**2) truncation error of central differences with the default h = 1e-4 can exceed (about
# 1 draw in 400). h = 3e-5 cuts that error tenfold while rounding error stays below 1e-10.
BN_H = 3e-5


@given(n=st.integers(2, 6), d=dims, seed=seeds)
def test_batchnorm_training_gradient(n, d, seed):
    rng = np.random.default_rng(seed)
    layer = layers.BatchNormalization(rng.uniform(0.5, 2.0, d), rng.standard_normal(d))
    x = _spread(rng, n, d)
    _check(gradient_check(layer, x, mode="exact", h=BN_H, random_state=seed),
           ["x", "gamma", "beta"])


def test_batchnorm_gradient_on_image_shaped_input():
    rng = np.random.default_rng(5)
    layer = layers.BatchNormalization(rng.uniform(0.5, 2.0, 6), rng.standard_normal(6))
    x = _spread(rng, 4, 6).reshape(4, 2, 3)
    report = gradient_check(layer, x, mode="exact", h=BN_H, random_state=0)
    _check(report, ["x", "gamma", "beta"])
    assert report["x"].shape == (4, 2, 3)


def test_batchnorm_inference_gradient():
    """In inference the running statistics are constants: dx = dy * gamma / sqrt(var + eps)."""
    rng = np.random.default_rng(6)
    layer = layers.BatchNormalization(rng.uniform(0.5, 2.0, 3), rng.standard_normal(3),
                                      running_mean=rng.standard_normal(3),
                                      running_var=rng.uniform(0.5, 2.0, 3))
    x = rng.standard_normal((4, 3))
    layer.forward(x, train_flg=False)
    dout = rng.standard_normal((4, 3))
    expected = dout * layer.params[0] / np.sqrt(layer.running_var + layer.eps)
    np.testing.assert_allclose(layer.backward(dout), expected, rtol=1e-12)


# ---- Affine is MatMul plus a Repeat bias --------------------------------------------


@given(n=dims, d=dims, h=dims, seed=seeds)
def test_affine_equals_matmul_plus_repeated_bias(n, d, h, seed):
    rng = np.random.default_rng(seed)
    W, b = rng.standard_normal((d, h)), rng.standard_normal(h)
    x, dout = rng.standard_normal((n, d)), rng.standard_normal((n, h))
    affine = layers.Affine(W.copy(), b.copy())
    y = affine.forward(x)
    dx = affine.backward(dout)

    matmul, repeat, add = nodes.MatMul(W.copy()), nodes.Repeat(n), nodes.Add()
    y_graph = add.forward(matmul.forward(x), repeat.forward(b.reshape(1, -1)))
    d_xw, d_bias_rows = add.backward(dout)
    dx_graph = matmul.backward(d_xw)
    db_graph = repeat.backward(d_bias_rows).reshape(-1)

    np.testing.assert_allclose(y, y_graph, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, dx_graph, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(affine.grads[0], matmul.grads[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(affine.grads[1], db_graph, rtol=1e-12, atol=1e-12)


def test_affine_input_grad_off_returns_none_but_fills_grads():
    rng = np.random.default_rng(2)
    layer = layers.Affine(rng.standard_normal((3, 2)), np.zeros(2))
    layer.input_grad = False
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    assert layer.backward(dout) is None
    np.testing.assert_allclose(layer.grads[0], x.T @ dout)
    np.testing.assert_allclose(layer.grads[1], dout.sum(axis=0))


def test_grads_are_written_in_place():
    """A model gathers grads once, so backward must fill the same arrays every time."""
    rng = np.random.default_rng(3)
    affine = layers.Affine(rng.standard_normal((3, 2)), np.zeros(2))
    norm = layers.BatchNormalization(np.ones(3), np.zeros(3))
    for layer, x, dout in ((affine, rng.standard_normal((4, 3)), rng.standard_normal((4, 2))),
                           (norm, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))):
        held = list(layer.grads)
        layer.forward(x)
        layer.backward(dout)
        assert all(a is b for a, b in zip(held, layer.grads, strict=True))
        assert any(np.any(g != 0) for g in held)


# ---- SoftmaxWithLoss against Softmax + cross_entropy_error --------------------------


@given(n=dims, c=st.integers(2, 5), seed=seeds)
def test_softmax_with_loss_matches_softmax_then_cross_entropy(n, c, seed):
    """Equal to 1e-6 relative: the book's +1e-7 in the log costs about 1e-7 / y relative,
    so logits are kept in [-0.5, 0.5], where every y is at least 0.08."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.5, 0.5, (n, c))
    labels = rng.integers(0, c, n)
    probs = layers.Softmax().forward(x)
    for t in (labels, _onehot(labels, c), rng.dirichlet(np.ones(c), n), rng.random((n, c))):
        loss = layers.SoftmaxWithLoss().forward(x, t)
        assert isinstance(loss, float)
        assert loss == pytest.approx(cross_entropy_error(probs, t), rel=1e-6)


@given(n=dims, c=st.integers(2, 5), seed=seeds)
def test_softmax_with_loss_backward_is_y_minus_t_over_n(n, c, seed):
    rng = np.random.default_rng(seed)
    x = 3.0 * rng.standard_normal((n, c))
    labels = rng.integers(0, c, n)
    expected = (softmax(x) - _onehot(labels, c)) / n
    for t in (labels, _onehot(labels, c)):
        layer = layers.SoftmaxWithLoss()
        layer.forward(x, t)
        np.testing.assert_allclose(layer.backward(), expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.backward(2.0), 2.0 * expected, rtol=1e-12, atol=1e-15)
    soft = rng.dirichlet(np.ones(c), n)
    layer = layers.SoftmaxWithLoss()
    layer.forward(x, soft)
    np.testing.assert_allclose(layer.backward(), (softmax(x) - soft) / n, rtol=1e-10,
                               atol=1e-15)
    # rows that do not sum to 1: d/dx of -sum_k t_k log y_k is y * sum_k t_k - t
    raw = rng.random((n, c))
    layer.forward(x, raw)
    expected = (softmax(x) * raw.sum(axis=1, keepdims=True) - raw) / n
    np.testing.assert_allclose(layer.backward(), expected, rtol=1e-10, atol=1e-15)


def test_softmax_with_loss_backward_sends_no_subnormal_numbers():
    """(y - t) / N in float64 by hand; entries below float32's smallest normal become 0."""
    n = 100
    x = np.tile(np.array([0.0, -80.0, -86.0, -200.0], np.float32), (n, 1))
    labels = np.zeros(n, dtype=int)
    layer = layers.SoftmaxWithLoss()
    layer.forward(x, labels)
    dx = layer.backward()
    expected = (softmax(x.astype(np.float64)) - _onehot(labels, 4)) / n
    tiny = np.finfo(np.float32).tiny
    assert expected[0, 1] > tiny > expected[0, 2] > 0  # one kept, one that would be subnormal
    normal = np.abs(expected) >= tiny
    np.testing.assert_allclose(dx[normal], expected[normal], rtol=1e-5)
    assert np.all(dx[~normal] == 0)
    assert not np.any((dx != 0) & (np.abs(dx) < tiny))


def test_softmax_with_loss_exact_value_by_hand():
    """L = log(sum exp x) - x_t, averaged over the batch."""
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    t = np.array([2, 1])
    expected = np.mean(np.log(np.exp(x).sum(axis=1)) - x[[0, 1], t])
    assert layers.SoftmaxWithLoss().forward(x, t) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("t", [np.array([2]), np.array([0]), np.array([[0.0, 0.0, 1.0]]),
                               np.array([[0.2, 0.3, 0.5]])])
def test_softmax_with_loss_on_huge_logits_is_finite(t):
    x = np.array([[1000.0, 0.0, -1000.0]])
    layer = layers.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward()
    assert np.isfinite(loss)
    assert np.all(np.isfinite(dx))
    onehot_t = _onehot(t, 3) if t.ndim == 1 else t
    # the exact loss: log-sum-exp is 1000 (to double precision) minus the picked logits
    assert loss == pytest.approx(float(np.sum(onehot_t * (1000.0 - x))), rel=1e-12)
    np.testing.assert_allclose(dx, [[1.0, 0.0, 0.0]] - onehot_t, atol=1e-300)


def test_sigmoid_with_loss_value_and_backward_by_hand():
    x = np.array([[-800.0, 0.0], [2.0, 800.0]])
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    layer = layers.SigmoidWithLoss()
    loss = layer.forward(x, t)
    # -[t log s + (1 - t) log(1 - s)]: 0, log 2, log(1 + e^-2), 800; divided by N = 2
    assert loss == pytest.approx((np.log(2) + np.log1p(np.exp(-2.0)) + 800.0) / 2, rel=1e-12)
    np.testing.assert_allclose(layer.backward(), (sigmoid(x) - t) / 2, rtol=1e-12)


# ---- activations --------------------------------------------------------------------


def test_activation_forward_values():
    x = np.array([[-2.0, -0.0, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(layers.Relu().forward(x), np.maximum(x, 0))
    np.testing.assert_allclose(layers.Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(layers.Tanh().forward(x), np.tanh(x), rtol=1e-15)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(layers.Softmax().forward(x), e / e.sum(), rtol=1e-14)


def test_relu_derivative_is_zero_at_zero():
    relu = layers.Relu()
    x = np.array([[-1.0, 0.0, -0.0, 1e-300, 2.0]])
    relu.forward(x)
    np.testing.assert_array_equal(relu.backward(np.full((1, 5), 7.0)), [[0, 0, 0, 7, 7]])


def test_relu_forward_does_not_mutate_input():
    x = np.array([[-1.0, 2.0]])
    layers.Relu().forward(x)
    np.testing.assert_array_equal(x, [[-1.0, 2.0]])


def test_softmax_backward_is_jacobian_times_dout():
    """dx = J^T dy with J = diag(y) - y y^T, row by row."""
    rng = np.random.default_rng(4)
    x, dout = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    layer = layers.Softmax()
    y = layer.forward(x)
    dx = layer.backward(dout)
    for i in range(3):
        J = np.diag(y[i]) - np.outer(y[i], y[i])
        np.testing.assert_allclose(dx[i], J.T @ dout[i], rtol=1e-10, atol=1e-15)


# ---- Dropout ------------------------------------------------------------------------


def test_dropout_inference_is_identity():
    x = np.random.default_rng(0).standard_normal((5, 7))
    layer = layers.Dropout(0.5, random_state=0)
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_training_keeps_1_minus_p_scaled_by_its_inverse(p):
    x = np.random.default_rng(1).uniform(1.0, 2.0, (500, 400))
    out = layers.Dropout(p, random_state=7).forward(x)
    kept = out != 0
    assert kept.mean() == pytest.approx(1 - p, abs=0.01)
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    assert out.mean() == pytest.approx(x.mean(), rel=0.02)  # inverted dropout keeps the mean


def test_dropout_same_random_state_same_mask_and_backward_uses_it():
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((20, 30)), rng.standard_normal((20, 30))
    a, b = layers.Dropout(0.3, random_state=11), layers.Dropout(0.3, random_state=11)
    out_a, out_b = a.forward(x), b.forward(x)
    np.testing.assert_array_equal(out_a, out_b)
    assert not np.array_equal(out_a, layers.Dropout(0.3, random_state=12).forward(x))
    dx = a.backward(dout)
    np.testing.assert_array_equal(dx == 0, out_a == 0)
    np.testing.assert_allclose(dx[out_a != 0], dout[out_a != 0] / 0.7, rtol=1e-15)


def test_dropout_fresh_mask_unless_frozen():
    x = np.ones((10, 10))
    layer = layers.Dropout(0.5, random_state=3)
    first = layer.forward(x)
    assert not np.array_equal(first, layer.forward(x))
    layer.frozen = True
    held = layer.forward(x)
    np.testing.assert_array_equal(layer.forward(x), held)


@pytest.mark.parametrize("bad, error", [(1.0, ValueError), (-0.1, ValueError),
                                        (1.5, ValueError), (float("nan"), ValueError),
                                        (True, TypeError), ("0.5", TypeError)])
def test_dropout_bad_ratio_raises_naming_it(bad, error):
    with pytest.raises(error, match="dropout_ratio must be a number"):
        layers.Dropout(dropout_ratio=bad)


# ---- BatchNormalization -------------------------------------------------------------


def test_batchnorm_training_output_is_standardised():
    rng = np.random.default_rng(8)
    x = 3.0 * rng.standard_normal((64, 5)) + np.arange(5) * 10
    out = layers.BatchNormalization(np.ones(5), np.zeros(5)).forward(x)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1, rtol=1e-5)  # var / (var + eps)


def test_batchnorm_running_statistics_update():
    rng = np.random.default_rng(9)
    rm0, rv0 = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    layer = layers.BatchNormalization(np.ones(3), np.zeros(3), momentum=0.8,
                                      running_mean=rm0.copy(), running_var=rv0.copy())
    x1, x2 = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)) + 1.0
    layer.forward(x1)
    layer.forward(x2)
    # two steps of running = m * running + (1 - m) * batch, with the biased batch variance
    rm = 0.8 * (0.8 * rm0 + 0.2 * x1.mean(axis=0)) + 0.2 * x2.mean(axis=0)
    rv = 0.8 * (0.8 * rv0 + 0.2 * x1.var(axis=0, ddof=0)) + 0.2 * x2.var(axis=0, ddof=0)
    np.testing.assert_allclose(layer.running_mean, rm, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, rv, rtol=1e-12)


def test_batchnorm_defaults_start_at_zero_mean_unit_var():
    layer = layers.BatchNormalization(np.ones(2), np.zeros(2))
    np.testing.assert_array_equal(layer.running_mean, [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_var, [1.0, 1.0])
    x = np.array([[1.0, 3.0], [3.0, 7.0]])
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, 0.1 * np.array([2.0, 5.0]))
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * np.array([1.0, 4.0]))


def test_batchnorm_inference_uses_running_statistics():
    rng = np.random.default_rng(10)
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2.0, 4)
    layer = layers.BatchNormalization(gamma, beta, eps=1e-3, running_mean=rm.copy(),
                                      running_var=rv.copy())
    x = rng.standard_normal((5, 4))
    expected = gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta
    np.testing.assert_allclose(layer.forward(x, train_flg=False), expected, rtol=1e-12)
    # inference leaves the running statistics alone
    np.testing.assert_array_equal(layer.running_mean, rm)
    np.testing.assert_array_equal(layer.running_var, rv)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"momentum": -0.1}, "momentum"),
    ({"momentum": 1.5}, "momentum"),
    ({"momentum": float("nan")}, "momentum"),
    ({"eps": 0.0}, "eps"),
    ({"eps": -1e-5}, "eps"),
    ({"eps": float("nan")}, "eps"),
])
def test_batchnorm_bad_arguments_raise_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layers.BatchNormalization(np.ones(2), np.zeros(2), **kwargs)


# ---- backward never mutates dout or caches ------------------------------------------


def _run(layer, x, dout, t=None):
    if t is not None:
        layer.forward(x, t)
        return layer.backward(dout)
    layer.forward(x)
    return layer.backward(dout)


def test_backward_never_mutates_dout_or_inputs():
    rng = np.random.default_rng(12)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    cases = [
        layers.Sigmoid(), layers.Relu(), layers.Tanh(), layers.Softmax(),
        layers.Dropout(0.4, random_state=0),
        layers.BatchNormalization(rng.uniform(0.5, 2, 3), rng.standard_normal(3)),
    ]
    for layer in cases:
        keep_x, keep_d = x.copy(), dout.copy()
        first = _run(layer, x, dout).copy()
        np.testing.assert_array_equal(dout, keep_d, err_msg=repr(layer))
        np.testing.assert_array_equal(x, keep_x, err_msg=repr(layer))
        # a second backward from the same cache gives the same answer
        np.testing.assert_array_equal(layer.backward(dout), first, err_msg=repr(layer))
    affine = layers.Affine(rng.standard_normal((6, 2)), rng.standard_normal(2))
    x3, d2 = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2))
    keep_x, keep_d = x3.copy(), d2.copy()
    first = _run(affine, x3, d2).copy()
    np.testing.assert_array_equal(x3, keep_x)
    np.testing.assert_array_equal(d2, keep_d)
    np.testing.assert_array_equal(affine.backward(d2), first)


def test_loss_backward_does_not_mutate_targets_or_cache():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 3))
    for layer, t in ((layers.SoftmaxWithLoss(), np.array([0, 2, 1, 2])),
                     (layers.SoftmaxWithLoss(), rng.dirichlet(np.ones(3), 4)),
                     (layers.SigmoidWithLoss(), rng.random((4, 3)))):
        keep_x, keep_t = x.copy(), t.copy()
        dout = np.array(1.5)
        first = _run(layer, x, dout, t).copy()
        np.testing.assert_array_equal(t, keep_t)
        np.testing.assert_array_equal(x, keep_x)
        assert dout == 1.5
        np.testing.assert_array_equal(layer.backward(dout), first)
