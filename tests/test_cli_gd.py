"""`chainrule gd`: seed values through the command line, plots and bad arguments."""

import json
import subprocess
import sys

import numpy as np
import pytest

from chainrule.cli import main


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("init", [["--init", "-3,4"], ["--init=-3,4"]])
def test_seed_point_as_json(capsys, init):
    code, out, _ = run_main(capsys, "gd", *init, "--lr", "0.1", "--steps", "100", "--json")
    assert code == 0
    result = last_json(out)
    np.testing.assert_allclose(result["x"], [-6.11110793e-10, 8.14814391e-10], rtol=1e-6)
    assert result["steps"] == 100 and result["lr"] == 0.1 and result["diverged"] is False
    assert result["f"] == pytest.approx(sum(v * v for v in result["x"]))


def test_large_learning_rate_reports_divergence(capsys):
    code, out, err = run_main(capsys, "gd", "--init", "-3,4", "--lr", "10", "--json")
    assert code == 0
    result = last_json(out)
    assert result["diverged"] is True
    np.testing.assert_allclose(result["x"], [-2.58983747e13, -1.29524862e12], rtol=1e-6)
    assert "lr=10" in err


def test_other_functions_converge(capsys):
    code, out, _ = run_main(capsys, "gd", "--function", "booth", "--init", "0,0", "--lr", "0.05",
                            "--steps", "500", "--json")
    assert code == 0
    np.testing.assert_allclose(last_json(out)["x"], [1.0, 3.0], atol=1e-6)


def test_plots_are_real_pngs(tmp_path, capsys):
    mpimg = pytest.importorskip("matplotlib.image")
    path, field = tmp_path / "path.png", tmp_path / "field.png"
    code, out, _ = run_main(capsys, "gd", "--init", "-3,4", "--plot", str(path),
                            "--field", str(field))
    assert code == 0 and f"wrote {path}" in out
    for png in (path, field):
        image = mpimg.imread(png)
        assert image.shape[0] > 300 and image.shape[1] > 300
        # a real figure has many distinct colours, not a blank canvas
        assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 50


@pytest.mark.parametrize(
    "argv, message",
    [
        (["gd", "--lr", "abc"], "argument --lr: expected a positive number, got 'abc'"),
        (["gd", "--lr", "0"], "argument --lr: expected a positive number, got '0'"),
        (["gd", "--init", "1"], "argument --init: expected two comma-separated"),
        (["gd", "--init", "a,b"], "argument --init: expected two comma-separated"),
        (["gd", "--function", "nosuch"], "argument --function: invalid choice: 'nosuch'"),
        (["gd", "--steps", "-5"], "argument --steps: expected a non-negative integer, got '-5'"),
        (["gd", "--steps", "2.5"], "argument --steps: expected a non-negative integer"),
        (["gd", "--bogus"], "unrecognized arguments: --bogus"),
        (["nosuch"], "invalid choice: 'nosuch'"),
    ],
)
def test_bad_arguments_exit_2_with_one_error_line(capsys, argv, message):
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert message in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule")  # no usage block
    assert "error:" in lines[0] and lines[0].endswith("--help')")
    assert "Traceback" not in err + out


def test_no_command_prints_help_and_exits_2(capsys):
    code, _, err = run_main(capsys)
    assert code == 2 and "gd" in err


def test_module_entry_point_in_a_subprocess():
    ok = subprocess.run([sys.executable, "-m", "chainrule", "gd", "--init", "-3,4", "--json"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    np.testing.assert_allclose(last_json(ok.stdout)["x"], [-6.11110793e-10, 8.14814391e-10],
                               rtol=1e-6)
    bad = subprocess.run([sys.executable, "-m", "chainrule", "gd", "--steps", "-5"],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith("chainrule gd: error:")


def test_help_shows_examples(capsys):
    assert main(["gd", "--help"]) == 0
    assert "chainrule gd --init -3,4 --lr 0.1 --steps 100" in capsys.readouterr().out
