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
    p.set_defaults(handler=_run_gd)


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
        parser.print_usage(sys.stderr)
        print(f"chainrule: error: {exc}", file=sys.stderr)
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
