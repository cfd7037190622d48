"""`chainrule train`: the main job end to end, its run folder, and bad arguments."""

import csv
import json
import os

import numpy as np
import pytest

from chainrule.checkpoint import load_model
from chainrule.cli import main
from chainrule.data import load_spiral
from chainrule.trainer import History

FASHION = "/usr/share/datasets/fashion-mnist"
JSON_KEYS = {"dataset", "model", "epochs", "train_loss", "train_accuracy", "test_accuracy",
             "seconds", "seconds_per_epoch", "params"}


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def assert_real_png(path):
    mpimg = pytest.importorskip("matplotlib.image")
    image = mpimg.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 50


def test_no_arguments_is_book2_spiral_experiment(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 0
    out = capsys.readouterr().out
    assert "TwoLayerNet (float32)" in out and "train accuracy" in out
    (run,) = (tmp_path / "runs").iterdir()  # runs/<timestamp>/
    names = {p.name for p in run.iterdir()}
    assert names == {"metrics.json", "history.csv", "loss.png", "accuracy.png",
                     "decision_boundary.png", "model.safetensors"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_accuracy"] >= 0.95
    assert metrics["test_accuracy"] is None and metrics["epochs"] == 300
    assert metrics["config"]["hidden_size"] == 10 and metrics["config"]["activation"] == "sigmoid"
    assert metrics["optimizer"] == "sgd" and metrics["lr"] == 1.0 and metrics["batch_size"] == 30
    # metrics.json's accuracy is of the saved final weights over the whole training set
    model = load_model(run / "model.safetensors")
    x, t = load_spiral()
    assert model.accuracy(x, t) == pytest.approx(metrics["train_accuracy"])
    assert model.params["W1"].dtype == np.float32
    with open(run / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 300 and rows[0]["epoch"] == "1" and rows[-1]["eval_loss"] == ""
    for png in ("loss.png", "accuracy.png", "decision_boundary.png"):
        assert_real_png(run / png)


def test_json_line_and_out_folder(tmp_path, capsys):
    out_dir = tmp_path / "run"
    argv = ["train", "--epochs", "20", "--out", str(out_dir), "--json", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1  # --quiet leaves only the JSON line
    result = last_json(out)
    assert JSON_KEYS <= result.keys()
    assert result["epochs"] == 20 and result["params"] == 63
    # the mean of the epochs' own times (history.csv), not wall time over a partial epoch
    history = History.from_csv(out_dir / "history.csv")
    assert result["seconds_per_epoch"] == pytest.approx(sum(history.seconds) / 20)
    assert result["seconds_per_epoch"] <= result["seconds"] / 20
    assert json.loads((out_dir / "metrics.json").read_text())["train_loss"] == result["train_loss"]


def test_same_seed_same_weights(tmp_path, capsys):
    for name in ("a", "b"):
        assert main(["train", "--epochs", "5", "--seed", "3", "--quiet",
                     "--out", str(tmp_path / name)]) == 0
    a, b = (load_model(tmp_path / n / "model.safetensors") for n in ("a", "b"))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_multi_layer_options_reach_the_model(tmp_path, capsys):
    argv = ["train", "--model", "multi-layer", "--hidden", "16,8", "--batchnorm",
            "--dropout", "0.1", "--weight-decay", "0.001", "--optimizer", "adam", "--lr", "0.01",
            "--epochs", "3", "--dtype", "float64", "--max-grad", "5", "--quiet", "--json",
            "--out", str(tmp_path)]
    assert main(argv) == 0
    result = last_json(capsys.readouterr().out)
    assert result["model"] == "MultiLayerNet" and result["dtype"] == "float64"
    config = result["config"]
    assert config["hidden_size_list"] == [16, 8] and config["use_batchnorm"]
    # --weight-decay belongs to the optimizer alone, never also to the model
    assert config["dropout_ratio"] == 0.1 and config["weight_decay_lambda"] == 0.0
    assert result["weight_decay"] == 0.001
    model = load_model(tmp_path / "model.safetensors")
    assert "gamma2" in model.params and "running_mean1" in model.buffers


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="needs Debian's dataset-fashion-mnist")
def test_fashion_mnist_relu_adam_reaches_the_accuracy_floor(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    argv = ["train", "--dataset", "fashion-mnist", "--model", "two-layer", "--hidden", "100",
            "--activation", "relu", "--optimizer", "adam", "--lr", "0.001", "--epochs", "10",
            "--batch-size", "100", "--seed", "0", "--quiet", "--json", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    result = last_json(capsys.readouterr().out)
    # PyTorch with the same settings: 0.870-0.880 over seeds 0-5
    assert result["test_accuracy"] >= 0.865
    assert result["train_accuracy"] > result["test_accuracy"] - 0.05
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert "decision_boundary.png" not in names and "loss.png" in names


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "nosuch"], "argument --dataset: invalid choice: 'nosuch'"),
        (["--hidden", "10,x"], "argument --hidden: expected comma-separated positive integers"),
        (["--hidden", "10,10"], "two-layer takes one hidden size"),
        (["--lr", "0"], "argument --lr: expected a positive number, got '0'"),
        (["--lr", "-1"], "argument --lr: expected a positive number, got '-1'"),
        (["--batch-size", "0"], "argument --batch-size: expected a positive integer, got '0'"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
        (["--optimizer", "nosuch"], "argument --optimizer: invalid choice: 'nosuch'"),
        (["--model", "nosuch"], "argument --model: invalid choice: 'nosuch'"),
        (["--data-dir", "/nonexistent/dir"], "argument --data-dir: expected an existing directory"),
        (["--dropout", "0.5"], "--dropout and --batchnorm need --model multi-layer"),
        (["--model", "multi-layer", "--dropout", "1"], "argument --dropout: expected a number"),
        (["--activation", "softplus"], "argument --activation: invalid choice"),
        (["--dtype", "int8"], "argument --dtype: invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *argv]) == 2
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err + out
    assert err.strip().splitlines()[-1].startswith("chainrule train: error:")
    assert not (tmp_path / "runs").exists()  # nothing written for a bad command


def test_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert main(["train", "--out", str(target), "--epochs", "1"]) == 2
    assert "--out must be a directory" in capsys.readouterr().err
    assert target.read_text() == "mine"
