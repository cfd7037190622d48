"""Crashes: SIGKILL during saves, SIGKILL or Ctrl-C during training, then resume."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from chainrule.checkpoint import (
    CHECKPOINT_NAME,
    clean_stale_temporaries,
    read_checkpoint,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")

SAVER = textwrap.dedent("""
    import sys
    from chainrule.checkpoint import save_checkpoint
    from chainrule.models import TwoLayerNet
    from chainrule.optim import Adam
    from chainrule.trainer import Trainer

    model = TwoLayerNet(784, 100, 10, random_state=0)
    trainer = Trainer(model, Adam(), random_state=0)
    k = 0
    while True:  # version k: every parameter holds the number k
        for p in model.params.values():
            p[...] = k
        trainer.iteration = k
        save_checkpoint(trainer, sys.argv[1])
        k += 1
""")


def wait_for(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.005)


def test_sigkill_during_repeated_saves_always_leaves_a_loadable_checkpoint(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = np.random.default_rng(0)
    versions = []
    for trial in range(24):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        path = folder / CHECKPOINT_NAME
        proc = subprocess.Popen([sys.executable, str(script), str(path)])
        try:
            wait_for(path)
            time.sleep(rng.uniform(0.0, 0.15))  # a random moment among the saves
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        tensors, meta = read_checkpoint(path)  # verifies the SHA-256 of every array
        k = meta["trainer"]["iteration"]
        assert all(np.all(tensors[f"model/{n}"] == k) for n in ("W1", "b1", "W2", "b2"))
        versions.append(k)
        clean_stale_temporaries(folder)
        assert [p.name for p in folder.iterdir()] == [CHECKPOINT_NAME]
    assert max(versions) > 0  # the kills did land among the saves


def train_argv(optimizer, out, epochs, *, checkpoint=None, resume=None, quiet=True):
    """A small multi-layer run with dropout on the spiral data, in float64."""
    argv = [sys.executable, "-m", "chainrule", "train", "--model", "multi-layer",
            "--hidden", "32,16", "--dropout", "0.2", "--optimizer", optimizer,
            "--lr", "0.05" if optimizer == "momentum" else "0.005", "--batch-size", "10",
            "--epochs", str(epochs), "--seed", "5", "--dtype", "float64", "--out", str(out)]
    argv += ["--checkpoint-dir", str(checkpoint)] if checkpoint else []
    argv += ["--resume", str(resume)] if resume else []
    return argv + (["--quiet"] if quiet else [])


def final_state(folder):
    tensors, meta = read_checkpoint(folder / CHECKPOINT_NAME)
    history = meta["trainer"]["history"]
    history.pop("seconds")
    return tensors, meta["optimizer"], history


def assert_same_run(a, b):
    (ta, oa, ha), (tb, ob, hb) = a, b
    assert ta.keys() == tb.keys()
    assert all(np.array_equal(ta[k], tb[k]) for k in ta)  # weights and optimizer state
    assert oa == ob and ha == hb


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path, optimizer):
    epochs = 150
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(train_argv(optimizer, tmp_path / "o0", epochs, checkpoint=whole), check=True)

    proc = subprocess.Popen(train_argv(optimizer, tmp_path / "o1", epochs, checkpoint=killed))
    wait_for(killed / CHECKPOINT_NAME)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    _, meta = read_checkpoint(killed / CHECKPOINT_NAME)
    assert 0 < meta["trainer"]["epoch"] < epochs

    subprocess.run(train_argv(optimizer, tmp_path / "o2", epochs, resume=killed), check=True)
    assert_same_run(final_state(killed), final_state(whole))


def test_ctrl_c_saves_mid_epoch_and_resume_is_exact(tmp_path):
    epochs = 150
    whole, folder = tmp_path / "whole", tmp_path / "stopped"
    subprocess.run(train_argv("adam", tmp_path / "o0", epochs, checkpoint=whole), check=True)
    proc = subprocess.Popen(train_argv("adam", tmp_path / "o1", epochs, checkpoint=folder),
                            stderr=subprocess.PIPE, text=True)
    wait_for(folder / CHECKPOINT_NAME)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved, continue with --resume" in err and "Traceback" not in err
    assert not (tmp_path / "o1").exists()  # no run folder for a run without results
    stopped_at = re.search(r"interrupted at (.*?); checkpoint saved", err).group(1)
    resumed = subprocess.run(train_argv("adam", tmp_path / "o2", epochs, resume=folder,
                                        quiet=False),
                             capture_output=True, text=True, check=True)
    # both messages name the same place in the same words
    assert f"resumed from {folder / CHECKPOINT_NAME} at {stopped_at}" in resumed.stdout
    assert_same_run(final_state(folder), final_state(whole))


def test_resume_of_a_folder_without_checkpoint_starts_over(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / ".checkpoint.safetensors.0badc0de.part").write_bytes(b"partial")
    run = subprocess.run(train_argv("adam", tmp_path / "o", 3, resume=folder, quiet=False),
                         capture_output=True, text=True, check=True)
    assert f"no complete checkpoint in {folder} yet: starting from the beginning" in run.stdout
    assert sorted(p.name for p in folder.iterdir()) == [CHECKPOINT_NAME]  # stale part removed
