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

    # The seed's W is random, so check the structure every W gives. With the +1e-7 guard,
    # L = -log(y_c + d) and dL/dz_j = -y_c (1[j = c] - y_j) / (y_c + d); dW = x outer dL/dz.
    y = softmax(x @ net.W)
    dz = -y[2] * (t - y) / (y[2] + 1e-7)
    np.testing.assert_allclose(dW, np.outer(x, dz), atol=1e-8)
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


# ---- seed 002: TwoLayerNet with the book-1 interface --------------------------------
# "class TwoLayerNet: ..." in the seed becomes: from chainrule.models import TwoLayerNet


def test_seed_002_two_layer_net_cells_verbatim(global_rng_restored):
    """Seed 002's cells 12-15 as written: 100 random images, numerical gradient (~1 s).

    ``numerical_gradient`` is the fast path here (chainrule.fastgrad): the same central
    differences as the element-by-element loop, which took about 100 s.
    """
    from chainrule.models import TwoLayerNet

    net = TwoLayerNet(input_size=784, hidden_size=100, output_size=10)
    assert net.params["W1"].shape == (784, 100)
    assert net.params["b1"].shape == (100,)
    assert net.params["W2"].shape == (100, 10)

    x = np.random.rand(100, 784)  # noqa: NPY002 - the seed's code
    t = np.random.rand(100, 10)  # noqa: NPY002

    y = net.predict(x)
    assert np.argmax(y, 1).shape == (100,)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)

    grads = net.numerical_gradient(x, t)
    assert grads["W1"].shape == (784, 100) and grads["b1"].shape == (100,)
    assert grads["W2"].shape == (100, 10)
    backprop = net.gradient(x, t)
    for name in grads:
        scale = np.max(np.abs(grads[name]))
        assert np.max(np.abs(backprop[name] - grads[name])) / scale < 1e-6


def test_seed_002_cells_7_to_9_simple_net():
    from chainrule.models import SimpleNet

    net = SimpleNet(W=[[-0.8339355, -0.13553598, 1.21013523],
                       [-0.52139142, 1.6686686, -0.82705022]])  # the W cell 7 printed
    x = np.array([0.6, 0.9])
    t = np.array([0, 0, 1])
    y = net.predict(x)
    np.testing.assert_allclose(y, [-0.96961358, 1.42048015, -0.01826406], atol=1e-8)
    loss = net.loss(x, t)
    assert loss == pytest.approx(1.7230549742562002, abs=1e-6)

    def f(W):
        return net.loss(x, t)

    dw = numerical_gradient(f, net.W)
    np.testing.assert_allclose(dw, [[0.04136868, 0.45151914, -0.49288782],
                                    [0.06205302, 0.67727871, -0.73933173]], atol=1e-7)


def test_seed_004_two_layer_net_cells(global_rng_restored):
    """Seed 004's In [41]-[42] with chainrule's TwoLayerNet (gradient on 3 of its 100 rows)."""
    from chainrule.models import TwoLayerNet

    net = TwoLayerNet(input_size=784, hidden_size=100, output_size=10)
    assert net.params["W1"].shape == (784, 100)
    x = np.random.rand(100, 784)  # noqa: NPY002 - the seed's code
    t = np.random.rand(100, 10)  # noqa: NPY002
    y = net.predict(x)
    assert y.shape == (100, 10) and 0.0 <= net.accuracy(x, t) <= 1.0
    grads = net.numerical_gradient(x[:3], t[:3])
    assert grads["W1"].shape == (784, 100)


# ---- seed 003: layers and the book-2 training loop --------------------------------
# "class Sigmoid/Affine/SoftmaxWithLoss" in the seed become imports from chainrule.layers.


def test_seed_003_layers_with_imports_changed():
    from chainrule.layers import Affine, Sigmoid, SoftmaxWithLoss

    r = np.random.default_rng(0)
    W, b = r.standard_normal((2, 3)), r.standard_normal(3)
    layer = Affine(W, b)
    x = r.standard_normal((4, 2))
    out = layer.forward(x)
    np.testing.assert_allclose(out, np.dot(x, W) + b)
    dout = r.standard_normal((4, 3))
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, np.dot(dout, W.T))
    np.testing.assert_allclose(layer.grads[0], np.dot(x.T, dout))
    np.testing.assert_allclose(layer.grads[1], np.sum(dout, axis=0))

    s = Sigmoid()
    y = s.forward(x)
    np.testing.assert_allclose(s.backward(dout[:, :2]), dout[:, :2] * (1.0 - y) * y)

    loss_layer = SoftmaxWithLoss()
    t = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])  # one-hot, as the seed allows
    loss = loss_layer.forward(out, t)
    assert loss == pytest.approx(cross_entropy_error(softmax(out), t), rel=1e-6)
    np.testing.assert_allclose(loss_layer.backward(), (softmax(out) - t) / 4)


def test_seed_003_training_loop_with_the_seeds_own_sgd():
    from chainrule.models import TwoLayerNet

    class SGD:  # the seed's class, verbatim
        def __init__(self, lr=0.01):
            self.lr = lr

        def update(self, params, grads):
            for i in range(len(params)):
                params[i] -= self.lr * grads[i]

    r = np.random.default_rng(0)
    centers = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    labels = r.integers(0, 3, 300)
    data = centers[labels] + 0.5 * r.standard_normal((300, 2))

    def get_mini_batch(size=30):
        idx = r.choice(300, size, replace=False)
        return data[idx], labels[idx]

    model = TwoLayerNet(2, 10, 3, random_state=0)
    optimizer = SGD(lr=1.0)
    first = model.loss(data, labels)
    for _ in range(1000):
        x_batch, t_batch = get_mini_batch()
        loss = model.forward(x_batch, t_batch)
        model.backward()
        optimizer.update(model.params, model.grads)
    assert np.isfinite(loss)
    assert model.loss(data, labels) < 0.3 * first
    assert model.accuracy(data, labels) > 0.9
