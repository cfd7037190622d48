"""``chainrule train``: the mini-batch loop on real data, with a run folder of results.

With no arguments it is book 2's experiment in section 1.4: the spiral data,
TwoLayerNet(2, 10, 3) with sigmoid, SGD lr 1.0, batch 30, 300 epochs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from .common import (
    UsageError,
    add_model_arguments,
    build_model,
    existing_dir,
    positive_float,
    positive_int,
    threads,
)
from .runfolder import check_folder, write_folder

EXAMPLES = """\
examples:
  chainrule train                                   book 2's spiral experiment, in seconds
  chainrule train --dataset fashion-mnist --hidden 100 --activation relu \\
      --optimizer adam --lr 0.001 --epochs 10 --batch-size 100 --seed 0
  chainrule train --dataset fashion-mnist --model multi-layer --hidden 256,128 \\
      --batchnorm --dropout 0.2 --optimizer adamw --lr 0.001 --epochs 20
  chainrule train --dataset fashion-mnist --model simple-conv --optimizer adam \\
      --lr 0.001 --epochs 5                         book 1's convolutional network
  chainrule train --json --quiet                    one JSON line with the results
  chainrule train --dataset fashion-mnist --threads 1   one BLAS thread, whatever the model
  chainrule train --dataset fashion-mnist --epochs 20 --checkpoint-dir ckpt
  chainrule train --dataset fashion-mnist --epochs 20 --resume ckpt   after a crash or Ctrl-C
  mpiexec -n 2 chainrule train --dataset fashion-mnist --batch-size 200
                                                    one model on 2 processes (the mpi extra)

The run folder (--out, default runs/<timestamp>/) gets metrics.json, history.csv,
loss.png, accuracy.png, decision_boundary.png (2-D data) and model.safetensors.
Under mpiexec -n K, each batch is split over the K ranks and one run folder is written
(docs/distributed.md).
"""

DATASETS = ("spiral", "mnist", "fashion-mnist")

# Per-dataset defaults for options the user did not give.
DEFAULTS = {
    "spiral": {"hidden": [10], "optimizer": "sgd", "lr": 1.0, "epochs": 300, "batch_size": 30},
    "mnist": {"hidden": [100], "optimizer": "sgd", "lr": 0.1, "epochs": 10, "batch_size": 100},
    "fashion-mnist": {"hidden": [100], "optimizer": "sgd", "lr": 0.1, "epochs": 10,
                      "batch_size": 100},
}


def add_parser(subparsers):
    from ..optim import OPTIMIZERS

    p = subparsers.add_parser(
        "train",
        help="train a network on spiral, MNIST or Fashion-MNIST data (the main job)",
        description="Train a network with mini-batch gradient descent and write a run folder "
        "with metrics, the history, plots and the final weights.",
        epilog=EXAMPLES,
    )
    p.add_argument("--dataset", default="spiral", choices=DATASETS,
                   help="training data (default: spiral)")
    p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR",
                   help="folder with the four IDX files (default: search, then download)")
    add_model_arguments(p, weight_decay_help="weight decay of the optimizer (L2; decoupled "
                        "for adamw) on the weights, not on biases or batch-norm parameters; "
                        "0 means none (default: 0)")
    p.set_defaults(hidden=None)  # per dataset: 10 for spiral, 100 for the image sets
    p.add_argument("--optimizer", default=None, choices=list(OPTIMIZERS),
                   help="update rule (default: sgd)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: 1.0 spiral, 0.1 images)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="passes over the training data (default: 300 spiral, 10 images)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="samples per mini-batch (default: 30 spiral, 100 images)")
    p.add_argument("--max-grad", type=positive_float, default=None, metavar="NORM",
                   help="clip the global gradient norm to NORM")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="float32 (default, fast) or float64 (the library's default)")
    p.add_argument("--threads", type=threads, default="auto", metavar="N",
                   help="BLAS threads: 'auto' (default: one for a small model; for a larger "
                   "one, a timed trial of 1 thread against the cores other processes "
                   "leave free, kept while they stay free) or a number; "
                   "OPENBLAS_NUM_THREADS wins")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder to write (default: runs/<timestamp>/)")
    p.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                   help="save a checkpoint there after every epoch and on Ctrl-C")
    p.add_argument("--resume", type=existing_dir, default=None, metavar="DIR",
                   help="continue the run checkpointed in DIR (same arguments; --epochs may "
                   "grow); a DIR without a complete checkpoint starts from the beginning")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors (and --json)")
    p.add_argument("--verbose", action="store_true",
                   help="more progress: when not on a terminal, also a line every tenth of "
                   "an epoch (default: a bar on a terminal, a line per epoch in a log)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(handler=run, parser=p)


def _resolve_defaults(args):
    if args.model == "deep-conv" and args.hidden is None:
        args.hidden = [50]  # book 1's DeepConvNet
    for key, value in DEFAULTS[args.dataset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def load_dataset(name, data_dir=None, quiet=False):
    """((x_train, t_train), (x_test, t_test) or None) for a dataset name."""
    from ..data import load_fashion_mnist, load_mnist, load_spiral
    from ..data.download import DownloadError

    if name == "spiral":
        x, t = load_spiral()
        return (x, np.argmax(t, axis=1)), None
    loader = load_mnist if name == "mnist" else load_fashion_mnist
    try:
        return loader(data_dir=data_dir, progress=not quiet)
    except DownloadError as exc:  # say it in the command line's words
        text = str(exc).replace("pass data_dir= (on the command line --data-dir DIR)",
                                "pass --data-dir DIR")
        raise DownloadError(text, exc.attempts) from None


def _run_dir(out):
    """The run folder's path (made only when there are results to write)."""
    if out is not None:
        return Path(out)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path("runs") / f"{stamp}-{suffix}"
    return path


def position(trainer, batches):
    """Where a run stands, in the words both the interrupt and the resume messages use."""
    if trainer.batch_in_epoch:
        return (f"epoch {trainer.epoch + 1}, batch {trainer.batch_in_epoch} of {batches} "
                f"(iteration {trainer.iteration})")
    if trainer.epoch == 0:
        return "the start (iteration 0)"
    return f"the end of epoch {trainer.epoch} (iteration {trainer.iteration})"


def _figures(run_dir, history, model, train, say):
    try:
        from .. import plotting
    except ImportError:  # pragma: no cover - plotting itself imports nothing heavy
        return []
    if not plotting.available():
        say("matplotlib is not installed: no figures (pip install 'chainrule[plot]')")
        return []
    written = []
    plotting.plot_loss(history, run_dir / "loss.png", eval_name="test")
    plotting.plot_accuracy(history, run_dir / "accuracy.png", eval_name="test")
    written += ["loss.png", "accuracy.png"]
    if train[0].shape[1] == 2:
        plotting.plot_decision_boundary(model, *train, run_dir / "decision_boundary.png")
        written.append("decision_boundary.png")
    return written


# The arguments a resumed run must share with the run it continues (--epochs may grow).
RESUME_KEYS = ("dataset", "model", "hidden", "activation", "weight_decay", "dropout",
               "batchnorm", "seed", "optimizer", "lr", "batch_size", "max_grad", "dtype")


@contextlib.contextmanager
def _checkpoint_folder(args, prepare=True):
    """The checkpoint folder (or None), made, locked for this run and cleaned of the
    temporary files interrupted saves left, for the duration of the block.

    Only the process that writes checkpoints (rank 0 under MPI) ``prepare``s it; a
    folder another run holds is a usage error naming that run's process id.
    """
    from ..checkpoint import clean_stale_temporaries, lock_folder

    folder = args.resume or args.checkpoint_dir
    if folder is None:
        yield None
        return
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--checkpoint-dir must be a directory, got {str(folder)!r} (a file)")
    if not prepare:
        yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    with lock_folder(folder):
        clean_stale_temporaries(folder)
        yield folder


def _resume(trainer, args, folder, say, batches):
    """Restore the checkpoint in ``folder`` if there is one; check the arguments match."""
    from ..checkpoint import CHECKPOINT_NAME, restore_checkpoint

    path = folder / CHECKPOINT_NAME
    if not path.exists():
        say(f"no complete checkpoint in {folder} yet: starting from the beginning")
        return
    saved = restore_checkpoint(trainer, path) or {}
    differ = [f"--{k.replace('_', '-')} {saved.get(k)!r} there, {getattr(args, k)!r} here"
              for k in RESUME_KEYS if saved.get(k) != _plain(getattr(args, k))]
    if differ:
        raise UsageError(f"--resume: the checkpoint was written with other arguments: "
                         f"{'; '.join(differ)}")
    if trainer.epoch > args.epochs:
        raise UsageError(f"--epochs {args.epochs} is fewer than the {trainer.epoch} epochs the "
                         f"checkpoint in {folder} has already trained; give --epochs "
                         f"{trainer.epoch} or more")
    say(f"resumed from {path} at {position(trainer, batches)}")


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _stop_on_signals(trainer, say):
    """Ctrl-C, SIGTERM (what batch schedulers send before they kill) and SIGHUP: finish
    the current step and stop cleanly, saving a checkpoint; a second one stops at once.

    Returns (the previous handlers to put back, a list that receives the signal's name).
    """
    import signal

    received = []

    def handler(signum, frame):
        if trainer.stop_requested or received:
            raise KeyboardInterrupt
        received.append(signal.Signals(signum).name)
        trainer.stop_requested = True
        again = "Ctrl-C" if signum == signal.SIGINT else received[0]
        say(f"\nstopping after this step ({again} again to stop at once)")

    previous = {}
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            number = getattr(signal, name)
            previous[number] = signal.signal(number, handler)
    return previous, received


def run(args):
    from .. import distributed
    from ..optim import get_optimizer
    from ..trainer import Trainer

    _resolve_defaults(args)
    ranks = distributed.launched_size()  # under mpiexec -n K: K; else 1
    root = distributed.launched_rank() == 0  # only rank 0 prints and writes
    if args.batch_size < ranks:
        raise UsageError(f"--batch-size must be at least the number of ranks ({ranks}), so "
                         f"every rank has a shard, got {args.batch_size}")
    if args.resume and args.checkpoint_dir and Path(args.resume) != Path(args.checkpoint_dir):
        raise UsageError("--resume DIR keeps checkpointing into DIR; leave out --checkpoint-dir "
                         f"or give the same folder (got {args.checkpoint_dir!r} and "
                         f"{args.resume!r})")
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out must be a directory, got {args.out!r} (a file)")
    say = (lambda *a: None) if args.quiet or not root else (
        lambda *a: print(*a, flush=True))
    run_dir = _run_dir(args.out)  # made only after training, so an interrupt leaves none
    if root:  # before any work: an unwritable place is a usage error now, not after training
        check_folder(run_dir, "--out", must_be_empty=True)
        if args.resume or args.checkpoint_dir:
            check_folder(args.resume or args.checkpoint_dir,
                         "--resume" if args.resume else "--checkpoint-dir")
    train, test = load_dataset(args.dataset, args.data_dir, args.quiet)
    n_classes = int(train[1].max()) + 1
    model = build_model(args, train[0].reshape(train[0].shape[0], -1).shape[1], n_classes)
    optimizer = get_optimizer(args.optimizer, lr=args.lr, weight_decay=args.weight_decay)
    if ranks > 1:
        comm = distributed.communicator()
        distributed.limit_threads(comm)  # each rank its share of the cores, also outside fit
        trainer = distributed.DataParallelTrainer(model, optimizer, random_state=args.seed,
                                                  comm=comm, threads=args.threads)
    else:
        trainer = Trainer(model, optimizer, random_state=args.seed, threads=args.threads)
    with _checkpoint_folder(args, prepare=root) as folder:
        return _train(args, trainer, train, test, folder, run_dir, say, root, ranks)


def _train(args, trainer, train, test, folder, run_dir, say, root, ranks):
    """Fit (resuming from ``folder`` if asked), then write the run folder on rank 0."""
    import signal

    from ..checkpoint import CHECKPOINT_NAME, save_checkpoint, save_model
    from ..evaluation import evaluate
    from ..trainer import TrainingDiverged

    model, optimizer = trainer.model, trainer.optimizer
    saved_args = {k: _plain(getattr(args, k)) for k in RESUME_KEYS}
    batches = -(-train[0].shape[0] // args.batch_size)
    callbacks = []
    if folder is not None:
        if args.resume:
            _resume(trainer, args, folder, say, batches)
            if ranks > 1:
                trainer.sync()  # one set of weights, per-rank dropout streams
        if root:
            callbacks.append(lambda tr: save_checkpoint(tr, folder / CHECKPOINT_NAME,
                                                        saved_args))
    say(f"{args.dataset}: {train[0].shape[0]} training samples"
        + (f", {test[0].shape[0]} test samples" if test else ""))
    say(model.summary())
    say(f"optimizer: {optimizer!r}, {args.epochs} epochs of batch {args.batch_size}")
    previous, received = _stop_on_signals(trainer, say)
    first_epoch = trainer.epoch
    start = time.perf_counter()
    try:
        history = trainer.fit(*train, max_epoch=args.epochs, batch_size=args.batch_size,
                              eval_data=test, max_grad=args.max_grad,
                              verbose=0 if args.quiet or not root else 1 + args.verbose,
                              callbacks=callbacks, eval_name="test")
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    seconds = time.perf_counter() - start
    finished = trainer.epoch - first_epoch  # whole epochs this run; the first may be resumed
    per_epoch = sum(history.seconds[-finished:]) / finished if finished else None
    if trainer.stop_requested and trainer.epoch < args.epochs:
        name = received[0] if received else "SIGINT"  # under MPI another rank may have had it
        code = 128 + getattr(signal, name)
        how = "interrupted" if name == "SIGINT" else f"stopped by {name}"
        where = position(trainer, batches)
        if not root:
            return code
        if folder is None:
            print(f"chainrule train: {how} at {where}; nothing saved (use "
                  "--checkpoint-dir to be able to resume)", file=sys.stderr)
            return code
        save_checkpoint(trainer, folder / CHECKPOINT_NAME, saved_args)
        print(f"chainrule train: {how} at {where}; checkpoint saved, continue with "
              f"--resume {folder}", file=sys.stderr)
        return code

    train_loss, train_accuracy = evaluate(model, *train)
    test_loss = test_accuracy = None
    if test is not None:
        test_loss, test_accuracy = evaluate(model, *test)
    for split, loss in (("training", train_loss), ("test", test_loss)):
        if loss is not None and not math.isfinite(loss):  # finite weights can overflow it
            raise TrainingDiverged(f"the final weights give a {split} loss of {loss}; try a "
                                   "smaller learning rate, or --max-grad")
    metrics = {
        "dataset": args.dataset, "model": type(model).__name__, "config": model.config,
        "optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay,
        "epochs": args.epochs,
        "batch_size": args.batch_size, "seed": args.seed, "dtype": args.dtype,
        "train_loss": train_loss, "train_accuracy": train_accuracy,
        "test_loss": test_loss, "test_accuracy": test_accuracy,
        "seconds": seconds, "seconds_per_epoch": per_epoch,
        "params": model.num_params, "out": str(run_dir),
        "ranks": ranks, "shard_size": -(-args.batch_size // ranks),
    }
    if not root:
        return 0
    figures = []

    def write(tmp):  # into a temporary folder, renamed onto run_dir when complete
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
        history.to_csv(tmp / "history.csv")
        save_model(model, tmp / "model.safetensors")
        figures.extend(_figures(tmp, history, model, train, say))

    write_folder(run_dir, write)

    test_text = "n/a (no test split)" if test_accuracy is None else f"{test_accuracy:.4f}"
    speed = "" if per_epoch is None else f", {per_epoch:.3f} s/epoch"
    say(f"train loss {train_loss:.4f}  train accuracy {train_accuracy:.4f}  "
        f"test accuracy {test_text}  ({seconds:.1f} s{speed})")
    files = ["metrics.json", "history.csv", "model.safetensors", *figures]
    say(f"wrote {run_dir}{os.sep}: {', '.join(files)}")
    if args.json:
        print(json.dumps(metrics, allow_nan=False))
    return 0
