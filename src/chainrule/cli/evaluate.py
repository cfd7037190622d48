"""``chainrule evaluate`` and ``chainrule predict``: use a saved model."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .common import UsageError, existing_dir, positive_float

FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"]

EVALUATE_EXAMPLES = """\
examples:
  chainrule evaluate runs/20260101-120000/model.safetensors --dataset fashion-mnist
  chainrule evaluate model.safetensors --dataset spiral --out report/ --json
"""

PREDICT_EXAMPLES = """\
examples:
  chainrule predict model.safetensors images.npy                 prints class and probability
  chainrule predict model.safetensors images.npy --out probs.npy    (N, classes) probabilities
  chainrule predict model.safetensors pixels.npy --scale 255      raw 0-255 images
INPUT.npy holds (N, features) rows, (N, 28, 28) or (N, 1, 28, 28) images, or one sample.
"""


def add_parser(subparsers):
    from .train import DATASETS

    p = subparsers.add_parser(
        "evaluate", help="loss, accuracy and confusion matrix of a saved model on a dataset",
        description="Evaluate a model file written by 'chainrule train' on a dataset: loss, "
        "accuracy, a confusion matrix as text and confusion.png.", epilog=EVALUATE_EXAMPLES)
    p.add_argument("model", metavar="MODEL", help="a model.safetensors file")
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR")
    p.add_argument("--split", default="test", choices=["test", "train"],
                   help="which part of the data (default: test; spiral has only train)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where confusion.png goes (default: the model file's folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(handler=run_evaluate, parser=p)

    q = subparsers.add_parser(
        "predict", help="class probabilities of a saved model for inputs in a .npy file",
        description="Class probabilities for every row of INPUT.npy.", epilog=PREDICT_EXAMPLES)
    q.add_argument("model", metavar="MODEL", help="a model.safetensors file")
    q.add_argument("input", metavar="INPUT.npy", help="inputs as a NumPy .npy file")
    q.add_argument("--out", default=None, metavar="OUT.npy",
                   help="write the (N, classes) probabilities there instead of printing")
    q.add_argument("--scale", type=positive_float, default=1.0, metavar="DIVISOR",
                   help="divide the inputs by DIVISOR first: --scale 255 for raw 8-bit "
                   "pixels, since the data sets train on values in [0, 1] (default: 1)")
    q.set_defaults(handler=run_predict, parser=q)


def _load(path):
    from ..checkpoint import load_model

    return load_model(path)


def _inputs_for(model, x, what):
    """x as (N, *input_shape) for ``model``, or a message naming both shapes."""
    shape = tuple(model.input_shape)
    size = int(np.prod(shape))
    if x.ndim >= 2 and int(np.prod(x.shape[1:])) == size:
        return x.reshape(x.shape[0], *shape)
    if x.size == size:  # one sample
        return x.reshape(1, *shape)
    want = "(N, " + ", ".join(map(str, shape)) + ")"
    raise UsageError(f"{what} has shape {x.shape}, but the model takes {size} values per "
                     f"sample: {want} or one sample")


def format_confusion(counts, names=None):
    """The matrix as text: rows are true classes (with their names when known), columns
    the predicted class numbers."""
    width = max(5, len(str(counts.max())) + 1)
    labels = [f"{i} {names[i]}" if names else str(i) for i in range(counts.shape[0])]
    corner = "true \\ predicted"
    first = max(len(corner), *(len(label) for label in labels)) + 1
    head = f"{corner:<{first}}" + "".join(f"{j:>{width}}" for j in range(counts.shape[1]))
    rows = [f"{label:<{first}}" + "".join(f"{v:>{width}}" for v in row)
            for label, row in zip(labels, counts, strict=True)]
    return "\n".join([head, *rows])


def run_evaluate(args):
    from ..evaluation import confusion_matrix, evaluate, predict_proba
    from .train import load_dataset

    model = _load(args.model)
    train, test = load_dataset(args.dataset, args.data_dir, quiet=args.json)
    if args.split == "test" and test is None:
        args.split = "train"  # the spiral data has no test split
    x, t = train if args.split == "train" else test
    x = _inputs_for(model, x, f"the {args.dataset} data")
    if int(t.max()) >= model.output_size:
        raise UsageError(f"the {args.dataset} data has {int(t.max()) + 1} classes, the model "
                         f"{model.output_size}")
    x, t = model.validate(x, t)
    loss, accuracy = evaluate(model, x, t, checked=True)
    predicted = np.argmax(predict_proba(model, x), axis=1)
    counts = confusion_matrix(t, predicted, model.output_size)
    names = FASHION_NAMES if args.dataset == "fashion-mnist" else None
    out_dir = Path(args.out) if args.out else Path(args.model).resolve().parent
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out must be a directory, got {str(out_dir)!r} (a file)")
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = None
    try:
        from ..plotting import plot_confusion_matrix

        figure = out_dir / "confusion.png"
        plot_confusion_matrix(counts, figure, labels=names,
                              title=f"{args.dataset} ({args.split}): accuracy {accuracy:.4f}")
    except ImportError:
        figure = None
    result = {"model": os.fspath(args.model), "dataset": args.dataset, "split": args.split,
              "samples": int(x.shape[0]), "loss": loss, "accuracy": accuracy,
              "confusion": counts.tolist(),
              "figure": None if figure is None else os.fspath(figure)}
    if not args.json:
        print(f"{type(model).__name__} on {args.dataset} ({args.split}, {x.shape[0]} samples): "
              f"loss {loss:.4f}  accuracy {accuracy:.4f}")
        print(format_confusion(counts, names))
        print(f"wrote {figure}" if figure else "no figure (pip install 'chainrule[plot]')")
    else:
        print(json.dumps(result))
    return 0


def _read_npy(path):
    """The array in a .npy file; never unpickles. Bad files are reported as bad input.

    The header is read first: the file must be a regular file whose data is exactly as
    long as the header's shape and dtype say, and that size must fit in memory
    (``chainrule.limits``), before anything is allocated.
    """
    import math
    import stat

    from ..limits import check_allocation

    what = f"INPUT.npy {path!r}"
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(f"{what} is not a regular file")
            if fh.read(6) != b"\x93NUMPY":
                raise UsageError(f"{what} is not a .npy array of numbers (no .npy header; "
                                 "save arrays with numpy.save)")
            fh.seek(0)
            try:
                version = np.lib.format.read_magic(fh)
                shape, _, dtype = _read_header(fh, version)
            except (ValueError, OSError, EOFError) as exc:
                raise UsageError(f"{what} has a bad .npy header ({exc})") from None
            if dtype.hasobject:
                raise UsageError(f"{what} is not a .npy array of numbers (it holds objects, "
                                 "not numbers; chainrule never loads pickled data)")
            nbytes = math.prod(shape) * dtype.itemsize
            held = info.st_size - fh.tell()
            if held != nbytes:
                raise UsageError(f"{what}: its header says shape {shape} of {dtype} "
                                 f"({nbytes:,} bytes), but the file holds {held:,} bytes")
            check_allocation(2 * nbytes, f"{what} (shape {shape})")
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{what} does not exist") from None
    except OSError as exc:
        raise UsageError(f"{what} cannot be read ({exc.strerror})") from None


def _read_header(fh, version):
    """(shape, fortran_order, dtype) of a .npy header of ``version``."""
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy format version {version}")


def looks_like_raw_pixels(x):
    """Whole numbers in [0, 255] reaching above 1: 8-bit pixels nobody divided by 255."""
    high = float(x.max())
    return 1.0 < high <= 255.0 and float(x.min()) >= 0.0 and bool(np.all(x == np.round(x)))


def run_predict(args):
    from ..atomic import atomic_write
    from ..evaluation import predict_proba

    model = _load(args.model)
    if args.out and os.path.exists(args.out) and os.path.samefile(args.out, args.input):
        raise UsageError(f"--out must not be the input file {args.input!r}")
    x = _read_npy(args.input)
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "biuf":
        raise UsageError(f"INPUT.npy {args.input!r} must hold numbers, got "
                         f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.size == 0:
        raise UsageError(f"INPUT.npy {args.input!r} is empty (shape {x.shape})")
    x = _inputs_for(model, x, f"INPUT.npy {args.input!r}")
    x = model.validate(x, x_name=f"INPUT.npy {args.input!r}")
    if args.scale != 1.0:
        x = x / np.asarray(args.scale, dtype=x.dtype)
    elif looks_like_raw_pixels(x):
        print(f"chainrule predict: warning: INPUT.npy {args.input!r} holds whole numbers up to "
              f"{x.max():g}, like raw 0-255 pixels, but the data sets train on values in "
              "[0, 1]: the probabilities below are likely wrong; pass --scale 255",
              file=sys.stderr)
    probabilities = predict_proba(model, x)
    if args.out:
        with atomic_write(args.out) as fh:
            np.save(fh, probabilities, allow_pickle=False)
        print(f"wrote {args.out}: probabilities of shape {probabilities.shape}")
        return 0
    predicted = np.argmax(probabilities, axis=1)
    for i, (c, p) in enumerate(zip(predicted[:20], probabilities[:20], strict=True)):
        print(f"{i:>5}  class {c}  p={p[c]:.4f}")
    if len(predicted) > 20:
        print(f"... {len(predicted) - 20} more rows; --out OUT.npy writes all probabilities")
    return 0
