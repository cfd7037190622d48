"""What a training run shows while it works, on stderr.

* On a terminal: a progress bar that moves with every batch (tqdm's when the
  ``progress`` extra is installed, else a built-in one-line bar), with one line per
  epoch printed above it.
* Not on a terminal (a log file, a pipe, CI): one line per epoch; with ``verbose=2``
  also a line every tenth of an epoch, so a long first epoch shows signs of life.
* ``verbose=0``: nothing.
"""

from __future__ import annotations

import shutil
import sys
import time

__all__ = ["Progress", "TextBar"]


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class TextBar:
    """A one-line bar redrawn in place with a carriage return, at most 10 times a second.

    ``epoch 3/10 [#######.............] 35% 210/600  loss 0.4123  acc 0.861  4s<7s``
    """

    def __init__(self, total, initial=0, stream=None, clock=time.perf_counter):
        self.total, self.n = total, initial
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start, self.start_n = clock(), initial
        self.last_draw = -1.0
        self.text = ""

    def update(self, n, label, postfix):
        """Advance by ``n`` batches; redraw when 0.1 s passed or the bar is full."""
        self.n += n
        now = self.clock()
        if now - self.last_draw >= 0.1 or self.n >= self.total:
            self.last_draw = now
            self._draw(label, postfix, now)

    def _draw(self, label, postfix, now):
        width = max(shutil.get_terminal_size((100, 20)).columns or 100, 40)
        done = self.n / self.total if self.total else 1.0
        elapsed = now - self.start
        rate = (self.n - self.start_n) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else 0.0
        tail = f" {done:4.0%} {self.n}/{self.total}  {postfix}  {elapsed:.0f}s<{eta:.0f}s"
        cells = max(width - len(label) - len(tail) - 4, 10)
        filled = int(round(cells * done))
        line = f"{label} [{'#' * filled}{'.' * (cells - filled)}]{tail}"[:width - 1]
        self.text = line
        self.stream.write("\r" + line.ljust(width - 1))
        self.stream.flush()

    def write(self, text):
        """Print a line above the bar, then draw the bar again under it."""
        width = max(shutil.get_terminal_size((100, 20)).columns or 100, 40)
        self.stream.write("\r" + " " * (width - 1) + "\r" + text + "\n")
        if self.text:
            self.stream.write("\r" + self.text.ljust(width - 1))
        self.stream.flush()

    def close(self):
        if self.text:
            self.stream.write("\n")
            self.stream.flush()


class Progress:
    """The Trainer's display: a bar and epoch lines, or lines alone, or nothing.

    ``total`` batches remain in the run and ``done_in_epoch`` of the current epoch's
    are done already (a resumed run), so the bar starts where the run stands.
    ``eval_name`` is how epoch lines call the evaluation data ("test" in the CLI).
    """

    def __init__(self, verbose, max_epoch, batches, done_in_epoch=0, *, remaining_epochs,
                 eval_name="eval", stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.max_epoch, self.batches, self.eval_name = max_epoch, batches, eval_name
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = None
        self.lines = verbose >= 2 or (verbose == 1 and not tty)
        self.ticks = verbose >= 2 and not tty  # a line every tenth of an epoch
        self.postfix = ""
        total, initial = remaining_epochs * batches, done_in_epoch
        if verbose >= 1 and tty and total:
            self.lines = False
            tqdm = _tqdm()
            if tqdm is not None:
                width = shutil.get_terminal_size((100, 20)).columns or 100
                self.bar = tqdm(total=total, initial=initial, unit="batch", leave=True,
                                ncols=min(width, 120), file=self.stream)
            else:
                self.bar = TextBar(total, initial, self.stream)

    def step(self, epoch, batch, loss, accuracy):
        """After batch ``batch`` (1-based) of epoch ``epoch`` (1-based)."""
        label = f"epoch {epoch}/{self.max_epoch}"
        if self.bar is not None:
            postfix = f"loss {loss:.4f}  acc {accuracy:.3f}"
            if isinstance(self.bar, TextBar):
                self.bar.update(1, label, postfix)
            else:
                self.bar.set_description(label, refresh=False)
                self.bar.set_postfix_str(postfix, refresh=False)
                self.bar.update(1)
        elif self.ticks and self.batches >= 10 and batch % max(self.batches // 10, 1) == 0 \
                and batch < self.batches:
            self._print(f"{label}  batch {batch}/{self.batches}  loss {loss:.4f}  "
                        f"acc {accuracy:.4f}")

    def epoch_end(self, history):
        if not (self.lines or self.bar is not None):
            return
        i = -1
        text = (f"epoch {history.epoch[i]}/{self.max_epoch}  loss {history.train_loss[i]:.4f}  "
                f"acc {history.train_accuracy[i]:.4f}")
        if history.eval_loss[i] is not None:
            text += (f"  {self.eval_name} loss {history.eval_loss[i]:.4f}  "
                     f"{self.eval_name} acc {history.eval_accuracy[i]:.4f}")
        text += f"  lr {history.lr[i]:.3g}  {history.seconds[i]:.2f}s"
        self._print(text)

    def _print(self, text):
        if self.bar is not None:
            if isinstance(self.bar, TextBar):
                self.bar.write(text)
            else:
                self.bar.write(text, file=self.stream)  # above the bar
        else:
            print(text, file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
