"""What is not training: loss, accuracy, probabilities and a confusion matrix of a model.

Free functions on the model protocol (``chainrule.protocol``), used by the Trainer for
its evaluation data and by ``chainrule evaluate``/``predict``. Everything runs in
inference mode (dropout off, batch norm on its running statistics), in chunks, so a
large data set never needs one huge batch.
"""

from __future__ import annotations

import numpy as np

from .protocol import count_correct
from .validation import check_positive

__all__ = ["evaluate", "predict_proba", "confusion_matrix", "count_correct"]


def evaluate(model, x, t, batch_size=10_000, *, checked=False):
    """(loss, accuracy) of ``model`` over all of (x, t) in inference mode.

    loss = sum over chunks of the chunk's mean loss times its size, divided by N (the
    mean over all samples; a model's weight-decay penalty counts once); accuracy = the
    fraction of rows whose highest score is the label. ``x`` and ``t`` are validated by
    the model first (``checked=True`` says they already were, as the Trainer's are).
    """
    check_positive(batch_size, "batch_size", integer=True)
    if not checked:
        x, t = model.validate(x, t)
    total_loss, correct, n = 0.0, 0, x.shape[0]
    for start in range(0, n, batch_size):
        xb, tb = x[start:start + batch_size], t[start:start + batch_size]
        total_loss += model.forward_checked(xb, tb, False) * xb.shape[0]
        correct += count_correct(model.last_output, tb)
    return total_loss / n, correct / n


def predict_proba(model, x, batch_size=10_000):
    """Class probabilities (N, C) of every row of ``x``, in chunks, in inference mode."""
    check_positive(batch_size, "batch_size", integer=True)
    x = model.validate(x)
    return np.concatenate([model.link(model.scores(x[i:i + batch_size]))
                           for i in range(0, x.shape[0], batch_size)])


def confusion_matrix(labels, predicted, n_classes):
    """counts[i, j] = number of samples of true class i predicted as class j."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predicted)), 1)
    return counts
