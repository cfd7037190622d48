"""The ``chainrule`` command line: parse, call the library, print.

Errors in what the user typed print a usage line and one error line and exit 2;
failures that are not the user's fault print one line with a hint and exit 1. No
command ever ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings

import numpy as np

__all__ = ["main", "build_parser"]

# Options whose values may start with "-" (negative coordinates such as "-3,4").
_NEGATIVE_VALUE_OPTIONS = ("--init",)


class UsageError(Exception):
    """A bad argument found after parsing: reported like argparse's own errors (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose help keeps the examples' line breaks."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _point(text):
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


def _join_negative_values(argv):
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


GD_EXAMPLES = """\
examples:
  chainrule gd --init -3,4 --lr 0.1 --steps 100          the book's descent to (0, 0)
  chainrule gd --init -3,4 --lr 10 --json                 too large a rate: diverges
  chainrule gd --function rosenbrock --init -1.5,2 --lr 0.001 --steps 5000 --plot path.png
  chainrule gd --field field.png                          arrows along -grad f
"""


def _add_gd(subparsers):
    from .objectives import OBJECTIVES

    p = subparsers.add_parser(
        "gd",
        help="gradient descent on a named function of two variables",
        description="Gradient descent x <- x - lr * grad f(x) with central-difference "
        "gradients (h = 1e-4), on a named function of two variables.",
        epilog=GD_EXAMPLES,
    )
    p.add_argument("--function", default="sphere", choices=list(OBJECTIVES),
                   help="function to minimise (default: sphere, x0**2 + x1**2)")
    p.add_argument("--init", type=_point, default=np.array([-3.0, 4.0]), metavar="X0,X1",
                   help="starting point (default: -3,4)")
    p.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (default: 0.1)")
    p.add_argument("--steps", type=_non_negative_int, default=100,
                   help="number of steps (default: 100)")
    p.add_argument("--ascent", action="store_true", help="climb instead: x <- x + lr * grad f(x)")
    p.add_argument("--plot", metavar="FILE.png", help="draw the descent path on contours of f")
    p.add_argument("--field", metavar="FILE.png", help="draw the field of -grad f as arrows")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on the last line")
    p.set_defaults(handler=_run_gd, parser=p)


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _run_gd(args):
    from .numerical import DivergenceWarning, gradient_ascent, gradient_descent
    from .objectives import get_objective

    objective = get_objective(args.function)
    run = gradient_ascent if args.ascent else gradient_descent
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        x, path = run(objective.f, args.init, lr=args.lr, step_num=args.steps, history=True)
    diverged = any(issubclass(w.category, DivergenceWarning) for w in caught)
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(objective.f(x))
    print(f"function: {objective.name}   start: {np.array2string(args.init)}   "
          f"lr: {args.lr:g}   steps: {len(path) - 1}")
    print(f"x = {np.array2string(x, precision=8)}")
    print(f"f(x) = {value:.8g}")
    if diverged:
        print(f"warning: diverged with lr={args.lr:g}; try a smaller learning rate",
              file=sys.stderr)
    if args.plot:
        from .plotting import plot_descent_path

        title = f"{objective.name}, lr={args.lr:g}, {len(path) - 1} steps"
        window = None if diverged else _window_around(objective.window, path)
        plot_descent_path(objective.f, path, args.plot, window=window, title=title,
                          minimum=objective.minimum)
        print(f"wrote {args.plot}")
    if args.field:
        from .plotting import plot_gradient_field

        plot_gradient_field(objective.f, args.field, window=objective.window,
                            title=f"-grad f for {objective.name}")
        print(f"wrote {args.field}")
    if args.json:
        print(json.dumps({
            "function": objective.name,
            "init": args.init.tolist(),
            "x": [_finite_or_none(v) for v in x],
            "f": _finite_or_none(value),
            "steps": len(path) - 1,
            "lr": args.lr,
            "ascent": args.ascent,
            "diverged": diverged,
        }))
    return 0


def _window_around(window, path):
    """The objective's window, widened to hold every point of the path."""
    lo = np.minimum([window[0], window[2]], path.min(axis=0))
    hi = np.maximum([window[1], window[3]], path.max(axis=0))
    return (lo[0], hi[0], lo[1], hi[1])


def _hidden_sizes(text):
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


def _ratio(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative number, got {text!r}"
        ) from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _positive_int(text):
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


GRADCHECK_EXAMPLES = """\
examples:
  chainrule gradcheck                                      two-layer 784-100-10, sigmoid
  chainrule gradcheck --model multi-layer --hidden 100,100 --batchnorm --dropout 0.5
  chainrule gradcheck --input-size 5 --hidden 4 --output-size 3 --mode exact
exit status: 0 when every array passes, 1 when a check fails, 2 for bad arguments.
"""


def _add_gradcheck(subparsers):
    p = subparsers.add_parser(
        "gradcheck",
        help="check a model's backprop gradients against central differences",
        description="Build a named model on random data and compare its backprop gradients "
        "with central differences, for the input and every parameter.",
        epilog=GRADCHECK_EXAMPLES,
    )
    p.add_argument("--model", default="two-layer", choices=["two-layer", "multi-layer"],
                   help="network to check (default: two-layer)")
    p.add_argument("--input-size", type=_positive_int, default=784, help="default: 784")
    p.add_argument("--hidden", type=_hidden_sizes, default=[100], metavar="N[,N...]",
                   help="hidden sizes; two-layer takes one (default: 100)")
    p.add_argument("--output-size", type=_positive_int, default=10, help="default: 10")
    p.add_argument("--activation", default=None, choices=["sigmoid", "relu", "tanh"],
                   help="default: sigmoid for two-layer, relu for multi-layer")
    p.add_argument("--weight-decay", type=_non_negative_float, default=0.0,
                   help="multi-layer: weight_decay_lambda (default: 0)")
    p.add_argument("--dropout", type=_ratio, default=None, metavar="RATIO",
                   help="multi-layer: dropout with this ratio")
    p.add_argument("--batchnorm", action="store_true", help="multi-layer: batch normalisation")
    p.add_argument("--batch", type=_positive_int, default=8, help="random samples (default: 8)")
    p.add_argument("--mode", default="auto", choices=["auto", "exact", "directional"],
                   help="exact: every element; directional: random directions (default: auto)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                   help="model dtype; the check itself always runs in float64")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default: 0)")
    p.set_defaults(handler=_run_gradcheck, parser=p)


def build_model(args):
    """The model named by ``--model`` and its options (shared by gradcheck and train)."""
    from .models import MultiLayerNet, TwoLayerNet

    if args.model == "two-layer":
        if len(args.hidden) != 1:
            raise UsageError(f"--hidden: two-layer takes one hidden size, got {args.hidden}")
        if args.dropout is not None or args.batchnorm or args.weight_decay:
            raise UsageError("--dropout, --batchnorm and --weight-decay need --model multi-layer")
        return TwoLayerNet(args.input_size, args.hidden[0], args.output_size,
                           activation=args.activation or "sigmoid", dtype=args.dtype,
                           random_state=args.seed)
    return MultiLayerNet(args.input_size, args.hidden, args.output_size,
                         activation=args.activation or "relu",
                         weight_decay_lambda=args.weight_decay,
                         use_dropout=args.dropout is not None,
                         dropout_ratio=args.dropout or 0.5, use_batchnorm=args.batchnorm,
                         dtype=args.dtype, random_state=args.seed)


def _run_gradcheck(args):
    import time

    from .gradcheck import gradient_check
    from .rng import as_generator

    model = build_model(args)
    rng = as_generator(args.seed)
    x = rng.standard_normal((args.batch, args.input_size))
    t = rng.integers(0, args.output_size, size=args.batch)
    start = time.perf_counter()
    report = gradient_check(model, x, t, mode=args.mode, random_state=rng)
    seconds = time.perf_counter() - start
    print(repr(model))
    print(report)
    print(f"checked {model.num_params:,} parameters in {seconds:.2f} s")
    return 0 if report.passed else 1


def build_parser():
    """The top-level parser with one subparser per command."""
    parser = _Parser(
        prog="chainrule",
        description="Neural networks that learn by the chain rule, on NumPy alone.",
        epilog="Run 'chainrule COMMAND --help' for a command's options and examples.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND",
                                       parser_class=_Parser)
    _add_gd(subparsers)
    _add_gradcheck(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 bad usage)."""
    parser = build_parser()
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and one error line
        return exc.code if isinstance(exc.code, int) else 2
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (UsageError, ValueError, TypeError) as exc:
        args.parser.print_usage(sys.stderr)
        print(f"{args.parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"chainrule: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"chainrule: error: {exc.strerror or exc} ({exc.filename or ''}); "
              "check the path and its permissions", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
