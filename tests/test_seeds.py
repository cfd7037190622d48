"""The seeds' own code, run against chainrule with only its imports changed."""

import numpy as np
import pytest

# seed 000: "from functions import softmax, cross_entropy_error" and
#           "from gradient import numerical_gradient" become:
from chainrule import gradient_descent, numerical_gradient
from chainrule.functions import cross_entropy_error, softmax


@pytest.fixture
def global_rng_restored():
    """The seeds call np.random.randn themselves; put NumPy's global generator back after."""
    state = np.random.get_state()  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


def test_seed_000_simple_net(global_rng_restored):
    class simpleNet:  # noqa: N801 - the seed's name
        def __init__(self):
            self.W = np.random.randn(2, 3)  # noqa: NPY002 - the seed's code

        def predict(self, x):
            return np.dot(x, self.W)

        def loss(self, x, t):
            z = self.predict(x)
            y = softmax(z)
            loss = cross_entropy_error(y, t)

            return loss

    x = np.array([0.6, 0.9])
    t = np.array([0, 0, 1])

    net = simpleNet()

    f = lambda w: net.loss(x, t)  # noqa: E731
    dW = numerical_gradient(f, net.W)

    # the seed's W is random; its dW has this structure for every W: x outer (y - t)
    y = softmax(x @ net.W)
    np.testing.assert_allclose(dW, np.outer(x, y - t), atol=1e-6)
    assert dW.shape == (2, 3) and dW[0, 2] < 0 and dW[1, 2] < 0


def test_seed_000_printed_gradient_is_reachable():
    # The seed prints [[0.02738297 0.22400595 -0.25138893] [0.04107446 0.33600893 -0.37708339]]
    # from an unprinted random W. Any W whose softmax(x @ W) equals (dW[0] / 0.6 + t) gives it.
    printed = np.array([[0.02738297, 0.22400595, -0.25138893],
                        [0.04107446, 0.33600893, -0.37708339]])
    x, t = np.array([0.6, 0.9]), np.array([0, 0, 1])
    p = printed[0] / 0.6 + t
    W = np.outer(x, np.log(p)) / (x @ x)  # x @ W = log p, so softmax(x @ W) = p
    dW = numerical_gradient(lambda w: cross_entropy_error(softmax(x @ W), t), W)
    np.testing.assert_allclose(dW, printed, atol=2e-7)


def test_seed_004_gradient_descent_with_imports_changed():
    def function_2(x):
        return x[0] ** 2 + x[1] ** 2

    np.testing.assert_allclose(numerical_gradient(function_2, np.array([3.0, 4.0])), [6.0, 8.0])
    init_x = np.array([-3.0, 4.0])
    result = gradient_descent(function_2, init_x=init_x, lr=0.1, step_num=100)
    np.testing.assert_allclose(result, [-6.11110793e-10, 8.14814391e-10], rtol=1e-6)
    init_x = np.array([-3.0, 4.0])
    result = gradient_descent(function_2, init_x=init_x, lr=1e-10, step_num=100)
    np.testing.assert_allclose(result, [-2.99999994, 3.99999992], rtol=1e-6)


def test_seed_001_integer_start_is_computed_correctly():
    # Seed 001 starts from the integer array [3, 2]; its own code truncates x + h to an
    # integer in the first step and prints [-6.35809854e-07, -3.81434987e-07]. chainrule
    # converts the start to float64, so the descent is the exact 0.8**100 contraction.
    def testfunction(x):
        return x[0] ** 2 + x[1] ** 2

    testx = np.array([3, 2])
    result = gradient_descent(testfunction, init_x=testx, lr=0.1, step_num=100)
    np.testing.assert_allclose(result, [3 * 0.8**100, 2 * 0.8**100], rtol=1e-6)
    # The seed's figure is what the truncated first step (x -> [-2497, -1498]) leads to:
    np.testing.assert_allclose(
        gradient_descent(testfunction, np.array([-2497.0, -1498.0]), lr=0.1, step_num=99),
        [-6.35809854e-07, -3.81434987e-07], rtol=1e-6,
    )
