"""Trainer.fit against seed 003's loop written by hand, History, clipping, schedules, errors."""

import csv
import json
import math
import sys

import numpy as np
import pytest

from chainrule.data import load_spiral
from chainrule.models import TwoLayerNet
from chainrule.optim import SGD, Adam
from chainrule.schedules import StepLR
from chainrule.trainer import History, Trainer, TrainingDiverged, clip_grads

N, FEATURES, CLASSES = 23, 4, 3


def make_data(n=N, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, FEATURES))
    t = rng.integers(0, CLASSES, n)
    return x, t


def make_model(**kwargs):
    return TwoLayerNet(FEATURES, 5, CLASSES, random_state=0, **kwargs)


def weights(model):
    return {name: p.copy() for name, p in model.params.items()}


def assert_same_weights(a, b):
    assert a.params.keys() == b.params.keys()
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]), name


def hand_loop(model, optimizer, x, t, *, epochs, batch_size, seed, drop_last=False,
              max_grad=None, lrs=None, eval_data=None):
    """Seed 003's four steps, one fresh permutation per epoch from default_rng(seed).

    Returns per-iteration losses, batch sizes and correct counts (from the predictions
    made before each update), the per-epoch eval (loss, accuracy), and how many
    iterations were clipped.
    """
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    rec = {"loss": [], "size": [], "correct": [], "eval": [], "clipped": 0}
    for epoch in range(epochs):
        if lrs is not None:
            optimizer.lr = lrs[epoch]
        perm = rng.permutation(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = perm[start:start + batch_size]
            xb, tb = x[idx], t[idx]
            labels = tb if tb.ndim == 1 else np.argmax(tb, axis=1)
            predicted = np.argmax(model.predict(xb), axis=1)
            loss = model.forward(xb, tb)
            model.backward()
            if max_grad is not None:
                grads = list(model.grads.values())
                norm = np.sqrt(sum(np.sum(g * g) for g in grads))
                if norm > max_grad:
                    rec["clipped"] += 1
                    for g in grads:
                        g *= max_grad / (norm + 1e-6)
            optimizer.update(model.params, model.grads)
            rec["loss"].append(loss)
            rec["size"].append(len(idx))
            rec["correct"].append(int(np.count_nonzero(predicted == labels)))
        if eval_data is not None:
            rec["eval"].append((model.loss(*eval_data), model.accuracy(*eval_data)))
    return rec


# ---- the loop itself -------------------------------------------------------------------


@pytest.mark.parametrize("make_opt", [lambda: SGD(lr=0.5), lambda: Adam(lr=0.05)],
                         ids=["SGD", "Adam"])
@pytest.mark.parametrize("seed_as_generator", [False, True])
def test_fit_equals_seed_003_hand_loop_bit_for_bit(make_opt, seed_as_generator):
    """Same seed: per-epoch default_rng(seed).permutation + forward/backward/update by hand."""
    x, t = make_data()
    by_hand, trained = make_model(), make_model()
    rec = hand_loop(by_hand, make_opt(), x, t, epochs=3, batch_size=5, seed=7)
    random_state = np.random.default_rng(7) if seed_as_generator else 7
    history = Trainer(trained, make_opt(), random_state=random_state).fit(
        x, t, max_epoch=3, batch_size=5, verbose=0)
    assert_same_weights(trained, by_hand)
    assert history.loss == rec["loss"]
    assert not np.array_equal(trained.params["W1"], make_model().params["W1"])  # it moved


def test_shuffle_false_visits_rows_in_order():
    """shuffle=False: batches are 0..N-1 in order, as a hand loop over np.arange."""
    x, t = make_data()
    by_hand, trained = make_model(), make_model()
    opt = SGD(lr=0.3)
    for _ in range(2):
        for start in range(0, N, 4):
            by_hand.forward(x[start:start + 4], t[start:start + 4])
            by_hand.backward()
            opt.update(by_hand.params, by_hand.grads)
    Trainer(trained, SGD(lr=0.3), random_state=0).fit(x, t, max_epoch=2, batch_size=4,
                                                      verbose=0, shuffle=False)
    assert_same_weights(trained, by_hand)


# ---- History ---------------------------------------------------------------------------


@pytest.mark.parametrize("drop_last", [False, True])
def test_history_lengths_alignment_and_running_metrics(drop_last):
    """len(loss) = epochs * ceil/floor(N / b); epoch metrics equal a hand replay's."""
    x, t = make_data()
    x_eval, t_eval = make_data(n=11, seed=9)
    epochs, batch = 4, 5
    by_hand, trained = make_model(), make_model()
    rec = hand_loop(by_hand, SGD(lr=0.5), x, t, epochs=epochs, batch_size=batch, seed=3,
                    drop_last=drop_last, eval_data=(x_eval, t_eval))
    h = Trainer(trained, SGD(lr=0.5), random_state=3).fit(
        x, t, max_epoch=epochs, batch_size=batch, eval_data=(x_eval, t_eval), verbose=0,
        drop_last=drop_last)
    per_epoch = N // batch if drop_last else math.ceil(N / batch)
    assert per_epoch == (4 if drop_last else 5)
    assert len(h.loss) == epochs * per_epoch == len(rec["loss"])
    assert h.epoch == [1, 2, 3, 4]
    for name in History.EPOCH_FIELDS:
        assert len(getattr(h, name)) == epochs, name
    assert h.loss_list is h.loss
    assert h.loss == rec["loss"]
    for e in range(epochs):
        sl = slice(e * per_epoch, (e + 1) * per_epoch)
        losses, sizes, correct = rec["loss"][sl], rec["size"][sl], rec["correct"][sl]
        seen = sum(sizes)
        assert seen == (20 if drop_last else N)
        weighted = sum(loss * size for loss, size in zip(losses, sizes, strict=True)) / seen
        assert h.train_loss[e] == pytest.approx(weighted, rel=1e-12)
        assert h.train_accuracy[e] == sum(correct) / seen
        assert h.eval_loss[e] == pytest.approx(rec["eval"][e][0], rel=1e-12)
        assert h.eval_accuracy[e] == pytest.approx(rec["eval"][e][1], abs=1e-15)
        assert h.lr[e] == 0.5
        assert h.seconds[e] >= 0
    # the last epoch's eval also equals the trained model's own loss / accuracy
    assert h.eval_loss[-1] == pytest.approx(trained.loss(x_eval, t_eval), rel=1e-12)
    assert h.eval_accuracy[-1] == trained.accuracy(x_eval, t_eval)


def test_history_without_eval_data_holds_none():
    """No eval_data: eval_loss and eval_accuracy are one None per epoch."""
    x, t = make_data()
    h = Trainer(make_model(), SGD(), random_state=0).fit(x, t, max_epoch=2, batch_size=8,
                                                         verbose=0)
    assert h.eval_loss == [None, None] and h.eval_accuracy == [None, None]


def test_history_dict_json_and_csv_round_trip(tmp_path):
    """from_dict(to_dict()) == original (also through JSON); CSV: header + one row per epoch."""
    x, t = make_data()
    h = Trainer(make_model(), SGD(lr=0.2), random_state=1).fit(
        x, t, max_epoch=3, batch_size=6, eval_data=make_data(n=7, seed=2), verbose=0)
    assert History.from_dict(h.to_dict()) == h
    assert History.from_dict(json.loads(json.dumps(h.to_dict()))) == h
    d = h.to_dict()
    d["loss"].append(123.0)  # plain copies: editing the dict leaves the History alone
    assert len(h.loss) == 3 * 4  # ceil(23 / 6) iterations per epoch

    path = tmp_path / "history.csv"
    h.to_csv(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["epoch", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy",
                       "lr", "seconds"]
    assert len(rows) == 1 + 3
    for e, row in enumerate(rows[1:]):
        assert int(row[0]) == e + 1
        assert float(row[1]) == h.train_loss[e]
        assert float(row[2]) == h.train_accuracy[e]
        assert float(row[3]) == h.eval_loss[e]
        assert float(row[4]) == h.eval_accuracy[e]
        assert float(row[5]) == h.lr[e]


def test_history_csv_writes_empty_cells_for_missing_eval(tmp_path):
    """to_csv without eval data: the eval columns are empty strings, not 'None'."""
    x, t = make_data()
    h = Trainer(make_model(), SGD(), random_state=1).fit(x, t, max_epoch=2, batch_size=6,
                                                         verbose=0)
    h.to_csv(tmp_path / "h.csv")
    with open(tmp_path / "h.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    assert all(r["eval_loss"] == "" and r["eval_accuracy"] == "" for r in rows)


# ---- continuing ------------------------------------------------------------------------


@pytest.mark.parametrize("make_opt", [lambda: SGD(lr=0.5), lambda: Adam(lr=0.05)],
                         ids=["SGD", "Adam"])
def test_second_fit_continues_bit_for_bit(make_opt):
    """fit(max_epoch=2) then fit(max_epoch=4) == one fit(max_epoch=4): weights and history."""
    x, t = make_data()
    ev = make_data(n=9, seed=4)
    one = Trainer(make_model(), make_opt(), random_state=11)
    h1 = one.fit(x, t, max_epoch=4, batch_size=5, eval_data=ev, verbose=0)
    two = Trainer(make_model(), make_opt(), random_state=11)
    two.fit(x, t, max_epoch=2, batch_size=5, eval_data=ev, verbose=0)
    assert two.epoch == 2 and two.iteration == 10
    h2 = two.fit(x, t, max_epoch=4, batch_size=5, eval_data=ev, verbose=0)
    assert two.epoch == 4 and two.iteration == 20
    assert_same_weights(two.model, one.model)
    d1, d2 = h1.to_dict(), h2.to_dict()
    del d1["seconds"], d2["seconds"]
    assert d1 == d2
    assert h2.epoch == [1, 2, 3, 4]


def test_fit_up_to_a_reached_epoch_does_nothing():
    """max_epoch already reached: no update, no new history."""
    x, t = make_data()
    trainer = Trainer(make_model(), SGD(), random_state=0)
    trainer.fit(x, t, max_epoch=2, batch_size=5, verbose=0)
    before, loss = weights(trainer.model), list(trainer.history.loss)
    trainer.fit(x, t, max_epoch=2, batch_size=5, verbose=0)
    assert all(np.array_equal(before[k], trainer.model.params[k]) for k in before)
    assert trainer.history.loss == loss and trainer.history.epoch == [1, 2]


# ---- gradient clipping -----------------------------------------------------------------


def test_clip_grads_scales_when_norm_exceeds_and_returns_pre_clip_norm():
    """Global norm 13 > 1: every array *= 1 / (13 + 1e-6), in place; returns 13."""
    a = np.array([3.0, 4.0])
    b = np.array([[12.0]])
    grads = {"a": a, "b": b}
    norm = clip_grads(grads, 1.0)
    assert norm == pytest.approx(13.0, rel=1e-15)
    rate = 1.0 / (13.0 + 1e-6)
    np.testing.assert_allclose(grads["a"], [3.0 * rate, 4.0 * rate], rtol=1e-15)
    np.testing.assert_allclose(grads["b"], [[12.0 * rate]], rtol=1e-15)
    assert grads["a"] is a and grads["b"] is b
    assert math.sqrt(np.sum(a * a) + np.sum(b * b)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("max_norm", [13.0, 100.0])
def test_clip_grads_leaves_norm_at_or_below_max_alone(max_norm):
    """||g|| = 13 <= max_norm: arrays untouched bit for bit, list input works, returns 13."""
    grads = [np.array([3.0, 4.0]), np.array([[12.0]])]
    copies = [g.copy() for g in grads]
    assert clip_grads(grads, max_norm) == pytest.approx(13.0, rel=1e-15)
    assert all(np.array_equal(g, c) for g, c in zip(grads, copies, strict=True))


def test_clip_grads_keeps_float32():
    """In-place scaling keeps each array's dtype."""
    g = np.full((2, 2), 10.0, dtype=np.float32)
    norm = clip_grads([g], 2.0)
    assert norm == pytest.approx(20.0)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 10.0 * 2.0 / (20.0 + 1e-6), rtol=1e-6)


def test_fit_with_max_grad_equals_hand_loop_with_clipping():
    """fit(max_grad=0.05) follows a hand loop that rescales by max/(norm + 1e-6)."""
    x, t = make_data()
    x = x * 5.0
    by_hand, trained, unclipped = make_model(), make_model(), make_model()
    rec = hand_loop(by_hand, SGD(lr=0.5), x, t, epochs=3, batch_size=5, seed=2,
                    max_grad=0.05)
    assert rec["clipped"] >= 10  # clipping really happened
    Trainer(trained, SGD(lr=0.5), random_state=2).fit(x, t, max_epoch=3, batch_size=5,
                                                      max_grad=0.05, verbose=0)
    Trainer(unclipped, SGD(lr=0.5), random_state=2).fit(x, t, max_epoch=3, batch_size=5,
                                                        verbose=0)
    for name in by_hand.params:
        np.testing.assert_allclose(trained.params[name], by_hand.params[name],
                                   rtol=1e-10, atol=1e-13)
    assert not np.allclose(unclipped.params["W2"], by_hand.params["W2"], rtol=1e-3)


# ---- schedules -------------------------------------------------------------------------


def test_step_lr_schedule_sets_lr_per_epoch():
    """StepLR(0.5, 2, 0.1) over 5 epochs: lr 0.5, 0.5, 0.05, 0.05, 0.005, used for updates."""
    x, t = make_data()
    lrs = [0.5, 0.5, 0.05, 0.05, 0.005]
    by_hand, trained = make_model(), make_model()
    # torch's rule base_lr * gamma ** (epoch // step_size), rounded as it computes it
    hand_lrs = [0.5 * 0.1 ** (e // 2) for e in range(5)]
    hand_loop(by_hand, SGD(lr=1.0), x, t, epochs=5, batch_size=5, seed=4, lrs=hand_lrs)
    opt = SGD(lr=1.0)  # the schedule overrides the constructor's lr from epoch 1
    h = Trainer(trained, opt, schedule=StepLR(0.5, step_size=2, gamma=0.1),
                random_state=4).fit(x, t, max_epoch=5, batch_size=5, verbose=0)
    assert h.lr == pytest.approx(lrs, rel=1e-15)
    assert opt.lr == pytest.approx(0.005, rel=1e-15)
    assert_same_weights(trained, by_hand)


def test_schedule_continues_from_epoch_index_on_second_fit():
    """A resumed fit calls the schedule with the epoch index it has reached (2, 3, ...)."""
    x, t = make_data()
    trainer = Trainer(make_model(), SGD(lr=1.0), schedule=StepLR(1.0, 1, gamma=0.5),
                      random_state=0)
    trainer.fit(x, t, max_epoch=2, batch_size=8, verbose=0)
    h = trainer.fit(x, t, max_epoch=4, batch_size=8, verbose=0)
    assert h.lr == [1.0, 0.5, 0.25, 0.125]


# ---- divergence ------------------------------------------------------------------------


def _first_non_finite(make_opt, x, t, batch_size, seed, per_epoch):
    """(epoch, iteration) of the first non-finite loss in a hand replay, both 1-based."""
    model, opt = make_model(activation="relu"), make_opt()
    rng = np.random.default_rng(seed)
    iteration = 0
    with np.errstate(all="ignore"):
        for epoch in range(1, 20):
            perm = rng.permutation(x.shape[0])
            for start in range(0, x.shape[0], batch_size):
                idx = perm[start:start + batch_size]
                iteration += 1
                loss = model.forward(x[idx], t[idx])
                if not math.isfinite(loss):
                    assert iteration == (epoch - 1) * per_epoch + start // batch_size + 1
                    return epoch, iteration
                model.backward()
                opt.update(model.params, model.grads)
    raise AssertionError("the hand loop never diverged")


@pytest.mark.parametrize("scale, lr", [(100.0, 1e30), (1e150, 0.1)],
                         ids=["huge-lr", "huge-inputs"])
def test_non_finite_loss_raises_training_diverged(scale, lr):
    """The first non-finite loss of a hand replay: message names that epoch, iteration, lr."""
    x, t = make_data(n=40)
    x = x * scale
    epoch, iteration = _first_non_finite(lambda: SGD(lr=lr), x, t, 10, 0, per_epoch=4)
    trainer = Trainer(make_model(activation="relu"), SGD(lr=lr), random_state=0)
    # no NumPy overflow warning escapes fit (the pytest config turns them into errors)
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit(x, t, max_epoch=20, batch_size=10, verbose=0)
    message = str(info.value)
    assert f"epoch {epoch}," in message
    assert f"iteration {iteration} " in message
    assert f"lr={lr:g}" in message
    assert "smaller learning rate" in message and "max_grad" in message
    assert len(trainer.history.loss) == iteration - 1  # finite losses only
    assert isinstance(info.value, RuntimeError)


# ---- learning --------------------------------------------------------------------------


def test_spiral_is_learned_as_in_book_2_section_1_4():
    """Spiral, TwoLayerNet(2, 10, 3), SGD(lr=1), batch 30, 300 epochs: accuracy >= 0.95."""
    x, t = load_spiral()
    model = TwoLayerNet(2, 10, 3, random_state=0)
    h = Trainer(model, SGD(lr=1.0), random_state=0).fit(x, t, max_epoch=300, batch_size=30,
                                                        verbose=0)
    assert len(h.loss) == 300 * 10
    assert model.accuracy(x, t) >= 0.95
    assert h.train_loss[-1] < 0.3 * h.train_loss[0]


# ---- bad inputs ------------------------------------------------------------------------


def _bad_fit_cases():
    x, t = make_data()
    xe, te = make_data(n=6, seed=1)
    x_nan = x.copy()
    x_nan[3, 2] = np.nan
    t_big = t.copy()
    t_big[0] = CLASSES
    return [
        ("batch_size", dict(x=x, t=t, batch_size=0), ValueError,
         r"batch_size must be a positive integer, got 0"),
        ("max_epoch", dict(x=x, t=t, max_epoch=0), ValueError,
         r"max_epoch must be a positive integer, got 0"),
        ("max_grad", dict(x=x, t=t, max_grad=-1), ValueError,
         r"max_grad must be a positive number, got -1"),
        ("lengths", dict(x=x, t=t[:-1]), ValueError,
         r"inconsistent numbers of samples: x has 23, t has 22"),
        ("features", dict(x=x[:, :3], t=t), ValueError,
         r"x must have 4 features per sample .*got 3 \(shape \(23, 3\)\)"),
        ("labels", dict(x=x, t=t_big), ValueError,
         r"t labels must be in \[0, 2\] for 3 classes, got values from 0 to 3"),
        ("nan", dict(x=x_nan, t=t), ValueError,
         r"x must be finite, got 1 NaN or inf values \(first at index \(3, 2\)\)"),
        ("eval_not_pair", dict(x=x, t=t, eval_data=(xe, te, te)), TypeError,
         r"eval_data must be a pair \(x_eval, t_eval\)"),
        ("eval_array", dict(x=x, t=t, eval_data=xe), TypeError, r"eval_data must be a pair"),
        ("eval_nan", dict(x=x, t=t, eval_data=(np.full((6, 4), np.nan), te)), ValueError,
         r"eval_data x must be finite"),
    ]


@pytest.mark.parametrize("case", _bad_fit_cases(), ids=lambda c: c[0])
def test_bad_inputs_to_fit_raise_before_training(case):
    """Each bad argument is named with expected vs got; the model and trainer stay untouched."""
    _, kwargs, exc, message = case
    model = make_model()
    before = weights(model)
    trainer = Trainer(model, SGD(), random_state=0)
    kwargs = dict(kwargs)
    x, t = kwargs.pop("x"), kwargs.pop("t")
    with pytest.raises(exc, match=message):
        trainer.fit(x, t, verbose=0, **kwargs)
    assert all(np.array_equal(before[k], model.params[k]) for k in before)
    assert trainer.epoch == 0 and trainer.iteration == 0 and trainer.history.loss == []


@pytest.mark.parametrize("which", ["features", "labels", "lengths"])
def test_bad_eval_data_errors_name_the_eval_data(which):
    """A malformed eval pair is reported as eval data, not as the training x / t."""
    x, t = make_data()
    xe, te = make_data(n=6, seed=1)
    if which == "features":
        xe = xe[:, :3]
    elif which == "labels":
        te = te.copy()
        te[0] = 7
    else:
        te = te[:-1]
    with pytest.raises(ValueError, match="eval_data"):
        Trainer(make_model(), SGD(), random_state=0).fit(x, t, eval_data=(xe, te), verbose=0)


def test_eval_data_type_error_says_what_came():
    """eval_data=ndarray: the message names what was passed (ndarray)."""
    x, t = make_data()
    with pytest.raises(TypeError, match="ndarray"):
        Trainer(make_model(), SGD(), random_state=0).fit(x, t, eval_data=x, verbose=0)


@pytest.mark.parametrize("model_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("one_hot", [False, True])
def test_fit_does_not_mutate_what_the_user_passed(model_dtype, one_hot):
    """x, t and the eval pair are bit-identical (and the same dtype) after fit."""
    x, t = make_data()
    xe, te = make_data(n=8, seed=3)
    if one_hot:
        t, te = np.eye(CLASSES)[t], np.eye(CLASSES)[te]
    copies = [a.copy() for a in (x, t, xe, te)]
    model = TwoLayerNet(FEATURES, 5, CLASSES, random_state=0, dtype=model_dtype)
    Trainer(model, Adam(lr=0.05), random_state=0).fit(
        x, t, max_epoch=3, batch_size=4, eval_data=(xe, te), max_grad=0.1, verbose=0)
    for given, copy in zip((x, t, xe, te), copies, strict=True):
        assert given.dtype == copy.dtype
        assert np.array_equal(given, copy)
    assert model.params["W1"].dtype == model_dtype


# ---- verbose ---------------------------------------------------------------------------


def test_verbose_0_prints_nothing(capsys):
    """verbose=0: nothing on stdout or stderr."""
    x, t = make_data()
    Trainer(make_model(), SGD(), random_state=0).fit(x, t, max_epoch=3, batch_size=5,
                                                     eval_data=(x, t), verbose=0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_one_line_per_epoch_to_stderr(capsys):
    """verbose=2: exactly one stderr line per epoch, 'epoch k/3' and the loss; stdout empty."""
    x, t = make_data()
    Trainer(make_model(), SGD(), random_state=0).fit(x, t, max_epoch=3, batch_size=5,
                                                     eval_data=(x, t), verbose=2)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 3
    for k, line in enumerate(lines, start=1):
        assert f"epoch {k}/3" in line and "loss" in line
    assert "eval loss" in lines[0]


def test_verbose_1_prints_epoch_lines_when_stderr_is_not_a_terminal(capsys):
    """verbose=1 with a captured (non-tty) stderr, as in a log file: a line per epoch."""
    assert not sys.stderr.isatty()
    x, t = make_data()
    Trainer(make_model(), SGD(), random_state=0).fit(x, t, max_epoch=3, batch_size=5,
                                                     verbose=1)
    out, err = capsys.readouterr()
    assert out == ""
    assert [line.split("  ")[0] for line in err.splitlines()] == ["epoch 1/3", "epoch 2/3",
                                                                  "epoch 3/3"]


# ---- callbacks -------------------------------------------------------------------------


def test_callbacks_called_once_per_epoch_with_the_trainer():
    """Each callback sees the trainer after each epoch, with epoch 1, 2, 3 done."""
    x, t = make_data()
    trainer = Trainer(make_model(), SGD(), random_state=0)
    seen_a, seen_b = [], []
    trainer.fit(x, t, max_epoch=3, batch_size=5, verbose=0, callbacks=[
        lambda tr: seen_a.append((tr, tr.epoch, len(tr.history.epoch))),
        lambda tr: seen_b.append(tr.epoch),
    ])
    assert [(tr is trainer, e, n) for tr, e, n in seen_a] == [(True, 1, 1), (True, 2, 2),
                                                                (True, 3, 3)]
    assert seen_b == [1, 2, 3]


def test_stop_requested_in_callback_stops_after_that_epoch():
    """stop_requested = True at epoch 2: training ends with 2 epochs recorded and done."""
    x, t = make_data()
    trainer = Trainer(make_model(), SGD(), random_state=0)
    calls = []

    def stop_at_two(tr):
        calls.append(tr.epoch)
        if tr.epoch == 2:
            tr.stop_requested = True

    h = trainer.fit(x, t, max_epoch=10, batch_size=5, verbose=0, callbacks=[stop_at_two])
    assert calls == [1, 2]
    assert h.epoch == [1, 2] and trainer.epoch == 2
    assert len(h.loss) == 2 * 5
    # a later fit starts again (the flag is reset) and continues from epoch 3
    h = trainer.fit(x, t, max_epoch=3, batch_size=5, verbose=0)
    assert h.epoch == [1, 2, 3]


def test_history_csv_round_trip(tmp_path):
    """from_csv reads back exactly the per-epoch columns to_csv wrote (None for no eval)."""
    x, t = make_data()
    history = Trainer(make_model(), SGD(lr=0.1), random_state=0).fit(
        x, t, max_epoch=3, batch_size=5, verbose=0)
    history.to_csv(tmp_path / "h.csv")
    back = History.from_csv(tmp_path / "h.csv")
    for name in History.EPOCH_FIELDS:
        assert getattr(back, name) == getattr(history, name), name
    assert back.loss == []
