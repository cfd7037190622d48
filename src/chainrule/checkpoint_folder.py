"""The checkpoint folder: held by one run at a time, and cleaned only under that hold.

A folder of checkpoints is locked by one run at a time (``lock_folder``), and only under
that lock are the temporary files of interrupted checkpoint writes removed
(``clean_stale_temporaries``). The checkpoint in a folder is ``CHECKPOINT_NAME``; the
lock is the file ``LOCK_NAME`` beside it.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from .validation import InputValueError

__all__ = ["CHECKPOINT_NAME", "LOCK_NAME", "lock_folder", "clean_stale_temporaries"]

CHECKPOINT_NAME = "checkpoint.safetensors"
LOCK_NAME = ".chainrule.lock"
_HELD = {}  # real path of a folder this process has locked -> the lock file's descriptor


@contextlib.contextmanager
def lock_folder(directory):
    """Hold ``directory`` for this run alone: ``with lock_folder(folder): ...``.

    An exclusive ``fcntl.flock`` on ``directory/.chainrule.lock`` (holding this process's
    id) for the duration of the block; the file is removed on exit. A folder another
    run holds — or this process holds already — raises ``InputValueError`` at once,
    naming that run's process id. The lock dies with its process (also on SIGKILL), so
    a crashed run never blocks the next one. Yields the folder as a ``Path``.
    """
    import fcntl

    folder = Path(directory)
    key = os.path.realpath(folder)
    if key in _HELD:
        raise InputValueError(f"checkpoint folder {str(folder)!r} is in use by another "
                              f"chainrule run (pid {os.getpid()}, this process)")
    lock = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise InputValueError(f"checkpoint folder {str(folder)!r} cannot be locked: "
                                  f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if isinstance(exc, BlockingIOError):
                raise InputValueError(f"checkpoint folder {str(folder)!r} is in use by another "
                                      f"chainrule run (pid {pid})") from None
            raise InputValueError(f"checkpoint folder {str(folder)!r} cannot be locked: "
                                  f"{exc.strerror or exc}") from None
        try:  # the holder before us may have removed the file we locked: lock the new one
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = fd
    try:
        yield folder
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)  # while still locked, so no other run can be holding this file
        os.close(fd)


def _own_temporary(name):
    """``.checkpoint.safetensors.XXXXXXXX.part``: what ``atomic_write`` names its temporary
    file for the checkpoint (eight lowercase hex digits); nothing else matches."""
    return re.fullmatch(rf"\.{re.escape(CHECKPOINT_NAME)}\.[0-9a-f]{{8}}\.part", name) is not None


def clean_stale_temporaries(directory):
    """Remove the checkpoint's temporary files that interrupted saves left in ``directory``.

    Only chainrule's own (``.checkpoint.safetensors.XXXXXXXX.part``, regular files) and
    only under the folder's lock (``lock_folder``), which proves no other run is writing
    them: called inside ``with lock_folder(directory)`` it cleans at once, otherwise it
    takes the lock for the cleaning (``InputValueError`` if another run holds it).
    Every other file is left alone. Returns the names removed, sorted.
    """
    if os.path.realpath(directory) not in _HELD:
        with lock_folder(directory):
            return clean_stale_temporaries(directory)
    removed = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if _own_temporary(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed
