"""`chainrule evaluate` and `chainrule predict` on a model written by `chainrule train`."""

import json

import numpy as np
import pytest

from chainrule.checkpoint import load_model
from chainrule.cli import main
from chainrule.data import load_spiral
from chainrule.evaluation import confusion_matrix


@pytest.fixture(scope="module")
def spiral_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    assert main(["train", "--epochs", "100", "--quiet", "--out", str(folder)]) == 0
    return folder / "model.safetensors"


def test_confusion_matrix_by_hand():
    counts = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_evaluate_matches_the_model(spiral_model, capsys, tmp_path):
    assert main(["evaluate", str(spiral_model), "--dataset", "spiral", "--json",
                 "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    model = load_model(spiral_model)
    x, t = load_spiral()
    labels = t.argmax(axis=1)
    assert result["split"] == "train" and result["samples"] == 300  # spiral has no test split
    assert result["accuracy"] == pytest.approx(model.accuracy(x, t))
    assert result["loss"] == pytest.approx(model.loss(x, labels), rel=1e-6)
    counts = np.array(result["confusion"])
    assert counts.sum() == 300 and counts.sum(axis=1).tolist() == [100, 100, 100]
    assert np.trace(counts) / 300 == pytest.approx(result["accuracy"])
    mpimg = pytest.importorskip("matplotlib.image")
    image = mpimg.imread(tmp_path / "confusion.png")
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 50


def test_evaluate_text_output(spiral_model, capsys):
    assert main(["evaluate", str(spiral_model), "--dataset", "spiral"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "true \\ predicted" in out
    assert (spiral_model.parent / "confusion.png").exists()  # next to the model by default


def test_predict_writes_the_probabilities(spiral_model, tmp_path, capsys):
    x, _ = load_spiral()
    inputs = tmp_path / "x.npy"
    np.save(inputs, x[:7])
    out = tmp_path / "p.npy"
    assert main(["predict", str(spiral_model), str(inputs), "--out", str(out)]) == 0
    probabilities = np.load(out)
    model = load_model(spiral_model)
    np.testing.assert_allclose(probabilities, model.predict(x[:7]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert np.array_equal(np.load(inputs), x[:7])  # the input is untouched


def test_predict_prints_classes_and_accepts_one_sample(spiral_model, tmp_path, capsys):
    x, _ = load_spiral()
    one = tmp_path / "one.npy"
    np.save(one, x[150])
    assert main(["predict", str(spiral_model), str(one)]) == 0
    line = capsys.readouterr().out.strip()
    expected = int(np.argmax(load_model(spiral_model).predict(x[150:151])))
    assert line.startswith("0  class") and f"class {expected}" in line


def test_predict_warns_on_raw_pixels_and_scale_fixes_them(tmp_path, capsys):
    from chainrule.checkpoint import save_model
    from chainrule.models import TwoLayerNet

    model = TwoLayerNet(16, 8, 3, activation="relu", random_state=0)
    save_model(model, tmp_path / "m.safetensors")
    pixels = np.random.default_rng(0).integers(0, 256, size=(5, 4, 4)).astype(np.uint8)
    np.save(tmp_path / "raw.npy", pixels)
    np.save(tmp_path / "scaled.npy", pixels / 255.0)
    assert main(["predict", str(tmp_path / "m.safetensors"), str(tmp_path / "raw.npy")]) == 0
    err = capsys.readouterr().err
    assert "like raw 0-255 pixels" in err and "--scale 255" in err
    for name, extra in (("raw.npy", ["--scale", "255"]), ("scaled.npy", [])):
        assert main(["predict", str(tmp_path / "m.safetensors"), str(tmp_path / name),
                     "--out", str(tmp_path / f"p-{name}"), *extra]) == 0
        assert "warning" not in capsys.readouterr().err
    np.testing.assert_allclose(np.load(tmp_path / "p-raw.npy"), np.load(tmp_path / "p-scaled.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "p-raw.npy"),
                               model.predict(pixels.reshape(5, 16) / 255.0))


def test_the_text_confusion_matrix_names_the_classes():
    from chainrule.cli.evaluate import FASHION_NAMES, format_confusion

    counts = np.diag(np.arange(10, 20))
    lines = format_confusion(counts, FASHION_NAMES).splitlines()
    assert lines[1].split()[:3] == ["0", "T-shirt/top", "10"]
    assert lines[10].startswith("9 Ankle boot") and lines[10].split()[-1] == "19"
    assert format_confusion(counts).splitlines()[1].split()[:2] == ["0", "10"]
