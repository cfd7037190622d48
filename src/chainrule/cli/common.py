"""Shared pieces of the command line: argument types, the parser class, model options."""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

from ..validation import InputValueError

# Options whose values may start with "-" (negative coordinates such as "-3,4").
_NEGATIVE_VALUE_OPTIONS = ("--init",)


class UsageError(InputValueError):
    """A bad argument found after parsing: reported like argparse's own errors (exit 2)."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose help keeps the examples' line breaks, and whose errors are one
    line with a hint, not the whole usage block."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        from ..distributed import launched_rank

        # under mpiexec every rank parses the same arguments: rank 0 alone says so
        self.exit(2, usage_error_line(self.prog, message) + "\n" if launched_rank() == 0
                  else None)


def usage_error_line(prog, message):
    """``prog: error: message (see 'prog --help')``: what every usage error prints."""
    return f"{prog}: error: {message} (see '{prog} --help')"


def _number(cast, accept, expected):
    """An argparse type: ``cast(text)`` that ``accept`` allows, else one clear error line."""

    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


positive_float = _number(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
non_negative_float = _number(float, lambda v: v >= 0 and math.isfinite(v),
                             "a non-negative number")
ratio = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
threads = _number(lambda text: text if text == "auto" else int(text),
                  lambda v: v == "auto" or v >= 1, "'auto' or a positive integer")


def point(text):
    """Parse "x0,x1" into a float array of two coordinates."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected two comma-separated numbers such as -3,4, got {text!r}"
        ) from None
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(
            f"expected two comma-separated finite numbers such as -3,4, got {text!r}"
        )
    return np.array(values)


def join_negative_values(argv):
    """Turn ``--init -3,4`` into ``--init=-3,4``: argparse reads ``-3,4`` as an option."""
    out = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in _NEGATIVE_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def hidden_sizes(text):
    """Parse "100" or "100,50" into a list of positive integers."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 100,50, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 100,50, got {text!r}"
        )
    return sizes


def existing_dir(text):
    """A path that must be an existing directory (a user-named folder that is missing is
    bad input)."""
    if not os.path.isdir(text):
        what = "a file" if os.path.exists(text) else "it does not exist"
        raise argparse.ArgumentTypeError(f"expected an existing directory, got {text!r} ({what})")
    return text


def add_model_arguments(p, *, weight_decay_help):
    """The model options shared by ``gradcheck`` and ``train``."""
    p.add_argument("--model", default="two-layer", choices=list(MODELS),
                   help="network (default: two-layer); simple-conv and deep-conv are book 1's "
                   "convolutional networks for square images such as MNIST's")
    p.add_argument("--hidden", type=hidden_sizes, default=[100], metavar="N[,N...]",
                   help="hidden layer sizes; two-layer takes one (default: 100)")
    p.add_argument("--activation", default=None, choices=["sigmoid", "relu", "tanh"],
                   help="default: sigmoid for two-layer, relu for multi-layer")
    p.add_argument("--weight-decay", type=non_negative_float, default=0.0, metavar="LAMBDA",
                   help=weight_decay_help)
    p.add_argument("--dropout", type=ratio, default=None, metavar="RATIO",
                   help="multi-layer: dropout with this ratio")
    p.add_argument("--batchnorm", action="store_true", help="multi-layer: batch normalisation")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: 0)")


MODELS = ("two-layer", "multi-layer", "simple-conv", "deep-conv")


def _image_shape(input_size, model):
    """(1, s, s) for inputs of s*s values: what the convolutional networks take."""
    side = int(round(input_size ** 0.5))
    if side * side != input_size or side < 8:
        raise UsageError(f"--model {model} needs square images of at least 8x8 pixels, but "
                         f"the data has {input_size} values per sample")
    return (1, side, side)


def _build_conv(args, input_size, output_size):
    from ..models import DeepConvNet, SimpleConvNet

    if len(args.hidden) != 1:
        raise UsageError(f"--hidden: {args.model} takes one hidden size, got {args.hidden}")
    if args.batchnorm or args.activation not in (None, "relu"):
        raise UsageError(f"--model {args.model} uses ReLU and no batch normalisation")
    shape = _image_shape(input_size, args.model)
    if args.model == "simple-conv":
        if args.dropout is not None:
            raise UsageError("--dropout needs --model multi-layer or deep-conv")
        return SimpleConvNet(shape, hidden_size=args.hidden[0], output_size=output_size,
                             weight_init_std="he", dtype=args.dtype, random_state=args.seed)
    return DeepConvNet(shape, hidden_size=args.hidden[0], output_size=output_size,
                       dropout_ratio=0.5 if args.dropout is None else args.dropout,
                       dtype=args.dtype, random_state=args.seed)


def build_model(args, input_size, output_size, *, weight_decay_lambda=0.0):
    """The model named by ``--model`` and its options (shared by gradcheck and train).

    ``weight_decay_lambda`` is book 1's penalty inside the model (gradcheck checks its
    gradient); ``train`` gives ``--weight-decay`` to the optimizer instead.
    """
    from ..models import MultiLayerNet, TwoLayerNet

    if args.model in ("simple-conv", "deep-conv"):
        if weight_decay_lambda:
            raise UsageError(f"--weight-decay is not checked for --model {args.model}")
        return _build_conv(args, input_size, output_size)
    if args.model == "two-layer":
        if len(args.hidden) != 1:
            raise UsageError(f"--hidden: two-layer takes one hidden size, got {args.hidden}")
        if args.dropout is not None or args.batchnorm:
            raise UsageError("--dropout and --batchnorm need --model multi-layer")
        return TwoLayerNet(input_size, args.hidden[0], output_size,
                           activation=args.activation or "sigmoid", dtype=args.dtype,
                           random_state=args.seed, weight_decay_lambda=weight_decay_lambda)
    return MultiLayerNet(input_size, args.hidden, output_size,
                         activation=args.activation or "relu",
                         weight_decay_lambda=weight_decay_lambda,
                         use_dropout=args.dropout is not None,
                         dropout_ratio=0.5 if args.dropout is None else args.dropout,
                         use_batchnorm=args.batchnorm,
                         dtype=args.dtype, random_state=args.seed)

