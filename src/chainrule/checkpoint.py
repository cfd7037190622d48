"""Model files and training checkpoints in the safetensors format; nothing is unpickled.

A model file holds every parameter (``W1``, ``b1``, ...) and buffer (batch-norm
``running_mean1``, ...) by name, and JSON metadata: the model class, its constructor
arguments, the dtype and the chainrule version, so ``load_model`` rebuilds the model
without being told its shape. A checkpoint holds a Trainer's whole state (the model, the
optimizer, the counters, History and generator states) and one SHA-256 over all of it.
Files are written atomically (a temporary file in the same directory, fsync,
``os.replace``), so a crash leaves the old file or the new one.

Everything read is verified before it is used, each failure one ``ModelFileError`` (an
``InputValueError``) naming the file, the field or array, what was expected and what
came: the file, its metadata and its arrays (``chainrule.checkpoint_files``), the
metadata's fields (``chainrule.checkpoint_schema``), and the stored configuration, which
is rebuilt under ``chainrule.limits.budget`` of a few times the bytes of the file's
arrays, so a tiny file whose configuration asks for a huge model is refused before it
is drawn; a configuration that is not an object, or that the class refuses, is a
``ModelFileError`` too. ``restore_checkpoint`` applies a checkpoint whole or not at all;
the folder of checkpoints is locked by one run at a time (``chainrule.checkpoint_folder``).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from . import limits
from .atomic import atomic_write
from .checkpoint_files import MAX_DEPTH as MAX_DEPTH
from .checkpoint_files import (
    ModelFileError,
    check_finite,
    check_tensors,
    read_metadata,
    read_safetensors,
)
from .checkpoint_folder import CHECKPOINT_NAME as CHECKPOINT_NAME
from .checkpoint_folder import LOCK_NAME as LOCK_NAME
from .checkpoint_folder import clean_stale_temporaries, lock_folder
from .checkpoint_schema import (
    CHECKPOINT_FORMAT,
    OLD_CHECKPOINT_FORMATS,
    arrays_digest,
    check_checkpoint,
    check_generator_state,
    check_model_description,
    check_optimizer_arrays,
    checkpoint_digest,
)
from .validation import ChainruleInputError, InputTypeError

__all__ = [
    "register_model",
    "save_model",
    "load_model",
    "save_checkpoint",
    "restore_checkpoint",
    "read_checkpoint",
    "clean_stale_temporaries",
    "lock_folder",
    "ModelFileError",
]

FORMAT = "chainrule.model/1"
#: Rebuilding a model from a file may allocate at most this much beyond 4 bytes per byte
#: and 8 bytes per number of the file's arrays (parameters, gradients, the first draw).
CONFIG_SLACK = 64 << 20

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


# ---- model files --------------------------------------------------------------------

def load_model(path, *, expect=None):
    """Rebuild the model saved in ``path`` and fill in its arrays (strictly checked).

    ``expect`` (optional) is a class name or class the file must hold; a file for another
    architecture raises ``ModelFileError``, as do missing, extra, mis-shaped or
    wrongly typed arrays (the error names the key, both shapes or both dtypes), NaN or
    inf in any array, a stored configuration the class refuses or that describes a
    model far larger than the file's arrays, and missing, empty, truncated, garbage or
    non-regular files. The model is built under ``chainrule.limits.budget`` of
    ``4 * array bytes + 8 * array numbers + CONFIG_SLACK`` bytes.
    """
    tensors, header = read_safetensors(path)
    path = os.fspath(path)
    info = read_metadata(header, path, "model file", (FORMAT,),
                         f"{path!r} is a safetensors file but not a chainrule model "
                         f"(no '{FORMAT}' metadata)")
    cls, config, dtype = check_model_description(info, f"model file {path!r}", _model_classes())
    if expect is not None:
        wanted = expect if isinstance(expect, str) else expect.__name__
        if wanted != cls.__name__:
            raise ModelFileError(f"{path!r} holds a {cls.__name__}, expected {wanted}")
    check_finite(tensors, f"model file {path!r}")
    model = _build(cls, config, tensors, path)
    if np.dtype(model.dtype) != dtype:
        raise ModelFileError(f"model file {path!r}: its stored dtype {dtype} is not the "
                             f"{np.dtype(model.dtype)} its configuration builds")
    check_tensors(model_tensors(model), tensors, path)
    for name, target in {**model.params, **model.buffers}.items():
        target[...] = tensors[name]
    return model


def _build(cls, config, tensors, path):
    """``cls(**config)``, allocating no more than the file's arrays can account for."""
    nbytes = sum(a.nbytes for a in tensors.values())
    bound = 4 * nbytes + 8 * sum(a.size for a in tensors.values()) + CONFIG_SLACK
    try:
        with limits.budget(bound, why=f"that the model file's arrays ({nbytes} bytes) can "
                                      "describe"):
            return cls(**config)
    except (ChainruleInputError, TypeError, ValueError, KeyError, IndexError,
            AttributeError, OverflowError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(f"model file {path!r}: its stored configuration is not valid: "
                             f"{message}") from None
    except MemoryError:
        raise ModelFileError(f"model file {path!r}: its stored configuration describes a "
                             "model larger than the memory available") from None


# ---- training checkpoints -----------------------------------------------------------

def _generator_state(model):
    """The state of the model's own generator (dropout masks), or None."""
    return None if model.rng is None else model.rng.bit_generator.state


def save_checkpoint(trainer, path, extra=None):
    """Write everything needed to continue ``trainer`` bit for bit, atomically.

    The file holds the model's parameters and buffers (``model/W1``, ...), the
    optimizer's state arrays (``optimizer/exp_avg/0``, ...), and JSON metadata: the
    model's architecture, the optimizer's type, hyperparameters and step count, the
    Trainer's counters and History, the states of the data-order and dropout random
    generators, ``extra`` (plain JSON data the caller wants back, such as CLI
    arguments), and one SHA-256 over all the arrays and all the other metadata
    (``checkpoint_digest``) that ``read_checkpoint`` verifies. The previous file at
    ``path`` stays in place until the new one is complete.
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
    }
    meta = json.loads(json.dumps(meta))  # hash exactly what a reader will parse
    meta["sha256"] = checkpoint_digest(tensors, meta)
    blob = save(tensors, metadata={"chainrule": json.dumps(meta)})
    with atomic_write(path) as fh:
        fh.write(blob)
    return path


def read_checkpoint(path):
    """(tensors, metadata) of a training checkpoint, verified (see the module).

    The SHA-256 over all arrays and metadata must match; every metadata field must have
    its type (the error names the field, what it must be and what came); the optimizer's
    arrays must be present with the shapes of their parameters; every array must be
    finite; else ``ModelFileError``. A ``chainrule.checkpoint/1`` file (its SHA-256
    covers the arrays only) is read with a ``UserWarning`` saying its metadata is not
    covered by the hash (its fields' types are still checked).
    """
    tensors, header = read_safetensors(path, what="checkpoint")
    path = os.fspath(path)
    meta = read_metadata(header, path, "checkpoint", (CHECKPOINT_FORMAT, *OLD_CHECKPOINT_FORMATS),
                         f"{path!r} is not a chainrule training checkpoint "
                         f"(no '{CHECKPOINT_FORMAT}' metadata)")
    old = meta["format"] != CHECKPOINT_FORMAT
    recorded = meta.get("sha256")
    if recorded != (arrays_digest(tensors) if old else checkpoint_digest(tensors, meta)):
        covered = "arrays do" if old else "arrays and metadata do"
        raise ModelFileError(f"checkpoint {path!r} is corrupted: its {covered} not match the "
                             "SHA-256 recorded when it was written")
    check_checkpoint(meta, tensors, path, _model_classes())
    check_finite(tensors, f"checkpoint {path!r}")
    if old:
        warnings.warn(f"checkpoint {path!r} is in the older format {meta['format']}: its "
                      "SHA-256 covers the arrays only, so its metadata (counters, History, "
                      "hyperparameters, generator states) is not covered; the next save "
                      f"writes {CHECKPOINT_FORMAT}", UserWarning, stacklevel=2)
    return tensors, meta


def restore_checkpoint(trainer, path):
    """Put the state saved in ``path`` into ``trainer`` (its model and optimizer too).

    The trainer's model must have the architecture and dtype the checkpoint was written
    from and its optimizer the same type; otherwise ``ModelFileError`` names the
    difference. All or nothing: everything is checked first, and if applying still
    fails, the model's arrays, the optimizer, the Trainer's counters and History and
    every generator are put back as they were before the exception propagates.
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
    check_optimizer_arrays(state, opt["keys"], model.params, path)
    check_generator_state(model.rng, meta["model_rng_state"], "model_rng_state", path)
    for key in ("rng_state", "epoch_rng_state"):
        check_generator_state(trainer.rng, meta["trainer"][key], f"trainer.{key}", path)
    before = _snapshot(trainer)
    try:
        optimizer.load_state_dict({"type": opt["type"], "hyperparams": opt["hyperparams"],
                                   "step": opt["step"], "keys": opt["keys"], "state": state})
        for name, target in {**model.params, **model.buffers}.items():
            target[...] = model_arrays[name]
        if meta["model_rng_state"] is not None and model.rng is not None:
            model.rng.bit_generator.state = meta["model_rng_state"]
        trainer.load_state_dict(meta["trainer"])
    except BaseException as exc:
        _roll_back(trainer, before)
        if isinstance(exc, ChainruleInputError):
            raise ModelFileError(f"checkpoint {path!r} cannot be restored: {exc}") from None
        raise
    return meta.get("extra")


def _snapshot(trainer):
    """What ``restore_checkpoint`` may change, kept so ``_roll_back`` can put it back."""
    model, optimizer = trainer.model, trainer.optimizer
    arrays = {k: np.array(a, copy=True) for k, a in {**model.params, **model.buffers}.items()}
    return (arrays, _generator_state(model), optimizer.state_dict(), dict(optimizer.__dict__),
            dict(trainer.__dict__), trainer.rng.bit_generator.state)


def _roll_back(trainer, before):
    arrays, model_rng, opt_state, opt_attrs, trainer_attrs, trainer_rng = before
    model, optimizer = trainer.model, trainer.optimizer
    targets = {**model.params, **model.buffers}
    for name, a in arrays.items():
        targets[name][...] = a
    optimizer.load_state_dict(opt_state)  # values, for optimizers that load in place
    optimizer.__dict__.clear()
    optimizer.__dict__.update(opt_attrs)  # and the very objects it held
    trainer.__dict__.clear()
    trainer.__dict__.update(trainer_attrs)
    if model_rng is not None:
        model.rng.bit_generator.state = model_rng
    trainer.rng.bit_generator.state = trainer_rng
