"""TwoLayerNet, MultiLayerNet and Sequential on the model protocol."""

import numpy as np
import pytest

from chainrule.functions import cross_entropy_error, softmax
from chainrule.gradcheck import gradient_check
from chainrule.layers import Affine, Relu, Tanh
from chainrule.models import MultiLayerNet, Sequential, TwoLayerNet, init_scale

rng = np.random.default_rng(42)


def assert_grads_close(backprop, numeric, rtol=1e-6):
    """Each array agrees to rtol relative to its largest element (tiny entries are noise)."""
    assert backprop.keys() == numeric.keys()
    for name in backprop:
        scale = max(np.max(np.abs(numeric[name])), 1e-12)
        assert np.max(np.abs(backprop[name] - numeric[name])) / scale < rtol, name


def test_two_layer_net_params_are_the_layers_arrays():
    net = TwoLayerNet(784, 100, 10, random_state=0)
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert [p.shape for p in net.params.values()] == [(784, 100), (100,), (100, 10), (10,)]
    assert net.params["W1"] is net.layers[0].params[0]
    assert net.grads["b2"] is net.layers[2].grads[1]
    assert np.std(net.params["W1"]) == pytest.approx(0.01, rel=0.02)  # weight_init_std
    assert not np.any(net.params["b1"])


def test_two_layer_net_gradient_equals_numerical_gradient_seed_002_shrunk():
    net = TwoLayerNet(784, 100, 10, random_state=0)
    x = rng.random((3, 784))
    t = rng.random((3, 10))  # seed 002 trains on unnormalised random rows
    assert_grads_close(net.gradient(x, t), net.numerical_gradient(x, t))


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_activations_and_label_targets(activation):
    net = TwoLayerNet(6, 5, 4, weight_init_std=1.0, activation=activation, random_state=1)
    x, t = rng.standard_normal((7, 6)), rng.integers(0, 4, 7)
    assert_grads_close(net.gradient(x, t), net.numerical_gradient(x, t))


def test_predict_scores_loss_and_accuracy_by_hand():
    net = TwoLayerNet(4, 3, 2, weight_init_std=1.0, random_state=3)
    x, t = rng.standard_normal((5, 4)), np.array([0, 1, 1, 0, 1])
    W1, b1, W2, b2 = net.params.values()
    scores = (1 / (1 + np.exp(-(x @ W1 + b1)))) @ W2 + b2
    np.testing.assert_allclose(net.scores(x), scores)
    np.testing.assert_allclose(net.predict(x), softmax(scores))
    exact = -np.mean(np.log(softmax(scores)[np.arange(5), t]))
    assert net.loss(x, t) == pytest.approx(exact, rel=1e-12)
    # the book's +1e-7 form is close to, but not exactly, the exact cross entropy
    book = cross_entropy_error(softmax(scores), t)
    assert book == pytest.approx(exact, rel=1e-5) and book != exact
    assert net.accuracy(x, t) == np.mean(np.argmax(scores, axis=1) == t)
    assert net.accuracy(x, np.eye(2)[t]) == net.accuracy(x, t)


def test_float32_and_random_state():
    a = TwoLayerNet(5, 4, 3, dtype=np.float32, random_state=9)
    b = TwoLayerNet(5, 4, 3, dtype=np.float32, random_state=9)
    assert all(p.dtype == np.float32 for p in a.params.values())
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert a.scores(rng.random((2, 5))).dtype == np.float32
    c = TwoLayerNet(5, 4, 3, random_state=10)
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_book2_style_positional_update_reaches_the_layers():
    net = TwoLayerNet(3, 4, 2, random_state=0)
    x, t = rng.random((4, 3)), np.array([0, 1, 1, 0])
    before = net.params["W1"].copy()
    net.forward(x, t)
    net.backward()
    params, grads = net.params, net.grads
    for i in range(len(params)):  # seed 003's SGD.update
        params[i] -= 0.1 * grads[i]
    np.testing.assert_allclose(net.layers[0].params[0], before - 0.1 * net.grads["W1"])
    assert params[0] is net.params["W1"] and params[-1] is net.params["b2"]
    with pytest.raises(IndexError, match="index 4 out of range for 4"):
        params[4]


def test_assigning_a_parameter_copies_in_place_and_checks_shape():
    net = TwoLayerNet(3, 4, 2, random_state=0)
    W1 = net.params["W1"]
    net.params["W1"] = np.ones((3, 4))
    assert net.params["W1"] is W1 and np.all(net.layers[0].params[0] == 1)
    with pytest.raises(ValueError, match=r"'W1' must keep shape \(3, 4\), got \(4, 3\)"):
        net.params["W1"] = np.ones((4, 3))


def test_summary_and_repr():
    net = TwoLayerNet(784, 100, 10, random_state=0)
    text = net.summary()
    assert "Affine(784, 100)" in text and "78,500" in text and "1,010" in text
    assert "total parameters: 79,510" in text and net.num_params == 79_510
    assert repr(net) == ("TwoLayerNet(input_size=784, hidden_size=100, output_size=10, "
                         "activation='sigmoid', dtype=float64)")
    deep = MultiLayerNet(10, [8, 6], 3, use_batchnorm=True, use_dropout=True, random_state=0)
    assert "BatchNormalization(8)" in deep.summary() and "Dropout(0.5)" in deep.summary()
    assert "use_batchnorm=True" in repr(deep)


def test_multi_layer_net_names_and_init():
    net = MultiLayerNet(784, [100, 50], 10, use_batchnorm=True, random_state=0)
    assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                                "W3", "b3"]
    assert np.std(net.params["W1"]) == pytest.approx(np.sqrt(2 / 784), rel=0.02)  # He
    xavier = MultiLayerNet(784, [100], 10, activation="sigmoid", weight_init_std="xavier",
                           random_state=0)
    assert np.std(xavier.params["W1"]) == pytest.approx(np.sqrt(1 / 784), rel=0.02)
    assert init_scale("he", 50) == init_scale("relu", 50) == np.sqrt(2 / 50)
    assert init_scale(0.05, 50) == 0.05


def test_weight_decay_adds_half_lambda_w_squared_and_lambda_w():
    plain = MultiLayerNet(6, [5], 3, random_state=4)
    decayed = MultiLayerNet(6, [5], 3, weight_decay_lambda=0.3, random_state=4)
    x, t = rng.standard_normal((4, 6)), np.array([0, 2, 1, 1])
    penalty = 0.5 * 0.3 * (np.sum(plain.params["W1"] ** 2) + np.sum(plain.params["W2"] ** 2))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty, rel=1e-12)
    g_plain, g_decay = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g_decay["W1"], g_plain["W1"] + 0.3 * plain.params["W1"])
    np.testing.assert_allclose(g_decay["b1"], g_plain["b1"])
    assert_grads_close(g_decay, decayed.numerical_gradient(x, t))


def test_dropout_and_batchnorm_numerical_gradient_leaves_model_unchanged():
    net = MultiLayerNet(6, [5, 4], 3, use_dropout=True, dropout_ratio=0.3, use_batchnorm=True,
                        random_state=5)
    x, t = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    bn = net.layers[1]
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    params = {k: v.copy() for k, v in net.params.items()}
    net.numerical_gradient(x, t)
    assert np.array_equal(bn.running_mean, mean) and np.array_equal(bn.running_var, var)
    assert all(np.array_equal(net.params[k], params[k]) for k in params)
    # inference is deterministic (no dropout), training is not
    assert np.array_equal(net.predict(x), net.predict(x))
    assert not np.array_equal(net.scores(x, train_flg=True), net.scores(x, train_flg=True))


def test_sequential_any_stack():
    r = np.random.default_rng(0)
    layers = [Affine(r.standard_normal((4, 6)), np.zeros(6)), Tanh(),
              Affine(r.standard_normal((6, 5)), np.zeros(5)), Relu(),
              Affine(r.standard_normal((5, 3)), np.zeros(3))]
    net = Sequential(layers)
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert net.input_size == 4 and net.output_size == 3
    report = gradient_check(net, r.standard_normal((5, 4)), r.integers(0, 3, 5), mode="exact",
                            random_state=0)
    assert report.passed, str(report)
    net.input_grad = True
    net.forward(r.standard_normal((5, 4)), r.integers(0, 3, 5))
    assert net.backward().shape == (5, 4)
    with pytest.raises(ValueError, match="layers must hold at least one layer"):
        Sequential([])
    with pytest.raises(ValueError, match="input_shape is needed: the first layer Relu"):
        Sequential([Relu()])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda n: n.loss(np.zeros((3, 5)), [0, 1, 2]), ValueError,
         r"x must have 4 features per sample \(the model's input shape \(N, 4\)\), got 5"),
        (lambda n: n.loss(np.zeros((3, 4)), [0, 1]), ValueError,
         "inconsistent numbers of samples: x has 3, t has 2"),
        (lambda n: n.loss(np.zeros((2, 4)), [0, 3]), ValueError,
         r"labels must be in \[0, 2\] for 3 classes, got values from 0 to 3"),
        (lambda n: n.loss(np.zeros((2, 4)), [0, -1]), ValueError, "got values from -1 to 0"),
        (lambda n: n.predict(np.zeros(4)), ValueError,
         r"x must have shape \(N, 4\), got \(4,\); for one sample use x\[None\]"),
        (lambda n: n.predict(np.zeros((0, 4))), ValueError, "at least one sample"),
        (lambda n: n.loss(np.array([[np.nan, 0, 0, 0]]), [0]), ValueError,
         r"x must be finite, got 1 NaN or inf values \(first at index \(0, 0\)\)"),
        (lambda n: n.accuracy(np.zeros((2, 4)), np.zeros((2, 5))), ValueError,
         r"t must be labels \(2,\) or one-hot/probability rows \(2, 3\), got shape \(2, 5\)"),
        (lambda n: n.predict("abc"), TypeError, "x must hold numbers"),
    ],
)
def test_bad_inputs_name_argument_expected_and_received(call, error, message):
    net = TwoLayerNet(4, 5, 3, random_state=0)
    with pytest.raises(error, match=message):
        call(net)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: TwoLayerNet(0, 5, 3), ValueError, "input_size must be a positive integer, got 0"),
        (lambda: TwoLayerNet(4, 5, 3, activation="nosuch"), ValueError,
         "activation must be one of sigmoid, relu, tanh, got 'nosuch'"),
        (lambda: TwoLayerNet(4, 5, 3, weight_init_std="bogus"), ValueError, "weight_init_std"),
        (lambda: TwoLayerNet(4, 5, 3, dtype=np.int32), TypeError, "dtype must be a float dtype"),
        (lambda: MultiLayerNet(4, "ab", 3), TypeError, "hidden_size_list must be a list"),
        (lambda: MultiLayerNet(4, [5, 0], 3), ValueError, "hidden_size_list entries"),
        (lambda: MultiLayerNet(4, [5], 3, use_dropout=True, dropout_ratio=1.5), ValueError,
         r"dropout_ratio must be a number in \[0, 1\), got 1.5"),
        (lambda: MultiLayerNet(4, [5], 3, weight_decay_lambda=-1), ValueError,
         "weight_decay_lambda must be a non-negative number, got -1"),
    ],
)
def test_bad_constructor_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()
