"""SimpleNet against the numbers printed in seed 002 and a hand-derived gradient."""

import numpy as np
import pytest

from chainrule import numerical_gradient
from chainrule.functions import softmax
from chainrule.models import SimpleNet

SEED_002_W = [[-0.8339355, -0.13553598, 1.21013523], [-0.52139142, 1.6686686, -0.82705022]]
x = np.array([0.6, 0.9])
t = np.array([0, 0, 1])


def test_seed_002_scores_loss_and_gradient():
    net = SimpleNet(W=SEED_002_W)
    np.testing.assert_allclose(net.predict(x), [-0.96961358, 1.42048015, -0.01826406], atol=1e-8)
    assert net.loss(x, t) == pytest.approx(1.7230549742562002, abs=1e-6)
    dW = numerical_gradient(lambda w: net.loss(x, t), net.W)
    np.testing.assert_allclose(
        dW,
        [[0.04136868, 0.45151914, -0.49288782], [0.06205302, 0.67727871, -0.73933173]],
        atol=1e-7,
    )


def test_gradient_is_outer_product_of_input_and_error():
    # dL/dW = x^T (y - t), up to the book's 1e-7 inside the log
    net = SimpleNet(random_state=3)
    dW = numerical_gradient(lambda w: net.loss(x, t), net.W)
    y = softmax(x @ net.W)
    np.testing.assert_allclose(dW, np.outer(x, y - t), atol=1e-6)


def test_random_state_reproducible_and_W_copied():
    a, b = SimpleNet(random_state=7), SimpleNet(random_state=7)
    assert np.array_equal(a.W, b.W) and a.W.shape == (2, 3)
    assert not np.array_equal(a.W, SimpleNet(random_state=8).W)
    W = np.array(SEED_002_W)
    net = SimpleNet(W=W)
    net.W += 1
    assert W.tolist() == SEED_002_W  # the caller's matrix is not shared
    np.testing.assert_allclose(net.predict_proba(x), softmax(net.scores(x)))
    assert "SimpleNet" in repr(net)


def test_bad_inputs_name_the_shapes():
    with pytest.raises(ValueError, match=r"W must have shape \(2, 3\), got \(3, 2\)"):
        SimpleNet(W=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"x must have shape \(2,\) or \(N, 2\), got \(3,\)"):
        SimpleNet(random_state=0).loss(np.zeros(3), t)
    with pytest.raises(TypeError, match="random_state"):
        SimpleNet(random_state="seed")
