"""Bad input, everywhere: one table for the API, one for the command line.

The rule under test: in the API a ValueError/TypeError (or the library's own subclass)
whose message names the argument, what was expected and what came; in the CLI exit
status 2 with one error line on stderr and never a traceback; and no file the user
named, or any other file, is changed or created by a command that fails.

A case the library gets wrong stays in its table, marked ``xfail(strict=True)`` with the
reason, so that fixing the library turns it into an unexpected pass.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from safetensors.numpy import save_file

from chainrule import numerical_gradient
from chainrule.checkpoint import ModelFileError, load_model, restore_checkpoint, save_model
from chainrule.cli import main
from chainrule.data import DatasetNotFoundError, load_fashion_mnist
from chainrule.layers import Dropout
from chainrule.models import MultiLayerNet, TwoLayerNet
from chainrule.optim import SGD, Adam, get_optimizer
from chainrule.trainer import Trainer
from chainrule.validation import ChainruleInputError

# ---- files every case may use, built once ----------------------------------------------


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Model files good and bad, and a training checkpoint, in a module-wide folder.

    models/spiral.safetensors      TwoLayerNet(2, 10, 3) trained by ``chainrule train``
    models/fashion784.safetensors  TwoLayerNet(784, 10, 10), another architecture
    models/multi.safetensors       MultiLayerNet(2, [4], 3)
    models/empty.safetensors       zero bytes
    models/truncated.safetensors   spiral.safetensors cut in half (inside its header)
    models/truncated-data.safetensors  fashion784 cut in half (header whole, data cut)
    models/garbage.safetensors     random bytes
    models/foreign.safetensors     a safetensors file that is no chainrule model
    models/checkpoint.safetensors  a training checkpoint of TwoLayerNet(2, 5, 3)
    ckpt/                          the folder ``--checkpoint-dir`` wrote it into
    """
    root = tmp_path_factory.mktemp("library")
    run, ckpt = root / "spiral-run", root / "ckpt"
    assert main(["train", "--epochs", "2", "--quiet", "--out", str(run)]) == 0
    assert main(["train", "--epochs", "1", "--quiet", "--hidden", "5", "--checkpoint-dir",
                 str(ckpt), "--out", str(root / "ckpt-run")]) == 0
    models = root / "models"
    models.mkdir()
    spiral = (run / "model.safetensors").read_bytes()
    (models / "spiral.safetensors").write_bytes(spiral)
    save_model(TwoLayerNet(784, 10, 10, random_state=0), models / "fashion784.safetensors")
    save_model(MultiLayerNet(2, [4], 3, random_state=0), models / "multi.safetensors")
    fashion = (models / "fashion784.safetensors").read_bytes()
    (models / "empty.safetensors").write_bytes(b"")
    (models / "truncated.safetensors").write_bytes(spiral[: len(spiral) // 2])
    (models / "truncated-data.safetensors").write_bytes(fashion[: len(fashion) // 2])
    (models / "garbage.safetensors").write_bytes(np.random.default_rng(0).bytes(512))
    save_file({"weights": np.zeros((2, 3))}, str(models / "foreign.safetensors"))
    shutil.copy2(ckpt / "checkpoint.safetensors", models / "checkpoint.safetensors")
    # the two truncated files are cut where their names say
    header = 8 + int.from_bytes(spiral[:8], "little")
    assert len(spiral) // 2 < header
    header = 8 + int.from_bytes(fashion[:8], "little")
    assert header < len(fashion) // 2
    return SimpleNamespace(root=root, models=models, ckpt=ckpt)


def snapshot(*roots):
    """{path: (size, mtime_ns, sha256)} for every file and {path: 'dir'} for every folder."""
    state = {}
    for root in roots:
        for dirpath, _, filenames in os.walk(root):
            state[dirpath] = "dir"
            for name in filenames:
                path = os.path.join(dirpath, name)
                st = os.stat(path)
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                state[path] = (st.st_size, st.st_mtime_ns, digest)
    return state


def assert_unchanged(before, after):
    new = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert not (new or gone or changed), (
        f"files changed by a failing call: new {new}, removed {gone}, modified {changed}"
    )


# ---- the API -------------------------------------------------------------------------

X = np.linspace(-1.0, 1.0, 10).reshape(5, 2)
T = np.array([0, 1, 2, 0, 1])


def _with(value, index):
    x = X.copy()
    x[index] = value
    return x


# kind: (x, t, regex for a TwoLayerNet(2, 4, 3))
BAD_DATA = {
    "mismatched-lengths": (X, T[:4], r"inconsistent numbers of samples: x has 5, t has 4"),
    "wrong-feature-count": (np.zeros((5, 3)), T,
                            r"x must have 2 features per sample .*got 3 \(shape \(5, 3\)\)"),
    "labels-out-of-range": (X, np.array([0, 1, 2, 3, 0]),
                            r"t labels must be in \[0, 2\] for 3 classes, got values from 0 to 3"),
    "nan-in-x": (_with(np.nan, (1, 1)), T,
                 r"x must be finite, got 1 NaN or inf values \(first at index \(1, 1\)\)"),
    "inf-in-x": (_with(np.inf, (2, 0)), T,
                 r"x must be finite, got 1 NaN or inf values \(first at index \(2, 0\)\)"),
    "empty-x": (np.zeros((0, 2)), np.zeros(0, dtype=np.int64),
                r"x must hold at least one sample, got shape \(0, 2\)"),
}


def _net():
    return TwoLayerNet(2, 4, 3, random_state=0)


def _fit(x, t, **kwargs):
    kwargs = {"max_epoch": 1, "batch_size": 2, "verbose": 0, **kwargs}
    return Trainer(_net(), SGD(lr=0.1), random_state=0).fit(x, t, **kwargs)


ENTRY_POINTS = {
    "loss": lambda x, t: _net().loss(x, t),
    "accuracy": lambda x, t: _net().accuracy(x, t),
    "forward": lambda x, t: _net().forward(x, t),
    "fit": _fit,
}

API_XFAIL = {}  # every API case behaves; a regression goes back in here with its reason


def _data_case(entry, kind):
    x, t, pattern = BAD_DATA[kind]
    call = ENTRY_POINTS[entry]
    return (f"{entry}-{kind}", lambda lib: call(x.copy(), t.copy()), ValueError, pattern)


def _model(lib, name):
    return lib.models / f"{name}.safetensors"


API_CASES = [
    *(_data_case(entry, kind) for entry in ENTRY_POINTS for kind in BAD_DATA),
    ("numerical_gradient-int-array",
     lambda lib: numerical_gradient(lambda w: 0.0, np.array([3, 4])),
     TypeError, r"x must be a float array, got dtype int\d+"),
    ("fit-batch-size-0", lambda lib: _fit(X, T, batch_size=0),
     ValueError, r"batch_size must be a positive integer, got 0"),
    ("fit-batch-size-negative", lambda lib: _fit(X, T, batch_size=-1),
     ValueError, r"batch_size must be a positive integer, got -1"),
    ("SGD-lr-0", lambda lib: SGD(lr=0), ValueError, r"lr must be a positive number, got 0"),
    ("SGD-lr-negative", lambda lib: SGD(lr=-1),
     ValueError, r"lr must be a positive number, got -1"),
    ("Adam-lr-0", lambda lib: Adam(lr=0), ValueError, r"lr must be a positive number, got 0"),
    ("Adam-beta1-1", lambda lib: Adam(beta1=1.0),
     ValueError, r"beta1 must be a number in \[0, 1\), got 1\.0"),
    ("Adam-beta2-negative", lambda lib: Adam(beta2=-0.1),
     ValueError, r"beta2 must be a number in \[0, 1\), got -0\.1"),
    ("SGD-momentum-1.5", lambda lib: SGD(momentum=1.5),
     ValueError, r"momentum must be a number in \[0, 1\), got 1\.5"),
    ("SGD-momentum-negative", lambda lib: SGD(momentum=-0.1),
     ValueError, r"momentum must be a number in \[0, 1\), got -0\.1"),
    ("Dropout-ratio-1", lambda lib: Dropout(dropout_ratio=1.0),
     ValueError, r"dropout_ratio must be a number in \[0, 1\), got 1\.0"),
    ("MultiLayerNet-dropout-ratio-1.2",
     lambda lib: MultiLayerNet(2, [4], 3, use_dropout=True, dropout_ratio=1.2),
     ValueError, r"dropout_ratio must be a number in \[0, 1\), got 1\.2"),
    ("get_optimizer-unknown", lambda lib: get_optimizer("nosuch"),
     ValueError, r"unknown optimizer 'nosuch'; choose one of sgd, .*adam"),
    ("TwoLayerNet-activation-unknown", lambda lib: TwoLayerNet(2, 4, 3, activation="nosuch"),
     ValueError, r"activation must be one of sigmoid, relu, tanh, got 'nosuch'"),
    ("load_fashion_mnist-missing-data-dir",
     lambda lib: load_fashion_mnist(data_dir=str(lib.root / "nonexistent" / "dir")),
     DatasetNotFoundError,
     r"data_dir must be an existing directory, got '.*nonexistent/dir' \(nothing there\)"),
    ("load_model-missing", lambda lib: load_model(_model(lib, "missing")),
     ModelFileError, r"model file '.*missing\.safetensors' does not exist"),
    ("load_model-empty", lambda lib: load_model(_model(lib, "empty")),
     ModelFileError, r"model file '.*empty\.safetensors' is empty"),
    ("load_model-truncated-header", lambda lib: load_model(_model(lib, "truncated")),
     ModelFileError, r"model file '.*truncated\.safetensors' is truncated"),
    ("load_model-truncated-data", lambda lib: load_model(_model(lib, "truncated-data")),
     ModelFileError, r"model file '.*truncated-data\.safetensors' is truncated"),
    ("load_model-garbage", lambda lib: load_model(_model(lib, "garbage")),
     ModelFileError, r"model file '.*garbage\.safetensors' is not a safetensors file"),
    ("load_model-foreign-safetensors", lambda lib: load_model(_model(lib, "foreign")),
     ModelFileError,
     r"'.*foreign\.safetensors' is a safetensors file but not a chainrule model"),
    ("load_model-checkpoint-file", lambda lib: load_model(_model(lib, "checkpoint")),
     ModelFileError,
     r"'.*checkpoint\.safetensors' is a safetensors file but not a chainrule model"),
    ("load_model-another-architecture",
     lambda lib: load_model(_model(lib, "multi"), expect="TwoLayerNet"),
     ModelFileError, r"'.*multi\.safetensors' holds a MultiLayerNet, expected TwoLayerNet"),
    ("restore_checkpoint-another-architecture",
     lambda lib: restore_checkpoint(
         Trainer(MultiLayerNet(2, [4], 3, random_state=0), SGD(lr=1.0)),
         _model(lib, "checkpoint")),
     ModelFileError,
     r"checkpoint '.*checkpoint\.safetensors' is for another model: "
     r"class TwoLayerNet there, MultiLayerNet here"),
    ("restore_checkpoint-model-file",
     lambda lib: restore_checkpoint(Trainer(_net(), SGD(lr=1.0)), _model(lib, "multi")),
     ModelFileError, r"'.*multi\.safetensors' is not a chainrule training checkpoint"),
    ("restore_checkpoint-garbage",
     lambda lib: restore_checkpoint(Trainer(_net(), SGD(lr=1.0)), _model(lib, "garbage")),
     ModelFileError, r"checkpoint '.*garbage\.safetensors' is not a safetensors file"),
]


def _params(cases, xfail, **mark_kwargs):
    ids = [case[0] for case in cases]
    assert len(set(ids)) == len(ids), "duplicate case ids"
    assert set(xfail) <= set(ids), f"xfail for unknown cases: {set(xfail) - set(ids)}"
    return [
        pytest.param(*case[1:], id=case[0], marks=pytest.mark.xfail(
            strict=True, reason=xfail[case[0]], **mark_kwargs)) if case[0] in xfail
        else pytest.param(*case[1:], id=case[0])
        for case in cases
    ]


@pytest.mark.parametrize(("call", "exc_type", "pattern"), _params(API_CASES, API_XFAIL))
def test_api_bad_input(library, call, exc_type, pattern):
    before = snapshot(library.root)
    with pytest.raises(exc_type) as excinfo:
        call(library)
    # one rule: chainrule's own input errors, a TypeError for a type, a ValueError for a value
    if exc_type in (TypeError, ValueError):
        assert issubclass(excinfo.type, ChainruleInputError), excinfo.type.__name__
        other = ValueError if exc_type is TypeError else TypeError
        assert not issubclass(excinfo.type, other), excinfo.type.__mro__
    else:
        assert excinfo.type is exc_type, f"raised {excinfo.type.__name__}: {excinfo.value}"
    assert re.search(pattern, str(excinfo.value)), str(excinfo.value)
    assert_unchanged(before, snapshot(library.root))


def test_api_error_types_are_the_documented_ones():
    # a bad file is a ValueError; a missing data folder a FileNotFoundError
    assert issubclass(ModelFileError, ValueError)
    assert issubclass(DatasetNotFoundError, FileNotFoundError)


# ---- the command line ----------------------------------------------------------------


class Workspace:
    """The user's folder for one CLI case: a copy of the model files plus inputs."""

    def __init__(self, root, library):
        self.root, self.library = root, library
        shutil.copytree(library.models, root / "models")

    def model(self, name):
        return str(self.root / "models" / f"{name}.safetensors")

    def npy(self, name, array, allow_pickle=False):
        np.save(self.root / name, array, allow_pickle=allow_pickle)
        return str(self.root / name)

    def text(self, name, text):
        (self.root / name).write_text(text)
        return str(self.root / name)

    def missing(self, name):
        return str(self.root / name)

    def dir(self, name):
        (self.root / name).mkdir()
        return str(self.root / name)

    def checkpoint_dir(self):
        shutil.copytree(self.library.ckpt, self.root / "ckpt")
        return str(self.root / "ckpt")


X2 = np.random.default_rng(1).standard_normal((3, 2))  # good input for the spiral model


def _bad(value, index):
    x = X2.copy()
    x[index] = value
    return x


def _object_array():
    a = np.empty(3, dtype=object)
    a[:] = [1.0, "two", None]
    return a


ARG = r"argument {}: expected {}, got '{}'"
BAD_MODEL = {
    "missing": r"model file '.*missing\.safetensors' does not exist",
    "empty": r"model file '.*empty\.safetensors' is empty",
    "truncated-header": r"model file '.*truncated\.safetensors' is truncated",
    "truncated-data": r"model file '.*truncated-data\.safetensors' is truncated",
    "garbage": r"model file '.*garbage\.safetensors' is not a safetensors file",
    "foreign": r"'.*foreign\.safetensors' is a safetensors file but not a chainrule model",
}
MODEL_FILE = {"truncated-header": "truncated", "truncated-data": "truncated-data"}

CLI_CASES = [
    # train: arguments refused by the parser
    ("train-batch-size-0", lambda w: ["train", "--batch-size", "0"], 2,
     ARG.format("--batch-size", "a positive integer", "0")),
    ("train-batch-size-negative", lambda w: ["train", "--batch-size", "-3"], 2,
     ARG.format("--batch-size", "a positive integer", "-3")),
    ("train-lr-0", lambda w: ["train", "--lr", "0"], 2,
     ARG.format("--lr", "a positive number", "0")),
    ("train-lr-negative", lambda w: ["train", "--lr", "-0.5"], 2,
     ARG.format("--lr", "a positive number", "-0.5")),
    ("train-lr-not-a-number", lambda w: ["train", "--lr", "abc"], 2,
     ARG.format("--lr", "a positive number", "abc")),
    ("train-epochs-0", lambda w: ["train", "--epochs", "0"], 2,
     ARG.format("--epochs", "a positive integer", "0")),
    ("train-dropout-1.5", lambda w: ["train", "--model", "multi-layer", "--dropout", "1.5"], 2,
     ARG.format("--dropout", r"a number in \[0, 1\)", "1.5")),
    ("train-dataset-unknown", lambda w: ["train", "--dataset", "nosuch"], 2,
     r"argument --dataset: invalid choice: 'nosuch' \(choose from .*spiral.*fashion-mnist"),
    ("train-model-unknown", lambda w: ["train", "--model", "nosuch"], 2,
     r"argument --model: invalid choice: 'nosuch' \(choose from .*two-layer.*multi-layer"),
    ("train-optimizer-unknown", lambda w: ["train", "--optimizer", "nosuch"], 2,
     r"argument --optimizer: invalid choice: 'nosuch' \(choose from .*sgd.*adam"),
    ("train-hidden-empty-entry", lambda w: ["train", "--hidden", "10,,5"], 2,
     ARG.format("--hidden", "comma-separated positive integers such as 100,50", "10,,5")),
    ("train-hidden-not-a-number", lambda w: ["train", "--hidden", "abc"], 2,
     ARG.format("--hidden", "comma-separated positive integers such as 100,50", "abc")),
    ("train-hidden-0", lambda w: ["train", "--hidden", "0"], 2,
     ARG.format("--hidden", "comma-separated positive integers such as 100,50", "0")),
    ("train-data-dir-missing", lambda w: ["train", "--data-dir", w.missing("nonexistent")], 2,
     r"argument --data-dir: expected an existing directory, got '.*nonexistent' "
     r"\(it does not exist\)"),
    ("train-resume-missing", lambda w: ["train", "--resume", w.missing("nonexistent/ckpt")], 2,
     r"argument --resume: expected an existing directory, got '.*nonexistent/ckpt' "
     r"\(it does not exist\)"),
    # train: refused after parsing
    ("train-resume-and-checkpoint-dir-differ",
     lambda w: ["train", "--resume", w.dir("ckA"), "--checkpoint-dir", w.missing("ckB")], 2,
     r"--resume DIR keeps checkpointing into DIR; .*got '.*ckB' and '.*ckA'"),
    ("train-resume-another-architecture",
     lambda w: ["train", "--resume", w.checkpoint_dir(), "--hidden", "7", "--epochs", "2",
                "--quiet"], 2,
     r"checkpoint '.*checkpoint\.safetensors' is for another model: config"),
    # predict: bad model files
    *((f"predict-model-{kind}",
       lambda w, kind=kind: ["predict", w.model(MODEL_FILE.get(kind, kind)), w.npy("x.npy", X2)],
       2, pattern) for kind, pattern in BAD_MODEL.items()),
    ("predict-model-another-architecture",
     lambda w: ["predict", w.model("spiral"), w.npy("x784.npy", np.zeros((3, 784)))], 2,
     r"INPUT\.npy '.*x784\.npy' has shape \(3, 784\), but the model takes 2 values per sample"),
    # predict: bad inputs
    ("predict-input-wrong-shape",
     lambda w: ["predict", w.model("spiral"), w.npy("x.npy", np.zeros((4, 3)))], 2,
     r"INPUT\.npy '.*x\.npy' has shape \(4, 3\), but the model takes 2 values per sample"),
    ("predict-input-nan",
     lambda w: ["predict", w.model("spiral"), w.npy("x.npy", _bad(np.nan, (1, 0)))], 2,
     r"INPUT\.npy '.*x\.npy' must be finite, got 1 NaN or inf values \(first at index \(1, 0\)"),
    ("predict-input-inf",
     lambda w: ["predict", w.model("spiral"), w.npy("x.npy", _bad(-np.inf, (2, 1)))], 2,
     r"INPUT\.npy '.*x\.npy' must be finite, got 1 NaN or inf values \(first at index \(2, 1\)"),
    ("predict-input-empty",
     lambda w: ["predict", w.model("spiral"), w.npy("x.npy", np.zeros((0, 2)))], 2,
     r"INPUT\.npy '.*x\.npy' is empty \(shape \(0, 2\)\)"),
    ("predict-input-not-npy",
     lambda w: ["predict", w.model("spiral"), w.text("x.txt", "1.0,2.0\n3.0,4.0\n")], 2,
     r"INPUT\.npy '.*x\.txt' is not a \.npy array of numbers"),
    ("predict-input-object-dtype",
     lambda w: ["predict", w.model("spiral"),
                w.npy("x.npy", _object_array(), allow_pickle=True)], 2,
     r"INPUT\.npy '.*x\.npy' is not a \.npy array of numbers \(it holds objects"),
    ("predict-input-missing",
     lambda w: ["predict", w.model("spiral"), w.missing("nonexistent.npy")], 2,
     r"INPUT\.npy '.*nonexistent\.npy' does not exist"),
    ("predict-out-is-input",
     lambda w: ["predict", w.model("spiral"), w.npy("x.npy", X2), "--out", w.missing("x.npy")],
     2, r"--out must not be the input file '.*x\.npy'"),
    # evaluate
    *((f"evaluate-model-{kind}",
       lambda w, kind=kind: ["evaluate", w.model(MODEL_FILE.get(kind, kind)),
                             "--dataset", "spiral"],
       2, BAD_MODEL[kind]) for kind in ("missing", "empty", "truncated-header", "garbage")),
    ("evaluate-model-another-architecture",
     lambda w: ["evaluate", w.model("fashion784"), "--dataset", "spiral"], 2,
     r"the spiral data has shape \(300, 2\), but the model takes 784 values per sample"),
    # gd and gradcheck
    ("gd-lr-0", lambda w: ["gd", "--lr", "0"], 2, ARG.format("--lr", "a positive number", "0")),
    ("gd-init-three-numbers", lambda w: ["gd", "--init", "1,2,3"], 2,
     r"argument --init: expected two comma-separated .*numbers such as -3,4, got '1,2,3'"),
    ("gradcheck-hidden-not-a-number", lambda w: ["gradcheck", "--hidden", "x"], 2,
     ARG.format("--hidden", "comma-separated positive integers such as 100,50", "x")),
]

CLI_XFAIL = {}  # every CLI case behaves; a regression goes back in here with its reason

# run again in a real interpreter: nothing but the error line may reach the terminal
SUBPROCESS_IDS = ("train-lr-0", "train-lr-negative", "predict-model-garbage",
                  "train-resume-missing", "predict-input-wrong-shape",
                  "evaluate-model-another-architecture")


def check_cli(status, out, err, expected_status, pattern):
    assert "Traceback" not in out + err, f"a traceback reached the terminal:\n{err}"
    assert status == expected_status, (
        f"exit status {status}, expected {expected_status}; stderr: {err!r}"
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    last = lines[-1]
    assert last.startswith("chainrule") and "error:" in last, f"last stderr line: {last!r}"
    errors = [line for line in (out + "\n" + err).splitlines() if "error:" in line]
    assert len(errors) == 1, f"expected one error line, got {errors}"
    assert re.search(pattern, last), f"{last!r} does not match {pattern!r}"


def _prepare_cli(case_build, tmp_path, library):
    workspace = Workspace(tmp_path, library)
    argv = case_build(workspace)
    return argv, snapshot(tmp_path, library.root)


@pytest.mark.parametrize(("build", "status", "pattern"),
                         _params(CLI_CASES, CLI_XFAIL, raises=AssertionError))
def test_cli_bad_input(library, tmp_path, monkeypatch, capsys, build, status, pattern):
    monkeypatch.chdir(tmp_path)  # a stray runs/<timestamp>/ would land here and be seen
    argv, before = _prepare_cli(build, tmp_path, library)
    capsys.readouterr()
    try:
        got = main(argv)
    except (Exception, SystemExit) as exc:
        pytest.fail(f"main({argv}) raised {type(exc).__name__}: {exc}")
    out, err = capsys.readouterr()
    check_cli(got, out, err, status, pattern)
    assert_unchanged(before, snapshot(tmp_path, library.root))


_BY_ID = {case[0]: case for case in CLI_CASES}


@pytest.mark.parametrize("case_id", SUBPROCESS_IDS)
def test_cli_bad_input_in_a_real_process(library, tmp_path, case_id):
    assert case_id not in CLI_XFAIL
    _, build, status, pattern = _BY_ID[case_id]
    argv, before = _prepare_cli(build, tmp_path, library)
    proc = subprocess.run([sys.executable, "-m", "chainrule", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    check_cli(proc.returncode, proc.stdout, proc.stderr, status, pattern)
    assert_unchanged(before, snapshot(tmp_path, library.root))
