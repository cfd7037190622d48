"""The progress display: a moving bar on a terminal (with or without tqdm), lines in a log."""

from __future__ import annotations

import io
import re
import sys

import numpy as np

from chainrule.models import TwoLayerNet
from chainrule.optim import SGD
from chainrule.progress import TextBar
from chainrule.trainer import Trainer


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def data(n=200):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4)), np.arange(n) % 3


def bar_states(text):
    """The successive bar lines drawn with a carriage return: their 'done/total' counts."""
    return [tuple(map(int, m.groups())) for m in re.finditer(r"\] +\d+% (\d+)/(\d+)", text)]


def test_the_built_in_bar_moves_with_every_redraw_and_ends_full():
    stream, ticks = Terminal(), iter(np.arange(0, 100, 0.25))
    bar = TextBar(total=8, stream=stream, clock=lambda: float(next(ticks)))
    for _ in range(8):
        bar.update(1, "epoch 1/1", "loss 0.5000  acc 0.500")
    bar.close()
    assert bar_states(stream.getvalue()) == [(k, 8) for k in range(1, 9)]
    assert "100%" in stream.getvalue() and "#" in stream.getvalue()


def test_fit_on_a_terminal_without_tqdm_shows_a_bar_and_epoch_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the core install: no tqdm
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    x, t = data()
    Trainer(TwoLayerNet(4, 5, 3, random_state=0), SGD(lr=0.1), random_state=0).fit(
        x, t, max_epoch=2, batch_size=10, eval_data=(x, t), eval_name="test")
    text = terminal.getvalue()
    assert "\r" in text and bar_states(text)[-1] == (40, 40)
    lines = [part.strip() for part in re.split(r"[\r\n]", text) if part.startswith("epoch")
             and "lr" in part]
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "test acc" in lines[0]


def test_a_resumed_run_starts_its_bar_where_it_stopped_and_ends_full(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    x, t = data()
    trainer = Trainer(TwoLayerNet(4, 5, 3, random_state=0), SGD(lr=0.1), random_state=0)

    def stop(tr):
        if tr.iteration == 27:  # mid-epoch 2
            tr.stop_requested = True

    trainer.fit(x, t, max_epoch=3, batch_size=10, verbose=0, step_callbacks=[stop])
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    trainer.fit(x, t, max_epoch=3, batch_size=10)
    states = bar_states(terminal.getvalue())
    assert states[0][0] >= 8 and states[-1] == (40, 40)  # 7 of epoch 2 done, 2 epochs shown


def test_verbose_2_in_a_log_adds_a_line_every_tenth_of_an_epoch(capsys):
    x, t = data()
    Trainer(TwoLayerNet(4, 5, 3, random_state=0), SGD(lr=0.1), random_state=0).fit(
        x, t, max_epoch=1, batch_size=10, verbose=2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("  ")[1] for line in lines[:-1]] == [f"batch {k}/20"
                                                            for k in range(2, 20, 2)]
    assert lines[-1].startswith("epoch 1/1  loss")
