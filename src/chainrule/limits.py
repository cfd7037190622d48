"""Bounds checked before allocating: sizes from a user, a file or a header never go unchecked.

A size that comes from outside (``--hidden``, a model file's stored constructor
arguments, a ``.npy`` header, a gzip stream) is turned into bytes and compared with
``memory_limit()`` — what this process may still allocate: the smaller of the memory
the system reports available (``MemAvailable`` in ``/proc/meminfo``, else physical
memory) and the room left under ``ulimit -v`` (``RLIMIT_AS``) — and with any tighter
``budget`` in force, *before* anything is allocated. Too much raises
``InputValueError`` (one line: what, how much, how much there is), which the command
line reports with exit status 2.

    nbytes <= min(memory_limit(), innermost budget)
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import stat

from .validation import InputValueError

__all__ = ["memory_limit", "check_allocation", "check_parameters", "budget", "format_bytes",
           "read_bounded"]

_BUDGET = contextvars.ContextVar("chainrule_allocation_budget", default=None)


def format_bytes(n):
    """1536 -> '1.5 KiB'; binary units up to TiB."""
    n = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _meminfo_available():
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left():
    """Bytes left under RLIMIT_AS (``ulimit -v``), or None when unlimited or unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmSize:"):
                    used = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


def memory_limit():
    """Bytes this process may allocate now (see the module); a large number if unknown."""
    limits = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    return min(limits) if limits else 1 << 62


def check_allocation(nbytes, what):
    """Raise ``InputValueError`` when ``what`` would need more than may be allocated.

    ``nbytes`` is compared with ``memory_limit()`` and the innermost ``budget``.
    """
    nbytes = int(nbytes)
    room, why = memory_limit(), "this machine has available"
    inner = _BUDGET.get()
    if inner is not None and inner[0] < room:
        room, why = inner
    if nbytes > room:
        raise InputValueError(f"{what} would need {format_bytes(nbytes)}, more than the "
                              f"{format_bytes(room)} {why}")


def check_parameters(what, shapes, dtype, noun="parameters"):
    """Refuse a model whose parameters would not fit, before any is allocated.

    bytes = 2 * itemsize * sum(prod(shape))  (the parameters and their gradients)
          + 8 * max(prod(shape))             (the float64 draw of the largest one)

    ``shapes`` are the parameter shapes as Python ints (no overflow however large).
    """
    import math

    import numpy as np

    sizes = [math.prod(int(d) for d in shape) for shape in shapes]
    nbytes = 2 * np.dtype(dtype).itemsize * sum(sizes) + 8 * max(sizes, default=0)
    check_allocation(nbytes, f"{what} ({sum(sizes):,} {noun})")


@contextlib.contextmanager
def budget(nbytes, why):
    """Within the block, ``check_allocation`` also refuses more than ``nbytes``.

    ``why`` ends the error's sentence: "more than the 1.2 KiB <why>", for instance
    "that a 300-byte model file can describe".
    """
    token = _BUDGET.set((int(nbytes), why))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def read_bounded(path, limit, what):
    """The bytes of the regular file ``path``, refusing anything over ``limit`` bytes.

    Devices, pipes and other non-regular files (``/dev/zero``) are refused before
    reading; the read itself stops at ``limit + 1`` bytes whatever the file claims.
    ``OSError`` (missing, a directory, no permission) propagates to the caller.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: a FIFO would block
        raise InputValueError(f"{what} {os.fspath(path)!r} is not a regular file")
    with open(path, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):  # replaced in between
            raise InputValueError(f"{what} {os.fspath(path)!r} is not a regular file")
        if info.st_size > limit:
            raise InputValueError(f"{what} {os.fspath(path)!r} has {format_bytes(info.st_size)}, "
                                  f"more than the {format_bytes(limit)} it may have")
        blob = fh.read(limit + 1)
    if len(blob) > limit:
        raise InputValueError(f"{what} {os.fspath(path)!r} grew past {format_bytes(limit)} "
                              "while being read")
    return blob
