"""Optimizers against the torch.optim algorithms written out naively, plus the plumbing."""

import copy
import json
import math

import numpy as np
import pytest

from chainrule.models import TwoLayerNet
from chainrule.network import ParamDict
from chainrule.optim import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    RMSprop,
    get_optimizer,
)

SHAPES = {"W1": (3, 4), "b1": (4,), "W2": (2, 3, 2)}
STEPS = 10


def make_problem(seed=0, dtype=np.float64, steps=STEPS):
    """Parameters (a dict) and a fixed sequence of gradient dicts."""
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    grads = [{k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
             for _ in range(steps)]
    return params, grads


def clone(params):
    return {k: v.copy() for k, v in params.items()}


# ---- the torch.optim algorithms, written out naively (new arrays, no in-place tricks) ----

def ref_sgd(params, grad_seq, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    p, buf, out = clone(params), {}, []
    for grads in grad_seq:
        for k in p:
            g = grads[k]
            if weight_decay != 0:
                g = g + weight_decay * p[k]
            if momentum != 0:
                if k not in buf:
                    buf[k] = g
                else:
                    buf[k] = momentum * buf[k] + g
                if nesterov:
                    g = g + momentum * buf[k]
                else:
                    g = buf[k]
            p[k] = p[k] - lr * g
        out.append(clone(p))
    return out


def ref_adagrad(params, grad_seq, lr, eps=1e-10):
    p, s, out = clone(params), {k: np.zeros_like(v) for k, v in params.items()}, []
    for grads in grad_seq:
        for k in p:
            g = grads[k]
            s[k] = s[k] + g * g
            p[k] = p[k] - lr * g / (np.sqrt(s[k]) + eps)
        out.append(clone(p))
    return out


def ref_rmsprop(params, grad_seq, lr, alpha=0.99, eps=1e-8):
    p, v, out = clone(params), {k: np.zeros_like(x) for k, x in params.items()}, []
    for grads in grad_seq:
        for k in p:
            g = grads[k]
            v[k] = alpha * v[k] + (1 - alpha) * g**2
            p[k] = p[k] - lr * g / (np.sqrt(v[k]) + eps)
        out.append(clone(p))
    return out


def ref_adam(params, grad_seq, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
             decoupled=False):
    p, out = clone(params), []
    m = {k: np.zeros_like(x) for k, x in params.items()}
    v = {k: np.zeros_like(x) for k, x in params.items()}
    for t, grads in enumerate(grad_seq, start=1):
        for k in p:
            g = grads[k]
            if decoupled:
                p[k] = p[k] - lr * weight_decay * p[k]
            elif weight_decay != 0:
                g = g + weight_decay * p[k]
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v[k] = beta2 * v[k] + (1 - beta2) * g**2
            m_hat = m[k] / (1 - beta1**t)
            v_hat = v[k] / (1 - beta2**t)
            p[k] = p[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(clone(p))
    return out


CASES = [
    ("sgd", SGD(lr=0.1), lambda P, G: ref_sgd(P, G, 0.1)),
    ("sgd-momentum", SGD(lr=0.1, momentum=0.9), lambda P, G: ref_sgd(P, G, 0.1, 0.9)),
    ("sgd-nesterov", SGD(lr=0.05, momentum=0.8, nesterov=True),
     lambda P, G: ref_sgd(P, G, 0.05, 0.8, nesterov=True)),
    ("sgd-wd", SGD(lr=0.1, weight_decay=0.3), lambda P, G: ref_sgd(P, G, 0.1, weight_decay=0.3)),
    ("sgd-momentum-wd", SGD(lr=0.1, momentum=0.5, weight_decay=0.2),
     lambda P, G: ref_sgd(P, G, 0.1, 0.5, weight_decay=0.2)),
    ("sgd-nesterov-wd", SGD(lr=0.1, momentum=0.7, nesterov=True, weight_decay=0.1),
     lambda P, G: ref_sgd(P, G, 0.1, 0.7, nesterov=True, weight_decay=0.1)),
    ("momentum", Momentum(lr=0.1, momentum=0.8), lambda P, G: ref_sgd(P, G, 0.1, 0.8)),
    ("nesterov", Nesterov(lr=0.1), lambda P, G: ref_sgd(P, G, 0.1, 0.9, nesterov=True)),
    ("adagrad", AdaGrad(lr=0.2), lambda P, G: ref_adagrad(P, G, 0.2)),
    ("adagrad-eps", AdaGrad(lr=0.2, eps=0.5), lambda P, G: ref_adagrad(P, G, 0.2, 0.5)),
    ("rmsprop", RMSprop(lr=0.05), lambda P, G: ref_rmsprop(P, G, 0.05)),
    ("rmsprop-args", RMSprop(lr=0.05, decay_rate=0.5, eps=0.3),
     lambda P, G: ref_rmsprop(P, G, 0.05, 0.5, 0.3)),
    ("adam", Adam(lr=0.05), lambda P, G: ref_adam(P, G, 0.05)),
    ("adam-args", Adam(lr=0.05, beta1=0.5, beta2=0.8, eps=0.4),
     lambda P, G: ref_adam(P, G, 0.05, 0.5, 0.8, 0.4)),
    ("adam-l2", Adam(lr=0.05, weight_decay=0.3),
     lambda P, G: ref_adam(P, G, 0.05, weight_decay=0.3)),
    ("adamw", AdamW(lr=0.05), lambda P, G: ref_adam(P, G, 0.05, weight_decay=0.01,
                                                    decoupled=True)),
    ("adamw-strong", AdamW(lr=0.05, weight_decay=0.5, eps=0.2),
     lambda P, G: ref_adam(P, G, 0.05, eps=0.2, weight_decay=0.5, decoupled=True)),
]
IDS = [case[0] for case in CASES]


def fresh(opt):
    """A new optimizer of the same class and hyperparameters (CASES stay unused)."""
    return copy.deepcopy(opt)


def run(opt, params, grad_seq):
    out = []
    for grads in grad_seq:
        opt.update(params, grads)
        out.append(clone(params))
    return out


@pytest.mark.parametrize(("name", "opt", "reference"), CASES, ids=IDS)
def test_trajectory_matches_the_documented_algorithm(name, opt, reference):
    params, grad_seq = make_problem()
    expected = reference(params, grad_seq)
    got = run(fresh(opt), params, grad_seq)
    for step, (e, g) in enumerate(zip(expected, got, strict=True)):
        for k in SHAPES:
            np.testing.assert_allclose(g[k], e[k], rtol=1e-12, atol=0,
                                       err_msg=f"{name} step {step + 1} {k}")


@pytest.mark.parametrize(("name", "opt", "reference"), CASES, ids=IDS)
def test_float32_stays_float32_and_tracks_float64(name, opt, reference):
    params, grad_seq = make_problem(seed=1, dtype=np.float32)
    opt = fresh(opt)
    opt.lr = np.float64(opt.lr)  # a schedule may hand over a NumPy float64
    got = run(opt, params, grad_seq)
    assert all(p.dtype == np.float32 for p in params.values())
    assert all(a.dtype == np.float32 for arrays in opt.state.values() for a in arrays)
    p64 = {k: v.astype(np.float64) for k, v in make_problem(seed=1)[0].items()}
    g64 = [{k: v.astype(np.float64) for k, v in g.items()} for g in grad_seq]
    expected = reference({k: v.astype(np.float32).astype(np.float64) for k, v in p64.items()},
                         g64)
    for k in SHAPES:
        np.testing.assert_allclose(got[-1][k], expected[-1][k], rtol=2e-5, atol=2e-5)


def test_momentum_and_nesterov_are_sgd_exactly():
    params, grad_seq = make_problem()
    pairs = [(Momentum(lr=0.1, momentum=0.8), SGD(lr=0.1, momentum=0.8)),
             (Momentum(), SGD(momentum=0.9)),
             (Nesterov(lr=0.1, momentum=0.8), SGD(lr=0.1, momentum=0.8, nesterov=True)),
             (Nesterov(), SGD(momentum=0.9, nesterov=True))]
    for a, b in pairs:
        for x, y in zip(run(a, clone(params), grad_seq), run(b, clone(params), grad_seq),
                        strict=True):
            assert all(np.array_equal(x[k], y[k]) for k in SHAPES)


def test_book_momentum_is_the_same_trajectory_for_a_constant_lr():
    params, grad_seq = make_problem()
    lr, mu = 0.1, 0.9
    p, v, book = clone(params), {k: np.zeros_like(x) for k, x in params.items()}, []
    for grads in grad_seq:  # book 1, common/optimizer.py Momentum
        for k in p:
            v[k] = mu * v[k] - lr * grads[k]
            p[k] += v[k]
        book.append(clone(p))
    got = run(SGD(lr=lr, momentum=mu), clone(params), grad_seq)
    for x, y in zip(got, book, strict=True):
        for k in SHAPES:
            np.testing.assert_allclose(x[k], y[k], rtol=1e-12, atol=1e-14)


def test_nesterov_is_bengios_reformulation_not_the_books():
    params, grad_seq = make_problem()
    lr, mu = 0.1, 0.9

    def velocity_form(v_used_is_old):
        p, v = clone(params), {k: np.zeros_like(x) for k, x in params.items()}
        for grads in grad_seq:
            for k in p:
                v_old = v[k]
                v[k] = mu * v[k] - lr * grads[k]
                p[k] = p[k] + mu**2 * (v_old if v_used_is_old else v[k]) - (1 + mu) * lr * grads[k]
        return p

    got = run(Nesterov(lr=lr, momentum=mu), clone(params), grad_seq)[-1]
    bengio, book = velocity_form(True), velocity_form(False)
    for k in SHAPES:
        np.testing.assert_allclose(got[k], bengio[k], rtol=1e-12, atol=1e-14)
    assert not np.allclose(got["W1"], book["W1"], rtol=1e-6)


# ---- containers: dict, list, ParamDict; in place; grads untouched ----

@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_dict_and_list_params_give_the_same_result(name):
    params, grad_seq = make_problem()
    as_dict = clone(params)
    as_list = [v.copy() for v in params.values()]
    opt_d, opt_l = get_optimizer(name), get_optimizer(name)
    for grads in grad_seq:
        opt_d.update(as_dict, grads)
        opt_l.update(as_list, list(grads.values()))
    assert all(np.array_equal(a, b) for a, b in zip(as_dict.values(), as_list, strict=True))


def test_grads_are_looked_up_by_key_not_by_order():
    params, grad_seq = make_problem()
    a, b = clone(params), clone(params)
    opt_a, opt_b = Adam(lr=0.1), Adam(lr=0.1)
    for grads in grad_seq:
        opt_a.update(a, grads)
        opt_b.update(b, dict(reversed(list(grads.items()))))
    assert all(np.array_equal(a[k], b[k]) for k in SHAPES)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_updates_in_place_and_leaves_grads_alone(name):
    params, grad_seq = make_problem()
    ids = {k: id(v) for k, v in params.items()}
    before = clone(params)
    grads_before = [clone(g) for g in grad_seq]
    opt = get_optimizer(name, weight_decay=0.1) if name in ("sgd", "adam", "adamw") \
        else get_optimizer(name)
    run(opt, params, grad_seq)
    assert {k: id(v) for k, v in params.items()} == ids
    assert all(not np.array_equal(params[k], before[k]) for k in SHAPES)
    assert all(np.array_equal(g[k], h[k]) for g, h in zip(grad_seq, grads_before, strict=True)
               for k in SHAPES)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_model_paramdict_updates_the_arrays_the_layers_hold(name):
    model = TwoLayerNet(4, 5, 3, random_state=0)
    assert isinstance(model.params, ParamDict)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    W1 = model.layers[0].params[0]
    before = W1.copy()
    opt = get_optimizer(name, lr=0.5)
    for _ in range(2):
        model.forward(x, t)
        model.backward()
        opt.update(model.params, model.grads)
    assert model.layers[0].params[0] is W1 and model.params["W1"] is W1
    assert not np.array_equal(W1, before)


def test_model_sgd_step_is_minus_lr_times_the_gradient():
    model = TwoLayerNet(4, 5, 3, random_state=0)
    x, t = np.eye(4)[:3], np.array([0, 1, 2])
    model.forward(x, t)
    model.backward()
    expected = {k: p - 0.1 * model.grads[k] for k, p in model.params.items()}
    SGD(lr=0.1).update(model.params, model.grads)
    for k, p in model.params.items():
        np.testing.assert_array_equal(p, expected[k])
    np.testing.assert_array_equal(model.layers[0].params[0], expected["W1"])


def test_state_is_lazy_and_keyed_by_position():
    params, grad_seq = make_problem()
    opt = Adam()
    assert opt.state == {"exp_avg": [], "exp_avg_sq": []} and opt.t == 0
    opt.update(params, grad_seq[0])
    assert opt.t == 1
    assert [a.shape for a in opt.state["exp_avg"]] == list(SHAPES.values())


# ---- errors: misaligned or changing params ----

def test_misaligned_grads_are_refused_with_the_key_and_shapes():
    params, grad_seq = make_problem()
    opt = SGD()
    grads = clone(grad_seq[0])
    grads["b1"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"'b1'.*\(5,\).*\(4,\)"):
        opt.update(params, grads)
    del grads["b1"]
    with pytest.raises(ValueError, match=r"missing \['b1'\]"):
        opt.update(params, grads)
    grads["b1"], grads["extra"] = grad_seq[0]["b1"], np.zeros(1)
    with pytest.raises(ValueError, match=r"extra \['extra'\]"):
        opt.update(params, grads)
    with pytest.raises(ValueError, match="params has 3, grads has 2"):
        opt.update(list(params.values()), list(grad_seq[0].values())[:2])
    with pytest.raises(ValueError, match=r"gradient of params\[1\] has shape \(3,\), but the "
                                         r"parameter has shape \(4,\)"):
        opt.update(list(params.values()), [np.zeros((3, 4)), np.zeros(3), np.zeros((2, 3, 2))])


def test_changing_params_between_calls_is_refused():
    params, grad_seq = make_problem()
    opt = Adam()
    opt.update(params, grad_seq[0])
    smaller = {k: v for k, v in params.items() if k != "W2"}
    with pytest.raises(ValueError, match=r"params do not match the optimizer's state "
                                         r"\(the state of \['W2'\] has no parameter\)"):
        opt.update(smaller, {k: grad_seq[1][k] for k in smaller})
    other = clone(params)
    other["b1"] = np.zeros(7)
    grads = clone(grad_seq[1])
    grads["b1"] = np.zeros(7)
    with pytest.raises(ValueError, match=r"params\['b1'\] has shape \(7,\), but the "
                                         r"optimizer's state for it has shape \(4,\)"):
        opt.update(other, grads)
    assert opt.t == 1


def test_non_float_params_are_refused():
    with pytest.raises(TypeError, match=r"params\[0\] must be a writeable float.*int64"):
        SGD().update([np.arange(3)], [np.ones(3)])
    with pytest.raises(TypeError, match=r"params\['w'\].*list"):
        SGD().update({"w": [1.0, 2.0]}, {"w": np.ones(2)})


@pytest.mark.parametrize("opt", [Adam(lr=0.01, weight_decay=0.1), AdamW(lr=0.01)],
                         ids=["Adam+L2", "AdamW"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_small_parameters_give_the_same_bits(monkeypatch, opt, dtype):
    """Adam packs biases and small weights into flat arrays: the same numbers as one
    update per array, weight decay and its no_decay names included."""
    import chainrule.optim as optim

    rng = np.random.default_rng(3)
    shapes = {"W1": (80, 70), "b1": (70,), "W2": (70, 5), "b2": (5,), "gamma": (70,),
              "W3": (5, 70)}
    start = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    grads = [{k: (rng.standard_normal(s) * (k != "b2")).astype(dtype)  # b2's g: 0
              for k, s in shapes.items()} for _ in range(25)]  # flushes at t = 1, 10, 20
    assert 350 <= optim.PACK_SIZE < 80 * 70  # W1 alone, the rest in two packs (decay or not)
    results = []
    for pack_size in (optim.PACK_SIZE, 0):
        monkeypatch.setattr(optim, "PACK_SIZE", pack_size)
        params = ParamDict({k: v.copy() for k, v in start.items()})
        params.no_decay = frozenset({"b1", "b2", "gamma"})
        fresh_opt = copy.deepcopy(opt)
        for g in grads:
            fresh_opt.update(params, g)
        results.append((params, fresh_opt.state_dict()))
    (packed, packed_state), (single, single_state) = results
    for k in shapes:
        assert np.array_equal(packed[k], single[k]), k
    for slot, arrays in packed_state["state"].items():
        for a, b in zip(arrays, single_state["state"][slot], strict=True):
            assert a.dtype == dtype and np.array_equal(a, b), slot


# ---- state_dict ----

@pytest.mark.parametrize(("name", "opt", "reference"), CASES, ids=IDS)
def test_state_dict_round_trip_continues_bit_for_bit(name, opt, reference):
    params, grad_seq = make_problem(steps=10)
    uninterrupted = run(fresh(opt), clone(params), grad_seq)[-1]
    first = fresh(opt)
    resumed = clone(params)
    run(first, resumed, grad_seq[:5])
    saved = first.state_dict()
    json.dumps({k: v for k, v in saved.items() if k != "state"})  # plain data
    assert all(isinstance(a, np.ndarray) for arrays in saved["state"].values() for a in arrays)
    second = type(opt)()  # default hyperparameters: the load restores them
    second.load_state_dict(saved)
    for arrays in saved["state"].values():  # the optimizer holds copies
        for a in arrays:
            a[...] = np.nan
    run(second, resumed, grad_seq[5:])
    assert second.state_dict()["hyperparams"] == saved["hyperparams"]
    assert all(np.array_equal(resumed[k], uninterrupted[k]) for k in SHAPES)


def test_state_dict_contents():
    params, grad_seq = make_problem()
    opt = Adam(lr=0.01, weight_decay=0.1)
    run(opt, params, grad_seq[:3])
    d = opt.state_dict()
    assert d["type"] == "Adam" and d["step"] == 3
    assert d["hyperparams"] == {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                                "weight_decay": 0.1}
    assert set(d["state"]) == {"exp_avg", "exp_avg_sq"}
    assert d["state"]["exp_avg"][0] is not opt.state["exp_avg"][0]
    assert SGD().state_dict() == {"type": "SGD", "step": 0, "state": {}, "keys": None,
                                  "hyperparams": {"lr": 0.01, "momentum": 0.0,
                                                  "nesterov": False, "weight_decay": 0.0}}


def test_load_state_dict_refuses_inconsistent_data():
    params, grad_seq = make_problem()
    opt = Adam()
    run(opt, params, grad_seq[:2])
    good = opt.state_dict()
    with pytest.raises(ValueError, match="for Adam, not SGD"):
        SGD().load_state_dict(good)
    bad = dict(good, state={"exp_avg": good["state"]["exp_avg"],
                            "exp_avg_sq": [np.zeros((3, 4)), np.zeros(5), np.zeros((2, 3, 2))]})
    with pytest.raises(ValueError, match="exp_avg_sq.*shapes"):
        Adam().load_state_dict(bad)
    with pytest.raises(ValueError, match="same number of arrays"):
        Adam().load_state_dict(dict(good, state={"exp_avg": good["state"]["exp_avg"][:2],
                                                 "exp_avg_sq": good["state"]["exp_avg_sq"]}))
    with pytest.raises(ValueError, match="slots"):
        Adam().load_state_dict(dict(good, state={"exp_avg": []}))
    with pytest.raises(ValueError, match="missing"):
        Adam().load_state_dict({"type": "Adam"})
    with pytest.raises(ValueError, match="beta1 must be a number in"):
        Adam().load_state_dict(dict(good, hyperparams=dict(good["hyperparams"], beta1=1.5)))
    with pytest.raises(ValueError, match="inconsistent: step 0"):
        Adam().load_state_dict(dict(good, step=0))
    with pytest.raises(ValueError, match="step must be a non-negative integer"):
        Adam().load_state_dict(dict(good, step=-1))
    untouched = Adam(lr=0.5)
    with pytest.raises(ValueError):
        untouched.load_state_dict(bad)
    assert untouched.lr == 0.5 and untouched.t == 0
    loaded = Adam()
    loaded.load_state_dict(good)
    with pytest.raises(ValueError, match=r"params\[0\] has shape \(4, 3\).*\(3, 4\)"):
        loaded.update([np.zeros((4, 3)), np.zeros(4), np.zeros((2, 3, 2))],
                      [np.zeros((4, 3)), np.zeros(4), np.zeros((2, 3, 2))])


# ---- subnormal flushing ----

STATEFUL = [(Adam, {}), (AdamW, {}), (RMSprop, {}), (AdaGrad, {}), (Momentum, {}),
            (Nesterov, {}), (SGD, {"momentum": 0.5, "weight_decay": 0.01})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls, extra", STATEFUL, ids=[c.__name__ for c, _ in STATEFUL])
def test_no_state_accumulates_subnormals_under_zero_gradients(cls, extra, dtype):
    """Gradients of every magnitude, then 3000 steps of exact zeros (a dead unit).

    Every state array decays (or, for AdaGrad, stays) into the subnormal range; flushed,
    an entry is subnormal for at most FLUSH_EVERY steps and none is right after a flush.
    Unflushed, m (beta 0.9) spends about 150 steps there and v (beta 0.999) thousands.
    """
    from chainrule.optim import FLUSH_EVERY

    assert 10 % FLUSH_EVERY == 0  # the checks below hold for any cadence dividing 10
    tiny, smallest = np.finfo(dtype).tiny, np.finfo(dtype).smallest_subnormal
    magnitudes = np.geomspace(1e-3, float(np.sqrt(smallest)) * 1e3, 40).astype(dtype)
    params = [np.ones(40, dtype)]
    opt = cls(lr=1e-3, **extra)
    opt.update(params, [magnitudes.copy()])  # state of every magnitude
    entry_steps = 0
    for step in range(2, 3000):
        opt.update(params, [np.zeros(40, dtype)])
        sub = sum(int(np.count_nonzero((a != 0) & (np.abs(a) < tiny)))
                  for arrays in opt.state.values() for a in arrays)
        entry_steps += sub
        if step % 10 == 0:
            assert sub == 0, f"{sub} subnormal entries right after the flush at step {step}"
        assert all(a.dtype == dtype for arrays in opt.state.values() for a in arrays)
    slots = len(opt.state)
    assert entry_steps <= slots * 40 * 10, entry_steps
    assert np.all(np.isfinite(params[0]))


# ---- hyperparameters and the registry ----

BAD = [
    (SGD, {"lr": -1}, ValueError, "lr must be a positive number, got -1"),
    (SGD, {"lr": 0}, ValueError, "lr must be a positive number, got 0"),
    (SGD, {"lr": float("nan")}, ValueError, "lr must be a positive number, got nan"),
    (SGD, {"lr": True}, TypeError, "lr must be a number, got bool True"),
    (SGD, {"lr": "0.1"}, TypeError, "lr must be a number, got str '0.1'"),
    (SGD, {"momentum": 1.0}, ValueError, "momentum must be a number in [0, 1), got 1.0"),
    (SGD, {"momentum": -0.5}, ValueError, "momentum must be a number in [0, 1), got -0.5"),
    (SGD, {"weight_decay": -1e-4}, ValueError, "weight_decay must be a non-negative number, "
                                               "got -0.0001"),
    (SGD, {"nesterov": True}, ValueError, "nesterov=True requires momentum > 0, got momentum=0.0"),
    (SGD, {"nesterov": 1, "momentum": 0.9}, TypeError, "nesterov must be True or False, got int 1"),
    (Momentum, {"momentum": 1}, ValueError, "momentum must be a number in [0, 1), got 1"),
    (Nesterov, {"momentum": 0}, ValueError, "requires momentum > 0, got momentum=0"),
    (AdaGrad, {"eps": 0}, ValueError, "eps must be a positive number, got 0"),
    (AdaGrad, {"lr": None}, TypeError, "lr must be a number, got NoneType None"),
    (RMSprop, {"decay_rate": 1}, ValueError, "decay_rate must be a number in [0, 1), got 1"),
    (RMSprop, {"eps": -1e-8}, ValueError, "eps must be a positive number, got -1e-08"),
    (Adam, {"beta1": 1.0}, ValueError, "beta1 must be a number in [0, 1), got 1.0"),
    (Adam, {"beta2": -0.1}, ValueError, "beta2 must be a number in [0, 1), got -0.1"),
    (Adam, {"beta1": (0.9, 0.999)}, TypeError, "beta1 must be a number, got tuple"),
    (Adam, {"weight_decay": -1}, ValueError, "weight_decay must be a non-negative number, got -1"),
    (AdamW, {"weight_decay": float("inf")}, ValueError,
     "weight_decay must be a non-negative number, got inf"),
    (AdamW, {"lr": -0.001}, ValueError, "lr must be a positive number, got -0.001"),
]


@pytest.mark.parametrize(("cls", "kwargs", "exc", "message"), BAD,
                         ids=[f"{c.__name__}-{next(iter(k))}-{k[next(iter(k))]!r}"
                              for c, k, _, _ in BAD])
def test_bad_hyperparameters_name_the_argument_and_value(cls, kwargs, exc, message):
    with pytest.raises(exc) as info:
        cls(**kwargs)
    assert message in str(info.value)


def test_numpy_numbers_are_accepted_and_stored_as_floats():
    opt = Adam(lr=np.float32(0.01), beta1=np.float64(0.5), weight_decay=0)
    assert type(opt.lr) is float and type(opt.beta1) is float and type(opt.weight_decay) is float
    assert math.isclose(opt.lr, 0.01, rel_tol=1e-7)


def test_registry_and_get_optimizer():
    assert OPTIMIZERS == {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov,
                          "adagrad": AdaGrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
    opt = get_optimizer("Adam", lr=0.01, beta2=0.9)
    assert type(opt) is Adam and opt.lr == 0.01 and opt.beta2 == 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; choose one of sgd, momentum"):
        get_optimizer("lbfgs")
    with pytest.raises(TypeError, match="name must be a string"):
        get_optimizer(SGD)
    assert repr(Momentum()) == "Momentum(lr=0.01, momentum=0.9, nesterov=False, weight_decay=0.0)"


def test_lr_is_a_plain_attribute_read_at_each_update():
    params, grad_seq = make_problem()
    a, b = clone(params), clone(params)
    opt = SGD(lr=0.1, momentum=0.9)
    ref = []
    for step, grads in enumerate(grad_seq):
        opt.lr = 0.1 / (1 + step)
        opt.update(a, grads)
        ref.append(0.1 / (1 + step))
    buf = None
    for lr, grads in zip(ref, grad_seq, strict=True):
        buf = grads if buf is None else {k: 0.9 * buf[k] + grads[k] for k in grads}
        b = {k: b[k] - lr * buf[k] for k in b}
    for k in SHAPES:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12)


# ---- against PyTorch itself, where it happens to be installed ----

@pytest.mark.parametrize(("name", "opt", "reference"), CASES, ids=IDS)
def test_matches_torch_when_available(name, opt, reference):
    torch = pytest.importorskip("torch")
    params, grad_seq = make_problem()
    hp = opt.state_dict()["hyperparams"]
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in params.values()]
    cls = type(opt).__name__
    if cls in ("SGD", "Momentum", "Nesterov"):
        t_opt = torch.optim.SGD(tensors, lr=hp["lr"], momentum=hp["momentum"],
                                nesterov=hp["nesterov"], weight_decay=hp["weight_decay"])
    elif cls == "AdaGrad":
        t_opt = torch.optim.Adagrad(tensors, lr=hp["lr"], eps=hp["eps"])
    elif cls == "RMSprop":
        t_opt = torch.optim.RMSprop(tensors, lr=hp["lr"], alpha=hp["decay_rate"], eps=hp["eps"])
    else:
        t_cls = torch.optim.AdamW if cls == "AdamW" else torch.optim.Adam
        t_opt = t_cls(tensors, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                      weight_decay=hp["weight_decay"])
    got = run(fresh(opt), clone(params), grad_seq)[-1]
    for grads in grad_seq:
        for tensor, g in zip(tensors, grads.values(), strict=True):
            tensor.grad = torch.tensor(g, dtype=torch.float64)
        t_opt.step()
    for tensor, k in zip(tensors, SHAPES, strict=True):
        np.testing.assert_allclose(got[k], tensor.detach().numpy(), rtol=1e-10, atol=1e-12)
