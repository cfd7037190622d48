"""Model files and training checkpoints in the safetensors format; nothing is unpickled.

A model file holds every parameter (``W1``, ``b1``, ...) and buffer (batch-norm
``running_mean1``, ...) by name, and JSON metadata: the model class, its constructor
arguments, the dtype and the chainrule version, so ``load_model`` rebuilds the model
without being told its shape. Files are written atomically (a temporary file in the same
directory, fsync, ``os.replace``), so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .validation import InputTypeError, InputValueError

__all__ = [
    "register_model",
    "save_model",
    "load_model",
    "save_checkpoint",
    "restore_checkpoint",
    "read_checkpoint",
    "clean_stale_temporaries",
    "ModelFileError",
]

FORMAT = "chainrule.model/1"


class ModelFileError(InputValueError):
    """A model file that is missing, empty, truncated, garbage or for another model."""


_REGISTRY = {}


def register_model(cls):
    """Let ``load_model`` rebuild models of ``cls`` (usable as a class decorator).

    The class must follow the model protocol and keep its constructor arguments, as
    plain JSON data, in ``config`` (so ``cls(**config)`` rebuilds the architecture).
    chainrule's own models are registered already.
    """
    if not isinstance(cls, type):
        raise InputTypeError(f"cls must be a class, got {type(cls).__name__}")
    _REGISTRY[cls.__name__] = cls
    return cls


def _model_classes():
    from .models import DeepConvNet, MultiLayerNet, SimpleConvNet, SimpleNet, TwoLayerNet

    for cls in (TwoLayerNet, MultiLayerNet, SimpleNet, SimpleConvNet, DeepConvNet):
        _REGISTRY.setdefault(cls.__name__, cls)
    return _REGISTRY


def model_tensors(model):
    """Parameters and buffers by name, as contiguous arrays (what a model file holds)."""
    arrays = {**model.params, **model.buffers}
    return {name: np.ascontiguousarray(a) for name, a in arrays.items()}


def model_metadata(model):
    """The JSON-able description ``load_model`` rebuilds the model from."""
    from . import __version__

    name = type(model).__name__
    if _model_classes().get(name) is not type(model) or getattr(model, "config", None) is None:
        raise InputTypeError(
            f"model must be of a registered class with a config to be saved with its "
            f"architecture, got {name}; see chainrule.checkpoint.register_model, or save "
            "its params with safetensors.numpy.save_file"
        )
    return {"format": FORMAT, "class": name, "config": model.config,
            "dtype": np.dtype(model.dtype).name, "chainrule_version": __version__}


def save_model(model, path):
    """Write ``model`` to ``path`` (safetensors: arrays by name + JSON metadata), atomically."""
    from safetensors.numpy import save

    meta = model_metadata(model)
    blob = save(model_tensors(model), metadata={"chainrule": json.dumps(meta)})
    with atomic_write(path) as fh:
        fh.write(blob)
    return path


def read_safetensors(path, what="model file"):
    """(tensors, metadata dict) from a safetensors file, with clear errors for bad files."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        raise ModelFileError(f"{what} {path!r} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"{what} {path!r} is a directory, expected a file") from None
    if not blob:
        raise ModelFileError(f"{what} {path!r} is empty")
    try:
        tensors = load(blob)
        header_len = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8:8 + header_len])
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
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
    except (ValueError, KeyError, TypeError):
        return False
    return len(blob) < 8 + n + max(ends, default=0)


def check_tensors(expected, found, path):
    """Strict comparison: same names and shapes, or an error naming the key and shapes."""
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


def load_model(path, *, expect=None):
    """Rebuild the model saved in ``path`` and fill in its arrays (strictly checked).

    ``expect`` (optional) is a class name or class the file must hold; a file for another
    architecture raises ``ModelFileError``, as do missing, extra or mis-shaped arrays
    (the error names the key and both shapes) and empty, truncated or garbage files.
    """
    tensors, meta = read_safetensors(path)
    try:
        info = json.loads(meta["chainrule"])
        if info.get("format") != FORMAT:
            raise KeyError("format")
        cls = _model_classes()[info["class"]]
        config = dict(info["config"])
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(
            f"{os.fspath(path)!r} is a safetensors file but not a chainrule model "
            f"(no '{FORMAT}' metadata)"
        ) from None
    if expect is not None:
        wanted = expect if isinstance(expect, str) else expect.__name__
        if wanted != cls.__name__:
            raise ModelFileError(f"{os.fspath(path)!r} holds a {cls.__name__}, expected {wanted}")
    model = cls(**config)
    expected = model_tensors(model)
    check_tensors(expected, tensors, os.fspath(path))
    targets = {**model.params, **model.buffers}
    for name, target in targets.items():
        target[...] = tensors[name]
    return model


# ---- training checkpoints -----------------------------------------------------------

CHECKPOINT_FORMAT = "chainrule.checkpoint/1"
CHECKPOINT_NAME = "checkpoint.safetensors"


def _digest(tensors):
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        a = tensors[name]
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _generator_state(model):
    """The state of the model's own generator (dropout masks), or None."""
    return None if model.rng is None else model.rng.bit_generator.state


def save_checkpoint(trainer, path, extra=None):
    """Write everything needed to continue ``trainer`` bit for bit, atomically.

    The file holds the model's parameters and buffers (``model/W1``, ...), the
    optimizer's state arrays (``optimizer/exp_avg/0``, ...), and JSON metadata: the
    model's architecture, the optimizer's type, hyperparameters and step count, the
    Trainer's counters and History, the states of the data-order and dropout random
    generators, ``extra`` (plain data the caller wants back, such as CLI arguments),
    and a SHA-256 of all the arrays that ``load_checkpoint`` verifies. The previous
    file at ``path`` stays in place until the new one is complete.
    """
    from safetensors.numpy import save

    model, optimizer = trainer.model, trainer.optimizer
    opt = optimizer.state_dict()
    tensors = {f"model/{k}": v for k, v in model_tensors(model).items()}
    for slot, arrays in opt["state"].items():
        for i, a in enumerate(arrays):
            tensors[f"optimizer/{slot}/{i}"] = np.ascontiguousarray(a)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "model": model_metadata(model),
        "model_rng_state": _generator_state(model),
        "optimizer": {"type": opt["type"], "hyperparams": opt["hyperparams"],
                      "step": opt["step"], "keys": opt["keys"],
                      "slots": {s: len(a) for s, a in opt["state"].items()}},
        "trainer": trainer.state_dict(),
        "extra": extra,
        "sha256": _digest(tensors),
    }
    blob = save(tensors, metadata={"chainrule": json.dumps(meta)})
    with atomic_write(path) as fh:
        fh.write(blob)
    return path


def read_checkpoint(path):
    """(tensors, metadata) of a training checkpoint, its hash verified."""
    tensors, header = read_safetensors(path, what="checkpoint")
    try:
        meta = json.loads(header["chainrule"])
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise KeyError("format")
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(
            f"{os.fspath(path)!r} is not a chainrule training checkpoint "
            f"(no '{CHECKPOINT_FORMAT}' metadata)"
        ) from None
    if _digest(tensors) != meta.get("sha256"):
        raise ModelFileError(f"checkpoint {os.fspath(path)!r} is corrupted: its arrays do not "
                             "match the SHA-256 recorded when it was written")
    return tensors, meta


def restore_checkpoint(trainer, path):
    """Put the state saved in ``path`` into ``trainer`` (its model and optimizer too).

    The trainer's model must have the architecture the checkpoint was written from and
    its optimizer the same type; otherwise ``ModelFileError`` names the difference.
    Returns the ``extra`` data given to ``save_checkpoint``.
    """
    tensors, meta = read_checkpoint(path)
    path = os.fspath(path)
    model, optimizer = trainer.model, trainer.optimizer
    saved, current = meta["model"], model_metadata(model)
    for key in ("class", "config"):
        if saved[key] != current[key]:
            raise ModelFileError(
                f"checkpoint {path!r} is for another model: {key} {saved[key]} there, "
                f"{current[key]} here"
            )
    model_arrays = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    check_tensors(model_tensors(model), model_arrays, path)
    opt = meta["optimizer"]
    if opt["type"] != type(optimizer).__name__:
        raise ModelFileError(
            f"checkpoint {path!r} was written with {opt['type']}, not {type(optimizer).__name__}"
        )
    state = {slot: [tensors[f"optimizer/{slot}/{i}"] for i in range(n)]
             for slot, n in opt["slots"].items()}
    optimizer.load_state_dict({"type": opt["type"], "hyperparams": opt["hyperparams"],
                               "step": opt["step"], "keys": opt.get("keys"), "state": state})
    for name, target in {**model.params, **model.buffers}.items():
        target[...] = model_arrays[name]
    if meta["model_rng_state"] is not None and model.rng is not None:
        model.rng.bit_generator.state = meta["model_rng_state"]
    trainer.load_state_dict(meta["trainer"])
    return meta.get("extra")


def clean_stale_temporaries(directory):
    """Remove ``.NAME.XXXXXXXX.part`` files an interrupted atomic write left behind."""
    removed = []
    for entry in Path(directory).glob(".*.part"):
        if entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed
