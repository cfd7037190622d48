"""Run a script of either book with its imports rewritten (``python -m chainrule.bookN``)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from ..validation import InputTypeError, InputValueError
from ._rewrite import check_chapter, rewrite


def run_script(path, package, *, dataset="mnist", chapter=None, argv=()):
    """Execute the script at ``path`` as ``__main__`` after ``rewrite`` of its imports.

    The script's folder comes first on ``sys.path`` (as for ``python SCRIPT.py``), so
    its own modules that chainrule does not provide still import; ``sys.argv`` is
    ``[path, *argv]`` while it runs. Returns the script's namespace.
    """
    path, chapter = _checked(path, chapter)
    code = rewrite(path.read_text(encoding="utf-8"), package, dataset=dataset,
                   chapter=chapter)
    namespace = {"__name__": "__main__", "__file__": str(path), "__builtins__": __builtins__}
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(path), *argv]
    sys.path.insert(0, str(path.resolve().parent))
    try:
        exec(compile(code, str(path), "exec"), namespace)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return namespace


def _checked(path, chapter):
    """(path as a Path to an existing file, the chapter: given, or the script's folder)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path must be a file path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise InputValueError(f"path must be a script file, got {str(path)!r} (no such file)")
    if chapter is None and re.fullmatch(r"ch\d\d", path.resolve().parent.name):
        chapter = path.resolve().parent.name
    return path, check_chapter(chapter)


def main(package, argv=None):
    """The command line of ``python -m chainrule.book1`` / ``chainrule.book2``."""
    book = package.rsplit(".", 1)[-1].replace("book", "book ")
    parser = argparse.ArgumentParser(
        prog=f"python -m {package}",
        description=f"Run a script of {book} with its imports rewritten to {package}.",
        epilog=f"example: python -m {package} ch01/train.py" if package.endswith("2") else
        f"example: python -m {package} --fashion ch05/train_neuralnet.py")
    parser.add_argument("script", help="the book's script, e.g. ch05/train_neuralnet.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    if package.endswith("book1"):
        parser.add_argument("--fashion", action="store_true",
                            help="load Fashion-MNIST where the script loads MNIST")
    parser.add_argument("--chapter", help="the chapter whose modules the script imports "
                        "(default: the script's folder name, e.g. ch05)")
    args = parser.parse_args(argv)
    try:
        _checked(args.script, args.chapter)
    except (InputTypeError, InputValueError) as error:
        parser.error(str(error))
    fashion = getattr(args, "fashion", False)
    run_script(args.script, package, dataset="fashion-mnist" if fashion else "mnist",
               chapter=args.chapter, argv=args.args)
    return 0
