"""Book 2's ``common/trainer.py``: ``Trainer`` (``fit``, ``plot``) and ``remove_duplicate``.

``Trainer(model, optimizer).fit(x, t, max_epoch=10, batch_size=32, max_grad=None,
eval_interval=20)`` shuffles the data at every epoch with ``np.random.permutation``
(NumPy's global generator, as the book), steps through ``len(x) // batch_size``
mini-batches (``model.forward``, ``model.backward``, shared weights merged by
``remove_duplicate``, ``clip_grads`` when ``max_grad`` is given,
``optimizer.update``), and every ``eval_interval`` iterations prints the average loss
since the last print and appends it to ``loss_list``, as the book's. ``plot()`` draws
``loss_list`` (matplotlib, the ``plot`` extra).

``from common.trainer import *`` also hands a script ``np``, ``numpy``, ``time``,
``GPU`` and ``clip_grads``, as the book's module does.
"""

from __future__ import annotations

import time

import numpy
import numpy as np

from ...validation import InputTypeError, InputValueError, check_number
from .config import GPU
from .util import clip_grads

__all__ = ["np", "numpy", "time", "GPU", "clip_grads", "Trainer", "remove_duplicate"]


class Trainer:
    """Book 2's training loop for a model with ``params``/``grads`` lists.

    ``model`` needs ``forward(x, t)`` (the loss), ``backward()``, ``params`` and
    ``grads``; ``optimizer`` needs ``update(params, grads)``. ``loss_list`` holds the
    average loss of each ``eval_interval`` iterations (one value per print), and
    ``current_epoch`` counts the epochs of all ``fit`` calls.
    """

    def __init__(self, model, optimizer):
        for name in ("forward", "backward", "params", "grads"):
            if not hasattr(model, name):
                raise InputTypeError(f"model must have {name} (book 2's model protocol), got "
                                     f"{type(model).__name__}")
        if not callable(getattr(optimizer, "update", None)):
            raise InputTypeError(f"optimizer must have update(params, grads), got "
                                 f"{type(optimizer).__name__}")
        self.model = model
        self.optimizer = optimizer
        self.loss_list = []
        self.eval_interval = None
        self.current_epoch = 0

    def fit(self, x, t, max_epoch=10, batch_size=32, max_grad=None, eval_interval=20):
        """Train for ``max_epoch`` epochs of ``len(x) // batch_size`` iterations.

        Prints ``| epoch E |  iter I / M | time S[s] | loss L`` every ``eval_interval``
        iterations (at iterations 1, 1 + eval_interval, ... of each epoch; None for
        never) and appends the average loss since the previous print to ``loss_list``.
        """
        if not hasattr(x, "__len__") or not hasattr(t, "__len__") or len(x) != len(t):
            raise InputValueError("x and t must hold the same number of samples")
        max_epoch = check_number(max_epoch, "max_epoch", integer=True, low=0)
        batch_size = check_number(batch_size, "batch_size", integer=True, low=1)
        if batch_size > len(x):
            raise InputValueError(f"batch_size must be at most the number of samples "
                                  f"({len(x)}), got {batch_size}")
        if max_grad is not None:
            max_grad = check_number(max_grad, "max_grad", low=0, low_open=True)
        if eval_interval is not None:
            eval_interval = check_number(eval_interval, "eval_interval", integer=True, low=1)
        data_size = len(x)
        max_iters = data_size // batch_size
        self.eval_interval = eval_interval
        model, optimizer = self.model, self.optimizer
        total_loss, loss_count = 0, 0
        start_time = time.time()
        for _ in range(max_epoch):
            idx = numpy.random.permutation(numpy.arange(data_size))  # noqa: NPY002 - the book's
            x, t = x[idx], t[idx]
            for iters in range(max_iters):
                batch = slice(iters * batch_size, (iters + 1) * batch_size)
                loss = model.forward(x[batch], t[batch])
                model.backward()
                params, grads = remove_duplicate(model.params, model.grads)
                if max_grad is not None:
                    clip_grads(grads, max_grad)
                optimizer.update(params, grads)
                total_loss += loss
                loss_count += 1
                if eval_interval is not None and iters % eval_interval == 0:
                    avg_loss = total_loss / loss_count
                    elapsed = time.time() - start_time
                    print(f"| epoch {self.current_epoch + 1} |  iter {iters + 1} / {max_iters}"
                          f" | time {int(elapsed)}[s] | loss {avg_loss:.2f}")
                    self.loss_list.append(float(avg_loss))
                    total_loss, loss_count = 0, 0
            self.current_epoch += 1

    def plot(self, ylim=None):
        """Draw ``loss_list`` against iterations (x eval_interval) and show it."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Trainer.plot needs matplotlib: pip install "
                              "'chainrule[plot]'") from None
        x = numpy.arange(len(self.loss_list))
        if ylim is not None:
            plt.ylim(*ylim)
        plt.plot(x, self.loss_list, label="train")
        plt.xlabel("iterations (x" + str(self.eval_interval) + ")")
        plt.ylabel("loss")
        plt.show()


def remove_duplicate(params, grads):
    """(params, grads) as new lists with each shared weight once and its gradients summed.

    Two entries that are the same array become one, with the second gradient added to
    the first (in place); a 2-D entry equal to the transpose of an earlier one (weight
    tying) is dropped with its gradient's transpose added. The lists given are not
    changed.
    """
    params, grads = list(params), list(grads)
    if len(params) != len(grads):
        raise InputValueError(f"params and grads must have the same length, got "
                              f"{len(params)} and {len(grads)}")
    i = 0
    while i < len(params):
        j = i + 1
        while j < len(params):
            a, b = params[i], params[j]
            if a is b:
                grads[i] += grads[j]
            elif (a.ndim == 2 and b.ndim == 2 and a.T.shape == b.shape
                  and np.all(a.T == b)):
                grads[i] += grads[j].T
            else:
                j += 1
                continue
            del params[j], grads[j]
        i += 1
    return params, grads
