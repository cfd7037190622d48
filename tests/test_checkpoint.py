"""Model files and training checkpoints: round trips, strict loading, exact resume."""

import json
import os

import numpy as np
import pytest
from safetensors.numpy import save_file

from chainrule.checkpoint import (
    CHECKPOINT_NAME,
    ModelFileError,
    clean_stale_temporaries,
    load_model,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    save_model,
)
from chainrule.models import MultiLayerNet, TwoLayerNet
from chainrule.optim import SGD, Adam
from chainrule.trainer import Trainer

rng = np.random.default_rng(0)
X, T = rng.standard_normal((53, 6)), rng.integers(0, 3, 53)


def same_arrays(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model", [
    TwoLayerNet(6, 5, 3, random_state=1),
    TwoLayerNet(6, 5, 3, activation="relu", dtype=np.float32, random_state=2),
    MultiLayerNet(6, [5, 4], 3, use_batchnorm=True, use_dropout=True, dropout_ratio=0.2,
                  weight_decay_lambda=0.01, random_state=3),
])
def test_model_round_trip_rebuilds_the_architecture(tmp_path, model):
    model.forward(X, T)  # batch norm running statistics move away from their start
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert same_arrays(loaded.params, model.params) and same_arrays(loaded.buffers, model.buffers)
    assert loaded.params["W1"].dtype == model.params["W1"].dtype
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_file_is_plain_safetensors_with_json_metadata(tmp_path):
    from safetensors import safe_open

    path = save_model(TwoLayerNet(6, 5, 3, random_state=0), tmp_path / "m.safetensors")
    with safe_open(path, framework="np") as f:
        assert sorted(f.keys()) == ["W1", "W2", "b1", "b2"]
        meta = json.loads(f.metadata()["chainrule"])
    assert meta["class"] == "TwoLayerNet" and meta["config"]["hidden_size"] == 5
    assert meta["dtype"] == "float64" and "chainrule_version" in meta


def write_variant(tmp_path, change):
    """A model file whose arrays were changed by ``change`` (metadata kept)."""
    from safetensors import safe_open

    good = save_model(TwoLayerNet(6, 5, 3, random_state=0), tmp_path / "good.safetensors")
    with safe_open(good, framework="np") as f:
        arrays = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    change(arrays)
    path = tmp_path / "variant.safetensors"
    save_file(arrays, path, metadata=meta)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("b2"), r"missing \['b2'\], unexpected \[\]"),
    (lambda a: a.update(extra=np.zeros(2)), r"missing \[\], unexpected \['extra'\]"),
    (lambda a: a.update(W1=np.zeros((5, 6))),
     r"'W1' has shape \(5, 6\), the model expects \(6, 5\)"),
])
def test_strict_loading_names_the_key_and_shapes(tmp_path, change, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(write_variant(tmp_path, change))


def test_each_bad_file_has_its_own_message(tmp_path):
    good = save_model(MultiLayerNet(6, [5], 3, random_state=0), tmp_path / "good.safetensors")
    blob = good.read_bytes()
    cases = {
        "empty": (b"", "is empty"),
        "truncated": (blob[: len(blob) // 2], "is truncated"),
        "garbage": (bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8)),
                    "not a safetensors file"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(content)
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
    plain = tmp_path / "plain.safetensors"
    save_file({"W": np.zeros(3)}, plain)
    with pytest.raises(ModelFileError, match="not a chainrule model"):
        load_model(plain)
    with pytest.raises(ModelFileError, match="holds a MultiLayerNet, expected TwoLayerNet"):
        load_model(good, expect="TwoLayerNet")
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nosuch.safetensors")


def test_atomic_write_keeps_the_old_file_when_a_save_fails(tmp_path, monkeypatch):
    path = save_model(TwoLayerNet(6, 5, 3, random_state=0), tmp_path / "m.safetensors")
    before = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.numpy.save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model(TwoLayerNet(6, 5, 3, random_state=9), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temporaries


def test_stale_temporaries_are_cleaned(tmp_path):
    (tmp_path / ".checkpoint.safetensors.ab12cd34.part").write_bytes(b"half")
    (tmp_path / "keep.txt").write_text("mine")
    assert clean_stale_temporaries(tmp_path) == [".checkpoint.safetensors.ab12cd34.part"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def make_trainer(optimizer):
    model = MultiLayerNet(6, [8], 3, use_dropout=True, dropout_ratio=0.3, use_batchnorm=True,
                          random_state=1)
    return Trainer(model, optimizer, random_state=2)


def history_without_seconds(trainer):
    h = trainer.history.to_dict()
    h.pop("seconds")
    return h


@pytest.mark.parametrize("optimizer", [lambda: SGD(lr=0.05, momentum=0.9),
                                       lambda: Adam(lr=0.01)], ids=["momentum", "adam"])
@pytest.mark.parametrize("stop_after", [6, 14, 27])  # 6 steps an epoch: a boundary, mid-epoch
def test_stop_save_restore_continues_bit_for_bit(tmp_path, optimizer, stop_after):
    reference = make_trainer(optimizer())
    reference.fit(X, T, max_epoch=5, batch_size=10, verbose=0)

    first = make_trainer(optimizer())

    def stop_at(trainer):  # a per-step callback: the seam, no monkeypatching
        if trainer.iteration == stop_after:
            trainer.stop_requested = True

    first.fit(X, T, max_epoch=5, batch_size=10, verbose=0, step_callbacks=[stop_at])
    assert first.iteration == stop_after
    path = save_checkpoint(first, tmp_path / CHECKPOINT_NAME, extra={"note": "mine"})

    resumed = make_trainer(optimizer())  # a fresh process would build the same objects
    assert restore_checkpoint(resumed, path) == {"note": "mine"}
    resumed.fit(X, T, max_epoch=5, batch_size=10, verbose=0)
    assert same_arrays(resumed.model.params, reference.model.params)
    assert same_arrays(resumed.model.buffers, reference.model.buffers)
    a, b = resumed.optimizer.state_dict(), reference.optimizer.state_dict()
    assert a["step"] == b["step"] and a["hyperparams"] == b["hyperparams"]
    for slot in a["state"]:
        assert all(np.array_equal(u, v) for u, v in zip(a["state"][slot], b["state"][slot],
                                                        strict=True))
    assert history_without_seconds(resumed) == history_without_seconds(reference)


def test_corrupted_checkpoint_fails_its_hash(tmp_path):
    trainer = make_trainer(Adam())
    trainer.fit(X, T, max_epoch=1, batch_size=10, verbose=0)
    path = save_checkpoint(trainer, tmp_path / CHECKPOINT_NAME)
    read_checkpoint(path)  # intact: loads
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF  # flip bits inside the last array's data
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelFileError, match="corrupted"):
        read_checkpoint(path)


def test_checkpoint_for_another_model_or_optimizer_is_refused(tmp_path):
    trainer = make_trainer(Adam())
    trainer.fit(X, T, max_epoch=1, batch_size=10, verbose=0)
    path = save_checkpoint(trainer, tmp_path / CHECKPOINT_NAME)
    other = Trainer(TwoLayerNet(6, 5, 3, random_state=0), Adam())
    with pytest.raises(ModelFileError, match="for another model: class MultiLayerNet there"):
        restore_checkpoint(other, path)
    with pytest.raises(ModelFileError, match="written with Adam, not SGD"):
        restore_checkpoint(make_trainer(SGD()), path)
    with pytest.raises(ModelFileError, match="not a chainrule training checkpoint"):
        read_checkpoint(save_model(trainer.model, tmp_path / "model.safetensors"))
    assert os.path.exists(path)
