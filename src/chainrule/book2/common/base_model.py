"""Book 2's ``common/base_model.py``: ``BaseModel`` with ``save_params``/``load_params``.

The book pickles the parameters; chainrule never writes or reads pickles (loading one
can run arbitrary code). ``save_params`` writes a safetensors file instead, the
parameters as float16 as the book stores them, and ``load_params`` reads it back as
float32 into the model's arrays, in place. A pickle file given to ``load_params`` is
refused with an error that says so.
"""

from __future__ import annotations

import numpy as np

from ...book1._params_file import check_file_name, load_arrays, save_arrays
from ...validation import InputValueError
from .config import GPU

__all__ = ["np", "GPU", "BaseModel"]

def _file_name(model, file_name):
    if file_name is None:
        return type(model).__name__ + ".safetensors"
    return check_file_name(file_name)


class BaseModel:
    """The base of book 2's models: ``params``/``grads`` lists, ``forward``, ``backward``
    (to be written by the subclass) and saving the parameters."""

    def __init__(self):
        self.params, self.grads = None, None

    def forward(self, *args):
        """The loss of a batch; each model defines it."""
        raise NotImplementedError

    def backward(self, *args):
        """Fill ``grads``; each model defines it."""
        raise NotImplementedError

    def save_params(self, file_name=None):
        """Write ``params`` as float16 to a safetensors file (default ``<Class>.safetensors``).

        Returns the file name. The book writes a pickle (``<Class>.pkl``) instead.
        """
        arrays = {str(i): p.astype(np.float16) for i, p in enumerate(self.params)}
        return save_arrays(arrays, _file_name(self, file_name), "chainrule.book2.BaseModel")

    def load_params(self, file_name=None):
        """Read a file of ``save_params`` into ``params`` (as float32 values, in place).

        Refuses a pickle (the book's ``.pkl`` files), a missing file, and a file whose
        number or shapes of arrays do not match the model's.
        """
        file_name = _file_name(self, file_name)
        arrays = load_arrays(file_name)
        if set(arrays) != {str(i) for i in range(len(self.params))}:
            raise InputValueError(f"file_name {file_name!r} holds {len(arrays)} arrays, the "
                                  f"model has {len(self.params)} parameters")
        values = [arrays[str(i)].astype("f") for i in range(len(self.params))]
        for i, (param, value) in enumerate(zip(self.params, values, strict=True)):
            if value.shape != param.shape:
                raise InputValueError(f"file_name {file_name!r}: parameter {i} has shape "
                                      f"{value.shape}, the model's {param.shape}")
        for param, value in zip(self.params, values, strict=True):
            param[...] = value
