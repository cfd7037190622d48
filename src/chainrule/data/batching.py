"""Mini-batches for one epoch: index batches, or (x, t) batches gathered into reused buffers."""

from __future__ import annotations

import numpy as np

from ..rng import as_generator
from ..validation import InputTypeError, InputValueError, check_positive

__all__ = ["minibatches", "BatchIterator"]


def _check_bool(value, name):
    if not isinstance(value, bool):
        raise InputTypeError(f"{name} must be True or False, got {value!r}")


def minibatches(n_samples, batch_size, *, shuffle=True, drop_last=False, random_state=None):
    """Index arrays that cover ``range(n_samples)`` once, ``batch_size`` at a time.

    With ``shuffle`` the order is a fresh permutation drawn from ``random_state`` (None,
    an int or a ``numpy.random.Generator``); otherwise 0, 1, ..., n_samples - 1. The last
    batch has ``n_samples % batch_size`` indices, or is dropped with ``drop_last``.

    Shapes: yields int64 arrays (batch_size,), views of one (n_samples,) permutation.

    One call is one epoch. An int ``random_state`` seeds a new generator on every call, so
    every call gives the same order; pass a ``Generator`` (or use ``BatchIterator``) for a
    new order each epoch. Arguments are checked at the call, not at the first batch.
    """
    check_positive(n_samples, "n_samples", integer=True, allow_zero=True)
    check_positive(batch_size, "batch_size", integer=True)
    _check_bool(shuffle, "shuffle")
    _check_bool(drop_last, "drop_last")
    rng = as_generator(random_state) if shuffle else None
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    stop = n_samples - n_samples % batch_size if drop_last else n_samples
    return (order[start : start + batch_size] for start in range(0, stop, batch_size))


class BatchIterator:
    """Iterating gives ``(x[idx], t[idx])`` for each batch ``idx`` of one epoch.

    ``idx`` runs through ``minibatches(len(x), batch_size, ...)``; every epoch (every
    ``iter``) draws a new permutation from ``self.rng``, the ``numpy.random.Generator``
    made from ``random_state``, whose state can be checkpointed
    (``rng.bit_generator.state``) to resume the same sequence of epochs.

    Shapes: ``x`` (N, ...) and ``t`` (N, ...) of any dtypes; batches are
    (batch_size, ...), the last one (N % batch_size, ...) unless ``drop_last``.
    ``len(self)`` is the number of batches per epoch.

    The rows are gathered with ``np.take(..., out=buffer)`` into two buffers allocated
    once, so no batch and no epoch copies the data set. **The yielded arrays are those
    buffers: they are valid until the next batch** (copy them to keep them). For the
    same reason, two loops over one iterator must not be interleaved.
    """

    def __init__(self, x, t, batch_size, *, shuffle=True, drop_last=False, random_state=None):
        x, t = np.asarray(x), np.asarray(t)
        if x.ndim == 0 or t.ndim == 0:
            raise InputValueError(
                f"x and t must be arrays with a sample axis, got shapes {x.shape} and {t.shape}"
            )
        if x.shape[0] != t.shape[0]:
            raise InputValueError(
                f"inconsistent numbers of samples: x has {x.shape[0]}, t has {t.shape[0]}"
            )
        check_positive(batch_size, "batch_size", integer=True)
        _check_bool(shuffle, "shuffle")
        _check_bool(drop_last, "drop_last")
        self.x, self.t = x, t
        self.batch_size = int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rng = as_generator(random_state)
        size = min(self.batch_size, x.shape[0])
        self._x_buffer = np.empty((size,) + x.shape[1:], dtype=x.dtype)
        self._t_buffer = np.empty((size,) + t.shape[1:], dtype=t.dtype)

    def __len__(self):
        n, b = self.x.shape[0], self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        batches = minibatches(
            self.x.shape[0],
            self.batch_size,
            shuffle=self.shuffle,
            drop_last=self.drop_last,
            random_state=self.rng,
        )
        for idx in batches:
            size = idx.shape[0]
            # a view of the buffers' first rows for the short last batch; mode="clip" skips
            # the bounds check (idx is a permutation) that would make np.take buffer `out`
            x_out, t_out = self._x_buffer[:size], self._t_buffer[:size]
            np.take(self.x, idx, axis=0, out=x_out, mode="clip")
            np.take(self.t, idx, axis=0, out=t_out, mode="clip")
            yield x_out, t_out
