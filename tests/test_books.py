"""The books' code runs on chainrule.book1 / chainrule.book2 with only its imports changed.

Each script below is written here in the books' style (their imports, ``np.random.seed``,
module-level loops, prints); none is the books' own code. The test applies the
mechanical import rewrite (``rewrite_imports``), runs the script in a subprocess (its
own folder, a private HOME and cache, Fashion-MNIST in place of MNIST) and checks what
it prints against expectations computed here independently: exactly, where the script
is deterministic arithmetic; above a floor, or in the right order, where it trains.

The in-process tests after them show each place where the books' semantics differ from
chainrule's core, and the compat layer's checks of bad input. Tests that use NumPy's
global generator (as the books do) save and restore its state.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from chainrule.book1 import rewrite_imports as rewrite_book1
from chainrule.book1.ch04 import gradient_2d as book1_ch04
from chainrule.book1.common import gradient as book1_gradient
from chainrule.book1.common import layers as book1_layers
from chainrule.book1.common import multi_layer_net as book1_net
from chainrule.book1.common import multi_layer_net_extend as book1_extend
from chainrule.book1.common import optimizer as book1_optimizer
from chainrule.book1.common import util as book1_util
from chainrule.book2 import rewrite_imports as rewrite_book2
from chainrule.book2.dataset import spiral as book2_spiral
from chainrule.validation import InputTypeError, InputValueError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not FASHION_DIR.is_dir(),
    reason=f"{FASHION_DIR} is absent (Debian package dataset-fashion-mnist)")


# ---- running a script the books' way ----------------------------------------------------


@pytest.fixture(scope="module")
def script_env(tmp_path_factory):
    """The environment of every script: a private HOME and cache (shared by this module,
    so Fashion-MNIST is decoded once), no CHAINRULE_DATA, a backend without windows."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k not in ("CHAINRULE_DATA", "PYTHONPATH")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), MPLBACKEND="Agg")
    return env


def run_script(source, tmp_path, env, *, book=1, chapter=None):
    """Rewrite the imports of ``source``, run it as a script in ``tmp_path``; its stdout."""
    source = textwrap.dedent(source)
    if book == 1:
        code = rewrite_book1(source, dataset="fashion-mnist", chapter=chapter)
    else:
        code = rewrite_book2(source, chapter=chapter)
    changed = [(a, b) for a, b in zip(source.splitlines(), code.splitlines(), strict=True)
               if a != b]
    assert changed and all("import" in a for a, _ in changed), "only imports may change"
    path = tmp_path / "script.py"
    path.write_text(code, encoding="utf-8")
    result = subprocess.run([sys.executable, path.name], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def printed(stdout):
    """{key: [value, ...]} from the lines ``key value`` a script printed (values as
    Python literals; other lines are skipped)."""
    out = {}
    for line in stdout.splitlines():
        key, _, rest = line.partition(" ")
        try:
            value = ast.literal_eval(rest)
        except (ValueError, SyntaxError):
            continue
        out.setdefault(key, []).append(value)
    return out


H = 1e-4  # the books' step of central differences


def central_differences(f, point):
    """The books' central differences, on plain Python floats: an independent reference."""
    grad = []
    for i in range(len(point)):
        plus, minus = list(point), list(point)
        plus[i] = point[i] + H
        minus[i] = point[i] - H
        grad.append((f(plus) - f(minus)) / (2 * H))
    return grad


def sum_of_squares(p):
    return p[0] * p[0] + p[1] * p[1]


# ---- book 1, chapter 4 -----------------------------------------------------------------

GRADIENT_2D = """\
    # coding: utf-8
    import numpy as np
    from gradient_2d import numerical_gradient, function_2

    points = np.array([[3.0, 4.0], [0.0, 2.0], [3.0, 0.0], [-1.5, 0.25]])
    print("grad", numerical_gradient(function_2, points).tolist())

    x0 = np.arange(-2, 2.5, 0.25)
    x1 = np.arange(-2, 2.5, 0.25)
    X, Y = np.meshgrid(x0, x1)
    X = X.flatten()
    Y = Y.flatten()
    grad = numerical_gradient(function_2, np.array([X, Y]).T).T
    print("field_shape", list(grad.shape))
    print("field_error", float(np.max(np.abs(grad - 2 * np.array([X, Y])))))


    def gradient_descent(f, init_x, lr=0.01, step_num=100):
        x = init_x
        x_history = []
        for i in range(step_num):
            x_history.append(x.copy())
            grad = numerical_gradient(f, x)
            x -= lr * grad
        return x, np.array(x_history)


    for lr in (0.1, 10.0, 1e-10):
        x, x_history = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=lr, step_num=100)
        print("descent", [lr, x.tolist(), list(x_history.shape)])
"""


def test_ch04_gradient_2d_and_gradient_method(tmp_path, script_env):
    out = printed(run_script(GRADIENT_2D, tmp_path, script_env, chapter="ch04"))
    points = [[3.0, 4.0], [0.0, 2.0], [3.0, 0.0], [-1.5, 0.25]]
    assert out["grad"][0] == [central_differences(sum_of_squares, p) for p in points]
    assert out["field_shape"] == [[2, 324]]
    assert out["field_error"][0] < 1e-9
    for lr, x, shape in out["descent"]:
        point = [-3.0, 4.0]
        for _ in range(100):
            grad = central_differences(sum_of_squares, point)
            point = [p - lr * g for p, g in zip(point, grad, strict=True)]
        assert x == point and shape == [100, 2]
    book = {0.1: [-6.11110793e-10, 8.14814391e-10], 10.0: [-2.58983747e13, -1.29524862e12],
            1e-10: [-2.99999994, 3.99999992]}  # what book 1 prints
    for lr, x, _ in out["descent"]:
        assert x == pytest.approx(book[lr], rel=1e-8)


SIMPLENET = """\
    # coding: utf-8
    import sys, os
    sys.path.append(os.pardir)
    import numpy as np
    from common.functions import softmax, cross_entropy_error
    from common.gradient import numerical_gradient


    class simpleNet:
        def __init__(self):
            self.W = np.random.randn(2, 3)

        def predict(self, x):
            return np.dot(x, self.W)

        def loss(self, x, t):
            z = self.predict(x)
            y = softmax(z)
            return cross_entropy_error(y, t)


    np.random.seed(7)
    x = np.array([0.6, 0.9])
    t = np.array([0, 0, 1])
    net = simpleNet()
    print("W", net.W.tolist())
    print("loss", float(net.loss(x, t)))
    f = lambda w: net.loss(x, t)
    dW = numerical_gradient(f, net.W)
    print("dW", dW.tolist())
"""


def test_ch04_gradient_simplenet(tmp_path, script_env):
    out = printed(run_script(SIMPLENET, tmp_path, script_env, chapter="ch04"))
    W = np.random.RandomState(7).randn(2, 3)  # noqa: NPY002 - the stream np.random.seed(7) gives
    x = np.array([0.6, 0.9])

    def loss(W):
        s = np.dot(x, W)
        e = np.exp(s - np.max(s))
        y = e / np.sum(e)
        return float(-np.log(y[2] + 1e-7))

    def numerical(W):
        grad = np.zeros_like(W)
        for i in range(2):
            for j in range(3):
                plus, minus = W.copy(), W.copy()
                plus[i, j] = W[i, j] + H
                minus[i, j] = W[i, j] - H
                grad[i, j] = (loss(plus) - loss(minus)) / (2 * H)
        return grad

    assert out["W"][0] == W.tolist()
    assert out["loss"][0] == loss(W)
    assert out["dW"][0] == numerical(W).tolist()
    s = np.dot(x, W)
    y = np.exp(s) / np.exp(s).sum()
    analytic = np.outer(x, y - [0, 0, 1]) * (y[2] / (y[2] + 1e-7))  # d/dW of -log(y_2 + 1e-7)
    np.testing.assert_allclose(out["dW"][0], analytic, rtol=1e-6)


TRAIN_NEURALNET = """\
    # coding: utf-8
    import sys, os
    sys.path.append(os.pardir)
    import numpy as np
    from dataset.mnist import load_mnist
    from two_layer_net import TwoLayerNet

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
    x_train, t_train = x_train[:6000], t_train[:6000]
    x_test, t_test = x_test[:1000], t_test[:1000]
    print("dtypes", [str(x_train.dtype), str(t_train.dtype), list(x_train.shape)])

    np.random.seed(0)
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    iters_num = 600
    train_size = x_train.shape[0]
    batch_size = 100
    learning_rate = 0.1
    train_loss_list = []
    iter_per_epoch = max(train_size / batch_size, 1) * 2

    for i in range(iters_num):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ('W1', 'b1', 'W2', 'b2'):
            network.params[key] -= learning_rate * grad[key]
        train_loss_list.append(network.loss(x_batch, t_batch))
        if i % iter_per_epoch == 0:
            train_acc = network.accuracy(x_train, t_train)
            test_acc = network.accuracy(x_test, t_test)
            print("acc", [float(train_acc), float(test_acc)])
    print("loss", [float(np.mean(train_loss_list[:20])), float(np.mean(train_loss_list[-20:]))])
"""


@needs_fashion
def test_ch04_and_ch05_train_neuralnet_two_networks(tmp_path, script_env):
    """Book 1 has two TwoLayerNets: ch. 4's with sigmoid, ch. 5's with ReLU, which learns
    faster; the same script, seed and data for both."""
    sigmoid = printed(run_script(TRAIN_NEURALNET, tmp_path, script_env, chapter="ch04"))
    relu = printed(run_script(TRAIN_NEURALNET, tmp_path, script_env, chapter="ch05"))
    assert sigmoid["dtypes"] == relu["dtypes"] == [["float32", "float64", [6000, 784]]]
    for out in (sigmoid, relu):
        assert len(out["acc"]) == 5
        assert out["acc"][0][1] < 0.3  # before training: chance
        first, last = out["loss"][0]
        assert first == pytest.approx(math.log(10), abs=0.1) and last < first / 2
    assert sigmoid["acc"][-1][1] > 0.5
    assert relu["acc"][-1][1] > 0.7
    assert relu["acc"][-1][1] > sigmoid["acc"][-1][1] + 0.05


# ---- book 1, chapter 5 -----------------------------------------------------------------

GRADIENT_CHECK = """\
    # coding: utf-8
    import sys, os
    sys.path.append(os.pardir)
    import numpy as np
    from dataset.mnist import load_mnist
    from two_layer_net import TwoLayerNet

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
    np.random.seed(3)
    network = TwoLayerNet(input_size=784, hidden_size=8, output_size=10)
    x_batch = x_train[:3]
    t_batch = t_train[:3]
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)
    for key in grad_numerical.keys():
        diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
        print(key, [float(diff), float(np.average(np.abs(grad_backprop[key])))])
    print("layers", list(network.layers.keys()))
    print("dW", network.layers['Affine1'].dW.shape == network.params['W1'].shape)
"""


@needs_fashion
def test_ch05_gradient_check(tmp_path, script_env):
    out = printed(run_script(GRADIENT_CHECK, tmp_path, script_env, chapter="ch05"))
    assert [k for k in out if k in ("W1", "b1", "W2", "b2")] == ["W1", "b1", "W2", "b2"]
    for key in ("W1", "b1", "W2", "b2"):
        diff, size = out[key][0]
        assert diff < 1e-5 * size  # the +1e-7 in the loss moves the central differences

    assert out["layers"] == [["Affine1", "Relu1", "Affine2"]]
    assert out["dW"] == [True]


# ---- book 1, chapter 6 -----------------------------------------------------------------

OPTIMIZER_COMPARE_NAIVE = """\
    # coding: utf-8
    import sys, os
    sys.path.append(os.pardir)
    from collections import OrderedDict
    from common.optimizer import *


    def df(x, y):
        return x / 10.0, 2.0 * y


    init_pos = (-7.0, 2.0)
    params = {}
    grads = {}
    optimizers = OrderedDict()
    optimizers["SGD"] = SGD(lr=0.95)
    optimizers["Momentum"] = Momentum(lr=0.1)
    optimizers["Nesterov"] = Nesterov(lr=0.1)
    optimizers["AdaGrad"] = AdaGrad(lr=1.5)
    optimizers["RMSprop"] = RMSprop(lr=0.1)
    optimizers["Adam"] = Adam(lr=0.3)
    for key in optimizers:
        optimizer = optimizers[key]
        params['x'], params['y'] = init_pos[0], init_pos[1]
        path = []
        for i in range(30):
            path.append([float(params['x']), float(params['y'])])
            grads['x'], grads['y'] = df(params['x'], params['y'])
            optimizer.update(params, grads)
        print(key, path)
    print("np", repr(np.__name__))
"""


def book1_rules():
    """Book 1's update rules on plain floats, written here from the book's text."""
    def sgd(lr):
        def step(p, g, s):
            return p - lr * g
        return step

    def momentum(lr, mu=0.9):
        def step(p, g, s):
            s["v"] = mu * s.get("v", 0.0) - lr * g
            return p + s["v"]
        return step

    def nesterov(lr, mu=0.9):
        def step(p, g, s):
            v = s.get("v", 0.0)
            p = p + mu * mu * v
            p = p - (1 + mu) * lr * g
            s["v"] = v * mu - lr * g
            return p
        return step

    def adagrad(lr):
        def step(p, g, s):
            s["h"] = s.get("h", 0.0) + g * g
            return p - lr * g / (math.sqrt(s["h"]) + 1e-7)
        return step

    def rmsprop(lr, rho=0.99):
        def step(p, g, s):
            h = s.get("h", 0.0) * rho
            s["h"] = h + (1 - rho) * g * g
            return p - lr * g / (math.sqrt(s["h"]) + 1e-7)
        return step

    def adam(lr, b1=0.9, b2=0.999):
        def step(p, g, s):
            t = s["t"]
            lr_t = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
            s["m"] = s.get("m", 0.0) + (1 - b1) * (g - s.get("m", 0.0))
            s["v"] = s.get("v", 0.0) + (1 - b2) * (g**2 - s.get("v", 0.0))
            return p - lr_t * s["m"] / (math.sqrt(s["v"]) + 1e-7)
        return step

    return {"SGD": sgd(0.95), "Momentum": momentum(0.1), "Nesterov": nesterov(0.1),
            "AdaGrad": adagrad(1.5), "RMSprop": rmsprop(0.1), "Adam": adam(0.3)}


def test_ch06_optimizer_compare_naive(tmp_path, script_env):
    """A dict of Python floats, six optimizers, thirty steps: the book's rules exactly."""
    out = printed(run_script(OPTIMIZER_COMPARE_NAIVE, tmp_path, script_env, chapter="ch06"))
    assert out["np"] == ["numpy"]  # `from common.optimizer import *` hands the script np
    for name, rule in book1_rules().items():
        point, states, path = [-7.0, 2.0], [{"t": 0}, {"t": 0}], []
        for _ in range(30):
            path.append(list(point))
            grad = [point[0] / 10.0, 2.0 * point[1]]
            for s in states:
                s["t"] += 1
            point = [rule(p, g, s) for p, g, s in zip(point, grad, states, strict=True)]
        assert out[name][0] == path, name


OPTIMIZER_COMPARE_MNIST = """\
    # coding: utf-8
    import os
    import sys
    sys.path.append(os.pardir)
    from dataset.mnist import load_mnist
    from common.util import smooth_curve
    from common.multi_layer_net import MultiLayerNet
    from common.optimizer import *

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    x_train, t_train = x_train[:3000], t_train[:3000]
    np.random.seed(1)
    train_size = x_train.shape[0]
    batch_size = 128
    max_iterations = 200
    optimizers = {}
    optimizers['SGD'] = SGD()
    optimizers['Momentum'] = Momentum()
    optimizers['AdaGrad'] = AdaGrad()
    optimizers['Adam'] = Adam()
    networks = {}
    train_loss = {}
    for key in optimizers.keys():
        networks[key] = MultiLayerNet(input_size=784, hidden_size_list=[50, 50, 50],
                                      output_size=10)
        train_loss[key] = []
    for i in range(max_iterations):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]
        for key in optimizers.keys():
            grads = networks[key].gradient(x_batch, t_batch)
            optimizers[key].update(networks[key].params, grads)
            train_loss[key].append(networks[key].loss(x_batch, t_batch))
    for key in optimizers.keys():
        smooth = smooth_curve(train_loss[key])
        print(key, [float(smooth[0]), float(smooth[-1]), len(smooth)])
    print("raw", [float(v) for v in train_loss['SGD'][:15]])
    print("smooth", smooth_curve(train_loss['SGD'])[:5].tolist())
"""


@needs_fashion
def test_ch06_optimizer_compare_mnist(tmp_path, script_env):
    out = printed(run_script(OPTIMIZER_COMPARE_MNIST, tmp_path, script_env, chapter="ch06"))
    ends = {}
    for key in ("SGD", "Momentum", "AdaGrad", "Adam"):
        first, last, n = out[key][0]
        assert n == 200 and last < first, key
        ends[key] = last
    for key in ("Momentum", "AdaGrad", "Adam"):  # the book's finding: all beat plain SGD
        assert ends[key] < ends["SGD"] - 0.2, ends
    # smooth_curve: an 11-point Kaiser window (beta 2) over the curve mirrored at its ends
    raw = np.array(out["raw"][0])
    window = np.kaiser(11, 2) / np.kaiser(11, 2).sum()
    mirrored = np.concatenate([raw[10:0:-1], raw])  # x10 .. x1, x0, x1, ...
    expected = [float(np.dot(window[::-1], mirrored[k + 5:k + 16])) for k in range(5)]
    assert out["smooth"][0] == pytest.approx(expected, rel=1e-12)


WEIGHT_INIT_HISTOGRAM = """\
    # coding: utf-8
    import numpy as np
    from common.functions import sigmoid, relu

    np.random.seed(5)
    input_data = np.random.randn(1000, 100)
    node_num = 100
    hidden_layer_size = 5
    for name, scale, activation in (("std1", 1.0, sigmoid), ("std001", 0.01, sigmoid),
                                    ("xavier", np.sqrt(1.0 / node_num), sigmoid),
                                    ("he", np.sqrt(2.0 / node_num), relu)):
        activations = {}
        x = input_data
        for i in range(hidden_layer_size):
            if i != 0:
                x = activations[i - 1]
            w = np.random.randn(node_num, node_num) * scale
            a = np.dot(x, w)
            activations[i] = activation(a)
        print(name, [[float(z.mean()), float(z.std())] for z in activations.values()])
"""


def test_ch06_weight_init_activation_histogram(tmp_path, script_env):
    out = printed(run_script(WEIGHT_INIT_HISTOGRAM, tmp_path, script_env, chapter="ch06"))
    rs = np.random.RandomState(5)  # noqa: NPY002 - the stream np.random.seed(5) gives
    data = rs.randn(1000, 100)
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    relu = lambda a: np.maximum(0, a)  # noqa: E731
    for name, scale, f in (("std1", 1.0, sigmoid), ("std001", 0.01, sigmoid),
                           ("xavier", np.sqrt(1.0 / 100), sigmoid),
                           ("he", np.sqrt(2.0 / 100), relu)):
        x, stats = data, []
        for _ in range(5):
            x = f(np.dot(x, rs.randn(100, 100) * scale))
            stats.append([float(x.mean()), float(x.std())])
        assert out[name][0] == stats, name
    std1, std001 = np.array(out["std1"][0]), np.array(out["std001"][0])
    assert np.all(std1[:, 1] > 0.4)  # saturated at 0 and 1: the gradients vanish
    assert np.all(std001[1:, 1] < 0.02)  # all near 0.5: the layers all look alike


BATCH_NORM_TEST = """\
    # coding: utf-8
    import sys, os
    sys.path.append(os.pardir)
    import numpy as np
    from dataset.mnist import load_mnist
    from common.multi_layer_net_extend import MultiLayerNetExtend
    from common.optimizer import SGD

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    x_train = x_train[:1000]
    t_train = t_train[:1000]
    max_epochs = 8
    train_size = x_train.shape[0]
    batch_size = 100
    learning_rate = 0.01


    def __train(weight_init_std):
        bn_network = MultiLayerNetExtend(input_size=784, hidden_size_list=[100, 100, 100, 100],
                                         output_size=10, weight_init_std=weight_init_std,
                                         use_batchnorm=True)
        network = MultiLayerNetExtend(input_size=784, hidden_size_list=[100, 100, 100, 100],
                                      output_size=10, weight_init_std=weight_init_std)
        optimizer = SGD(lr=learning_rate)
        train_acc_list = []
        bn_train_acc_list = []
        iter_per_epoch = max(train_size / batch_size, 1)
        epoch_cnt = 0
        for i in range(1000000000):
            batch_mask = np.random.choice(train_size, batch_size)
            x_batch = x_train[batch_mask]
            t_batch = t_train[batch_mask]
            for _network in (bn_network, network):
                grads = _network.gradient(x_batch, t_batch)
                optimizer.update(_network.params, grads)
            if i % iter_per_epoch == 0:
                train_acc_list.append(float(network.accuracy(x_train, t_train)))
                bn_train_acc_list.append(float(bn_network.accuracy(x_train, t_train)))
                epoch_cnt += 1
                if epoch_cnt >= max_epochs:
                    break
        return train_acc_list, bn_train_acc_list, bn_network


    np.random.seed(0)
    for w in (0.01, 0.0001):
        train_acc_list, bn_train_acc_list, bn_network = __train(w)
        print("w", [w, train_acc_list, bn_train_acc_list])
    print("keys", list(bn_network.params.keys())[-4:])
    print("running", float(bn_network.layers['BatchNorm1'].running_var.min()))
"""


@needs_fashion
def test_ch06_batch_norm_test(tmp_path, script_env):
    """Batch norm learns at weight scales where the plain network does not; one SGD is
    shared by the two networks, as in the book."""
    out = printed(run_script(BATCH_NORM_TEST, tmp_path, script_env, chapter="ch06"))
    for w, plain, bn in out["w"]:
        assert len(plain) == len(bn) == 8
        assert max(plain) < 0.25, (w, plain)  # stuck near chance
        assert bn[-1] > plain[-1] + 0.3, (w, bn)
    assert out["keys"] == [["gamma3", "beta3", "gamma4", "beta4"]]
    assert out["running"][0] > 0


OVERFIT_DROPOUT = """\
    # coding: utf-8
    import os
    import sys
    sys.path.append(os.pardir)
    import numpy as np
    from dataset.mnist import load_mnist
    from common.multi_layer_net_extend import MultiLayerNetExtend
    from common.trainer import Trainer

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    x_train = x_train[:300]
    t_train = t_train[:300]
    x_test, t_test = x_test[:1000], t_test[:1000]
    np.random.seed(2)
    use_dropout = True
    dropout_ratio = 0.2
    network = MultiLayerNetExtend(input_size=784, hidden_size_list=[100, 100, 100],
                                  output_size=10, use_dropout=use_dropout,
                                  dropout_ration=dropout_ratio)
    trainer = Trainer(network, x_train, t_train, x_test, t_test,
                      epochs=60, mini_batch_size=100,
                      optimizer='sgd', optimizer_param={'lr': 0.1}, verbose=True)
    trainer.train()
    train_acc_list, test_acc_list = trainer.train_acc_list, trainer.test_acc_list
    print("lists", [len(train_acc_list), len(test_acc_list), len(trainer.train_loss_list)])
    print("last", [float(train_acc_list[-1]), float(test_acc_list[-1])])
    print("dropout", [key for key in network.layers if key.startswith("Dropout")])
"""


@needs_fashion
def test_ch06_overfit_dropout_with_the_books_trainer(tmp_path, script_env):
    stdout = run_script(OVERFIT_DROPOUT, tmp_path, script_env, chapter="ch06")
    out = printed(stdout)
    lines = stdout.splitlines()
    assert sum(line.startswith("train loss:") for line in lines) == 180  # every step
    epochs = [line for line in lines if line.startswith("=== epoch:")]
    assert len(epochs) == 60 and epochs[0].startswith("=== epoch:1, train acc:")
    assert "=============== Final Test Accuracy ===============" in lines
    assert out["lists"] == [[60, 60, 180]]
    train_acc, test_acc = out["last"][0]
    assert train_acc > 0.7 and test_acc > 0.55 and train_acc > test_acc
    assert out["dropout"] == [["Dropout1", "Dropout2", "Dropout3"]]


OVERFIT_WEIGHT_DECAY = """\
    # coding: utf-8
    import os
    import sys
    sys.path.append(os.pardir)
    import numpy as np
    from dataset.mnist import load_mnist
    from common.multi_layer_net import MultiLayerNet
    from common.optimizer import SGD

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    x_train = x_train[:300]
    t_train = t_train[:300]
    x_test, t_test = x_test[:1000], t_test[:1000]
    for weight_decay_lambda in (0, 0.1):
        np.random.seed(4)
        network = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100],
                                output_size=10, weight_decay_lambda=weight_decay_lambda)
        optimizer = SGD(lr=0.05)
        max_epochs = 40
        train_size = x_train.shape[0]
        batch_size = 100
        iter_per_epoch = max(train_size / batch_size, 1)
        epoch_cnt = 0
        for i in range(1000000000):
            batch_mask = np.random.choice(train_size, batch_size)
            grads = network.gradient(x_train[batch_mask], t_train[batch_mask])
            optimizer.update(network.params, grads)
            if i % iter_per_epoch == 0:
                train_acc = network.accuracy(x_train, t_train)
                test_acc = network.accuracy(x_test, t_test)
                epoch_cnt += 1
                if epoch_cnt >= max_epochs:
                    break
        norm = sum(float(np.sum(network.params['W' + str(i)] ** 2)) for i in range(1, 5))
        print("lambda", [weight_decay_lambda, float(train_acc), float(test_acc), norm])
"""


@needs_fashion
def test_ch06_overfit_weight_decay(tmp_path, script_env):
    out = printed(run_script(OVERFIT_WEIGHT_DECAY, tmp_path, script_env, chapter="ch06"))
    (lam0, train0, test0, norm0), (lam1, train1, test1, norm1) = out["lambda"]
    assert (lam0, lam1) == (0, 0.1)
    assert train0 > 0.75 and test0 > 0.5
    assert norm1 < 0.7 * norm0  # the decay keeps the weights small
    assert train1 - test1 < train0 - test0  # and the gap between the sets narrower


# ---- book 2, chapter 1 -----------------------------------------------------------------

FORWARD_NET = """\
    # coding: utf-8
    import numpy as np
    from forward_net import TwoLayerNet

    np.random.seed(11)
    x = np.random.randn(10, 2)
    model = TwoLayerNet(2, 4, 3)
    s = model.predict(x)
    print("s", s.tolist())
    print("params", [p.shape for p in model.params])
"""


def test_book2_ch01_forward_net(tmp_path, script_env):
    out = printed(run_script(FORWARD_NET, tmp_path, script_env, book=2, chapter="ch01"))
    rs = np.random.RandomState(11)  # noqa: NPY002 - the stream np.random.seed(11) gives
    x = rs.randn(10, 2)
    W1, b1, W2, b2 = rs.randn(2, 4), rs.randn(4), rs.randn(4, 3), rs.randn(3)
    s = np.dot(1 / (1 + np.exp(-(np.dot(x, W1) + b1))), W2) + b2
    assert out["s"][0] == s.tolist()
    assert out["params"] == [[(2, 4), (4,), (4, 3), (3,)]]


TRAIN_CUSTOM_LOOP = """\
    # coding: utf-8
    import sys
    sys.path.append('..')
    import numpy as np
    from common.optimizer import SGD
    from dataset import spiral
    from two_layer_net import TwoLayerNet

    max_epoch = 300
    batch_size = 30
    hidden_size = 10
    learning_rate = 1.0
    x, t = spiral.load_data()
    print("data", [list(x.shape), str(t.dtype), float(x.sum())])
    model = TwoLayerNet(input_size=2, hidden_size=hidden_size, output_size=3)
    optimizer = SGD(lr=learning_rate)
    data_size = len(x)
    max_iters = data_size // batch_size
    total_loss = 0
    loss_count = 0
    loss_list = []
    for epoch in range(max_epoch):
        idx = np.random.permutation(data_size)
        x = x[idx]
        t = t[idx]
        for iters in range(max_iters):
            batch_x = x[iters*batch_size:(iters+1)*batch_size]
            batch_t = t[iters*batch_size:(iters+1)*batch_size]
            loss = model.forward(batch_x, batch_t)
            model.backward()
            optimizer.update(model.params, model.grads)
            total_loss += loss
            loss_count += 1
            if (iters+1) % 10 == 0:
                avg_loss = total_loss / loss_count
                print('| epoch %d |  iter %d / %d | loss %.2f'
                      % (epoch + 1, iters + 1, max_iters, avg_loss))
                loss_list.append(avg_loss)
                total_loss, loss_count = 0, 0
    score = model.predict(x)
    print("accuracy", float(np.mean(np.argmax(score, axis=1) == np.argmax(t, axis=1))))
    print("loss_list", [len(loss_list), float(loss_list[0]), float(loss_list[-1])])
"""


def test_book2_ch01_train_custom_loop_repeats_from_the_global_seed(tmp_path, script_env):
    """spiral.load_data() seeds NumPy's global generator with 1984, as the book's does, so
    the weights and the shuffles after it, and so the whole run, repeat exactly."""
    first = run_script(TRAIN_CUSTOM_LOOP, tmp_path, script_env, book=2, chapter="ch01")
    second = run_script(TRAIN_CUSTOM_LOOP, tmp_path, script_env, book=2, chapter="ch01")
    assert first == second
    out = printed(first)
    from chainrule.data import load_spiral

    x, _ = load_spiral()
    assert out["data"] == [[[300, 2], "int32", float(x.sum())]]
    assert first.count("| epoch ") == 300
    count, start, end = out["loss_list"][0]
    assert count == 300 and start == pytest.approx(1.1, abs=0.05) and end < 0.2
    assert out["accuracy"][0] > 0.9


TRAIN = """\
    # coding: utf-8
    import sys
    sys.path.append('..')
    from common.optimizer import SGD
    from common.trainer import Trainer
    from dataset import spiral
    from two_layer_net import TwoLayerNet

    max_epoch = 300
    batch_size = 30
    hidden_size = 10
    learning_rate = 1.0
    x, t = spiral.load_data()
    model = TwoLayerNet(input_size=2, hidden_size=hidden_size, output_size=3)
    optimizer = SGD(lr=learning_rate)
    trainer = Trainer(model, optimizer)
    trainer.fit(x, t, max_epoch, batch_size, eval_interval=10)
    trainer.plot()
    print("loss_list", [len(trainer.loss_list), trainer.loss_list[0], trainer.loss_list[-1]])
    print("epochs", trainer.current_epoch)
"""


def test_book2_ch01_train_with_the_books_trainer(tmp_path, script_env):
    stdout = run_script(TRAIN, tmp_path, script_env, book=2, chapter="ch01")
    out = printed(stdout)
    lines = [line for line in stdout.splitlines() if line.startswith("| epoch")]
    assert len(lines) == 300  # eval_interval 10 of 10 iterations: iteration 1 of each epoch
    assert lines[0].startswith("| epoch 1 |  iter 1 / 10 | time ")
    assert lines[0].endswith("[s] | loss 1.10")
    count, first, last = out["loss_list"][0]
    assert count == 300 and first == pytest.approx(1.0986, abs=0.01) and last < 0.2
    assert out["epochs"] == [300]


# ---- the runner --------------------------------------------------------------------------

def test_python_m_chainrule_book1_runs_a_script_of_a_chapter_folder(tmp_path, script_env):
    chapter = tmp_path / "ch05"
    chapter.mkdir()
    (chapter / "buy_apple_tax.py").write_text(textwrap.dedent("""\
        # coding: utf-8
        from layer_naive import *

        apple, apple_num, tax = 100, 2, 1.1
        mul_apple_layer = MulLayer()
        mul_tax_layer = MulLayer()
        price = mul_tax_layer.forward(mul_apple_layer.forward(apple, apple_num), tax)
        dapple_price, dtax = mul_tax_layer.backward(1)
        dapple, dapple_num = mul_apple_layer.backward(dapple_price)
        print("price:", int(price))
        print("dApple:", dapple)
        print("dApple_num:", int(dapple_num))
        print("dTax:", dtax)
        """))
    result = subprocess.run([sys.executable, "-m", "chainrule.book1", "buy_apple_tax.py"],
                            cwd=chapter, env=script_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["price: 220", "dApple: 2.2", "dApple_num: 110",
                                          "dTax: 200"]
    missing = subprocess.run([sys.executable, "-m", "chainrule.book2", "nothing.py"],
                             cwd=tmp_path, env=script_env, capture_output=True, text=True)
    assert missing.returncode == 2 and "no such file" in missing.stderr


# ---- the rewrite ---------------------------------------------------------------------------

def test_the_rewrite_changes_imports_only():
    source = textwrap.dedent("""\
        import sys, os
        sys.path.append(os.pardir)
        import numpy as np
        from common.layers import *
        from common.util import smooth_curve
        from dataset.mnist import load_mnist
        from two_layer_net import TwoLayerNet
        import common.functions
        from matplotlib import pyplot
        x = "from common.layers import Relu"
        """)
    book1 = rewrite_book1(source, chapter="ch05").splitlines()
    assert book1[3] == "from chainrule.book1.common.layers import *"
    assert book1[4] == "from chainrule.book1.common.util import smooth_curve"
    assert book1[5] == "from chainrule.book1.dataset.mnist import load_mnist"
    assert book1[6] == "from chainrule.book1.ch05.two_layer_net import TwoLayerNet"
    assert book1[7] == ("import chainrule.book1.common.functions; "
                        "from chainrule.book1 import common")
    assert [book1[i] for i in (0, 1, 2, 8, 9)] == [source.splitlines()[i] for i in (0, 1, 2, 8, 9)]
    fashion = rewrite_book1(source, dataset="fashion-mnist")
    assert "from chainrule.book1.dataset.fashion_mnist import load_mnist" in fashion
    assert "from two_layer_net import TwoLayerNet" in fashion  # no chapter: left alone
    book2 = rewrite_book2("from dataset import spiral\nfrom forward_net import TwoLayerNet\n",
                          chapter="ch01")
    assert book2 == ("from chainrule.book2.dataset import spiral\n"
                     "from chainrule.book2.ch01.forward_net import TwoLayerNet\n")
    with pytest.raises(InputValueError, match="dataset"):
        rewrite_book1(source, dataset="cifar")
    with pytest.raises(InputValueError, match="chapter"):
        rewrite_book1(source, chapter="5")
    with pytest.raises(InputTypeError, match="source"):
        rewrite_book2(b"from common import x")


# ---- where the books differ from chainrule's core, each shown ----------------------------

@pytest.fixture
def global_rng():
    """Tests of the books' global-generator behaviour put NumPy's generator back after."""
    state = np.random.get_state()  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


def test_relu_grad_is_one_at_zero_in_book1_zero_in_the_core():
    from chainrule.book1.common.functions import relu_grad as book
    from chainrule.functions import relu_grad as core

    x = np.array([-1.0, 0.0, 2.0])
    assert book(x).tolist() == [0.0, 1.0, 1.0]
    assert core(x).tolist() == [0.0, 0.0, 1.0]


def test_cross_entropy_rounds_soft_targets_in_the_books_only():
    from chainrule.book1.common.functions import cross_entropy_error as book
    from chainrule.functions import cross_entropy_error as core

    y = np.array([[0.2, 0.5, 0.3]])
    soft = np.array([[0.1, 0.6, 0.3]])
    assert book(y, soft) == -np.log(0.5 + 1e-7)  # the argmax label, as the book does
    assert core(y, soft) == pytest.approx(-np.sum(soft * np.log(y + 1e-7)))


def test_softmax_with_loss_has_the_books_1e7_in_book1_and_is_exact_in_the_core():
    from chainrule.book1.common.layers import SoftmaxWithLoss as Book
    from chainrule.layers import SoftmaxWithLoss as Core

    scores, t = np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0]]), np.array([0, 2])
    y = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    picked = y[[0, 1], t]
    assert Book().forward(scores, t) == pytest.approx(-np.mean(np.log(picked + 1e-7)), rel=1e-15)
    assert Core().forward(scores, t) == pytest.approx(-np.mean(np.log(picked)), rel=1e-14)


def test_book_dropout_scales_at_inference_core_while_training(global_rng):
    from chainrule.book1.common.layers import Dropout as Book
    from chainrule.layers import Dropout as Core

    x = np.ones((4, 1000))
    np.random.seed(0)  # noqa: NPY002
    book, core = Book(0.2), Core(0.2, random_state=0)
    kept = book.forward(x, train_flg=True)
    assert set(np.unique(kept)) == {0.0, 1.0}  # unscaled in training
    assert np.array_equal(book.mask, np.random.RandomState(0).rand(4, 1000) > 0.2)  # noqa: NPY002
    assert np.all(book.forward(x, train_flg=False) == 0.8)  # scaled at inference
    assert set(np.unique(core.forward(x, train_flg=True))) == {0.0, 1.25}
    assert np.all(core.forward(x, train_flg=False) == 1.0)
    np.testing.assert_array_equal(book.backward(x), kept)


def test_book_batch_norm_starts_its_running_variance_at_zero_with_eps_1e6():
    from chainrule.book1.common.layers import BatchNormalization as Book
    from chainrule.layers import BatchNormalization as Core

    x = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 4))
    book, core = Book(np.ones(4), np.zeros(4)), Core(np.ones(4), np.zeros(4))
    assert book.eps == 1e-6 and core.eps == 1e-5
    assert book.running_var.tolist() == [0.0] * 4 and core.running_var.tolist() == [1.0] * 4
    book.forward(x, train_flg=True)
    core.forward(x, train_flg=True)
    np.testing.assert_allclose(book.running_var, 0.1 * x.var(axis=0), rtol=1e-13)
    np.testing.assert_allclose(core.running_var, 0.9 + 0.1 * x.var(axis=0), rtol=1e-13)
    dout = np.random.default_rng(1).standard_normal((50, 4))
    dx = book.backward(dout)
    xn = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-6)
    np.testing.assert_allclose(book.dgamma, (dout * xn).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(book.dbeta, dout.sum(axis=0), rtol=1e-12)
    expected = (dout - dout.mean(axis=0) - xn * (dout * xn).mean(axis=0)) / np.sqrt(
        x.var(axis=0) + 1e-6)
    np.testing.assert_allclose(dx, expected, rtol=1e-9, atol=1e-12)


def test_the_books_adam_and_nesterov_differ_from_the_cores():
    from chainrule.book1.common.optimizer import Adam as Book1Adam
    from chainrule.book1.common.optimizer import Nesterov as Book1Nesterov
    from chainrule.book2.common.optimizer import Nesterov as Book2Nesterov
    from chainrule.optim import Adam as CoreAdam
    from chainrule.optim import Nesterov as CoreNesterov

    def run(optimizer, steps=5):
        p = np.array([1.0, -2.0])
        for _ in range(steps):
            optimizer.update([p], [2 * p])
        return p

    # Adam: the book adds 1e-7 to the uncorrected sqrt(v); torch adds 1e-8 to the corrected
    book, core = run(Book1Adam(lr=0.1)), run(CoreAdam(lr=0.1))
    assert not np.array_equal(book, core)
    np.testing.assert_allclose(book, core, rtol=1e-5)
    # Nesterov: book 1 is torch's path; book 2 uses the updated velocity
    np.testing.assert_allclose(run(Book1Nesterov(lr=0.1)), run(CoreNesterov(lr=0.1)),
                               rtol=1e-12)
    assert np.abs(run(Book2Nesterov(lr=0.1)) - run(CoreNesterov(lr=0.1))).max() > 1e-3


def test_conv_output_size_and_pooling_padding_follow_the_book():
    from chainrule.book1.common.layers import Pooling as Book
    from chainrule.book1.common.util import conv_output_size as book_size
    from chainrule.functions import conv_output_size as core_size
    from chainrule.layers import Pooling as Core

    assert book_size(28, 5, stride=2) == 12.5 and core_size(28, 5, stride=2) == 12
    x = -np.ones((1, 1, 2, 2))
    assert Book(2, 2, stride=2, pad=1).forward(x).max() == 0.0  # zero padding wins
    assert Core(2, 2, stride=2, pad=1).forward(x).max() == -1.0  # -inf padding
    assert Book(2, 2).stride == 2 and Core(2, 2).stride == 1


def test_book_networks_predict_scores_core_probabilities(global_rng):
    from chainrule.book1.ch05.two_layer_net import TwoLayerNet as Book
    from chainrule.models import TwoLayerNet as Core

    x = np.random.default_rng(0).random((3, 4))
    np.random.seed(0)  # noqa: NPY002
    book = Book(4, 5, 3, weight_init_std=1.0)
    core = Core(4, 5, 3, activation="relu", random_state=0)
    for name in core.params:
        core.params[name] = book.params[name]
    scores = book.predict(x)
    np.testing.assert_allclose(core.scores(x), scores, rtol=1e-14)
    np.testing.assert_allclose(core.predict(x), np.exp(scores) / np.exp(scores).sum(
        axis=1, keepdims=True), rtol=1e-14)


def test_spiral_load_data_seeds_the_global_generator_the_core_does_not(global_rng):
    from chainrule.book2.dataset import spiral
    from chainrule.data import load_spiral

    np.random.seed(0)  # noqa: NPY002
    x, t = spiral.load_data()
    after_book = np.random.get_state()  # noqa: NPY002
    reference = np.random.RandomState(1984)  # noqa: NPY002
    reference.randn(300)
    assert np.array_equal(after_book[1], reference.get_state()[1])
    assert after_book[2:] == reference.get_state()[2:]
    before = np.random.get_state()  # noqa: NPY002
    x_core, t_core = load_spiral()
    assert np.array_equal(np.random.get_state()[1], before[1])  # noqa: NPY002
    np.testing.assert_array_equal(x, x_core)
    assert t.dtype == np.int32 and np.array_equal(t, t_core)


def test_book2_trainer_loss_list_holds_interval_averages(global_rng, capsys):
    from chainrule.book2.common.optimizer import SGD
    from chainrule.book2.common.trainer import Trainer

    class Counting:
        """A model whose loss is the number of the call: 1, 2, 3, ..."""
        def __init__(self):
            self.params, self.grads, self.calls = [np.zeros(1)], [np.zeros(1)], 0
        def forward(self, x, t):
            self.calls += 1
            return float(self.calls)
        def backward(self):
            return None

    trainer = Trainer(Counting(), SGD(lr=0.1))
    trainer.fit(np.zeros((20, 2)), np.zeros(20), max_epoch=2, batch_size=2, eval_interval=4)
    # 10 iterations an epoch, printed at iterations 0, 4, 8 of each epoch
    # (the first print of epoch 2 averages the last iteration of epoch 1 and its first)
    assert trainer.loss_list == [1.0, 3.5, 7.5, 10.5, 13.5, 17.5]
    assert len(capsys.readouterr().out.splitlines()) == 6
    assert trainer.current_epoch == 2


def test_core_trainer_history_is_per_iteration_the_books_loss_list_per_interval():
    from chainrule.models import TwoLayerNet
    from chainrule.optim import SGD
    from chainrule.trainer import Trainer

    x, t = np.random.default_rng(0).random((60, 2)), np.arange(60) % 3
    history = Trainer(TwoLayerNet(2, 4, 3, random_state=0), SGD(lr=0.1), random_state=0).fit(
        x, t, max_epoch=2, batch_size=6, verbose=0)
    assert len(history.loss) == 20  # one per iteration, not one per eval_interval


# ---- the books' other semantics ------------------------------------------------------------

def test_book1_optimizers_take_python_floats_and_so_does_the_core():
    from chainrule.book1.common.optimizer import Momentum as BookMomentum
    from chainrule.optim import SGD as CoreSGD

    params = {"x": -7.0, "y": 2.0}
    BookMomentum(lr=0.1).update(params, {"x": -0.7, "y": 4.0})
    assert params == {"x": -7.0 + (0.9 * 0.0 - 0.1 * -0.7), "y": 2.0 + (0.9 * 0.0 - 0.1 * 4.0)}
    params = {"x": -7.0, "y": 2.0}
    CoreSGD(lr=0.95).update(params, {"x": -0.7, "y": 4.0})
    assert params == {"x": -7.0 - 0.95 * -0.7, "y": 2.0 - 0.95 * 4.0}
    assert type(params["x"]) is float
    from chainrule.optim import Momentum as CoreMomentum

    params, optimizer = {"x": -7.0, "y": 2.0}, CoreMomentum(lr=0.1)
    for _ in range(2):
        optimizer.update(params, {"x": params["x"] / 10.0, "y": 2.0 * params["y"]})
    b_x = 0.9 * -0.7 + (-7.0 + 0.1 * 0.7) / 10.0  # torch's buffer: b = mu b + g
    assert params["x"] == pytest.approx(-7.0 + 0.1 * 0.7 - 0.1 * b_x, rel=1e-15)


def test_one_book_optimizer_shared_by_two_networks(global_rng):
    from chainrule.book1.common.multi_layer_net_extend import MultiLayerNetExtend
    from chainrule.book1.common.optimizer import Momentum

    np.random.seed(0)  # noqa: NPY002
    bn = MultiLayerNetExtend(6, [5, 5], 3, use_batchnorm=True)
    plain = MultiLayerNetExtend(6, [5, 5], 3)
    optimizer = Momentum(lr=0.1)
    x, t = np.random.default_rng(0).random((8, 6)), np.arange(8) % 3
    for net in (bn, plain, bn, plain):
        before = {k: v.copy() for k, v in net.params.items()}
        optimizer.update(net.params, net.gradient(x, t))
        assert any(not np.array_equal(before[k], net.params[k]) for k in before)
    assert set(optimizer.v) == set(bn.params)  # per key, as in the book


def test_book_layers_have_the_books_attributes(global_rng):
    from chainrule.book1.common.layers import Affine, BatchNormalization, Relu
    from chainrule.layers import Affine as CoreAffine

    W, b = np.arange(6.0).reshape(3, 2), np.zeros(2)
    for cls in (Affine, CoreAffine):
        layer = cls(W, b)
        layer.forward(np.ones((4, 3)))
        layer.backward(np.ones((4, 2)))
        assert layer.W is W and layer.b is b
        assert layer.dW.tolist() == [[4.0, 4.0]] * 3 and layer.db.tolist() == [4.0, 4.0]
    norm = BatchNormalization(np.ones(2), np.zeros(2))
    norm.forward(np.array([[1.0, 2.0], [3.0, 5.0]]))
    norm.backward(np.ones((2, 2)))
    assert norm.dbeta.tolist() == [2.0, 2.0] and norm.dgamma.shape == (2,)
    from chainrule.layers import BatchNormalization as CoreBatchNormalization

    core_norm = CoreBatchNormalization(np.ones(2), np.zeros(2))
    core_norm.forward(np.array([[1.0, 2.0], [3.0, 5.0]]))
    core_norm.backward(np.ones((2, 2)))
    assert core_norm.dbeta is core_norm.grads[1] and core_norm.dgamma is core_norm.grads[0]
    relu = Relu()
    relu.forward(np.array([-1.0, 0.0, 1.0]))
    assert relu.mask.tolist() == [True, True, False]


def test_multi_layer_net_extend_gradients_match_numerical_ones(global_rng):
    from chainrule.book1.common.multi_layer_net_extend import MultiLayerNetExtend

    np.random.seed(1)  # noqa: NPY002
    net = MultiLayerNetExtend(5, [6, 4], 3, use_batchnorm=True, weight_decay_lambda=0.1)
    x, t = np.random.default_rng(2).random((7, 5)), np.arange(7) % 3
    numerical, backprop = net.numerical_gradient(x, t), net.gradient(x, t)
    assert list(numerical) == list(backprop) == [
        "W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    for key in numerical:
        np.testing.assert_allclose(backprop[key], numerical[key], rtol=1e-5, atol=1e-8)


def test_shuffle_dataset_smooth_curve_and_im2col(global_rng):
    from chainrule.book1.common.util import col2im, im2col, shuffle_dataset, smooth_curve

    x, t = np.arange(20.0).reshape(10, 2), np.arange(10)
    np.random.seed(3)  # noqa: NPY002
    xs, ts = shuffle_dataset(x, t)
    p = np.random.RandomState(3).permutation(10)  # noqa: NPY002
    assert ts.tolist() == p.tolist() and xs.tolist() == x[p].tolist()
    curve = np.linspace(2.0, 0.0, 30)
    assert smooth_curve(curve).shape == (30,)
    np.testing.assert_allclose(smooth_curve(curve)[10:20], curve[10:20], atol=1e-12)
    images = np.random.default_rng(0).random((2, 3, 5, 5)).astype(np.float32)
    col = im2col(images, 3, 3, stride=1, pad=1)
    assert col.shape == (50, 27) and col.dtype == np.float64
    assert col2im(col, images.shape, 3, 3, 1, 1).shape == images.shape


def test_book1_trainer_records_the_books_lists(global_rng, capsys):
    from chainrule.book1.common.multi_layer_net import MultiLayerNet
    from chainrule.book1.common.trainer import Trainer

    np.random.seed(0)  # noqa: NPY002
    x, t = np.random.default_rng(0).random((50, 4)), np.arange(50) % 2
    net = MultiLayerNet(4, [8], 2)
    trainer = Trainer(net, x, t, x[:10], t[:10], epochs=3, mini_batch_size=10,
                      optimizer="Adam", optimizer_param={"lr": 0.01},
                      evaluate_sample_num_per_epoch=20, verbose=False)
    trainer.train()
    assert len(trainer.train_loss_list) == 15
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == 3
    assert capsys.readouterr().out == ""


def test_save_params_writes_safetensors_and_refuses_pickles(tmp_path, global_rng):
    import pickle

    from chainrule.book1.ch07.simple_convnet import SimpleConvNet
    from chainrule.book2.ch01.two_layer_net import TwoLayerNet
    from chainrule.book2.common.base_model import BaseModel

    class Model(TwoLayerNet, BaseModel):
        pass

    np.random.seed(0)  # noqa: NPY002
    model = Model(2, 3, 2)
    path = model.save_params(tmp_path / "m.pkl")
    assert Path(path).read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    saved = [p.copy() for p in model.params]
    for p in model.params:
        p[...] = 0
    model.load_params(path)
    for p, q in zip(model.params, saved, strict=True):
        np.testing.assert_array_equal(p, q.astype(np.float16).astype(np.float32))
    (tmp_path / "old.pkl").write_bytes(pickle.dumps([np.zeros(1)], protocol=2))
    with pytest.raises(InputValueError, match="pickle"):
        model.load_params(tmp_path / "old.pkl")
    net = SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 2, "filter_size": 3,
                                                         "pad": 1, "stride": 1},
                        hidden_size=4, output_size=3)
    net.save_params(tmp_path / "params.pkl")
    W1 = net.params["W1"].copy()
    net.params["W1"][...] = 0
    net.load_params(tmp_path / "params.pkl")
    np.testing.assert_array_equal(net.params["W1"], W1)


def test_book2_layers_remove_duplicate_and_clip_grads():
    from chainrule.book2.common.layers import SigmoidWithLoss, SoftmaxWithLoss
    from chainrule.book2.common.trainer import remove_duplicate
    from chainrule.book2.common.util import clip_grads

    loss = SigmoidWithLoss()
    x, t = np.array([0.0, 2.0]), np.array([1, 0])
    y = 1 / (1 + np.exp(-x))
    assert loss.forward(x, t) == pytest.approx(-(np.log(y[0] + 1e-7) + np.log(1 - y[1] + 1e-7)) / 2)
    np.testing.assert_allclose(loss.backward(), (y - t) / 2)
    soft = SoftmaxWithLoss()
    soft.forward(np.zeros((2, 3)), np.eye(3)[[0, 2]])
    assert soft.t.tolist() == [0, 2]
    W = np.ones((2, 3))
    params, grads = remove_duplicate([W, np.zeros(3), W, W.T.copy()],
                                     [np.ones((2, 3)), np.zeros(3), 2 * np.ones((2, 3)),
                                      np.full((3, 2), 4.0)])
    assert len(params) == 2 and grads[0].tolist() == [[7.0] * 3] * 2
    g = [np.array([3.0]), np.array([4.0])]
    clip_grads(g, 1.0)
    np.testing.assert_allclose([g[0][0], g[1][0]], [0.6, 0.8], rtol=1e-6)


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, name", [
    (lambda: book1_optimizer.SGD(lr=-1), InputValueError, "lr"),
    (lambda: book1_optimizer.Adam(beta1=1.0), InputValueError, "beta1"),
    (lambda: book1_optimizer.SGD().update({"a": np.zeros(2)}, {"b": np.zeros(2)}),
     InputValueError, "grads"),
    (lambda: book1_net.MultiLayerNet(784, 100, 10), InputTypeError, "hidden_size_list"),
    (lambda: book1_net.MultiLayerNet(784, [10], 10, "tanh"), InputValueError, "activation"),
    (lambda: book1_extend.MultiLayerNetExtend(4, [3], 2, use_dropout=True, dropout_ration=1.5),
     InputValueError, "dropout_ration"),
    (lambda: book1_layers.Dropout(-0.1), InputValueError, "dropout_ratio"),
    (lambda: book1_util.smooth_curve([1.0]), InputValueError, "x"),
    (lambda: book1_gradient.numerical_gradient(lambda v: 0.0, np.array([1, 2])),
     InputTypeError, "x"),
    (lambda: book1_ch04.numerical_gradient(lambda v: 0.0, np.zeros((2, 2, 2))),
     InputValueError, "X"),
    (lambda: book2_spiral.load_data(seed=-1), InputValueError, "seed"),
])
def test_bad_input_names_the_argument(make, error, name, global_rng):
    with pytest.raises(error, match=rf"\b{name}\b"):
        make()


def test_book1_trainer_refuses_bad_arguments(global_rng):
    from chainrule.book1.common.multi_layer_net import MultiLayerNet
    from chainrule.book1.common.trainer import Trainer

    np.random.seed(0)  # noqa: NPY002
    net, x, t = MultiLayerNet(4, [3], 2), np.zeros((6, 4)), np.zeros(6, int)
    with pytest.raises(InputValueError, match="optimizer"):
        Trainer(net, x, t, x, t, optimizer="lbfgs")
    with pytest.raises(InputValueError, match="optimizer_param"):
        Trainer(net, x, t, x, t, optimizer_param={"learning_rate": 0.1})
    with pytest.raises(InputValueError, match="mini_batch_size"):
        Trainer(net, x, t, x, t, mini_batch_size=0)
    with pytest.raises(InputValueError, match="x_train and t_train"):
        Trainer(net, x, t[:3], x, t)
    with pytest.raises(InputTypeError, match="network"):
        Trainer(object(), x, t, x, t)
