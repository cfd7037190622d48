"""Learning-rate schedules: values at chosen steps, worked out by hand, and bad arguments."""

import math

import numpy as np
import pytest

from chainrule.optim import SGD, Adam
from chainrule.schedules import CosineLR, StepLR, WarmupLR


def test_step_lr_drops_by_gamma_every_step_size():
    s = StepLR(0.1, step_size=3, gamma=0.5)
    expected = {0: 0.1, 1: 0.1, 2: 0.1, 3: 0.05, 5: 0.05, 6: 0.025, 9: 0.0125}
    for step, lr in expected.items():
        assert s(step) == pytest.approx(lr, rel=1e-15)
        assert s.lr_at(step) == s(step)
    assert StepLR(1.0, 1)(2) == pytest.approx(0.01, rel=1e-15)  # gamma defaults to 0.1


def test_cosine_lr_falls_from_base_to_min_then_stays():
    s = CosineLR(1.0, total=4)
    expected = {0: 1.0, 1: (1 + math.sqrt(0.5)) / 2, 2: 0.5, 3: (1 - math.sqrt(0.5)) / 2,
                4: 0.0, 5: 0.0, 100: 0.0}
    for step, lr in expected.items():
        assert s(step) == pytest.approx(lr, rel=1e-15, abs=1e-16)
    m = CosineLR(0.2, total=10, min_lr=0.1)
    assert m(0) == 0.2 and m(5) == pytest.approx(0.15, rel=1e-15) and m(10) == 0.1
    assert m(11) == 0.1
    assert CosineLR(0.1, 3, min_lr=0.1)(2) == pytest.approx(0.1)  # min = base: constant


def test_warmup_rises_linearly_then_follows_the_unshifted_schedule():
    w = WarmupLR(0.1, warmup=4)
    expected = {0: 0.0, 1: 0.025, 2: 0.05, 3: 0.075, 4: 0.1, 50: 0.1}
    for step, lr in expected.items():
        assert w(step) == pytest.approx(lr, rel=1e-15, abs=0)
    cosine = CosineLR(1.0, total=10)
    w = WarmupLR(cosine, warmup=2, start_factor=0.5)
    assert w(0) == pytest.approx(0.5 * 1.0, rel=1e-15)
    assert w(1) == pytest.approx(0.75 * cosine(1), rel=1e-15)
    for step in (2, 3, 7, 10, 12):  # not shifted: the same step index as the wrapped one
        assert w(step) == cosine(step)
    assert w.base_lr == 1.0
    assert WarmupLR(lambda step: 0.3, warmup=3, start_factor=1.0)(0) == pytest.approx(0.3)


def test_apply_sets_the_optimizer_lr_and_training_continues():
    opt = Adam(lr=0.001)
    params, grads = [np.ones(3, np.float32)], [np.ones(3, np.float32)]
    schedule = WarmupLR(StepLR(0.01, 2), warmup=2, start_factor=0.5)
    seen = []
    for epoch in range(5):
        seen.append(schedule.apply(opt, epoch))
        opt.update(params, grads)
    assert seen == [schedule(e) for e in range(5)] and opt.lr == schedule(4)
    assert type(opt.lr) is float and params[0].dtype == np.float32
    sgd = SGD(lr=1.0)
    CosineLR(1.0, 4).apply(sgd, 2)
    assert sgd.lr == pytest.approx(0.5)


def test_reprs():
    assert repr(StepLR(0.1, 3)) == "StepLR(base_lr=0.1, step_size=3, gamma=0.1)"
    assert repr(WarmupLR(CosineLR(0.1, 5), 2)) == (
        "WarmupLR(CosineLR(base_lr=0.1, total=5, min_lr=0.0), warmup=2, start_factor=0.0)")


BAD = [
    (lambda: StepLR(0, 1), ValueError, "base_lr must be > 0, got 0"),
    (lambda: StepLR(-0.1, 1), ValueError, "base_lr must be > 0, got -0.1"),
    (lambda: StepLR(True, 1), TypeError, "base_lr must be a number, got bool True"),
    (lambda: StepLR(0.1, 0), ValueError, "step_size must be a positive integer, got 0"),
    (lambda: StepLR(0.1, 1.5), TypeError, "step_size must be an integer, got float 1.5"),
    (lambda: StepLR(0.1, 2, gamma=0), ValueError, "gamma must be > 0, got 0"),
    (lambda: CosineLR(0.1, 0), ValueError, "total must be a positive integer, got 0"),
    (lambda: CosineLR(0.1, 10, min_lr=0.2), ValueError,
     "min_lr must be >= 0 and <= 0.1, got 0.2"),
    (lambda: CosineLR(0.1, 10, min_lr=-1), ValueError, "min_lr must be >= 0 and <= 0.1, got -1"),
    (lambda: WarmupLR("fast", 3), TypeError,
     "schedule_or_base_lr must be a schedule or a number, got str 'fast'"),
    (lambda: WarmupLR(-1.0, 3), ValueError, "schedule_or_base_lr must be > 0, got -1.0"),
    (lambda: WarmupLR(0.1, 0), ValueError, "warmup must be a positive integer, got 0"),
    (lambda: WarmupLR(0.1, 3, start_factor=1.5), ValueError,
     "start_factor must be >= 0 and <= 1, got 1.5"),
    (lambda: StepLR(0.1, 2)(-1), ValueError, "step must be a non-negative integer, got -1"),
    (lambda: CosineLR(0.1, 2)(1.5), TypeError, "step must be an integer, got float 1.5"),
    (lambda: WarmupLR(0.1, 2)(True), TypeError, "step must be an integer, got bool True"),
]


@pytest.mark.parametrize(("make", "exc", "message"), BAD, ids=[b[2] for b in BAD])
def test_bad_arguments_name_the_argument_and_value(make, exc, message):
    with pytest.raises(exc) as info:
        make()
    assert message in str(info.value)
