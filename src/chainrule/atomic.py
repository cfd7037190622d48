"""Atomic file writes: a temporary file beside the target, fsync, then ``os.replace``."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_write"]


@contextmanager
def atomic_write(path):
    """Yield a binary file (``"w+b"``) that becomes ``path`` only if the block succeeds.

    The file is created in ``path``'s directory as ``.NAME.XXXXXXXX.part`` (mode 0o666
    less the umask, like ``open``), flushed and fsynced, then renamed onto ``path`` with
    ``os.replace``, which is atomic: readers see the old file or the complete new one,
    never a partial one. On any exception the temporary file is removed and the
    exception propagates; an ``OSError`` (a full disk, no permission) names ``path``,
    not the temporary file.
    """
    path = Path(path)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _about(exc, path) from None
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _about(exc, path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _about(exc, path):
    """The same OSError, naming the file the user asked for rather than the temporary one."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, f"cannot write {os.fspath(path)!r}: {exc.strerror}")


def _fsync_dir(path):
    """Make the rename itself durable where the platform allows it (POSIX); best effort."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
