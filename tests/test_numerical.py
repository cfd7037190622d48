"""numerical_diff, numerical_gradient and gradient descent: seed values and properties."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from chainrule import (
    DivergenceWarning,
    gradient_ascent,
    gradient_descent,
    numerical_diff,
    numerical_gradient,
)


def function_2(x):  # seed 004's name
    return x[0] ** 2 + x[1] ** 2


def test_numerical_diff_central_difference():
    # d/dx (0.01 x^2 + 0.1 x) at 5 is 0.2 and at 10 is 0.3 (the book's example)
    f = lambda x: 0.01 * x**2 + 0.1 * x  # noqa: E731
    assert numerical_diff(f, 5) == pytest.approx(0.2, abs=1e-9)
    assert numerical_diff(f, 10) == pytest.approx(0.3, abs=1e-9)


def test_seed_004_gradients():
    assert numerical_gradient(function_2, np.array([3.0, 4.0])).tolist() == pytest.approx([6, 8])
    assert numerical_gradient(function_2, np.array([3.0, 0.0])).tolist() == pytest.approx([6, 0])


@pytest.mark.parametrize(
    "lr, expected",
    [
        (0.1, [-6.11110793e-10, 8.14814391e-10]),
        (10.0, [-2.58983747e13, -1.29524862e12]),
        (1e-10, [-2.99999994, 3.99999992]),
    ],
)
def test_seed_004_gradient_descent(lr, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        x = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=lr, step_num=100)
    np.testing.assert_allclose(x, expected, rtol=1e-6)


def test_gradient_descent_never_mutates_and_accepts_integers():
    init = np.array([-3, 4])
    x = gradient_descent(function_2, init, lr=0.1, step_num=100)
    assert init.tolist() == [-3, 4] and init.dtype.kind == "i"
    np.testing.assert_allclose(x, [-6.11110793e-10, 8.14814391e-10], rtol=1e-6)
    init_f = np.array([-3.0, 4.0])
    gradient_descent(function_2, init_f, lr=0.1)
    assert init_f.tolist() == [-3.0, 4.0]
    # a plain list works too
    np.testing.assert_allclose(gradient_descent(function_2, [-3, 4], lr=0.1, step_num=100), x)


def test_gradient_descent_history_has_start_and_every_step():
    x, path = gradient_descent(function_2, [-3.0, 4.0], lr=0.1, step_num=5, history=True)
    assert path.shape == (6, 2)
    assert path[0].tolist() == [-3.0, 4.0]
    np.testing.assert_allclose(path, [[-3 * 0.8**k, 4 * 0.8**k] for k in range(6)], rtol=1e-7)
    assert np.array_equal(path[-1], x)


def test_divergence_warns_and_names_the_learning_rate():
    with pytest.warns(DivergenceWarning, match="lr=10"):
        gradient_descent(function_2, [-3.0, 4.0], lr=10.0, step_num=100)
    quartic = lambda x: x[0] ** 4 + x[1] ** 4  # noqa: E731
    with pytest.warns(DivergenceWarning, match="lr=1e\\+300"):
        x, path = gradient_descent(quartic, [-3.0, 4.0], lr=1e300, step_num=100, history=True)
    assert not np.all(np.isfinite(x))  # stopped at the first non-finite step
    assert len(path) < 101 and np.all(np.isfinite(path[:-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        gradient_descent(function_2, [-3.0, 4.0], lr=0.1)  # converging: no warning
        gradient_descent(function_2, [-3.0, 4.0], lr=1.0)  # oscillating, bounded: no warning


def test_gradient_ascent_climbs():
    f = lambda x: -((x[0] - 1) ** 2) - (x[1] + 2) ** 2  # noqa: E731
    x = gradient_ascent(f, [3.0, 3.0], lr=0.1, step_num=200)
    np.testing.assert_allclose(x, [1.0, -2.0], atol=1e-8)
    with pytest.warns(DivergenceWarning, match="gradient_ascent"):
        gradient_ascent(f, [3.0, 3.0], lr=10.0, step_num=100)


def test_integer_arrays_are_refused():
    # the book's code silently returns [25000, 35000] here
    with pytest.raises(TypeError, match="float array, got dtype int64"):
        numerical_gradient(function_2, np.array([3, 4]))


def test_non_arrays_and_read_only_arrays_are_refused():
    with pytest.raises(TypeError, match="got list"):
        numerical_gradient(function_2, [3.0, 4.0])
    x = np.array([3.0, 4.0])
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        numerical_gradient(function_2, x)
    with pytest.raises(ValueError, match="h must be a positive number, got -1"):
        numerical_gradient(function_2, np.array([3.0, 4.0]), h=-1)


def test_float32_warns_but_still_perturbs_in_place():
    w = np.array([3.0, 4.0], dtype=np.float32)
    seen = []
    with pytest.warns(UserWarning, match="float32.*float64"):
        g = numerical_gradient(lambda _: seen.append(w.copy()) or function_2(w), w)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [6, 8], rtol=1e-2)
    assert any(not np.array_equal(s, [3.0, 4.0]) for s in seen)  # the closure saw the change


def test_closure_that_ignores_its_argument_sees_the_perturbation():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad = numerical_gradient(lambda _: np.sum(W**3), W)
    np.testing.assert_allclose(grad, 3 * W**2, rtol=1e-7)


def test_x_is_restored_exactly_even_when_f_raises():
    x = np.array([0.1, 0.2, 0.3])
    keep = x.copy()
    calls = []

    def f(z):
        calls.append(1)
        if len(calls) == 4:  # fail on the second element's f(x - h)
            raise RuntimeError("boom")
        return float(np.sum(z))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert np.array_equal(x, keep)
    numerical_gradient(lambda z: float(np.sum(np.sin(z))), x)
    assert np.array_equal(x, keep)  # bit-for-bit, not just close


def test_bad_descent_arguments():
    with pytest.raises(ValueError, match="lr must be a positive number, got -0.1"):
        gradient_descent(function_2, [1.0, 2.0], lr=-0.1)
    with pytest.raises(ValueError, match="step_num must be a non-negative integer, got -5"):
        gradient_descent(function_2, [1.0, 2.0], step_num=-5)
    with pytest.raises(ValueError, match="init_x"):
        gradient_descent(function_2, 3.0)


# Property tests: numerical_gradient against analytic gradients over random shapes.
shapes = array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)
values = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, shapes, elements=values))
def test_gradient_of_sum_of_cubes(x):
    grad = numerical_gradient(lambda z: np.sum(z**3), x)
    np.testing.assert_allclose(grad, 3 * x**2, atol=1e-6)


@given(arrays(np.float64, shapes, elements=values), st.integers(0, 2**32 - 1))
def test_gradient_of_weighted_sine(x, seed):
    c = np.random.default_rng(seed).standard_normal(x.shape)
    grad = numerical_gradient(lambda z: np.sum(c * np.sin(z)), x)
    np.testing.assert_allclose(grad, c * np.cos(x), atol=1e-7)


@given(arrays(np.float64, shapes, elements=values))
def test_gradient_of_log_sum_exp_is_softmax(x):
    grad = numerical_gradient(lambda z: np.log(np.sum(np.exp(z))), x)
    e = np.exp(x)
    np.testing.assert_allclose(grad, e / e.sum(), atol=1e-8)
