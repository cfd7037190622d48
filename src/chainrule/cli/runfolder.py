"""Output folders of the command line: checked before the work, written all at once.

``check_folder`` runs before training, so an unwritable ``--out`` or
``--checkpoint-dir`` (a read-only file system, a path under a file, no permission) is
one usage error at the start instead of a failure after the last epoch.
``write_folder`` writes a run folder's files into a temporary sibling
(``.NAME.XXXXXXXX.part``) and renames it onto ``NAME`` only when every file is
complete: a failure (a full disk) leaves no half-written run folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from .common import UsageError

__all__ = ["check_folder", "write_folder"]


def check_folder(path, option, *, must_be_empty=False):
    """Raise ``UsageError`` unless ``path`` is, or can be made as, a writable folder.

    The nearest existing folder on the way is probed by creating and removing a file
    in it. ``must_be_empty``: an existing folder that holds files is refused (a run
    folder written onto an old one would mix two runs' files).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} must be a directory, got {str(path)!r} (a file)")
    if must_be_empty and path.is_dir():
        held = sorted(p.name for p in path.iterdir())
        if held:
            shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
            raise UsageError(f"{option} {str(path)!r} already holds files ({shown}); give a "
                             "new folder, or remove that one first")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {str(path)!r} cannot be made: {str(existing)!r} is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".chainrule-probe-", dir=existing)
    except OSError as exc:
        raise UsageError(f"{option} {str(path)!r} cannot be written: {_reason(exc)} in "
                         f"{str(existing)!r}") from None
    os.close(fd)
    os.unlink(probe)


def _reason(exc):
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def write_folder(folder, write):
    """Call ``write(tmp)`` to fill a temporary sibling of ``folder``, then rename it there.

    ``folder`` must not exist or be empty. On any error the temporary folder is removed
    and the error propagates (an ``OSError`` names ``folder``), so there is either a
    complete run folder or none.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.part")
    tmp.mkdir()
    try:
        write(tmp)
        if folder.is_dir():
            folder.rmdir()  # empty (checked before training): the rename takes its place
        os.rename(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno is None:
            raise
        raise type(exc)(exc.errno, f"could not write the run folder {str(folder)!r}: "
                        f"{exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
