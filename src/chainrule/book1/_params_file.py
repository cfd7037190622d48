"""Parameters saved the books' way, but as safetensors: never a pickle.

The books pickle their parameters (``save_params``/``load_params``); loading a pickle
can run arbitrary code, so chainrule writes and reads safetensors files instead (arrays
plus a little JSON), whatever the file's name, and refuses a pickle with an error that
says why.
"""

from __future__ import annotations

import os

import numpy as np

from ..validation import InputTypeError, InputValueError

#: The first byte of every pickle of protocol 2 or later (the books use 2 and up).
PICKLE_MAGIC = b"\x80"


def check_file_name(file_name):
    """``file_name`` as a string path, else ``InputTypeError``."""
    if not isinstance(file_name, (str, os.PathLike)):
        raise InputTypeError(f"file_name must be a path, got {type(file_name).__name__}")
    return os.fspath(file_name)


def save_arrays(arrays, file_name, kind):
    """Write ``arrays`` (name -> array) to ``file_name`` as safetensors; returns the name."""
    from safetensors.numpy import save_file

    file_name = check_file_name(file_name)
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, file_name,
              metadata={"format": kind})
    return file_name


def load_arrays(file_name):
    """The arrays of a file ``save_arrays`` wrote (name -> array); refuses pickles."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    file_name = check_file_name(file_name)
    if not os.path.isfile(file_name):
        raise InputValueError(f"file_name {file_name!r}: no such file")
    with open(file_name, "rb") as f:
        head = f.read(1)
    if head == PICKLE_MAGIC:
        raise InputValueError(
            f"file_name {file_name!r} is a pickle file (the books' format); chainrule never "
            "loads pickles, which can run arbitrary code. Train and save_params again: "
            "chainrule's save_params writes safetensors")
    try:
        return load_file(file_name)
    except (SafetensorError, OSError, ValueError) as error:
        raise InputValueError(f"file_name {file_name!r} is not a safetensors file of "
                              f"parameters: {error}") from None
