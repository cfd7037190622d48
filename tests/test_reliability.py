"""Reliability: sizes bounded before allocating, data read with bounds, runs that end well.

Each case is what a careful user tries: a size too big for the machine, a file that
claims more than it holds, a gzip bomb, a cache replaced behind chainrule's back, an
unwritable or used output folder, SIGTERM from a batch scheduler, a run that diverges on
its very last step. Each ends in one line (exit 2 for the user's input, 1 for the
machine's), no traceback, nothing of the user's changed. The memory cases run in a
subprocess under an address-space limit (``ulimit -v``), so an unbounded allocation
fails the test instead of passing by luck on a large machine.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.data.datasets import DatasetSpec, FileSpec, load_idx_dataset
from chainrule.data.idx import IdxError, write_idx
from chainrule.limits import budget, check_allocation, format_bytes, memory_limit
from chainrule.models import DeepConvNet, MultiLayerNet, SimpleConvNet, TwoLayerNet
from chainrule.validation import InputValueError

posix = pytest.mark.skipif(os.name != "posix", reason="needs POSIX resource limits and signals")
GiB = 1 << 30


def run_limited(code, limit=3 * GiB, cwd=None, env_extra=None):
    """Run Python ``code`` in a subprocess whose address space is capped at ``limit``."""
    import resource

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], preexec_fn=cap,
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def cli(capsys, *argv):
    """(exit status, stdout, stderr lines) of ``chainrule ARGV`` run in this process."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()]


# ---- 1. sizes are checked before anything is allocated ----------------------------------


@pytest.mark.parametrize("make", [
    lambda: TwoLayerNet(784, 10**10, 10),
    lambda: MultiLayerNet(784, [200_000, 200_000], 10, dtype=np.float32),
    lambda: SimpleConvNet(input_dim=(1, 100_000, 100_000)),
    lambda: DeepConvNet(input_dim=(3, 30_000, 30_000)),
])
def test_a_model_too_big_for_the_machine_is_refused_before_drawing(make):
    with pytest.raises(InputValueError, match=r"would need [\d.]+ (GiB|TiB), more than the "):
        make()


def test_the_size_check_counts_parameters_gradients_and_the_float64_draw():
    # TwoLayerNet(10, 20, 5) float32: 2 * 4 * (200 + 20 + 100 + 5) + 8 * 200 bytes
    need = 2 * 4 * 325 + 8 * 200
    with budget(need, "that this test allows"):
        TwoLayerNet(10, 20, 5, dtype=np.float32)
    with budget(need - 1, "that this test allows"), \
            pytest.raises(InputValueError, match="325 parameters"):
        TwoLayerNet(10, 20, 5, dtype=np.float32)


def test_memory_limit_respects_ulimit_v():
    done = run_limited("""
        from chainrule.limits import memory_limit
        print(memory_limit())
    """, limit=2 * GiB)
    assert done.returncode == 0, done.stderr
    assert 0 < int(done.stdout) < 2 * GiB
    assert format_bytes(3 * GiB // 2) == "1.5 GiB" and format_bytes(512) == "512 bytes"
    with pytest.raises(InputValueError, match="this machine has available"):
        check_allocation(memory_limit() + 1, "a test array")


@posix
@pytest.mark.parametrize("argv", [
    ["--hidden", "10000000000"],
    ["--model", "multi-layer", "--hidden", "200000,200000"],
    ["--model", "simple-conv", "--hidden", "100000000", "--dataset", "spiral"],
])
def test_cli_too_big_is_one_line_and_exit_2_under_ulimit(tmp_path, argv):
    code = f"""
        import sys
        from chainrule.cli import main
        sys.exit(main(['train', '--epochs', '1', '--quiet', '--out', 'run', *{argv!r}]))
    """
    done = run_limited(code, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("chainrule train: error: ")
    assert not (tmp_path / "run").exists()


@posix
def test_a_wide_model_evaluates_and_plots_in_chunks_that_fit(tmp_path):
    # 100,000 hidden units: training batches of 30 fit in 1.5 GiB, a 300 x 300 grid of the
    # decision boundary in one batch (33 GiB) does not: it must be chunked.
    done = run_limited("""
        import sys
        from chainrule.cli import main
        sys.exit(main(['train', '--hidden', '100000', '--epochs', '1', '--quiet',
                       '--out', 'run']))
    """, limit=3 * GiB // 2, cwd=tmp_path, env_extra={"MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "model.safetensors").exists()


# ---- bounded reads of data files ----------------------------------------------------------


def gzip_bomb(path, decompressed):
    """A gzip file of ``decompressed`` zero bytes, written without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(decompressed >> 20):
            fh.write(packer.compress(chunk))
        fh.write(packer.flush())


def toy_spec(sha256=None, hash_of="gz", shape=(20, 4, 4)):
    files = [FileSpec(name, sha256 if i == 0 else None, hash_of,
                      shape if i % 2 == 0 else shape[:1])
             for i, name in enumerate(("tr-img", "tr-lab", "te-img", "te-lab"))]
    return DatasetSpec("toy", *files, n_classes=3)


def write_toy(folder, n=20):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("tr-img", rng.integers(0, 256, (n, 4, 4))),
                        ("tr-lab", rng.integers(0, 3, n)),
                        ("te-img", rng.integers(0, 256, (n, 4, 4))),
                        ("te-lab", rng.integers(0, 3, n))):
        write_idx(folder / f"{name}.gz", array.astype(np.uint8))


@posix
def test_a_gzip_bomb_is_refused_without_decompressing_it(tmp_path):
    data = tmp_path / "data"
    write_toy(data)
    gzip_bomb(data / "tr-img.gz", 1 << 30)  # 1 GiB of zeros in about 1 MB
    done = run_limited(f"""
        from chainrule.data.datasets import load_idx_dataset
        import test_reliability as t
        try:
            load_idx_dataset(t.toy_spec(), data_dir={str(data)!r}, cache=False)
        except Exception as exc:
            print(type(exc).__name__, exc)
    """, limit=GiB, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr
    # the 336-byte file cannot be 1 MB compressed: refused before reading it
    assert "more than the 4.3 KiB it may have" in done.stdout, done.stdout


def test_a_small_gzip_bomb_stops_decompressing_at_the_pinned_size(tmp_path):
    data = tmp_path / "data"
    write_toy(data)
    gzip_bomb(data / "tr-img.gz", 1 << 22)  # 4 MiB of zeros in about 4 KB
    with pytest.raises(IdxError, match="decompresses to more than 336 bytes"):
        load_idx_dataset(toy_spec(), data_dir=data, cache=False)


def test_a_pinned_hash_is_checked_before_decompressing(tmp_path):
    data = tmp_path / "data"
    write_toy(data)
    gzip_bomb(data / "tr-img.gz", 1 << 21)
    with pytest.raises(InputValueError, match="SHA-256 of the file is"):
        load_idx_dataset(toy_spec(sha256="0" * 64), data_dir=data, cache=False)


def test_a_raw_file_longer_than_its_pinned_shape_is_refused_unread(tmp_path):
    data = tmp_path / "data"
    write_toy(data)
    (data / "tr-img.gz").unlink()
    (data / "tr-img").write_bytes(bytes(10 << 20))
    with pytest.raises(InputValueError, match="more than the"):
        load_idx_dataset(toy_spec(), data_dir=data, cache=False)


def test_the_decoded_cache_is_verified_before_use(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = tmp_path / "data"
    write_toy(data)
    (first, _), _ = load_idx_dataset(toy_spec(), data_dir=data)
    cache = tmp_path / "cache" / "chainrule" / "toy" / "decoded.npz"
    with np.load(cache) as z:
        stored = {k: z[k] for k in z.files}
    # 100 samples labelled 37, same key: the recorded SHA-256 no longer matches
    forged = dict(stored, train_images=np.zeros((100, 4, 4), np.uint8),
                  train_labels=np.full(100, 37, np.uint8))
    np.savez(cache, **forged)
    (again, labels), _ = load_idx_dataset(toy_spec(), data_dir=data)
    assert again.shape == first.shape and labels.max() < 3
    # a forger who also recomputes the hash still fails the structure check
    digest = hashlib.sha256()
    for key in ("train_images", "train_labels", "test_images", "test_labels"):
        digest.update(f"{forged[key].dtype.str}|{forged[key].shape}|".encode())
        digest.update(forged[key].tobytes())
    forged["sha256"] = np.array(digest.hexdigest())
    np.savez(cache, **forged)
    (again, labels), _ = load_idx_dataset(toy_spec(), data_dir=data)
    assert again.shape == first.shape and labels.max() < 3


def test_data_dir_is_the_only_place_searched(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    write_toy(elsewhere / "toy")
    monkeypatch.setenv("CHAINRULE_DATA", str(elsewhere))
    load_idx_dataset(toy_spec(), cache=False)  # found through CHAINRULE_DATA
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=str(empty)):
        load_idx_dataset(toy_spec(), data_dir=empty, download=False, cache=False)


def test_truncated_gzip_is_an_idx_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\0\0\x08\x01" + bytes(4) + bytes(100))[:-6])
    from chainrule.data.idx import read_idx

    with pytest.raises(IdxError, match="truncated or corrupt gzip"):
        read_idx(path)


# ---- predict's .npy input -------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "run"
    assert main(["train", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    return out / "model.safetensors"


def npy_claiming(path, shape):
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    path.write_bytes(header.getvalue() + bytes(48))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda d: npy_claiming(d / "huge.npy", (10**12, 2)),
     "header says shape (1000000000000, 2) of float64 (16,000,000,000,000 bytes), but the "
     "file holds 48 bytes"),
    (lambda d: Path("/dev/zero"), "is not a regular file"),
    (lambda d: (d / "text.npy").write_text("1,2\n") and d / "text.npy", "no .npy header"),
])
def test_predict_reads_the_npy_header_before_allocating(tmp_path, capsys, model_file, make,
                                                        message):
    path = make(tmp_path)
    code, _, err = cli(capsys, "predict", str(model_file), str(path))
    assert code == 2 and len(err) == 1 and message in err[0], err


# ---- 3. runs that share a machine, a folder or a signal --------------------------------


def test_out_onto_an_old_run_folder_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "old"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    code, _, err = cli(capsys, "train", "--epochs", "1", "--quiet", "--out", str(out))
    assert code == 2 and len(err) == 1 and "already holds files (metrics.json)" in err[0]
    assert [p.name for p in out.iterdir()] == ["metrics.json"]
    assert (out / "metrics.json").read_text() == "{}"


@pytest.mark.parametrize("option", ["--out", "--checkpoint-dir"])
def test_an_unwritable_folder_is_a_usage_error_before_training(tmp_path, capsys, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    argv = ["train", "--epochs", "300", "--quiet", option, str(blocker / "sub")]
    if option != "--out":
        argv += ["--out", str(tmp_path / "run")]
    started = time.perf_counter()
    code, _, err = cli(capsys, *argv)
    assert code == 2 and len(err) == 1 and "is a file" in err[0], err
    assert time.perf_counter() - started < 30  # refused at the start, not after training
    assert blocker.read_text() == "mine" and not (tmp_path / "run").exists()


def test_a_failure_while_writing_the_run_folder_leaves_none(tmp_path, capsys, monkeypatch):
    import errno

    from chainrule import checkpoint

    def full_disk(model, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "save_model", full_disk)
    code, _, err = cli(capsys, "train", "--epochs", "2", "--quiet", "--out",
                       str(tmp_path / "run"))
    assert code == 1 and len(err) == 1
    assert "could not write the run folder" in err[0] and "No space left" in err[0]
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one


def test_divergence_on_the_last_step_is_training_diverged(tmp_path, capsys):
    # one step per epoch: the loss of the only step is finite, its update is not
    code, out, err = cli(capsys, "train", "--epochs", "1", "--batch-size", "300", "--lr",
                         "1e40", "--json", "--quiet", "--out", str(tmp_path / "run"))
    assert code == 1 and out == "" and len(err) == 1
    assert "the weights became NaN or infinite" in err[0]
    assert not (tmp_path / "run").exists()


def test_dropout_zero_means_zero(tmp_path, capsys):
    code, out, _ = cli(capsys, "train", "--model", "multi-layer", "--hidden", "8",
                       "--dropout", "0", "--epochs", "1", "--quiet", "--json", "--out",
                       str(tmp_path / "run"))
    config = json.loads(out)["config"]
    assert code == 0 and config["use_dropout"] is True and config["dropout_ratio"] == 0.0


def test_resume_with_fewer_epochs_than_trained_is_refused(tmp_path, capsys):
    ck = tmp_path / "ck"
    assert main(["train", "--epochs", "4", "--quiet", "--checkpoint-dir", str(ck),
                 "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    code, _, err = cli(capsys, "train", "--epochs", "2", "--quiet", "--resume", str(ck),
                       "--out", str(tmp_path / "b"))
    assert code == 2 and len(err) == 1
    assert "--epochs 2 is fewer than the 4 epochs the checkpoint" in err[0]
    assert not (tmp_path / "b").exists()


def test_an_os_error_names_the_file_not_the_temporary_one(tmp_path):
    from chainrule.atomic import atomic_write

    target = tmp_path / "missing-folder" / "model.safetensors"
    with pytest.raises(FileNotFoundError) as caught, atomic_write(target) as fh:
        fh.write(b"x")
    assert str(target) in str(caught.value) and ".part" not in str(caught.value)


def small_run(out, epochs, **options):
    argv = [sys.executable, "-m", "chainrule", "train", "--model", "multi-layer", "--hidden",
            "32,16", "--optimizer", "adam", "--lr", "0.005", "--batch-size", "10",
            "--epochs", str(epochs), "--seed", "3", "--dtype", "float64", "--quiet",
            "--out", str(out)]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


@posix
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_saves_and_the_resume_is_exact(tmp_path, sig):
    from chainrule.checkpoint import CHECKPOINT_NAME, read_checkpoint

    epochs = 150
    whole, folder = tmp_path / "whole", tmp_path / "stopped"
    subprocess.run(small_run(tmp_path / "o0", epochs, checkpoint_dir=whole), check=True)
    proc = subprocess.Popen(small_run(tmp_path / "o1", epochs, checkpoint_dir=folder),
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (folder / CHECKPOINT_NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    name = signal.Signals(sig).name
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {name} at" in err and "checkpoint saved" in err
    assert "Traceback" not in err and not (tmp_path / "o1").exists()
    _, meta = read_checkpoint(folder / CHECKPOINT_NAME)
    assert meta["trainer"]["epoch"] < epochs
    subprocess.run(small_run(tmp_path / "o2", epochs, resume=folder), check=True)
    a, _ = read_checkpoint(folder / CHECKPOINT_NAME)
    b, _ = read_checkpoint(whole / CHECKPOINT_NAME)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@posix
def test_a_second_run_on_the_same_checkpoint_folder_is_refused(tmp_path):
    from chainrule.checkpoint import CHECKPOINT_NAME, read_checkpoint

    folder = tmp_path / "ck"
    first = subprocess.Popen(small_run(tmp_path / "o1", 60, checkpoint_dir=folder),
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (folder / CHECKPOINT_NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    second = subprocess.run(small_run(tmp_path / "o2", 60, checkpoint_dir=folder),
                            capture_output=True, text=True, timeout=120)
    assert first.poll() is None, "the first run ended before the second started"
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1, second.stderr
    assert f"is in use by another chainrule run (pid {first.pid})" in lines[0]
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    _, meta = read_checkpoint(folder / CHECKPOINT_NAME)
    assert meta["trainer"]["epoch"] == 60
    assert (tmp_path / "o1" / "model.safetensors").exists() and not (tmp_path / "o2").exists()
    assert sorted(p.name for p in folder.iterdir()) == [CHECKPOINT_NAME]


def test_a_warning_on_the_command_line_is_one_line(capsys, monkeypatch):
    import warnings

    from chainrule.cli import train as train_command

    def warns(args):
        warnings.warn("checkpoint 'ck' is in the older format\nits metadata is not covered",
                      UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(train_command, "run", warns)
    code, _, err = cli(capsys, "train")
    assert code == 0 and err == ["chainrule train: warning: checkpoint 'ck' is in the older "
                                 "format its metadata is not covered"]
