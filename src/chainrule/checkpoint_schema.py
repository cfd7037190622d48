"""The checkpoint format: its name, its SHA-256, and every metadata field's type, checked.

``chainrule.checkpoint`` checks what it reads here before it builds or changes anything.
Each failure is one ``ModelFileError`` naming the file, the field (``optimizer.step``,
``trainer.history.loss[3]``), what it must be and what came:

* a model description (``class``, ``config``, ``dtype``, ``chainrule_version``): a
  known class name, an object of constructor arguments, a float dtype name
  (``check_model_description``);
* checkpoints (format ``chainrule.checkpoint/2``): one SHA-256 over every array *and*
  all the metadata, the counters, History, hyperparameters and generator states
  included (``checkpoint_digest``); every metadata field's type (``format``, ``model``,
  ``model_rng_state``, ``optimizer``, ``trainer``; ``extra`` is any JSON), and exactly
  the arrays the metadata declares (``check_checkpoint``); the optimizer's state must be
  shaped like the parameters it belongs to (``check_optimizer_arrays``) and every
  generator state one the generator takes (``check_generator_state``).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .checkpoint_files import ModelFileError

__all__ = [
    "CHECKPOINT_FORMAT",
    "OLD_CHECKPOINT_FORMATS",
    "arrays_digest",
    "checkpoint_digest",
    "check_model_description",
    "check_checkpoint",
    "check_optimizer_arrays",
    "check_generator_state",
]

CHECKPOINT_FORMAT = "chainrule.checkpoint/2"
#: Older formats still read: their SHA-256 covers the arrays only (a warning says so).
OLD_CHECKPOINT_FORMATS = ("chainrule.checkpoint/1",)


def arrays_digest(tensors):
    """SHA-256 over every array's name, dtype, shape and bytes, in name order (format /1)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        a = tensors[name]
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def checkpoint_digest(tensors, meta):
    """SHA-256 of a ``chainrule.checkpoint/2`` file: all its arrays and all its metadata.

    The arrays as ``arrays_digest`` (``name|dtype|shape|`` then the bytes, in name order), then
    ``metadata|`` and the metadata except ``sha256`` as canonical JSON:
    ``json.dumps(meta, sort_keys=True, separators=(",", ":"))``.
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        a = tensors[name]
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    body = {k: v for k, v in meta.items() if k != "sha256"}
    h.update(b"metadata|")
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


_MISSING = object()
_JSON_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
               int: "an integer", float: "a number", type(None): "null"}


def _shown(value):
    """How an error shows what came: its JSON kind, and the value when it is short."""
    if value is _MISSING:
        return "nothing (it is missing)"
    kind = _JSON_KINDS.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)):
        return f"{kind} of {len(value)} items"
    text = json.dumps(value)
    return f"{kind}, {text if len(text) <= 60 else text[:57] + '...'}"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_count(v):
    return _is_int(v) and v >= 0


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_float_dtype(v):
    try:
        return isinstance(v, str) and np.dtype(v).kind == "f"
    except (TypeError, ValueError, SyntaxError):
        return False


class _Fields:
    """Reads metadata fields; a field that is missing or of the wrong type is an error."""

    def __init__(self, where):
        self.where = where

    def fail(self, field, expected, value=_MISSING):
        raise ModelFileError(f"{self.where}: {field} must be {expected}, got {_shown(value)}")

    def get(self, section, key, field, check, expected):
        value = section.get(key, _MISSING) if isinstance(section, dict) else _MISSING
        if value is _MISSING or not check(value):
            self.fail(field, expected, value)
        return value

    def items(self, value, field, check, expected):
        """Every item of a list or object ``value`` passes ``check``."""
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            if not check(item):
                name = f"{field}.{key}" if isinstance(value, dict) else f"{field}[{key}]"
                self.fail(name, expected, item)


def check_model_description(info, where, classes, prefix=""):
    """(class, config, dtype) of a stored model description, every field checked.

    ``classes`` maps class names to the classes that may be rebuilt (the registry of
    ``chainrule.checkpoint.register_model``); ``where`` opens the error messages
    (``"model file 'path'"``) and ``prefix`` names the section (``"model."``).
    """
    fields = _Fields(where)
    name = fields.get(info, "class", f"{prefix}class", lambda v: isinstance(v, str),
                      "a model class name (a string)")
    config = fields.get(info, "config", f"{prefix}config", lambda v: isinstance(v, dict),
                        "an object of constructor arguments")
    dtype = fields.get(info, "dtype", f"{prefix}dtype", _is_float_dtype,
                       "a float dtype name such as 'float32'")
    if "chainrule_version" in info:
        fields.get(info, "chainrule_version", f"{prefix}chainrule_version",
                   lambda v: isinstance(v, str), "a version string")
    cls = classes.get(name)
    if cls is None:
        raise ModelFileError(f"{where} holds a {name}, a class chainrule does not "
                             "know; register it with chainrule.checkpoint.register_model")
    return cls, config, np.dtype(dtype)


def check_checkpoint(meta, tensors, path, classes):
    """Every metadata field of a checkpoint has its type; its arrays are the ones declared.

    ``meta`` is the checkpoint's parsed metadata, ``tensors`` its arrays by name
    (``model/NAME``, ``optimizer/SLOT/I``), ``classes`` as in ``check_model_description``.
    """
    f = _Fields(f"checkpoint {path!r}")
    model = f.get(meta, "model", "model", lambda v: isinstance(v, dict), "an object")
    check_model_description(model, f.where, classes, "model.")
    f.get(meta, "model_rng_state", "model_rng_state",
          lambda v: v is None or isinstance(v, dict), "a generator state (an object) or null")
    opt = f.get(meta, "optimizer", "optimizer", lambda v: isinstance(v, dict), "an object")
    f.get(opt, "type", "optimizer.type", lambda v: isinstance(v, str),
          "an optimizer class name (a string)")
    hp = f.get(opt, "hyperparams", "optimizer.hyperparams", lambda v: isinstance(v, dict),
               "an object")
    f.items(hp, "optimizer.hyperparams",
            lambda v: v is None or isinstance(v, (bool, int, float)),
            "a number, a boolean or null")
    f.get(opt, "step", "optimizer.step", _is_count, "an integer >= 0")
    keys = f.get(opt, "keys", "optimizer.keys", lambda v: v is None or isinstance(v, list),
                 "a list of parameter names or null")
    slots = f.get(opt, "slots", "optimizer.slots", lambda v: isinstance(v, dict),
                  "an object of slot name -> number of arrays")
    f.items(slots, "optimizer.slots", _is_count, "an integer >= 0")
    _check_trainer(f.get(meta, "trainer", "trainer", lambda v: isinstance(v, dict),
                         "an object"), f)
    # "extra" may be any JSON (the caller's); its depth is bounded like all the metadata
    # the arrays: model/NAME, and optimizer/SLOT/I for every declared slot and position
    params = {k[len("model/"):]: a for k, a in tensors.items() if k.startswith("model/")}
    if keys is not None:
        f.items(keys, "optimizer.keys", lambda v: isinstance(v, str) and v in params,
                f"the name of one of the model's arrays {sorted(params)}")
        if len(set(keys)) != len(keys):
            f.fail("optimizer.keys", "distinct parameter names", keys)
    declared = {f"model/{k}" for k in params}
    for slot, n in slots.items():
        if keys is not None and n != len(keys):
            f.fail(f"optimizer.slots.{slot}", f"{len(keys)}, one array per name in "
                   "optimizer.keys", n)
        for i in range(n):
            key = f"optimizer/{slot}/{i}"
            if key not in tensors:
                raise ModelFileError(f"checkpoint {path!r}: the array {key!r} is missing "
                                     f"(optimizer.slots says {slot!r} has {n})")
            declared.add(key)
            if keys is not None and tensors[key].shape != params[keys[i]].shape:
                raise ModelFileError(
                    f"checkpoint {path!r}: {key!r} has shape {tensors[key].shape}, but the "
                    f"parameter it belongs to, {keys[i]!r}, has shape {params[keys[i]].shape}")
            if tensors[key].dtype.kind != "f":
                raise ModelFileError(f"checkpoint {path!r}: {key!r} has dtype "
                                     f"{tensors[key].dtype}, expected a float dtype")
    unexpected = sorted(set(tensors) - declared)
    if unexpected:
        raise ModelFileError(f"checkpoint {path!r} holds arrays its metadata does not "
                             f"declare: {unexpected}")


def _check_trainer(trainer, f):
    """The fields of ``Trainer.state_dict()``: counters, generator states, sums, History."""
    from dataclasses import fields as dataclass_fields

    from .trainer import History

    for key in ("epoch", "iteration", "batch_in_epoch"):
        f.get(trainer, key, f"trainer.{key}", _is_count, "an integer >= 0")
    f.get(trainer, "epoch_rng_state", "trainer.epoch_rng_state",
          lambda v: v is None or isinstance(v, dict), "a generator state (an object) or null")
    f.get(trainer, "rng_state", "trainer.rng_state", lambda v: isinstance(v, dict),
          "a generator state (an object)")
    f.get(trainer, "running", "trainer.running",
          lambda v: isinstance(v, list) and len(v) == 4 and all(map(_is_number, v)),
          "4 numbers [loss sum, correct, samples seen, seconds]")
    history = f.get(trainer, "history", "trainer.history", lambda v: isinstance(v, dict),
                    "an object of lists")
    names = [field.name for field in dataclass_fields(History)]
    for key, values in history.items():
        if key not in names:
            f.fail(f"trainer.history.{key}", f"absent (a History has {names})", values)
        f.get(history, key, f"trainer.history.{key}", lambda v: isinstance(v, list), "a list")
        check, expected = ((_is_int, "an integer") if key == "epoch" else
                           (lambda v: v is None or _is_number(v), "a number or null"))
        f.items(values, f"trainer.history.{key}", check, expected)
    lengths = {k: len(history[k]) for k in History.EPOCH_FIELDS if k in history}
    if len(set(lengths.values())) > 1:
        f.fail("trainer.history", "per-epoch lists of one length", lengths)


def check_optimizer_arrays(state, keys, params, path):
    """The optimizer's arrays have their parameters' shapes and dtype (by name or position).

    ``state`` maps slot names to lists of arrays, ``keys`` the parameter names they
    belong to in order (``None``: the order of ``params``), ``params`` the model's.
    """
    names = list(params) if keys is None else keys
    for slot, arrays in state.items():
        if keys is None and arrays and len(arrays) != len(names):
            raise ModelFileError(f"checkpoint {path!r}: optimizer slot {slot!r} has "
                                 f"{len(arrays)} arrays, the model has {len(names)} parameters")
        for i, a in enumerate(arrays):
            p = params.get(names[i])
            if p is None:
                raise ModelFileError(f"checkpoint {path!r}: optimizer.keys names {names[i]!r}, "
                                     f"which is not a parameter of the model {list(params)}")
            if a.shape != p.shape or a.dtype != p.dtype:
                raise ModelFileError(
                    f"checkpoint {path!r}: 'optimizer/{slot}/{i}' is {a.dtype} {a.shape}, but "
                    f"the parameter {names[i]!r} is {p.dtype} {p.shape}")


def check_generator_state(generator, state, field, path):
    """Refuse a generator state that ``generator`` would not take (tried on a scratch one).

    Nothing is checked when ``generator`` or ``state`` is ``None``; ``field`` names the
    metadata field (``"trainer.rng_state"``) in the error.
    """
    if generator is None or state is None:
        return
    try:
        scratch = type(generator.bit_generator)()
    except Exception:  # noqa: BLE001 - an unusual bit generator: the rollback still covers it
        return
    try:
        scratch.state = state
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as exc:
        raise ModelFileError(f"checkpoint {path!r}: {field} is not a state of the "
                             f"{type(scratch).__name__} generator ({exc})") from None
