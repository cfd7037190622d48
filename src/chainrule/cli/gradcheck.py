"""``chainrule gradcheck``: backprop against central differences for a named model."""

from __future__ import annotations

import time

from .common import add_model_arguments, build_model, positive_float, positive_int

GRADCHECK_EXAMPLES = """\
examples:
  chainrule gradcheck                                      two-layer 784-100-10, sigmoid
  chainrule gradcheck --model multi-layer --hidden 100,100 --batchnorm --dropout 0.5
  chainrule gradcheck --input-size 5 --hidden 4 --output-size 3 --mode exact
  chainrule gradcheck --model simple-conv --input-size 144 --hidden 8 --mode exact
exit status: 0 when every array passes, 1 when a check fails, 2 for bad arguments.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "gradcheck",
        help="check a model's backprop gradients against central differences",
        description="Build a named model on random data and compare its backprop gradients "
        "with central differences, for the input and every parameter.",
        epilog=GRADCHECK_EXAMPLES,
    )
    add_model_arguments(p, weight_decay_help="book 1's penalty 0.5*lambda*sum(W**2) in the "
                        "loss, whose gradient is checked too (default: 0)")
    p.add_argument("--input-size", type=positive_int, default=784, help="default: 784")
    p.add_argument("--output-size", type=positive_int, default=10, help="default: 10")
    p.add_argument("--batch", type=positive_int, default=8, help="random samples (default: 8)")
    p.add_argument("--mode", default="auto", choices=["auto", "exact", "directional"],
                   help="exact: every element; directional: random directions (default: auto)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                   help="model dtype; the check itself always runs in float64")
    p.add_argument("--h", type=positive_float, default=None,
                   help="step of the central differences (default: 1e-4, the book's; 1e-6 "
                   "for ReLU networks (multi-layer by default, the conv nets), whose ReLU "
                   "and max-pool kinks a step of 1e-4 would straddle)")
    p.add_argument("--rtol", type=positive_float, default=None,
                   help="relative tolerance (default: 1e-6; 1e-5 for the conv nets, where "
                   "h = 1e-6 leaves more rounding error in the differences)")
    p.set_defaults(handler=_run_gradcheck, parser=p)


def _run_gradcheck(args):
    from ..gradcheck import gradient_check
    from ..rng import as_generator

    model = build_model(args, args.input_size, args.output_size,
                        weight_decay_lambda=args.weight_decay)
    rng = as_generator(args.seed)
    x = rng.standard_normal((args.batch, *model.input_shape))
    t = rng.integers(0, args.output_size, size=args.batch)
    start = time.perf_counter()
    conv = args.model.endswith("conv")
    kinks = conv or model.config.get("activation") == "relu"  # the conv nets are ReLU
    h = args.h if args.h is not None else (1e-6 if kinks else 1e-4)
    rtol = args.rtol if args.rtol is not None else (1e-5 if conv else 1e-6)
    report = gradient_check(model, x, t, mode=args.mode, h=h, rtol=rtol, random_state=rng)
    seconds = time.perf_counter() - start
    print(repr(model))
    print(report)
    print(f"{what_was_checked(report, model.num_params)} in {seconds:.2f} s")
    return 0 if report.passed else 1



def what_was_checked(report, num_params):
    """Say what the check covered: every element, or a few directions per array."""
    arrays = len(report.entries)
    if all(entry.mode == "exact" for entry in report.entries):
        return (f"checked every element of {arrays} arrays ({num_params:,} parameters and "
                "the input) by central differences")
    return (f"checked {arrays} arrays ({num_params:,} parameters and the input) along a few "
            "directions each (directional mode; --mode exact checks every element)")
