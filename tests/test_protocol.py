"""The public protocol: custom layers and models plug in without editing chainrule.

Each test builds something chainrule does not ship (a layer that only follows the
protocol, a model class of its own, tied weights, a gradient transform) and checks it
against an independent expectation: central differences, a hand-written update, or a
run of the same arithmetic by hand.
"""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

from chainrule.checkpoint import load_model, register_model, save_model
from chainrule.cli import main
from chainrule.gradcheck import gradient_check
from chainrule.layers import Affine, Relu, Tanh
from chainrule.models import MultiLayerNet, SimpleNet, TwoLayerNet
from chainrule.network import ParamDict, Sequential
from chainrule.optim import SGD, Adam, AdamW
from chainrule.protocol import Model
from chainrule.trainer import ClipGradNorm, Trainer, clip_grads

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "chainrule"


def blobs(n=60, seed=0):
    """Three well-separated Gaussian blobs in 2-D: (n, 2) inputs, labels (n,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) % 3
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    return centres[t] + 0.3 * rng.standard_normal((n, 2)), t


# ---- layers declare what they are ----------------------------------------------------


class Noisy:
    """A user's layer, not derived from chainrule's: adds noise only in training.

    It follows book 2's protocol and says nothing else; the training flag is read from
    its ``forward`` signature.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.flags = []

    def forward(self, x, train_flg=True):
        self.flags.append(train_flg)
        return x + 1.0 if train_flg else x

    def backward(self, dout):
        return dout


def test_a_custom_layer_with_a_training_flag_gets_false_in_predict():
    rng = np.random.default_rng(0)
    noisy = Noisy()
    net = Sequential([Affine(rng.standard_normal((2, 4)), np.zeros(4)), noisy,
                      Affine(rng.standard_normal((4, 3)), np.zeros(3))])
    x, t = blobs(6)
    noisy.flags.clear()
    clean = net.predict(x)
    assert noisy.flags == [False]
    net.forward(x, t)
    assert noisy.flags == [False, True]
    # and the flag matters: the training output is the inference output shifted by 1
    hidden = x @ net.params["W1"] + net.params["b1"]
    expected = (hidden @ net.params["W2"] + net.params["b2"])
    np.testing.assert_allclose(net.scores(x), expected)
    np.testing.assert_allclose(clean, net.link(expected))


def test_declared_decay_not_name_prefixes_decides_what_is_decayed():
    net = MultiLayerNet(4, [5], 3, use_batchnorm=True, random_state=0)
    assert net.params.no_decay == {"b1", "gamma1", "beta1", "b2"}
    # a user's layer named nothing like W: its matrix is decayed (ndim >= 2), its vector not

    class Scale:
        def __init__(self):
            self.params = [np.ones((3, 3)), np.zeros(3)]
            self.grads = [np.zeros((3, 3)), np.zeros(3)]

        def forward(self, x):
            self.x = x
            return x @ self.params[0] + self.params[1]

        def backward(self, dout):
            self.grads[0][...] = self.x.T @ dout
            self.grads[1][...] = dout.sum(axis=0)
            return dout @ self.params[0].T

    seq = Sequential([Scale()], input_shape=(3,))
    assert list(seq.params) == ["scale1_0", "scale1_1"]
    assert seq.params.no_decay == {"scale1_1"}


# ---- shared parameters ---------------------------------------------------------------


def tied_net(seed=0):
    """x -> tanh(x W + b1) -> (.) W + b2: one 3x3 matrix W used by two layers."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((3, 3))
    first, second = Affine(W, np.zeros(3)), Affine(W, np.full(3, 0.1))
    return Sequential([first, Tanh(), second]), first, second


def test_shared_arrays_are_one_parameter_with_the_summed_gradient():
    net, first, second = tied_net()
    assert list(net.params) == ["W1", "b1", "b2"]  # W registered once
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    net.forward(x, t)
    net.backward()
    np.testing.assert_allclose(net.grads["W1"], first.grads[0] + second.grads[0])
    report = gradient_check(net, x, t, mode="exact", random_state=0)
    assert report.passed, str(report)
    # one update, with the summed gradient
    before = net.params["W1"].copy()
    SGD(lr=0.1).update(net.params, net.grads)
    np.testing.assert_allclose(net.params["W1"], before - 0.1 * (first.grads[0]
                                                                 + second.grads[0]))
    assert first.params[0] is second.params[0] is net.params["W1"]


def test_the_same_layer_object_twice_is_refused():
    relu = Relu()
    W = np.eye(2)
    with pytest.raises(ValueError, match="must not hold the same layer object twice, got "
                                         r"Relu\(\) twice; to share weights"):
        Sequential([Affine(W, np.zeros(2)), relu, Affine(W.copy(), np.zeros(2)), relu])


# ---- models of the user's own -----------------------------------------------------------


@register_model
class Softmax2D(Model):
    """A user's model: softmax regression written by hand on the protocol."""

    input_shape = (2,)
    output_size = 3

    def __init__(self, scale=0.1, dtype="float64"):
        self.config = {"scale": scale, "dtype": dtype}
        rng = np.random.default_rng(0)
        self.params = ParamDict(W=scale * rng.standard_normal((2, 3)).astype(dtype),
                                b=np.zeros(3, dtype))
        self.grads = ParamDict(W=np.zeros((2, 3), dtype), b=np.zeros(3, dtype))

    def scores(self, x, train_flg=False):
        return self.validate(x) @ self.params["W"] + self.params["b"]

    def forward(self, x, t, train_flg=True):
        x, t = self.validate(x, t)
        return self.forward_checked(x, t, train_flg)

    def forward_checked(self, x, t, train_flg=True):
        self.x, self.t = x, t
        self.last_output = s = x @ self.params["W"] + self.params["b"]
        self.y = np.exp(s - s.max(axis=1, keepdims=True))
        self.y /= self.y.sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(self.y[np.arange(len(t)), t])))

    def backward(self, dout=1):
        ds = self.y.copy()
        ds[np.arange(len(self.t)), self.t] -= 1
        ds *= dout / len(self.t)
        self.grads["W"][...] = self.x.T @ ds
        self.grads["b"][...] = ds.sum(axis=0)
        return ds @ self.params["W"].T


@pytest.mark.parametrize("make", [lambda: Softmax2D(), lambda: SimpleNet(random_state=0)],
                         ids=["custom-model", "SimpleNet"])
def test_a_protocol_model_trains_saves_loads_and_gradient_checks(make, tmp_path):
    x, t = blobs(90)
    model = make()
    report = gradient_check(model, x[:7], t[:7], mode="exact", random_state=0)
    assert report.passed, str(report)
    before = model.loss(x, t)
    history = Trainer(model, SGD(lr=0.5), random_state=0).fit(x, t, max_epoch=20,
                                                              batch_size=15, verbose=0)
    assert model.loss(x, t) < 0.5 * before
    assert history.train_accuracy[-1] > 0.9 and model.accuracy(x, t) > 0.9
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_simplenet_backward_equals_central_differences_of_the_seed_loss():
    net = SimpleNet(W=[[0.47355232, 0.9977393, 0.84668094],
                       [0.85557411, 0.03563661, 0.69422093]])
    x, t = np.array([[0.6, 0.9]]), np.array([[0, 0, 1]])
    numeric = net.numerical_gradient(x, t)["W"]
    analytic = net.gradient(x, t)["W"]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


# ---- one owner for weight decay -------------------------------------------------------


def test_adamw_decays_weights_but_not_biases_of_a_model():
    net = TwoLayerNet(3, 4, 2, random_state=0)
    zeros = {k: np.zeros_like(v) for k, v in net.grads.items()}
    before = {k: v.copy() for k, v in net.params.items()}
    AdamW(lr=0.1, weight_decay=0.5).update(net.params, zeros)
    for name, value in net.params.items():
        factor = 1.0 if name.startswith("b") else 1.0 - 0.1 * 0.5
        np.testing.assert_allclose(value, before[name] * factor, err_msg=name)
    np.testing.assert_allclose(net.params["b1"], before["b1"])


def test_a_plain_dict_is_decayed_whole_as_in_torch():
    params = {"w": np.ones(2), "b": np.ones(2)}
    SGD(lr=0.1, weight_decay=1.0).update(params, {k: np.zeros(2) for k in params})
    np.testing.assert_allclose(params["b"], [0.9, 0.9])


def test_weight_decay_given_twice_is_refused():
    net = MultiLayerNet(4, [5], 3, weight_decay_lambda=0.1, random_state=0)
    with pytest.raises(ValueError, match="weight decay is given twice"):
        Trainer(net, Adam(weight_decay=0.01))
    Trainer(net, Adam())  # book 1's way alone is fine


def test_cli_adamw_with_weight_decay_0_decays_nothing(tmp_path, capsys):
    # AdamW without decay is Adam: the same run must end on the same weights
    common = ["train", "--epochs", "3", "--quiet", "--lr", "0.01", "--dtype", "float64"]
    assert main([*common, "--optimizer", "adamw", "--weight-decay", "0",
                 "--out", str(tmp_path / "w")]) == 0
    assert main([*common, "--optimizer", "adam", "--out", str(tmp_path / "a")]) == 0
    adamw = load_model(tmp_path / "w" / "model.safetensors")
    adam = load_model(tmp_path / "a" / "model.safetensors")
    for name in adam.params:
        np.testing.assert_array_equal(adamw.params[name], adam.params[name], err_msg=name)
    # and with a decay, biases are left alone: they equal the undecayed run's
    assert main([*common, "--optimizer", "adamw", "--weight-decay", "0.5",
                 "--out", str(tmp_path / "d")]) == 0
    decayed = load_model(tmp_path / "d" / "model.safetensors")
    assert np.linalg.norm(decayed.params["W1"]) < np.linalg.norm(adam.params["W1"])


# ---- optimizer state belongs to names ------------------------------------------------


def test_optimizer_state_follows_names_and_refuses_other_names():
    rng = np.random.default_rng(0)
    grads = [{"a": rng.standard_normal(3), "b": rng.standard_normal(3)} for _ in range(4)]
    ref = {"a": np.ones(3), "b": -np.ones(3)}
    reference = Adam(lr=0.1)
    for g in grads:
        reference.update(ref, g)
    params = {"a": np.ones(3), "b": -np.ones(3)}
    first = Adam(lr=0.1)
    for g in grads[:2]:
        first.update(params, g)
    second = Adam(lr=0.1)
    second.load_state_dict(first.state_dict())
    swapped = {"b": params["b"], "a": params["a"]}  # same names, another order
    for g in grads[2:]:
        second.update(swapped, {"b": g["b"], "a": g["a"]})
    np.testing.assert_array_equal(params["a"], ref["a"])
    np.testing.assert_array_equal(params["b"], ref["b"])
    other = Adam(lr=0.1)
    other.load_state_dict(first.state_dict())
    with pytest.raises(ValueError, match=r"params \['c'\] have no state; the state of \['b'\] "
                                         "has no parameter"):
        other.update({"a": np.ones(3), "c": np.ones(3)}, {"a": np.ones(3), "c": np.ones(3)})


def test_a_stateless_optimizer_can_serve_two_networks():
    # book 1's batch_norm_test shares one SGD between two networks
    a, b = TwoLayerNet(4, 5, 3, random_state=0), MultiLayerNet(4, [6, 6], 3, random_state=0)
    x, t = np.random.default_rng(0).standard_normal((8, 4)), np.arange(8) % 3
    opt = SGD(lr=0.1)
    for net in (a, b, a):
        before = {k: v.copy() for k, v in net.params.items()}
        grads = net.gradient(x, t)
        opt.update(net.params, net.grads)
        for name in before:
            np.testing.assert_allclose(net.params[name], before[name] - 0.1 * grads[name])


# ---- the step seam ------------------------------------------------------------------------


def test_a_clipping_transform_and_a_counting_step_callback_work_through_the_seam():
    x, t = blobs(40)
    net = TwoLayerNet(2, 8, 3, random_state=0)
    reference = TwoLayerNet(2, 8, 3, random_state=0)
    seen = []
    clip = ClipGradNorm(0.05)
    trainer = Trainer(net, SGD(lr=0.5), random_state=0, grad_transforms=[clip])
    trainer.fit(x, t, max_epoch=2, batch_size=10, verbose=0,
                step_callbacks=[lambda tr: seen.append((tr.iteration, tr.last_loss))])
    assert [i for i, _ in seen] == list(range(1, 9))
    assert [loss for _, loss in seen] == trainer.history.loss
    # the same steps by hand: same batches, clip, SGD
    order = Trainer(reference, SGD(lr=0.5), random_state=0)
    rng = order.rng
    for _ in range(2):
        perm = rng.permutation(40)
        for k in range(0, 40, 10):
            idx = perm[k:k + 10]
            reference.gradient(x[idx], t[idx])
            clip_grads(reference.grads, 0.05)
            SGD(lr=0.5).update(reference.params, reference.grads)
    for name in net.params:
        np.testing.assert_allclose(net.params[name], reference.params[name], rtol=1e-12)


def test_a_transform_returning_false_skips_the_update_accumulating_gradients():
    x, t = blobs(20)
    net = TwoLayerNet(2, 4, 3, random_state=0)
    start = {k: v.copy() for k, v in net.params.items()}

    class Accumulate:
        """Sum gradients over two batches, update once with their mean."""

        def __init__(self):
            self.total, self.count = None, 0

        def __call__(self, grads, trainer):
            if self.total is None:
                self.total = {k: np.zeros_like(g) for k, g in grads.items()}
            for k, g in grads.items():
                self.total[k] += g
            self.count += 1
            if self.count % 2:
                return False
            for k, g in grads.items():
                g[...] = self.total[k] / 2
                self.total[k][...] = 0
            return True

    trainer = Trainer(net, SGD(lr=0.1), grad_transforms=[Accumulate()])
    xs, ts = (x[:10], x[10:]), (t[:10], t[10:])
    for xb, tb in zip(xs, ts, strict=True):
        trainer.step(*net.validate(xb, tb))
    expected = TwoLayerNet(2, 4, 3, random_state=0)
    g1, g2 = expected.gradient(xs[0], ts[0]), expected.gradient(xs[1], ts[1])
    for name in start:
        np.testing.assert_allclose(net.params[name],
                                   start[name] - 0.1 * (g1[name] + g2[name]) / 2)


# ---- the CLI maps only chainrule's input errors to exit 2 ----------------------------


def test_an_unexpected_error_is_exit_1_in_one_line_and_debug_shows_the_traceback(
        monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise ValueError("a bug inside chainrule")

    monkeypatch.setattr("chainrule.gradcheck.gradient_check", bug)
    assert main(["gradcheck", "--input-size", "3", "--hidden", "2", "--output-size", "2"]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "internal error: ValueError: a bug inside chainrule" in err
    assert main(["--debug", "gradcheck", "--input-size", "3", "--hidden", "2",
                 "--output-size", "2"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


# ---- the code keeps to the protocol -------------------------------------------------------


def test_no_module_reaches_into_another_modules_private_names():
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                    continue
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {ast.unparse(node)}")
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{path.relative_to(SRC)}:{node.lineno} import {a.name}"
                              for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert offenders == []


def test_no_isinstance_lists_of_layer_classes_outside_the_layers():
    from chainrule import layers, nodes

    names = set(layers.__all__) | set(nodes.__all__)
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name in ("layers.py", "nodes.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance":
                used = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if used & names:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_one_rule_for_bad_arguments_type_error_for_types_value_error_for_values():
    from chainrule.validation import ChainruleInputError, InputTypeError, InputValueError

    x, t = blobs(20)
    trainer = Trainer(TwoLayerNet(2, 4, 3, random_state=0), SGD(lr=0.1))
    cases = [
        (lambda: trainer.fit(x, t, batch_size="10"), InputTypeError,
         "batch_size must be an integer, got str '10'"),
        (lambda: trainer.fit(x, t, batch_size=0), InputValueError,
         "batch_size must be a positive integer, got 0"),
        (lambda: SGD(lr="0.1"), InputTypeError, "lr must be a number, got str '0.1'"),
        (lambda: SGD(lr=-1), InputValueError, "lr must be a positive number, got -1"),
        # evaluation validates too: float labels are refused, not an IndexError
        (lambda: trainer.evaluate(x, t + 0.5), InputValueError,
         "t labels must be whole numbers"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message) as info:
            call()
        assert isinstance(info.value, ChainruleInputError)


def test_a_model_declares_an_input_shape_of_any_rank():
    rng = np.random.default_rng(0)
    net = Sequential([Affine(rng.standard_normal((16, 3)), np.zeros(3))], input_shape=(1, 4, 4))
    images = rng.standard_normal((5, 1, 4, 4))
    assert net.input_shape == (1, 4, 4) and net.output_size == 3
    np.testing.assert_array_equal(net.predict(images), net.predict(images.reshape(5, 16)))
    assert net.validate(images.reshape(5, 16)).shape == (5, 1, 4, 4)
    with pytest.raises(ValueError, match=r"16 features per sample \(the model's input shape "
                                         r"\(N, 1, 4, 4\)\), got 15"):
        net.predict(rng.standard_normal((5, 15)))
    with pytest.raises(ValueError, match=r"for one sample use x\[None\]"):
        net.predict(images[0])
    assert "(N, 3)" in net.summary()
