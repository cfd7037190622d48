"""`chainrule gradcheck`: the table, the exit status, bad arguments."""

import pytest

from chainrule import layers
from chainrule.cli import main


def test_default_two_layer_passes(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "TwoLayerNet(input_size=784, hidden_size=100" in out
    for name in ("x ", "W1", "b1", "W2", "b2"):
        assert name in out
    assert "directional" in out and "passed" in out and (
        "checked 5 arrays (79,510 parameters and the input) along a few directions") in out


def test_multi_layer_with_every_option_exact(capsys):
    argv = ["gradcheck", "--model", "multi-layer", "--input-size", "6", "--hidden", "5,4",
            "--output-size", "3", "--batchnorm", "--dropout", "0.3", "--weight-decay", "0.1",
            "--mode", "exact", "--dtype", "float32"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "gamma2" in out and "exact" in out and "FAILED" not in out


def test_a_wrong_backward_exits_1(capsys, monkeypatch):
    correct = layers.Sigmoid.backward
    monkeypatch.setattr(layers.Sigmoid, "backward", lambda self, dout: 2 * correct(self, dout))
    assert main(["gradcheck", "--input-size", "5", "--hidden", "4", "--output-size", "3"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "nosuch"], "argument --model: invalid choice: 'nosuch'"),
        (["--hidden", "10,x"], "argument --hidden: expected comma-separated positive integers"),
        (["--hidden", "0"], "argument --hidden: expected comma-separated positive integers"),
        (["--hidden", "10,10"], "--hidden: two-layer takes one hidden size, got [10, 10]"),
        (["--dropout", "0.5"], "--dropout and --batchnorm need --model multi-layer"),
        (["--model", "multi-layer", "--dropout", "1.5"], "argument --dropout: expected a number"),
        (["--batch", "0"], "argument --batch: expected a positive integer, got '0'"),
        (["--mode", "fast"], "argument --mode: invalid choice: 'fast'"),
        (["--weight-decay", "-1"], "argument --weight-decay: expected a non-negative number"),
    ],
)
def test_bad_arguments_exit_2(capsys, argv, message):
    assert main(["gradcheck", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("chainrule gradcheck: error:")


def test_relu_networks_default_to_a_step_that_does_not_straddle_kinks(capsys):
    """With h = 1e-4 some of the 90,010 elements of this ReLU net sit within h of a kink
    (for this seed), so their central differences are off by design; the default h for
    ReLU networks is 1e-6, and every element then agrees with backprop."""
    argv = ["gradcheck", "--model", "multi-layer", "--hidden", "100,100", "--batchnorm",
            "--dropout", "0.5", "--mode", "exact", "--seed", "0"]
    assert main([*argv, "--h", "1e-4"]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert main(argv) == 0
    assert "passed (rtol 1e-06)" in capsys.readouterr().out
