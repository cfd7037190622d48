"""chainrule.functions against hand-derived formulas and central differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from chainrule import numerical_gradient
from chainrule.functions import (
    cross_entropy_error,
    identity_function,
    log_softmax,
    mean_squared_error,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_loss,
    step_function,
    tanh,
)

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


def test_elementwise_values_by_hand():
    x = np.array([-1.0, 0.0, 2.0])
    assert identity_function(x) is x
    assert step_function(x).tolist() == [0, 0, 1]
    np.testing.assert_allclose(sigmoid(x), [1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-2))])
    assert relu(x).tolist() == [0.0, 0.0, 2.0]
    assert relu_grad(x).tolist() == [0.0, 0.0, 1.0]  # subgradient 0 at 0
    np.testing.assert_allclose(tanh(x), [np.tanh(-1), 0, np.tanh(2)])


def test_sigmoid_is_finite_and_quiet_at_extremes():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = sigmoid(np.array([-1000.0, 1000.0]))
    assert y.tolist() == [0.0, 1.0]


@given(arrays(np.float64, array_shapes(max_dims=3, max_side=4), elements=finite))
def test_sigmoid_grad_matches_central_differences(x):
    num = numerical_gradient(lambda z: np.sum(sigmoid(z)), x.copy())
    np.testing.assert_allclose(sigmoid_grad(x), num, atol=1e-8)


def test_softmax_of_large_logits_is_finite_and_sums_to_one():
    y = softmax(np.array([1000.0, 1010.0, 990.0]))
    assert np.all(np.isfinite(y))
    assert y.sum() == pytest.approx(1.0)
    e = np.exp([-10.0, 0.0, -20.0])
    np.testing.assert_allclose(y, e / e.sum())


@given(arrays(np.float64, array_shapes(min_dims=1, max_dims=4, max_side=5), elements=finite))
def test_softmax_over_last_axis_any_ndim(x):
    y = softmax(x)
    assert y.shape == x.shape
    np.testing.assert_allclose(y.sum(axis=-1), 1.0)
    # invariant to a shift along the last axis, and equal to exp(log_softmax)
    np.testing.assert_allclose(softmax(x + 7.0), y, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(np.exp(log_softmax(x)), y, rtol=1e-12, atol=1e-300)


def test_cross_entropy_labels_equal_one_hot():
    rng = np.random.default_rng(0)
    y = softmax(rng.standard_normal((5, 4)))
    labels = np.array([0, 3, 1, 1, 2])
    one_hot = np.eye(4)[labels]
    expected = -np.mean(np.log(y[np.arange(5), labels] + 1e-7))
    assert cross_entropy_error(y, labels) == pytest.approx(expected, rel=1e-15)
    assert cross_entropy_error(y, one_hot) == pytest.approx(expected, rel=1e-15)


def test_cross_entropy_soft_targets_are_the_true_cross_entropy():
    rng = np.random.default_rng(1)
    y = softmax(rng.standard_normal((3, 4)))
    t = softmax(rng.standard_normal((3, 4)))  # probability rows, not one-hot
    expected = -np.sum(t * np.log(y + 1e-7)) / 3
    assert cross_entropy_error(y, t) == pytest.approx(expected, rel=1e-15)
    # argmax rounding (the book's code) would give a different number
    assert cross_entropy_error(y, t.argmax(axis=1)) != pytest.approx(expected, rel=1e-3)


def test_cross_entropy_single_sample_forms():
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    t = np.zeros(10)
    t[2] = 1
    # the book's example: 0.510825457099338
    assert cross_entropy_error(y, t) == pytest.approx(-np.log(0.6 + 1e-7))
    assert cross_entropy_error(y, 2) == pytest.approx(0.510825457099338)


def test_mean_squared_error_is_the_books_half_sum():
    y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    t = np.eye(10)[2]
    assert mean_squared_error(y, t) == pytest.approx(0.09750000000000003)


def test_softmax_loss_composes():
    x = np.array([[0.3, 2.9, 4.0]])
    assert softmax_loss(x, np.array([2])) == pytest.approx(cross_entropy_error(softmax(x), [2]))


def test_functions_do_not_mutate_inputs():
    x = np.array([[1.0, -2.0, 3.0]])
    keep = x.copy()
    for fn in (sigmoid, sigmoid_grad, relu, relu_grad, tanh, softmax, log_softmax):
        fn(x)
    cross_entropy_error(softmax(x), np.array([1]))
    assert np.array_equal(x, keep)
