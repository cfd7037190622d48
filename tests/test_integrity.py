"""What model files and checkpoints are checked for: bounded reads, a stored configuration
that cannot allocate beyond the file, dtypes, finiteness, one hash over everything, the
metadata's schema, all-or-nothing restores, and the checkpoint folder's lock."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from chainrule import limits
from chainrule.checkpoint import (
    CHECKPOINT_NAME,
    ModelFileError,
    clean_stale_temporaries,
    load_model,
    lock_folder,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    save_model,
)
from chainrule.models import MultiLayerNet, TwoLayerNet
from chainrule.optim import Adam
from chainrule.trainer import Trainer
from chainrule.validation import InputValueError

rng = np.random.default_rng(0)
X, T = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
POSIX = os.name == "posix"


# ---- helpers: files read and rewritten with safetensors itself -------------------------

def read_file(path):
    with safe_open(path, framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(f.metadata()["chainrule"])


def write_file(path, arrays, meta):
    save_file(arrays, str(path), metadata={"chainrule": json.dumps(meta)})
    return path


def documented_sha256(arrays, meta):
    """The recipe the checkpoint docs give: arrays by name, then the canonical metadata."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode() + np.ascontiguousarray(a).tobytes())
    body = {k: v for k, v in meta.items() if k != "sha256"}
    h.update(b"metadata|" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


def rewritten(path, out, edit_meta=None, edit_arrays=None):
    """A copy of checkpoint ``path`` with edits, and a valid hash over the edited content."""
    arrays, meta = read_file(path)
    if edit_arrays:
        edit_arrays(arrays)
    if edit_meta:
        edit_meta(meta)
    if isinstance(meta, dict):
        meta["sha256"] = documented_sha256(arrays, meta)
    return write_file(out, arrays, meta)


def make_trainer(seed=1):
    model = MultiLayerNet(6, [8], 3, use_dropout=True, dropout_ratio=0.3, use_batchnorm=True,
                          random_state=seed)
    return Trainer(model, Adam(lr=0.0125), random_state=seed + 1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of make_trainer() after one epoch and a half."""
    trainer = make_trainer()

    def stop(tr):
        if tr.iteration == 6:
            tr.stop_requested = True

    trainer.fit(X, T, max_epoch=3, batch_size=10, verbose=0, step_callbacks=[stop])
    return save_checkpoint(trainer, tmp_path_factory.mktemp("ck") / CHECKPOINT_NAME,
                           extra={"note": "mine"})


def everything(trainer):
    """A deep copy of all a restore may touch, for bit-for-bit comparisons."""
    model, opt = trainer.model, trainer.optimizer
    state = opt.state_dict()
    return {
        "arrays": {k: a.copy() for k, a in {**model.params, **model.buffers}.items()},
        "opt": (state["type"], state["hyperparams"], state["step"], state["keys"],
                {s: [a.copy() for a in v] for s, v in state["state"].items()}),
        "trainer": json.dumps(timeless(trainer.state_dict()), sort_keys=True),
        "model_rng": json.dumps(model.rng.bit_generator.state, sort_keys=True),
    }


def timeless(state):
    """A Trainer's state without the measured seconds, which no two runs share."""
    state["history"].pop("seconds")
    state["running"].pop()
    return state


def assert_same(a, b):
    assert a["arrays"].keys() == b["arrays"].keys()
    for k in a["arrays"]:
        assert a["arrays"][k].tobytes() == b["arrays"][k].tobytes(), k
    assert a["opt"][:4] == b["opt"][:4]
    for slot, arrays in a["opt"][4].items():
        assert [x.tobytes() for x in arrays] == [x.tobytes() for x in b["opt"][4][slot]]
    assert a["trainer"] == b["trainer"] and a["model_rng"] == b["model_rng"]


# ---- 1. bounded reads ------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_as_a_model_file_is_refused_at_once(tmp_path):
    link = tmp_path / "model.safetensors"
    link.symlink_to("/dev/zero")
    for path in ("/dev/zero", link):
        start = time.monotonic()
        with pytest.raises(ModelFileError, match="is not a regular file"):
            load_model(path)
        assert time.monotonic() - start < 2.0
    with pytest.raises(ModelFileError, match=r"checkpoint '/dev/zero' is not a regular file"):
        read_checkpoint("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_as_a_model_file_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            load_model(fifo)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5.0)
    if worker.is_alive():  # it opened the pipe and waits: release it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_model blocked on a named pipe")
    assert isinstance(outcome[0], ModelFileError) and "not a regular file" in str(outcome[0])


def test_permission_denied_is_a_model_file_error(tmp_path, monkeypatch):
    path = save_model(TwoLayerNet(2, 3, 2, random_state=0), tmp_path / "m.safetensors")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(limits, "read_bounded", denied)
    with pytest.raises(ModelFileError, match=r"'.*m\.safetensors' cannot be read: permission "
                                             "denied"):
        load_model(path)


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_model_file_error(tmp_path):
    path = save_model(TwoLayerNet(2, 3, 2, random_state=0), tmp_path / "m.safetensors")
    path.chmod(0)
    try:
        with pytest.raises(ModelFileError, match="permission denied"):
            load_model(path)
    finally:
        path.chmod(0o644)


def test_a_file_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = save_model(TwoLayerNet(6, 5, 3, random_state=0), tmp_path / "m.safetensors")
    monkeypatch.setattr(limits, "memory_limit", lambda: 100)
    with pytest.raises(ModelFileError, match=r"more than the 100 bytes it may have"):
        load_model(path)


def test_json_nesting_100000_deep_is_a_model_file_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    arrays = {"W1": np.zeros((2, 3))}
    inner = tmp_path / "inner.safetensors"  # the chainrule metadata string nests
    save_file(arrays, str(inner), metadata={"chainrule": deep})
    with pytest.raises(ModelFileError, match="nests lists and objects deeper than 64"):
        load_model(inner)
    with pytest.raises(ModelFileError, match="nests lists and objects deeper than 64"):
        read_checkpoint(inner)
    outer = tmp_path / "outer.safetensors"  # the safetensors header itself nests
    header = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    outer.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(ModelFileError, match="not a safetensors file"):
        load_model(outer)


# ---- 2. the stored configuration cannot allocate beyond the file ----------------------

def tiny_model_file(tmp_path, **config):
    """A TwoLayerNet(2, 1, 2) file (7 numbers) whose stored config is changed."""
    path = save_model(TwoLayerNet(2, 1, 2, random_state=0), tmp_path / "tiny.safetensors")
    arrays, meta = read_file(path)
    meta["config"].update(config)
    return write_file(path, arrays, meta)


CAPPED = textwrap.dedent("""
    import resource, sys
    from chainrule.checkpoint import ModelFileError, load_model
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == 2 << 30
    try:
        load_model(sys.argv[1])
    except ModelFileError as exc:
        print(exc)
        sys.exit(0)
    sys.exit("loaded")
""")


@pytest.mark.skipif(not POSIX, reason="needs resource.setrlimit")
def test_a_tiny_file_asking_for_a_huge_model_is_refused_under_a_2_gib_cap(tmp_path):
    import resource

    path = tiny_model_file(tmp_path, hidden_size=300_000_000)
    assert path.stat().st_size < 1000

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", CAPPED, str(path)], capture_output=True,
                         text=True, timeout=60, preexec_fn=cap, env=env)
    assert run.returncode == 0, run.stderr  # a MemoryError would be a traceback, exit 1
    message = run.stdout.strip()
    assert "\n" not in message
    assert "its stored configuration is not valid" in message
    assert "that the model file's arrays (56 bytes) can describe" in message


def test_the_budget_refuses_a_model_memory_would_allow(tmp_path):
    # 10 million numbers: about 160 MiB, which this machine has, but not a 7-number file
    path = tiny_model_file(tmp_path, hidden_size=1_000_000)
    with pytest.raises(ModelFileError, match=r"TwoLayerNet .* would need .*MiB, more than the "
                                             r".* that the model file's arrays"):
        load_model(path)


@pytest.mark.parametrize("config, message", [
    ([1, 2], r"config must be an object of constructor arguments, got a list of 2 items"),
    ("big", r"config must be an object of constructor arguments, got a string, \"big\""),
    ({"input_size": 2, "hidden_size": 1, "output_size": 2, "colour": "red"},
     r"stored configuration is not valid: .*unexpected keyword argument 'colour'"),
    ({"input_size": 2, "hidden_size": -4, "output_size": 2},
     r"stored configuration is not valid: hidden_size"),
])
def test_a_config_that_is_not_valid_is_a_model_file_error(tmp_path, config, message):
    path = save_model(TwoLayerNet(2, 1, 2, random_state=0), tmp_path / "m.safetensors")
    arrays, meta = read_file(path)
    meta["config"] = config
    with pytest.raises(ModelFileError, match=message):
        load_model(write_file(path, arrays, meta))


@pytest.mark.parametrize("field, value, message", [
    ("class", 7, r"class must be a model class name \(a string\), got an integer, 7"),
    ("class", "Mystery", r"holds a Mystery, a class chainrule does not know"),
    ("dtype", "int64", r"dtype must be a float dtype name such as 'float32'"),
])
def test_model_file_metadata_fields_are_checked(tmp_path, field, value, message):
    path = save_model(TwoLayerNet(2, 1, 2, random_state=0), tmp_path / "m.safetensors")
    arrays, meta = read_file(path)
    meta[field] = value
    with pytest.raises(ModelFileError, match=message):
        load_model(write_file(path, arrays, meta))


# ---- 3. dtypes and finiteness -----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float32])
def test_arrays_of_another_dtype_are_refused_not_cast(tmp_path, dtype):
    path = save_model(TwoLayerNet(6, 5, 3, random_state=0), tmp_path / "m.safetensors")
    arrays, meta = read_file(path)
    arrays["W1"] = np.ones((6, 5), dtype=dtype)
    with pytest.raises(ModelFileError, match=rf"'W1' has dtype {np.dtype(dtype)}, the model "
                                             r"expects float64 \(arrays are not cast\)"):
        load_model(write_file(path, arrays, meta))


def test_non_finite_weights_are_refused_with_their_count(tmp_path):
    path = save_model(TwoLayerNet(6, 5, 3, random_state=0), tmp_path / "m.safetensors")
    arrays, meta = read_file(path)
    arrays["W2"][0, 0], arrays["W2"][1, 2], arrays["b2"][1] = np.nan, np.inf, -np.inf
    write_file(path, arrays, meta)
    with pytest.raises(ModelFileError, match=r"'W2' holds 2 non-finite values \(NaN or inf\) "
                                             r"among its 15"):
        load_model(path)


@pytest.mark.parametrize("key", ["model/W1", "optimizer/exp_avg_sq/0"])
def test_a_checkpoint_with_non_finite_arrays_is_refused(tmp_path, checkpoint, key):
    def poison(arrays):
        arrays[key].flat[0] = np.nan

    path = rewritten(checkpoint, tmp_path / CHECKPOINT_NAME, edit_arrays=poison)
    with pytest.raises(ModelFileError, match=rf"'{key}' holds 1 non-finite value"):
        read_checkpoint(path)


def test_a_checkpoint_for_another_dtype_is_refused(tmp_path, checkpoint):
    model = MultiLayerNet(6, [8], 3, use_dropout=True, dropout_ratio=0.3, use_batchnorm=True,
                          random_state=1)
    trainer = Trainer(model, Adam(lr=0.0125), random_state=2)

    def to_float32(arrays):
        for k in arrays:
            arrays[k] = arrays[k].astype(np.float32)

    path = rewritten(checkpoint, tmp_path / CHECKPOINT_NAME, edit_arrays=to_float32)
    with pytest.raises(ModelFileError, match=r"'W1' has dtype float32, the model expects "
                                             "float64"):
        restore_checkpoint(trainer, path)


# ---- 4. one hash over everything ------------------------------------------------------------

def test_the_recorded_hash_follows_the_documented_recipe(checkpoint):
    arrays, meta = read_file(checkpoint)
    assert meta["format"] == "chainrule.checkpoint/2"
    assert meta["sha256"] == documented_sha256(arrays, meta)


@pytest.mark.parametrize("old, new", [
    (b"0.0125", b"0.0625"),  # the learning rate (its first mention: the hyperparameters)
    (b'\\"epoch\\": 1, \\"iteration', b'\\"epoch\\": 7, \\"iteration'),  # a counter
    (b'\\"note\\": \\"mine\\"', b'\\"note\\": \\"your\\"'),  # extra
])
def test_editing_metadata_in_place_is_detected(tmp_path, checkpoint, old, new):
    blob = checkpoint.read_bytes()
    assert old in blob
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(blob.replace(old, new, 1))
    arrays, meta = read_file(path)  # still a valid safetensors file, the edit in it
    assert new.replace(b"\\", b"").decode() in json.dumps(meta)
    with pytest.raises(ModelFileError, match=r"is corrupted: its arrays and metadata do not "
                                             "match the SHA-256"):
        read_checkpoint(path)


def test_a_format_1_checkpoint_loads_with_a_warning(tmp_path, checkpoint):
    arrays, meta = read_file(checkpoint)
    meta["format"] = "chainrule.checkpoint/1"
    h = hashlib.sha256()  # format 1 hashed the arrays only
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode() + a.tobytes())
    meta["sha256"] = h.hexdigest()
    path = write_file(tmp_path / CHECKPOINT_NAME, arrays, meta)
    trainer = make_trainer()
    with pytest.warns(UserWarning, match="metadata .* is not covered"):
        assert restore_checkpoint(trainer, path) == {"note": "mine"}
    assert trainer.iteration == 6
    assert all(np.array_equal(trainer.model.params[k], arrays[f"model/{k}"])
               for k in trainer.model.params)
    arrays["model/W1"][0, 0] += 1.0  # its arrays are still verified
    write_file(path, arrays, meta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelFileError, match="corrupted: its arrays do not match"):
            read_checkpoint(path)


# ---- 5. the metadata's schema ------------------------------------------------------------

def _set(*keys, value):
    def edit(meta):
        for key in keys[:-1]:
            meta = meta[key]
        meta[keys[-1]] = value
    return edit


def _drop(*keys):
    def edit(meta):
        for key in keys[:-1]:
            meta = meta[key]
        del meta[keys[-1]]
    return edit


def _nest(levels):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


SCHEMA_CASES = [
    (_drop("trainer"), r"trainer must be an object, got nothing \(it is missing\)"),
    (_set("model", value="TwoLayerNet"), r"model must be an object, got a string"),
    (_set("model", "config", value=[3]), r"model\.config must be an object"),
    (_set("model", "dtype", value=64), r"model\.dtype must be a float dtype name"),
    (_set("model_rng_state", value=5), r"model_rng_state must be a generator state"),
    (_set("optimizer", value=None), r"optimizer must be an object, got null"),
    (_set("optimizer", "type", value=["Adam"]), r"optimizer\.type must be an optimizer class"),
    (_set("optimizer", "step", value=-1), r"optimizer\.step must be an integer >= 0, got an "
                                          r"integer, -1"),
    (_set("optimizer", "step", value="6"), r"optimizer\.step must be an integer >= 0, got a "
                                           r"string"),
    (_set("optimizer", "hyperparams", "lr", value="fast"),
     r"optimizer\.hyperparams\.lr must be a number, a boolean or null, got a string"),
    (_set("optimizer", "keys", value=[1, 2, 3]), r"optimizer\.keys\[0\] must be the name of"),
    (_set("optimizer", "keys", value="W1"), r"optimizer\.keys must be a list of parameter names"),
    (_set("optimizer", "slots", "exp_avg", value=-2), r"optimizer\.slots\.exp_avg must be an "
                                                      r"integer >= 0"),
    (_set("optimizer", "slots", "exp_avg", value=9), r"optimizer\.slots\.exp_avg must be 6"),
    (_set("trainer", "epoch", value=1.5), r"trainer\.epoch must be an integer >= 0, got a "
                                          r"number, 1\.5"),
    (_set("trainer", "running", value=[1, 2]), r"trainer\.running must be 4 numbers"),
    (_set("trainer", "rng_state", value=None), r"trainer\.rng_state must be a generator state"),
    (_set("trainer", "history", value=[]), r"trainer\.history must be an object of lists"),
    (_set("trainer", "history", "loss", value="low"), r"trainer\.history\.loss must be a list"),
    (_set("trainer", "history", "loss", 0, value="low"),
     r"trainer\.history\.loss\[0\] must be a number or null, got a string"),
    (_set("trainer", "history", "epoch", value=[1, 2]),
     r"trainer\.history must be per-epoch lists of one length"),
    (_set("trainer", "history", "colour", value=[]), r"trainer\.history\.colour must be absent"),
    (_set("extra", value=_nest(100)), r"nests lists and objects deeper than 64 levels"),
]


@pytest.mark.parametrize("edit, message", SCHEMA_CASES)
def test_each_metadata_field_is_checked_by_name(tmp_path, checkpoint, edit, message):
    path = rewritten(checkpoint, tmp_path / CHECKPOINT_NAME, edit_meta=edit)
    with pytest.raises(ModelFileError, match=message):
        read_checkpoint(path)


def test_metadata_that_is_not_an_object_is_refused(tmp_path, checkpoint):
    arrays, _ = read_file(checkpoint)
    path = write_file(tmp_path / CHECKPOINT_NAME, arrays, ["chainrule.checkpoint/2"])
    with pytest.raises(ModelFileError, match="not a chainrule training checkpoint"):
        read_checkpoint(path)


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.pop("optimizer/exp_avg/3"), r"the array 'optimizer/exp_avg/3' is missing"),
    (lambda a: a.update({"optimizer/exp_avg/0": np.zeros((2, 2))}),
     r"'optimizer/exp_avg/0' has shape \(2, 2\), but the parameter it belongs to, 'W1', has "
     r"shape \(6, 8\)"),
    (lambda a: a.update({"optimizer/exp_avg/0": np.zeros((6, 8), np.int64)}),
     r"'optimizer/exp_avg/0' has dtype int64, expected a float dtype"),
    (lambda a: a.update({"notes/x": np.zeros(2)}),
     r"holds arrays its metadata does not declare: \['notes/x'\]"),
])
def test_the_optimizer_arrays_are_the_declared_ones(tmp_path, checkpoint, edit, message):
    path = rewritten(checkpoint, tmp_path / CHECKPOINT_NAME, edit_arrays=edit)
    with pytest.raises(ModelFileError, match=message):
        read_checkpoint(path)


# ---- 6. all-or-nothing restores -------------------------------------------------------------

@pytest.mark.parametrize("edit, message", [
    (_set("trainer", "rng_state", value={"bit_generator": "PCG64", "state": "nonsense"}),
     r"trainer\.rng_state is not a state of the PCG64 generator"),
    (_set("trainer", "epoch_rng_state", value={"bit_generator": "MT19937"}),
     r"trainer\.epoch_rng_state is not a state of the PCG64 generator"),
    (_set("model_rng_state", value={"bit_generator": "PCG64", "state": {"state": "x"}}),
     r"model_rng_state is not a state of the PCG64 generator"),
    (_set("optimizer", "hyperparams", "lr", value=-1.0), r"cannot be restored: .*lr"),
])
def test_a_refused_restore_changes_nothing(tmp_path, checkpoint, edit, message):
    path = rewritten(checkpoint, tmp_path / CHECKPOINT_NAME, edit_meta=edit)
    trainer = make_trainer(seed=5)
    trainer.fit(X, T, max_epoch=1, batch_size=10, verbose=0)
    before = everything(trainer)
    with pytest.raises(ModelFileError, match=message):
        restore_checkpoint(trainer, path)
    assert_same(everything(trainer), before)


def test_a_restore_failing_midway_is_rolled_back_bit_for_bit(checkpoint):
    trainer, twin = make_trainer(seed=5), make_trainer(seed=5)
    for t in (trainer, twin):
        t.fit(X, T, max_epoch=1, batch_size=10, verbose=0)
    before = everything(trainer)
    history = trainer.history

    def fail(state):  # the last step of a restore: everything else is applied by now
        trainer.epoch = 99
        raise RuntimeError("the disk went away")

    trainer.load_state_dict = fail
    with pytest.raises(RuntimeError, match="the disk went away"):
        restore_checkpoint(trainer, checkpoint)
    del trainer.load_state_dict
    assert_same(everything(trainer), before)
    assert trainer.history is history
    # and it trains on exactly as its untouched twin does
    for t in (trainer, twin):
        t.fit(X, T, max_epoch=2, batch_size=10, verbose=0)
    assert_same(everything(trainer), everything(twin))


def test_a_good_restore_applies_everything(tmp_path, checkpoint):
    arrays, meta = read_file(checkpoint)
    trainer = make_trainer(seed=5)
    assert restore_checkpoint(trainer, checkpoint) == {"note": "mine"}
    assert all(np.array_equal(trainer.model.params[k], arrays[f"model/{k}"])
               for k in trainer.model.params)
    assert trainer.optimizer.state_dict()["step"] == meta["optimizer"]["step"] == 6
    assert trainer.state_dict()["rng_state"] == meta["trainer"]["rng_state"]


# ---- 7. the folder lock and temporaries --------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys
    from chainrule.checkpoint import lock_folder
    with lock_folder(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


def hold_lock(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.skipif(not POSIX, reason="fcntl.flock is POSIX")
def test_a_folder_locked_by_another_process_is_refused(tmp_path):
    temporary = tmp_path / ".checkpoint.safetensors.0badc0de.part"
    temporary.write_bytes(b"being written")
    with hold_lock(tmp_path) as holder:  # on leaving: its pipes closed, so it ends, and waited for
        refused = rf"'{tmp_path}' is in use by another chainrule run \(pid {holder.pid}\)"
        with pytest.raises(InputValueError, match=rf"checkpoint folder {refused}"):
            with lock_folder(tmp_path):
                pass
        with pytest.raises(InputValueError, match="in use by another chainrule run"):
            clean_stale_temporaries(tmp_path)
        assert temporary.exists()  # the other run may be writing it
        holder.stdin.close()
        assert holder.wait(30) == 0
    with lock_folder(tmp_path):  # released: ours now
        assert (tmp_path / ".chainrule.lock").read_text() == f"{os.getpid()}\n"
        assert clean_stale_temporaries(tmp_path) == [temporary.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the lock file goes too


@pytest.mark.skipif(not POSIX, reason="fcntl.flock is POSIX")
def test_a_killed_holder_does_not_block_the_next_run(tmp_path):
    with hold_lock(tmp_path) as holder:
        holder.kill()
        holder.wait(30)
    assert (tmp_path / ".chainrule.lock").exists()  # left behind, but no longer locked
    with lock_folder(tmp_path):
        pass
    assert not (tmp_path / ".chainrule.lock").exists()


def test_the_same_folder_cannot_be_locked_twice_at_once(tmp_path):
    with lock_folder(tmp_path):
        with pytest.raises(InputValueError, match=r"in use by another chainrule run \(pid "
                                                  rf"{os.getpid()}, this process\)"):
            with lock_folder(tmp_path / "." / ""):
                pass
    with lock_folder(tmp_path):  # released on exit
        pass


def test_cleaning_removes_only_chainrules_own_checkpoint_temporaries(tmp_path):
    own = [".checkpoint.safetensors.ab12cd34.part", ".checkpoint.safetensors.00000000.part"]
    kept = [".notes.part", ".checkpoint.safetensors.part", ".checkpoint.safetensors.AB12CD34.part",
            ".checkpoint.safetensors.ab12cd3.part", ".model.safetensors.ab12cd34.part",
            ".checkpoint.safetensors.ab12cd34.part.bak", "checkpoint.safetensors", "notes.txt"]
    for name in own + kept:
        (tmp_path / name).write_bytes(b"data")
    (tmp_path / ".checkpoint.safetensors.deadbeef.part").mkdir()  # a folder: not ours
    kept.append(".checkpoint.safetensors.deadbeef.part")
    if POSIX:
        (tmp_path / ".checkpoint.safetensors.feedf00d.part").symlink_to(tmp_path / "notes.txt")
        kept.append(".checkpoint.safetensors.feedf00d.part")
    assert clean_stale_temporaries(tmp_path) == sorted(own)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    assert (tmp_path / "notes.txt").read_bytes() == b"data"


def test_cleaning_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputValueError, match=r"checkpoint folder '.*nowhere' cannot be locked"):
        clean_stale_temporaries(tmp_path / "nowhere")
