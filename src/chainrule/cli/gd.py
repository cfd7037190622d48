"""``chainrule gd``: gradient descent on a named function of two variables."""

from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np

from .common import non_negative_int, point, positive_float

GD_EXAMPLES = """\
examples:
  chainrule gd --init -3,4 --lr 0.1 --steps 100          the book's descent to (0, 0)
  chainrule gd --init -3,4 --lr 10 --json                 too large a rate: diverges
  chainrule gd --function rosenbrock --init -1.5,2 --lr 0.001 --steps 5000 --plot path.png
  chainrule gd --field field.png                          arrows along -grad f
"""


def add_parser(subparsers):
    from ..objectives import OBJECTIVES

    p = subparsers.add_parser(
        "gd",
        help="gradient descent on a named function of two variables",
        description="Gradient descent x <- x - lr * grad f(x) with central-difference "
        "gradients (h = 1e-4), on a named function of two variables.",
        epilog=GD_EXAMPLES,
    )
    p.add_argument("--function", default="sphere", choices=list(OBJECTIVES),
                   help="function to minimise (default: sphere, x0**2 + x1**2)")
    p.add_argument("--init", type=point, default=np.array([-3.0, 4.0]), metavar="X0,X1",
                   help="starting point (default: -3,4)")
    p.add_argument("--lr", type=positive_float, default=0.1, help="learning rate (default: 0.1)")
    p.add_argument("--steps", type=non_negative_int, default=100,
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
    from ..numerical import DivergenceWarning, gradient_ascent, gradient_descent
    from ..objectives import get_objective

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
        from ..plotting import plot_descent_path

        title = f"{objective.name}, lr={args.lr:g}, {len(path) - 1} steps"
        window = None if diverged else _window_around(objective.window, path)
        plot_descent_path(objective.f, path, args.plot, window=window, title=title,
                          minimum=objective.minimum)
        print(f"wrote {args.plot}")
    if args.field:
        from ..plotting import plot_gradient_field

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

