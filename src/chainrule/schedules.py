"""Learning-rate schedules: lr as a function of the step index.

A schedule is a pure function of its argument: ``schedule(step)`` (or
``schedule.lr_at(step)``) returns the learning rate itself, not a multiplier, computed
from the ``base_lr`` it stores. "step" is whatever index the caller passes, counting from
0: the Trainer calls a schedule once per epoch with the epoch index, so there the unit
is the epoch; a loop that calls it once per mini-batch gets per-iteration schedules with
the same objects. ``schedule.apply(optimizer, step)`` sets ``optimizer.lr``.

Schedules hold no state that changes as training runs, so resuming needs only the step
index (the epoch a checkpoint stored), not a saved schedule.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import InputTypeError, InputValueError

__all__ = ["Schedule", "StepLR", "CosineLR", "WarmupLR"]


def _number(value, name, *, low=0.0, low_open=True, high=math.inf, high_closed=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    above = value > low if low_open else value >= low
    below = value <= high if high_closed else value < high
    if not (math.isfinite(value) and above and below):
        raise InputValueError(f"{name} must be {'>' if low_open else '>='} {low:g}"
                              + (f" and {'<=' if high_closed else '<'} {high:g}"
                            if high != math.inf else "")
                              + f", got {value!r}")
    return float(value)


def _count(value, name, *, positive=True):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < (1 if positive else 0):
        sign = "positive" if positive else "non-negative"
        raise InputValueError(f"{name} must be a {sign} integer, got {value!r}")
    return int(value)


class Schedule:
    """Base class: ``lr_at(step)`` gives the learning rate; calling the object does too."""

    base_lr: float

    def lr_at(self, step):
        raise NotImplementedError

    def __call__(self, step):
        return self.lr_at(step)

    def apply(self, optimizer, step):
        """Set ``optimizer.lr`` to this schedule's lr at ``step``; returns that lr."""
        optimizer.lr = self.lr_at(step)
        return optimizer.lr


class StepLR(Schedule):
    """lr = base_lr * gamma ** (step // step_size): a drop by gamma every step_size steps.

    As torch.optim.lr_scheduler.StepLR. ``gamma`` is a positive number (below 1 to decay).
    """

    def __init__(self, base_lr, step_size, gamma=0.1):
        self.base_lr = _number(base_lr, "base_lr")
        self.step_size = _count(step_size, "step_size")
        self.gamma = _number(gamma, "gamma")

    def __repr__(self):
        return f"StepLR(base_lr={self.base_lr!r}, step_size={self.step_size}, gamma={self.gamma!r})"

    def lr_at(self, step):
        step = _count(step, "step", positive=False)
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineLR(Schedule):
    """lr = min_lr + (base_lr - min_lr) (1 + cos(pi step / total)) / 2, then min_lr.

    Falls from base_lr at step 0 to min_lr at step ``total`` and stays there, as
    torch.optim.lr_scheduler.CosineAnnealingLR with T_max = total (without its restarts).
    Called once per epoch with the epoch index, the last of ``epochs`` epochs is step
    epochs - 1; pass ``total = epochs - 1`` to end exactly at min_lr.
    """

    def __init__(self, base_lr, total, min_lr=0.0):
        self.base_lr = _number(base_lr, "base_lr")
        self.total = _count(total, "total")
        self.min_lr = _number(min_lr, "min_lr", low_open=False, high=self.base_lr,
                              high_closed=True)

    def __repr__(self):
        return (f"CosineLR(base_lr={self.base_lr!r}, total={self.total}, "
                f"min_lr={self.min_lr!r})")

    def lr_at(self, step):
        step = _count(step, "step", positive=False)
        if step >= self.total:
            return self.min_lr
        cosine = (1.0 + math.cos(math.pi * step / self.total)) / 2.0
        return self.min_lr + (self.base_lr - self.min_lr) * cosine


class _Constant(Schedule):
    def __init__(self, base_lr, name="base_lr"):
        self.base_lr = _number(base_lr, name)

    def __repr__(self):
        return repr(self.base_lr)

    def lr_at(self, step):
        _count(step, "step", positive=False)
        return self.base_lr


class WarmupLR(Schedule):
    """lr = inner(step) * (start_factor + (1 - start_factor) * step / warmup) for
    step < warmup, then inner(step).

    ``schedule_or_base_lr`` is a schedule (or any callable step -> lr) or a number for a
    constant lr. The wrapped schedule is *not* shifted: it runs on the same step index
    from 0, and the warm-up only scales its first ``warmup`` values, rising linearly from
    start_factor * inner(0) at step 0 to inner(warmup) at step ``warmup``. (So a cosine
    wrapped here counts its ``total`` from step 0, warm-up included.) As torch's LinearLR
    chained with another scheduler, except that start_factor = 0 is allowed: the first
    step then has lr 0, and leaves the weights as they are.
    """

    def __init__(self, schedule_or_base_lr, warmup, start_factor=0.0):
        inner = schedule_or_base_lr
        if isinstance(inner, (int, float, np.integer, np.floating)) and not isinstance(inner,
                                                                                      bool):
            inner = _Constant(inner, "schedule_or_base_lr")
        elif not callable(inner):
            raise InputTypeError(f"schedule_or_base_lr must be a schedule or a number, "
                                 f"got {type(inner).__name__} {inner!r}")
        self.schedule = inner
        self.base_lr = getattr(inner, "base_lr", None)
        self.warmup = _count(warmup, "warmup")
        self.start_factor = _number(start_factor, "start_factor", low_open=False, high=1.0,
                                    high_closed=True)

    def __repr__(self):
        return (f"WarmupLR({self.schedule!r}, warmup={self.warmup}, "
                f"start_factor={self.start_factor!r})")

    def lr_at(self, step):
        step = _count(step, "step", positive=False)
        lr = float(self.schedule(step))
        if step >= self.warmup:
            return lr
        return lr * (self.start_factor + (1.0 - self.start_factor) * step / self.warmup)
