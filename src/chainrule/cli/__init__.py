"""The ``chainrule`` command line: parse, call the library, print.

Errors in what the user typed or gave (chainrule's own ``ChainruleInputError``s: bad
arguments, bad files) print one error line with a hint (``--help``) and exit 2; failures that
are not the user's fault (no network, a full disk, a diverging run) print one line with
a hint and exit 1, and so does anything unexpected — a bug — whose traceback
``chainrule --debug COMMAND ...`` shows. No command ever ends in a traceback otherwise.
"""

from __future__ import annotations

import sys
import traceback
import warnings

from ..trainer import TrainingDiverged
from ..validation import ChainruleInputError
from . import evaluate, gd, gradcheck, train
from .common import Parser, join_negative_values, usage_error_line

__all__ = ["main", "build_parser"]

COMMANDS = (train, evaluate, gd, gradcheck)


def build_parser():
    """The top-level parser with one subparser per command."""
    parser = Parser(
        prog="chainrule",
        description="Neural networks that learn by the chain rule, on NumPy alone.",
        epilog="Run 'chainrule COMMAND --help' for a command's options and examples.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND",
                                       parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 bad usage)."""
    parser = build_parser()
    argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and one error line
        return exc.code if isinstance(exc.code, int) else 2
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    from ..distributed import abort, launched_rank

    root = launched_rank() == 0  # under mpiexec, errors every rank meets print once
    try:
        with warnings.catch_warnings():  # a warning is one line too, named by the command
            warnings.showwarning = _one_line_warning(args.parser.prog)
            return args.handler(args)
    except ChainruleInputError as exc:  # UsageError and ModelFileError are ones too
        if root:
            print(usage_error_line(args.parser.prog, one_line(exc)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    except TrainingDiverged as exc:  # every rank meets it at the same step
        if root:
            print(f"{args.parser.prog}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except (ImportError, OSError, RuntimeError) as exc:
        # not the user's fault: missing optional package, network, disk
        if args.debug:
            traceback.print_exc()
        print(f"{args.parser.prog}: error: {one_line(exc)}", file=sys.stderr)
        abort(1)  # under MPI, a failure on one rank ends them all rather than hang
        return 1
    except Exception as exc:  # a bug: say so in one line, the traceback under --debug
        if args.debug:
            traceback.print_exc()
        print(f"{args.parser.prog}: internal error: {type(exc).__name__}: {one_line(exc)} "
              "(run 'chainrule --debug ...' for the traceback, and please report it)",
              file=sys.stderr)
        abort(1)
        return 1


def _one_line_warning(prog):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {one_line(message)}", file=sys.stderr if file is None else file)

    return show


def one_line(exc):
    """An exception's message folded onto one line."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
