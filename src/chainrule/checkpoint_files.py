"""Reading model files and checkpoints: bounded reads, the metadata, and the arrays' checks.

``chainrule.checkpoint`` reads every file through ``read_safetensors``; nothing is
unpickled. What is verified here, each failure one ``ModelFileError`` (an
``InputValueError``) naming the file, the field or array, what was expected and what
came:

* the file: a regular file (a device such as ``/dev/zero``, a pipe or a folder is
  refused before anything is read), readable, no larger than the memory this process
  may use (``chainrule.limits.read_bounded``), a complete safetensors file; its JSON
  metadata nests at most ``MAX_DEPTH`` levels (``read_metadata``);
* the arrays: the same names, shapes and dtype as the model (an int64, bool or float32
  array in a float64 model is refused, never cast; ``check_tensors``), and every value
  finite (``check_finite``).
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np

from . import limits
from .validation import InputValueError

__all__ = [
    "ModelFileError",
    "MAX_DEPTH",
    "read_safetensors",
    "read_metadata",
    "check_finite",
    "check_tensors",
]

#: The deepest nesting of lists and objects accepted in a file's JSON metadata.
MAX_DEPTH = 64


class ModelFileError(InputValueError):
    """A model file or checkpoint that is missing, unreadable, damaged or for another model."""


def _read_bytes(path, what):
    """The bytes of the regular file ``path``, bounded by the memory this process may use."""
    try:
        info = os.stat(path)  # before opening: opening a pipe would wait for a writer
        if stat.S_ISDIR(info.st_mode):
            raise ModelFileError(f"{what} {path!r} is a directory, expected a file")
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"{what} {path!r} is not a regular file (a device, pipe or "
                                 "socket), expected a safetensors file")
        return limits.read_bounded(path, limits.memory_limit(), what)
    except FileNotFoundError:
        raise ModelFileError(f"{what} {path!r} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"{what} {path!r} is a directory, expected a file") from None
    except PermissionError:
        raise ModelFileError(f"{what} {path!r} cannot be read: permission denied") from None
    except OSError as exc:
        raise ModelFileError(f"{what} {path!r} cannot be read: {exc.strerror or exc}") from None
    except ModelFileError:
        raise
    except InputValueError as exc:  # read_bounded: not regular, or larger than memory
        raise ModelFileError(str(exc)) from None


def read_safetensors(path, what="model file"):
    """(tensors, metadata dict) from a safetensors file, with clear errors for bad files.

    Missing, unreadable, empty, truncated and garbage files, folders and non-regular
    files (devices, pipes) raise ``ModelFileError``; the read is bounded (see the module).
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = os.fspath(path)
    blob = _read_bytes(path, what)
    if not blob:
        raise ModelFileError(f"{what} {path!r} is empty")
    try:
        tensors = load(blob)
        header_len = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8:8 + header_len])
    except (SafetensorError, ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
        kind = "truncated" if _looks_truncated(blob) else "not a safetensors file"
        raise ModelFileError(f"{what} {path!r} is {kind} ({exc})") from None
    return tensors, header.get("__metadata__", {}) or {}


def _looks_truncated(blob):
    """A valid header whose data section is shorter than the header says."""
    if len(blob) < 8:
        return False
    n = int.from_bytes(blob[:8], "little")
    if 8 < 8 + n <= 100_000_000 and len(blob) < 8 + n and blob[8:9] == b"{":
        return True  # the header itself was cut off
    try:
        header = json.loads(blob[8:8 + n])
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
        return len(blob) < 8 + n + max(ends, default=0)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
        return False


def _depth(value):
    """How deeply lists and objects nest in ``value`` (0 for a number), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def read_metadata(header, path, what, formats, foreign):
    """The parsed ``chainrule`` metadata (an object of one of ``formats``), else an error.

    ``header`` is the metadata dict ``read_safetensors`` returns. Metadata that is not
    valid JSON or nests deeper than ``MAX_DEPTH`` levels is a ``ModelFileError`` naming
    ``what`` and ``path``; a file without ``chainrule`` metadata, or whose ``format`` is
    not one of ``formats``, raises ``ModelFileError(foreign)``.
    """
    text = header.get("chainrule")
    if not isinstance(text, str):
        raise ModelFileError(foreign)
    try:
        meta = json.loads(text)
    except RecursionError:
        meta = None
    except ValueError as exc:
        raise ModelFileError(f"{what} {path!r} is corrupted: its chainrule metadata is not "
                             f"valid JSON ({exc})") from None
    if meta is None or _depth(meta) > MAX_DEPTH:
        raise ModelFileError(f"{what} {path!r}: its metadata nests lists and objects deeper "
                             f"than {MAX_DEPTH} levels")
    if not isinstance(meta, dict) or meta.get("format") not in formats:
        raise ModelFileError(foreign)
    return meta


def check_finite(tensors, where):
    """Refuse NaN and inf in any float array, naming the first such array and its count.

    ``where`` opens the ``ModelFileError`` message (``"checkpoint 'path'"``).
    """
    for key in sorted(tensors):
        a = tensors[key]
        if a.dtype.kind in "fc":
            bad = a.size - int(np.count_nonzero(np.isfinite(a)))
            if bad:
                raise ModelFileError(f"{where}: {key!r} holds {bad} non-finite values "
                                     f"(NaN or inf) among its {a.size}")


def check_tensors(expected, found, path):
    """Strict comparison: same names, shapes and dtypes, or an error naming the key.

    Nothing is cast: an int64, bool or float32 array where the model has float64 is refused.
    """
    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    if missing or extra:
        raise ModelFileError(
            f"{path!r} does not match the model: missing {missing}, unexpected {extra}"
        )
    for key, array in expected.items():
        if found[key].shape != array.shape:
            raise ModelFileError(
                f"{path!r}: {key!r} has shape {found[key].shape}, the model expects {array.shape}"
            )
        if found[key].dtype != array.dtype:
            raise ModelFileError(
                f"{path!r}: {key!r} has dtype {found[key].dtype}, the model expects "
                f"{array.dtype} (arrays are not cast)"
            )
