"""Book 1's ``common/trainer.py``: ``Trainer`` with ``train()``, the book's training loop.

Each step draws a mini-batch with ``np.random.choice(train_size, batch_size)`` (with
replacement, from NumPy's global generator), takes ``network.gradient``, updates with
one of ``common.optimizer``'s optimizers and records the loss; at the start of every
epoch it records and prints the train and test accuracy. It prints what the book's
prints, line for line. (chainrule's core ``Trainer`` shuffles without replacement from a
``random_state`` and returns a ``History``.)

``from common.trainer import *`` also hands a script ``np`` and the optimizers, as the
book's module does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...validation import InputTypeError, InputValueError, check_number
from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["np", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "Trainer"]

OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}


def _samples(x, t, x_name, t_name):
    for value, name in ((x, x_name), (t, t_name)):
        if not isinstance(value, np.ndarray) or value.ndim == 0:
            raise InputTypeError(f"{name} must be a NumPy array of samples, got "
                                 f"{type(value).__name__}")
    if x.shape[0] != t.shape[0] or x.shape[0] == 0:
        raise InputValueError(f"{x_name} and {t_name} must hold the same number of samples "
                              f"(at least one), got {x.shape[0]} and {t.shape[0]}")


class Trainer:
    """Trains ``network`` on (x_train, t_train) and follows its accuracy on both sets.

    ``epochs`` (a number; iterations = int(epochs * train_size / mini_batch_size)),
    ``mini_batch_size``, ``optimizer`` (a name: 'SGD', 'Momentum', 'Nesterov',
    'AdaGrad', 'RMSprop', 'Adam', any case) with ``optimizer_param`` (its keyword
    arguments, ``{'lr': 0.01}`` by default), ``evaluate_sample_num_per_epoch`` (measure
    the accuracies on the first that many samples only; None for all) and ``verbose``
    (print the loss of every step and the accuracies of every epoch).

    After ``train()``: ``train_loss_list`` (one loss per step), ``train_acc_list`` and
    ``test_acc_list`` (one per epoch, the first before any update has been counted as
    an epoch's end: at step 0).
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20,
                 mini_batch_size=100, optimizer="SGD", optimizer_param=None,
                 evaluate_sample_num_per_epoch=None, verbose=True):
        for method in ("gradient", "loss", "accuracy", "params"):
            if not hasattr(network, method):
                raise InputTypeError(f"network must have {method} (a book-1 network such as "
                                     f"MultiLayerNet), got {type(network).__name__}")
        _samples(x_train, t_train, "x_train", "t_train")
        _samples(x_test, t_test, "x_test", "t_test")
        if not isinstance(optimizer, str):
            raise InputTypeError(f"optimizer must be a name such as 'SGD', got "
                                 f"{type(optimizer).__name__}")
        if optimizer.lower() not in OPTIMIZERS:
            raise InputValueError(f"optimizer must be one of SGD, Momentum, Nesterov, "
                                  f"AdaGrad, RMSprop, Adam, got {optimizer!r}")
        if optimizer_param is None:
            optimizer_param = {"lr": 0.01}
        if not isinstance(optimizer_param, Mapping):
            raise InputTypeError(f"optimizer_param must be a dict of keyword arguments, got "
                                 f"{type(optimizer_param).__name__}")
        try:
            self.optimizer = OPTIMIZERS[optimizer.lower()](**optimizer_param)
        except TypeError as error:  # an unknown keyword
            raise InputValueError(f"optimizer_param does not fit {optimizer}: {error}") from None
        self.network = network
        self.verbose = bool(verbose)
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = check_number(epochs, "epochs", low=0, low_open=True)
        self.batch_size = check_number(mini_batch_size, "mini_batch_size", integer=True, low=1)
        if evaluate_sample_num_per_epoch is not None:
            evaluate_sample_num_per_epoch = check_number(
                evaluate_sample_num_per_epoch, "evaluate_sample_num_per_epoch", integer=True,
                low=1)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch

        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / self.batch_size, 1)
        self.max_iter = int(self.epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list = []
        self.train_acc_list = []
        self.test_acc_list = []

    def train_step(self):
        """One mini-batch step; at an epoch's start, also the two accuracies."""
        batch_mask = np.random.choice(self.train_size, self.batch_size)  # noqa: NPY002 - the book's
        x_batch, t_batch = self.x_train[batch_mask], self.t_train[batch_mask]
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))
        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            n = self.evaluate_sample_num_per_epoch
            x_tr, t_tr, x_te, t_te = self.x_train, self.t_train, self.x_test, self.t_test
            if n is not None:
                x_tr, t_tr, x_te, t_te = x_tr[:n], t_tr[:n], x_te[:n], t_te[:n]
            train_acc = self.network.accuracy(x_tr, t_tr)
            test_acc = self.network.accuracy(x_te, t_te)
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print(f"=== epoch:{self.current_epoch}, train acc:{train_acc}, "
                      f"test acc:{test_acc} ===")
        self.current_iter += 1

    def train(self):
        """Every step of every epoch, then the test accuracy on the whole test set."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
