"""The mini-batch loop: ``Trainer.fit`` returns a ``History``.

One iteration (``Trainer.step``) is book 2's four steps: take a mini-batch,
``loss = model.forward(x, t)``, ``model.backward()``, ``optimizer.update(model.params,
model.grads)``. Between ``backward`` and ``update`` sits the seam: gradient transforms
(``ClipGradNorm`` is one; an all-reduce or gradient accumulation are others) that may
change the gradients in place or skip the update. The Trainer adds what a long run
needs: a per-epoch permutation from ``random_state``, running metrics without an extra
pass over the data, a learning-rate schedule, a progress bar, a clear stop when the
loss stops being finite, and callbacks after every step and every epoch (checkpoints
use them). It uses only the model protocol (``chainrule.protocol``). It does not plot:
``chainrule.plotting`` reads the History.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field, fields

import numpy as np

from .data.batching import BatchIterator
from .evaluation import evaluate
from .progress import Progress
from .protocol import count_correct
from .threads import BlasThreads, check_threads, step_flops
from .validation import InputTypeError, InputValueError, check_positive

__all__ = ["Trainer", "History", "TrainingDiverged", "clip_grads", "ClipGradNorm"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names epoch, iteration and lr."""


@dataclass
class History:
    """What a run recorded, as plain lists (Keras-style).

    ``loss`` has one entry per iteration (the mini-batch loss, as book 2's ``loss_list``).
    The per-epoch lists are aligned: ``epoch`` (1, 2, ...), ``train_loss`` and
    ``train_accuracy`` (running averages over the epoch's batches, weighted by batch
    size, measured while the weights changed), ``eval_loss`` and ``eval_accuracy`` (on
    ``eval_data`` at the epoch's end, or None), ``lr`` and ``seconds``.
    """

    loss: list = field(default_factory=list)
    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    eval_loss: list = field(default_factory=list)
    eval_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    EPOCH_FIELDS = ("epoch", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy",
                    "lr", "seconds")

    @property
    def loss_list(self):
        """Book 2's name for the per-iteration losses."""
        return self.loss

    def to_dict(self):
        """All lists by name (plain data for JSON)."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a History from ``to_dict()``'s output."""
        return cls(**{f.name: list(data.get(f.name, [])) for f in fields(cls)})

    @classmethod
    def from_csv(cls, path):
        """Read the per-epoch columns written by ``to_csv`` (``loss`` stays empty)."""
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        casts = {"epoch": int}
        data = {name: [None if row[name] == "" else casts.get(name, float)(row[name])
                       for row in rows] for name in cls.EPOCH_FIELDS}
        return cls(**data)

    def to_csv(self, path):
        """Write one row per epoch with the per-epoch columns."""
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(self.EPOCH_FIELDS)
            for row in zip(*(getattr(self, name) for name in self.EPOCH_FIELDS), strict=True):
                writer.writerow(["" if v is None else v for v in row])


def clip_grads(grads, max_norm):
    """g <- g * max_norm / (||g|| + 1e-6) when the global norm ||g|| exceeds max_norm.

    ``||g||`` is the norm of all gradient arrays together (book 2's ``clip_grads``).
    Scales in place; returns the norm before clipping.
    """
    arrays = list(grads.values()) if hasattr(grads, "values") else list(grads)
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in arrays))
    if total > max_norm:
        rate = max_norm / (total + 1e-6)
        for g in arrays:
            g *= rate
    return total


class ClipGradNorm:
    """Gradient transform: rescale all gradients so their global norm is <= ``max_norm``.

    g <- g * max_norm / (||g|| + 1e-6) when ||g|| > max_norm (``clip_grads``). ``norm``
    keeps the norm before clipping of the last step.
    """

    def __init__(self, max_norm):
        self.max_norm = check_positive(max_norm, "max_norm")
        self.norm = None

    def __repr__(self):
        return f"ClipGradNorm({self.max_norm:g})"

    def __call__(self, grads, trainer):
        self.norm = clip_grads(grads, self.max_norm)


class Trainer:
    """Trains ``model`` with ``optimizer`` on mini-batches.

    ``schedule`` (optional) sets ``optimizer.lr`` at the start of every epoch from the
    epoch index (0-based). ``random_state`` drives the order of the samples, a fresh
    permutation every epoch. ``epoch`` and ``iteration`` count what has been done, so a
    second ``fit`` (or one after a restored checkpoint) continues up to ``max_epoch``.

    Setting ``stop_requested`` (from a callback, or a signal handler as ``chainrule
    train`` does on Ctrl-C) stops after the current step; the state at that point is
    complete, and ``fit`` continues from it, also mid-epoch and after a checkpoint.

    ``threads`` is how many BLAS threads ``fit`` uses: ``"auto"`` (one for a small
    model, else the cores other processes leave free, re-checked while training) or a
    number; see ``chainrule.threads``. The previous setting is restored when ``fit``
    returns, and a thread count set in the environment (``OPENBLAS_NUM_THREADS``...)
    always wins.
    """

    def __init__(self, model, optimizer, *, schedule=None, random_state=None,
                 grad_transforms=(), threads="auto"):
        from .rng import as_generator

        model_decay = getattr(model, "weight_decay_lambda", 0.0)
        optimizer_decay = getattr(optimizer, "weight_decay", 0.0)
        if model_decay and optimizer_decay:
            raise InputValueError(
                f"weight decay is given twice: the model's weight_decay_lambda={model_decay:g} "
                f"and the optimizer's weight_decay={optimizer_decay:g}; keep one (the "
                "optimizer's is the usual place)"
            )
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
        self.grad_transforms = list(grad_transforms)
        for transform in self.grad_transforms:
            if not callable(transform):
                raise InputTypeError(f"grad_transforms must hold callables "
                                     f"transform(grads, trainer), got {transform!r}")
        self.threads = check_threads(threads)
        self.blas = None  # the BlasThreads of the fit in progress
        self.last_loss = None
        self.rng = as_generator(random_state)
        self.epoch = 0
        self.iteration = 0
        self.history = History()
        self.stop_requested = False
        # Where the current epoch stands, so a run stopped between two steps resumes
        # exactly: the data-order generator's state before this epoch's permutation,
        # the batches done, and the running sums of the epoch's metrics.
        self.batch_in_epoch = 0
        self.epoch_rng_state = None
        self.running = [0.0, 0, 0, 0.0]  # loss sum, correct, samples seen, seconds

    def state_dict(self):
        """Counters, generator states, the epoch's running sums and the History (plain data).

        Together with the model's and the optimizer's arrays this is everything a
        checkpoint needs to continue bit for bit (``chainrule.checkpoint``).
        """
        return {"epoch": self.epoch, "iteration": self.iteration,
                "batch_in_epoch": self.batch_in_epoch,
                "epoch_rng_state": self.epoch_rng_state,
                "rng_state": self.rng.bit_generator.state,
                "running": list(self.running), "history": self.history.to_dict()}

    def load_state_dict(self, state):
        """Restore what ``state_dict`` returned (the model and optimizer are restored apart)."""
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.epoch_rng_state = state["epoch_rng_state"]
        self.rng.bit_generator.state = state["rng_state"]
        self.running = list(state["running"])
        self.history = History.from_dict(state["history"])

    def evaluate(self, x, t, batch_size=10_000):
        """(loss, accuracy) over all of x in inference mode (``chainrule.evaluation``)."""
        return evaluate(self.model, x, t, batch_size)

    def fit(self, x, t, max_epoch=10, batch_size=100, eval_data=None, max_grad=None,
            verbose=1, *, shuffle=True, drop_last=False, callbacks=(), step_callbacks=(),
            eval_name="eval"):
        """Train until ``max_epoch`` epochs are done in all; returns the History.

        ``x`` (N, features) and ``t`` (labels (N,), or rows (N, C)) are checked once here
        (lengths, feature count, label range, NaN/inf), and converted once to the
        model's dtype. ``eval_data=(x_eval, t_eval)`` is evaluated at each epoch's end.
        ``max_grad`` clips the global gradient norm (a ``ClipGradNorm`` transform for
        this fit). ``verbose`` (on stderr, ``chainrule.progress``): 0 nothing; 1 a
        progress bar with a line per epoch on a terminal, a line per epoch elsewhere;
        2 also a line every tenth of an epoch when not on a terminal. ``eval_name``
        names the evaluation data in those lines. ``callbacks`` are called as
        ``callback(trainer)`` after each epoch, ``step_callbacks`` after each step.

        Raises ``TrainingDiverged`` when a mini-batch loss is NaN or infinite, or when
        the weights are at the end of an epoch (an epoch's last update has no later loss
        to show it).
        """
        check_positive(max_epoch, "max_epoch", integer=True)
        check_positive(batch_size, "batch_size", integer=True)
        transforms = list(self.grad_transforms)
        if max_grad is not None:
            transforms.append(ClipGradNorm(check_positive(max_grad, "max_grad")))
        x, t = self.model.validate(x, t)
        if eval_data is not None:
            if not (isinstance(eval_data, (tuple, list)) and len(eval_data) == 2):
                got = (f"a {type(eval_data).__name__} of length {len(eval_data)}"
                       if isinstance(eval_data, (tuple, list)) else type(eval_data).__name__)
                raise InputTypeError(f"eval_data must be a pair (x_eval, t_eval), got {got}")
            eval_data = self.model.validate(*eval_data, x_name="eval_data x",
                                            t_name="eval_data t")
        batches = BatchIterator(x, t, batch_size, shuffle=shuffle, drop_last=drop_last,
                                random_state=self.rng)
        progress = Progress(verbose, max_epoch, len(batches), self.batch_in_epoch,
                            remaining_epochs=max(max_epoch - self.epoch, 0),
                            eval_name=eval_name)
        self.stop_requested = False
        outer, blas = self.blas, self.thread_policy(batch_size)
        # overflow on the way to a non-finite loss is reported once, as TrainingDiverged
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), blas:
            self.blas = blas
            try:
                self._loop(batches, max_epoch, eval_data, transforms, progress, callbacks,
                           step_callbacks)
            finally:
                self.blas = outer
        return self.history

    def thread_policy(self, batch_size):
        """The ``chainrule.threads.BlasThreads`` that ``fit`` trains under (a subclass may
        change it: ``DataParallelTrainer`` gives each rank its share of the cores)."""
        return BlasThreads(self.threads, flops=step_flops(self.model.params, batch_size))

    def _loop(self, batches, max_epoch, eval_data, transforms, progress, callbacks,
              step_callbacks):
        try:
            while self.epoch < max_epoch and not self.stop_requested:
                if self.schedule is not None:
                    self.schedule.apply(self.optimizer, self.epoch)
                if self.batch_in_epoch == 0:  # a fresh epoch: remember where its order came from
                    self.epoch_rng_state = self.rng.bit_generator.state
                    self.running = [0.0, 0, 0, 0.0]
                else:  # resuming inside an epoch: draw the same permutation again
                    self.rng.bit_generator.state = self.epoch_rng_state
                start = time.perf_counter()
                for k, (x_batch, t_batch) in enumerate(batches):
                    if k < self.batch_in_epoch:
                        continue  # done before the stop
                    self.step(x_batch, t_batch, transforms)
                    self.batch_in_epoch = k + 1
                    self.blas.tick()
                    for callback in step_callbacks:
                        callback(self)
                    loss_sum, correct, seen, _ = self.running
                    progress.step(self.epoch + 1, k + 1, self.history.loss[-1], correct / seen)
                    if self.stop_requested and self.batch_in_epoch < len(batches):
                        self.running[3] += time.perf_counter() - start
                        return  # stopped between two steps; state_dict() can resume here
                self.running[3] += time.perf_counter() - start
                self._check_weights()  # the epoch's last update is checked by no later loss
                self.epoch += 1
                self.batch_in_epoch = 0
                loss_sum, correct, seen, seconds = self.running
                self._record(loss_sum / seen, correct / seen, eval_data, seconds)
                progress.epoch_end(self.history)
                for callback in callbacks:
                    callback(self)
        finally:
            progress.close()

    def step(self, x_batch, t_batch, grad_transforms=None):
        """One iteration on a validated batch; returns its loss.

        ``compute_gradients`` (forward, backward) -> finite check -> every gradient
        transform, in order, as ``transform(model.grads, trainer)`` (one returning False
        skips this update) -> ``optimizer.update`` -> counters, the loss history and
        running metrics. ``grad_transforms`` defaults to the Trainer's own.
        """
        loss, correct, size = self.compute_gradients(x_batch, t_batch)
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {loss} at epoch {self.epoch + 1}, iteration "
                f"{self.iteration + 1} with lr={self.optimizer.lr:g}; try a smaller "
                "learning rate, or gradient clipping (max_grad)"
            )
        apply = True
        for transform in self.grad_transforms if grad_transforms is None else grad_transforms:
            if transform(self.model.grads, self) is False:
                apply = False
        if apply:
            self.optimizer.update(self.model.params, self.model.grads)
        self.iteration += 1
        self.last_loss = loss
        self.history.loss.append(loss)
        self.running[0] += loss * size
        self.running[1] += correct
        self.running[2] += size
        return loss

    def compute_gradients(self, x_batch, t_batch):
        """Forward and backward on the batch: (its mean loss, correct predictions, samples).

        Fills ``model.grads``. The seam for splitting a step over processes: a subclass
        (``chainrule.distributed.DataParallelTrainer``) computes a shard and reduces.
        """
        loss = self.model.forward_checked(x_batch, t_batch)
        if math.isfinite(loss):  # no backward through NaN: the step raises anyway
            self.model.backward()
        return loss, count_correct(self.model.last_output, t_batch), x_batch.shape[0]

    def _check_weights(self):
        """``TrainingDiverged`` when an update left a parameter NaN or infinite."""
        for name, array in self.model.params.items():
            if not np.isfinite(array).all():
                raise TrainingDiverged(
                    f"the weights became NaN or infinite ({name}) at epoch {self.epoch + 1}, "
                    f"iteration {self.iteration} with lr={self.optimizer.lr:g}; try a "
                    "smaller learning rate, or gradient clipping (max_grad)")

    def _record(self, train_loss, train_accuracy, eval_data, seconds):
        h = self.history
        h.epoch.append(self.epoch)
        h.train_loss.append(float(train_loss))
        h.train_accuracy.append(float(train_accuracy))
        if eval_data is not None:
            eval_loss, eval_accuracy = evaluate(self.model, *eval_data, checked=True)
            h.eval_loss.append(float(eval_loss))
            h.eval_accuracy.append(float(eval_accuracy))
        else:
            h.eval_loss.append(None)
            h.eval_accuracy.append(None)
        h.lr.append(float(self.optimizer.lr))
        h.seconds.append(float(seconds))
