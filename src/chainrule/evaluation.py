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

__all__ = ["evaluate", "predict_proba", "confusion_matrix", "count_correct", "chunk_rows"]


def chunk_rows(model, x, batch_size):
    """Rows per chunk: ``batch_size``, or fewer when a chunk's activations would not fit.

    rows = min(batch_size, (memory_limit() / 4) / peak bytes per row), with the peak
    measured on an inference forward of two rows (``tracemalloc`` sees NumPy's
    allocations; skipped, keeping ``batch_size``, when the caller is tracing already),
    so a wide model on a small machine, or under ``ulimit -v``, evaluates in chunks that
    fit instead of failing on one huge batch.
    """
    import tracemalloc

    from .limits import memory_limit

    if x.shape[0] <= 2 or tracemalloc.is_tracing():  # never disturb the caller's tracing
        return batch_size
    tracemalloc.start()
    try:
        model.scores(x[:2])
        per_row = max(1, tracemalloc.get_traced_memory()[1] // 2)
    finally:
        tracemalloc.stop()
    return max(1, min(batch_size, memory_limit() // 4 // per_row))


def evaluate(model, x, t, batch_size=10_000, *, checked=False):
    """(loss, accuracy) of ``model`` over all of (x, t) in inference mode, in chunks.

    loss = sum over chunks of the chunk's mean loss times its size, divided by N (the
    mean over all samples; a model's weight-decay penalty counts once); accuracy = the
    fraction of rows whose highest score is the label. ``x`` and ``t`` are validated by
    the model first (``checked=True`` says they already were, as the Trainer's are).
    """
    check_positive(batch_size, "batch_size", integer=True)
    if not checked:
        x, t = model.validate(x, t)
    total_loss, correct, n = 0.0, 0, x.shape[0]
    batch_size = chunk_rows(model, x, batch_size)
    for start in range(0, n, batch_size):
        xb, tb = x[start:start + batch_size], t[start:start + batch_size]
        total_loss += model.forward_checked(xb, tb, False) * xb.shape[0]
        correct += count_correct(model.last_output, tb)
    return total_loss / n, correct / n


def predict_proba(model, x, batch_size=10_000):
    """Class probabilities (N, C) of every row of ``x``, in chunks, in inference mode."""
    check_positive(batch_size, "batch_size", integer=True)
    x = model.validate(x)
    batch_size = chunk_rows(model, x, batch_size)
    return np.concatenate([model.link(model.scores(x[i:i + batch_size]))
                           for i in range(0, x.shape[0], batch_size)])


def confusion_matrix(labels, predicted, n_classes):
    """counts[i, j] = number of samples of true class i predicted as class j."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predicted)), 1)
    return counts
