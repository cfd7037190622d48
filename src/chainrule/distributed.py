"""Synchronous data-parallel training over MPI (mpi4py), as PyTorch DDP and Horovod do it.

Every rank holds the whole model. ``DataParallelTrainer`` broadcasts rank 0's
parameters, buffers and data order at the start; all ranks then draw the same epoch
permutation, and each global batch of B samples is split into K contiguous shards whose
sizes differ by at most one. Rank k computes the mean gradient g_k of its n_k samples,
scales it by n_k / B and adds its loss sum, correct count, sample count and stop flag to
the end of one contiguous buffer; one ``Allreduce`` (sum) per step gives every rank

    g = sum_k (n_k / B) g_k = (1/B) sum_i grad l_i

— the gradient a single process computes on the whole batch — and the global loss and
accuracy for the History. Every rank then applies the same update. Dropout masks come
from a per-rank stream (the model's generator jumped ``rank`` times); batch
normalisation uses each rank's shard statistics (as DDP without SyncBN), and rank 0's
running statistics are the ones saved.

Nothing here is imported by chainrule unless asked for; mpi4py is imported on first use
(``pip install 'chainrule[mpi]'``).
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from .threads import BlasThreads, pinned_by, step_flops, usable_cores
from .trainer import Trainer
from .validation import InputValueError

__all__ = ["DataParallelTrainer", "launched_size", "launched_rank", "communicator", "abort",
           "limit_threads", "shard_bounds"]

_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _env_int(names, default):
    for name in names:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return default


def launched_size():
    """The number of ranks ``mpiexec`` started (1 when not launched by MPI); no import."""
    return _env_int(_SIZE_VARS, 1)


def launched_rank():
    """This process's rank as ``mpiexec`` announced it (0 when not launched by MPI)."""
    return _env_int(_RANK_VARS, 0)


def communicator():
    """``mpi4py.MPI.COMM_WORLD``; a clear error when mpi4py is not installed."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("running under mpiexec needs mpi4py and an MPI library: "
                          "pip install 'chainrule[mpi]'") from None
    return MPI.COMM_WORLD


def abort(code=1):
    """End every rank of the job (after an error on one rank), if MPI is in use."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.COMM_WORLD.Get_size() > 1:
        sys.stderr.flush()
        mpi.COMM_WORLD.Abort(code)


def limit_threads(comm):
    """Give each rank its share of this machine's cores for BLAS (at least one).

    K ranks on one machine, each with BLAS threads for every core, fight for the cores
    (measured here: 2 ranks x 2 threads were 3.6x slower than 2 ranks x 1 thread). The
    share is cores // ranks on this node (``COMM_TYPE_SHARED``). Nothing changes when
    the user set ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``;
    needs threadpoolctl (a dependency of chainrule). Returns the thread count, or None.
    """
    if pinned_by() is not None:
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    threads = core_share(comm)
    threadpool_limits(limits=threads)
    return threads


def core_share(comm):
    """cores // ranks on this node (at least 1): one rank's share of the node's cores."""
    try:
        from mpi4py import MPI

        local = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
    except (ImportError, AttributeError):  # no MPI, or a communicator without nodes
        local = comm.Get_size()
    return max(1, usable_cores() // max(1, local))


def shard_bounds(batch, size, rank):
    """[lo, hi) of rank's contiguous shard of a batch; shard sizes differ by at most one."""
    base, extra = divmod(batch, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


class DataParallelTrainer(Trainer):
    """A ``Trainer`` whose every step is split over the ranks of ``comm`` (see the module).

    Use it like a Trainer, on every rank, with the whole data set on every rank::

        trainer = DataParallelTrainer(model, optimizer, comm=MPI.COMM_WORLD, random_state=0)
        trainer.fit(x, t, max_epoch=10, batch_size=200, verbose=rank == 0)

    Call ``sync()`` again after restoring a checkpoint (``chainrule train`` does): it
    sends rank 0's weights, buffers and data order to all ranks and gives each its own
    dropout stream. With one rank it is an ordinary Trainer. ``comm_seconds`` is the
    time spent in the all-reduce so far (waiting for the slowest rank included).
    """

    _agreed_stop = False  # every rank stops after the step that agreed on it
    _stop_vote = False  # this rank was asked to stop: its vote at the next step

    @property
    def stop_requested(self):
        """True once the ranks agreed to stop. Setting it True (a signal handler or a
        callback on any rank) casts this rank's vote at the next step; the step that
        counts a vote stops every rank, so none is left waiting in an Allreduce."""
        return self._agreed_stop

    @stop_requested.setter
    def stop_requested(self, value):
        if value:
            self._stop_vote = True
        else:
            self._agreed_stop = self._stop_vote = False

    def __init__(self, model, optimizer, *, comm=None, **kwargs):
        super().__init__(model, optimizer, **kwargs)
        self.comm = communicator() if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.cores = core_share(self.comm) if self.size > 1 else None
        self._buffer = None
        self.comm_seconds = 0.0  # time spent in Allreduce (waiting for the others included)
        self.sync()

    def thread_policy(self, batch_size):
        """``threads="auto"`` for one rank: its shard's work, at most its share of the
        node's cores (``core_share``), and no following the load (the other ranks are
        the load, on purpose). One rank is a plain Trainer."""
        if self.size == 1:
            return super().thread_policy(batch_size)
        shard = -(-batch_size // self.size)
        return BlasThreads(self.threads, flops=step_flops(self.model.params, shard),
                           cores=self.cores, adapt=False)

    # ---- keeping the ranks identical ------------------------------------------------

    def sync(self):
        """Rank 0's parameters, buffers and data order everywhere; per-rank dropout."""
        for array in [*self.model.params.values(), *self.model.buffers.values()]:
            if array.flags.c_contiguous:
                self.comm.Bcast(array, root=0)
            else:
                copy = np.ascontiguousarray(array)
                self.comm.Bcast(copy, root=0)
                array[...] = copy
        self.rng.bit_generator.state = self.comm.bcast(self.rng.bit_generator.state, root=0)
        rng = self.model.rng
        if rng is not None:  # the model's own stream (dropout): rank 0's, jumped per rank
            rng.bit_generator.state = self.comm.bcast(rng.bit_generator.state, root=0)
            if self.rank:
                rng.bit_generator.state = rng.bit_generator.jumped(self.rank).state

    # ---- one step over the ranks ------------------------------------------------------

    def fit(self, x, t, max_epoch=10, batch_size=100, *args, **kwargs):
        """``Trainer.fit`` on every rank; ``batch_size`` is the global batch B (at least K).

        Every rank passes the whole ``x``, ``t``; each step uses its shard of the batch.
        """
        if isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) \
                and 0 < batch_size < self.size:
            raise InputValueError(f"batch_size must be at least the number of ranks "
                                  f"({self.size}) so every rank has a shard, got {batch_size}")
        return super().fit(x, t, max_epoch, batch_size, *args, **kwargs)

    def _pack_layout(self):
        grads = list(self.model.grads.values())
        if self._buffer is None or len(self._slices) != len(grads):
            sizes = [g.size for g in grads]
            ends = np.cumsum([0, *sizes])
            self._slices = [slice(a, b) for a, b in zip(ends[:-1], ends[1:], strict=True)]
            self._buffer = np.empty(int(ends[-1]) + 4, dtype=self.model.dtype)
        return grads

    def compute_gradients(self, x_batch, t_batch):
        """This rank's shard forward and backward, then one Allreduce of everything.

        Returns the whole global batch's (mean loss, correct, samples), the same on every
        rank, and leaves the global mean gradient in ``model.grads``; also agrees on
        ``stop_requested`` (any rank asking stops all after this step).
        """
        batch = x_batch.shape[0]
        lo, hi = shard_bounds(batch, self.size, self.rank)
        n = hi - lo
        grads = self._pack_layout()
        buf = self._buffer
        loss, correct = 0.0, 0
        if n:
            loss, correct, _ = super().compute_gradients(x_batch[lo:hi], t_batch[lo:hi])
        if n and math.isfinite(loss):
            for grad, where in zip(grads, self._slices, strict=True):
                np.multiply(grad.reshape(-1), n / batch, out=buf[where])
        else:  # an empty shard (a batch smaller than the world) or a diverged one
            buf[:-4] = 0
        buf[-4:] = (loss * n if math.isfinite(loss) else np.inf, correct, n,
                    1.0 if self._stop_vote else 0.0)
        start = time.perf_counter()
        self.comm.Allreduce(_in_place(), buf)
        self.comm_seconds += time.perf_counter() - start
        loss_sum, correct, seen, stops = (float(v) for v in buf[-4:])
        for grad, where in zip(grads, self._slices, strict=True):
            grad.reshape(-1)[...] = buf[where]
        if stops > 0:  # a vote anywhere: every rank stops after this same step
            self._agreed_stop, self._stop_vote = True, False
        return loss_sum / seen, int(round(correct)), int(round(seen))


def _in_place():
    from mpi4py import MPI

    return MPI.IN_PLACE
