"""Data-parallel training over MPI: K ranks end where one process ends.

The multi-rank cases run ``mpiexec -n K chainrule train ...`` in a subprocess and compare
the saved weights with a one-process run of the same arguments. They need the ``mpi``
extra (mpi4py and an MPI library with ``mpiexec``) and skip, saying so, without it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule.checkpoint import CHECKPOINT_NAME, load_model, read_checkpoint
from chainrule.distributed import shard_bounds
from chainrule.models import MultiLayerNet, TwoLayerNet
from chainrule.optim import SGD, Adam
from chainrule.trainer import Trainer

FASHION = "/usr/share/datasets/fashion-mnist"
MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
try:
    from mpi4py import MPI
except ImportError:  # pragma: no cover - the mpi extra is not installed
    MPI = None
needs_mpi4py = pytest.mark.skipif(MPI is None, reason="needs mpi4py: pip install 'chainrule[mpi]'")
needs_mpiexec = pytest.mark.skipif(MPI is None or MPIEXEC is None,
                                   reason="needs mpi4py and mpiexec: pip install 'chainrule[mpi]'")


def test_shards_are_contiguous_and_differ_by_at_most_one():
    for batch in (6, 7, 200, 30):
        for size in (1, 2, 3, 4):
            bounds = [shard_bounds(batch, size, r) for r in range(size)]
            assert bounds[0][0] == 0 and bounds[-1][1] == batch
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
            sizes = [hi - lo for lo, hi in bounds]
            assert max(sizes) - min(sizes) <= 1


# ---- the trainer in-process (one rank) ---------------------------------------------------


class CountingComm:
    """COMM_SELF that counts the collective calls (a one-rank world)."""

    def __init__(self):
        self.comm, self.allreduces, self.bcasts = MPI.COMM_SELF, 0, 0

    def __getattr__(self, name):
        return getattr(self.comm, name)

    def Allreduce(self, *args):  # noqa: N802 - mpi4py's name
        self.allreduces += 1
        return self.comm.Allreduce(*args)


@needs_mpi4py
def test_one_rank_is_an_ordinary_trainer_with_one_allreduce_per_step():
    from chainrule.distributed import DataParallelTrainer

    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((90, 5)), rng.integers(0, 3, 90)
    comm = CountingComm()
    parallel = DataParallelTrainer(MultiLayerNet(5, [8, 8], 3, random_state=0), Adam(lr=0.01),
                                   comm=comm, random_state=0)
    plain = Trainer(MultiLayerNet(5, [8, 8], 3, random_state=0), Adam(lr=0.01),
                    random_state=0)
    for trainer in (parallel, plain):
        trainer.fit(x, t, max_epoch=3, batch_size=20, verbose=0)
    assert comm.allreduces == parallel.iteration == 15  # one per step, all arrays at once
    for name in plain.model.params:
        np.testing.assert_allclose(parallel.model.params[name], plain.model.params[name],
                                   rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(parallel.history.train_loss, plain.history.train_loss, rtol=1e-12)
    assert parallel.history.train_accuracy == plain.history.train_accuracy


# ---- mpiexec -n K chainrule train -------------------------------------------------------


def train(tmp_path, name, ranks, *extra, check=True):
    """Run chainrule train on ``ranks`` processes (1: no mpiexec); returns the result."""
    out = tmp_path / name
    command = [sys.executable, "-m", "chainrule", "train", "--quiet", "--json", "--out",
               str(out), *extra]
    if ranks > 1:
        command = [MPIEXEC, "-n", str(ranks), *command]
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("CHAINRULE_DATA", None)
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=600)
    if check:
        assert done.returncode == 0, done.stderr
    return done, out


def weights(folder):
    return load_model(folder / "model.safetensors").params


def assert_same_weights(a, b, rtol):
    for name in a:
        scale = np.abs(a[name]).max()
        assert np.abs(a[name] - b[name]).max() <= rtol * scale, name


@needs_mpiexec
@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-8), ("float32", 1e-4)])
def test_k_ranks_end_on_the_one_process_weights(tmp_path, ranks, dtype, rtol):
    args = ["--model", "multi-layer", "--hidden", "16,16", "--optimizer", "adam", "--lr",
            "0.01", "--epochs", "40", "--batch-size", "30", "--dtype", dtype]
    one, one_dir = train(tmp_path, "one", 1, *args)
    many, many_dir = train(tmp_path, "many", ranks, *args)
    assert_same_weights(weights(many_dir), weights(one_dir), rtol)
    lines = many.stdout.strip().splitlines()
    assert len(lines) == 1  # one JSON line, from rank 0
    result = json.loads(lines[0])
    assert result["ranks"] == ranks and result["shard_size"] == -(-30 // ranks)
    assert result["train_loss"] == pytest.approx(json.loads(one.stdout)["train_loss"],
                                                 rel=max(rtol, 1e-6))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["many", "one"]


@needs_mpiexec
@pytest.mark.skipif(not os.path.isdir(FASHION), reason="needs Debian's dataset-fashion-mnist")
@pytest.mark.parametrize("ranks", [2, 3])
def test_fashion_mnist_on_k_ranks_equals_one_process(tmp_path, ranks):
    args = ["--dataset", "fashion-mnist", "--epochs", "1", "--batch-size", "200",
            "--dtype", "float64"]
    _, one_dir = train(tmp_path, "one", 1, *args)
    _, many_dir = train(tmp_path, "many", ranks, *args)
    assert_same_weights(weights(many_dir), weights(one_dir), 1e-8)


@needs_mpiexec
def test_checkpoints_move_between_rank_counts(tmp_path):
    args = ["--optimizer", "adam", "--lr", "0.01", "--dtype", "float64", "--batch-size", "30"]
    _, whole = train(tmp_path, "whole", 1, *args, "--epochs", "60")
    # written on 2 ranks, finished in 1 process
    train(tmp_path, "a1", 2, *args, "--epochs", "30", "--checkpoint-dir", str(tmp_path / "A"))
    _, a = train(tmp_path, "a2", 1, *args, "--epochs", "60", "--resume", str(tmp_path / "A"))
    # written in 1 process, finished on 2 ranks
    train(tmp_path, "b1", 1, *args, "--epochs", "30", "--checkpoint-dir", str(tmp_path / "B"))
    _, b = train(tmp_path, "b2", 2, *args, "--epochs", "60", "--resume", str(tmp_path / "B"))
    for resumed in (a, b):
        assert_same_weights(weights(resumed), weights(whole), 1e-8)
    _, meta = read_checkpoint(tmp_path / "A" / CHECKPOINT_NAME)
    assert meta["trainer"]["epoch"] == 60


@needs_mpiexec
def test_bad_input_is_one_line_once_with_exit_2(tmp_path):
    done, _ = train(tmp_path, "x", 2, "--batch-size", "1", check=False)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert errors == ["chainrule train: error: --batch-size must be at least the number of "
                      "ranks (2), so every rank has a shard, got 1 (see 'chainrule train "
                      "--help')"]


@needs_mpiexec
def test_killing_one_rank_ends_the_job_within_seconds(tmp_path):
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "chainrule", "train", "--epochs",
               "100000", "--quiet", "--out", str(tmp_path / "k")]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        rank1 = None
        deadline = time.monotonic() + 30
        while rank1 is None and time.monotonic() < deadline:
            time.sleep(0.2)
            rank1 = _process_with_env("PMI_RANK=1", "chainrule")
        assert rank1 is not None, "rank 1 never started"
        time.sleep(1.0)  # well inside training
        os.kill(rank1, signal.SIGKILL)
        killed = time.monotonic()
        code = proc.wait(timeout=30)
        assert code != 0 and time.monotonic() - killed < 10
    finally:
        if proc.poll() is None:
            proc.kill()


def _process_with_env(entry, word):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if entry.encode() in environ and word.encode() in cmdline:
            return int(pid)
    return None


@needs_mpiexec
def test_ctrl_c_stops_every_rank_at_the_same_step_and_saves(tmp_path):
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "chainrule", "train", "--epochs",
               "100000", "--checkpoint-dir", str(tmp_path / "ck"), "--quiet",
               "--out", str(tmp_path / "r")]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ck" / CHECKPOINT_NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.count("checkpoint saved, continue with --resume") == 1, err
    assert "Traceback" not in err and not (tmp_path / "r").exists()
    _, meta = read_checkpoint(tmp_path / "ck" / CHECKPOINT_NAME)
    assert meta["trainer"]["iteration"] > 0


@needs_mpiexec
def test_a_user_script_runs_under_mpiexec(tmp_path):
    script = tmp_path / "mine.py"
    script.write_text(
        "import numpy as np\n"
        "from mpi4py import MPI\n"
        "from chainrule.distributed import DataParallelTrainer\n"
        "from chainrule.models import TwoLayerNet\n"
        "from chainrule.optim import SGD\n"
        "rng = np.random.default_rng(0)\n"
        "x, t = rng.standard_normal((120, 4)), rng.integers(0, 3, 120)\n"
        "trainer = DataParallelTrainer(TwoLayerNet(4, 6, 3, random_state=MPI.COMM_WORLD.rank),"
        " SGD(lr=0.5), comm=MPI.COMM_WORLD, random_state=0)\n"
        "trainer.fit(x, t, max_epoch=5, batch_size=24, verbose=0)\n"
        "if MPI.COMM_WORLD.rank == 0:\n"
        "    np.save('w.npy', trainer.model.params['W1'])\n")
    subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], cwd=tmp_path,
                   check=True, timeout=120)
    # every rank started from rank 0's weights (rank 1's own seed was overwritten)
    single = Trainer(TwoLayerNet(4, 6, 3, random_state=0), SGD(lr=0.5), random_state=0)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((120, 4)), rng.integers(0, 3, 120)
    single.fit(x, t, max_epoch=5, batch_size=24, verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "w.npy"), single.model.params["W1"],
                               rtol=1e-10)


def test_chainrule_never_imports_mpi4py_outside_mpiexec(tmp_path):
    """Without mpiexec, training (CLI included) and importing every module leave mpi4py alone."""
    code = (
        "import sys, pkgutil, importlib, chainrule\n"
        "from chainrule.cli import main\n"
        "for m in pkgutil.walk_packages(chainrule.__path__, 'chainrule.'):\n"
        "    if '.book' not in m.name and not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "code = main(['train', '--epochs', '1', '--quiet', '--out', 'run'])\n"
        "assert code in (0, None), code\n"
        "print(sorted(name for name in sys.modules if name.startswith('mpi4py')))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "run" / "model.safetensors").exists()
