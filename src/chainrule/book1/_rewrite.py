"""The mechanical import rewrite that lets the books' scripts run on chainrule.

Shared by ``chainrule.book1`` and ``chainrule.book2``. Only ``import`` lines change; every
other line of a script is left exactly as it was.
"""

from __future__ import annotations

import importlib.util
import re

from ..validation import InputTypeError, InputValueError

#: ``from X import ...`` / ``import X`` at the start of a line (any indentation).
_FROM = re.compile(r"^(?P<indent>[ \t]*)from[ \t]+(?P<module>[\w.]+)[ \t]+import\b")
_IMPORT = re.compile(r"^(?P<indent>[ \t]*)import[ \t]+(?P<module>[\w.]+)(?P<rest>.*)$")

DATASETS = ("mnist", "fashion-mnist")


def _chapter_module(package, chapter, name):
    """``chainrule.bookN.chXX.name`` when chainrule has that chapter module, else None."""
    if chapter is None or "." in name:
        return None
    full = f"{package}.{chapter}.{name}"
    try:
        found = importlib.util.find_spec(full)
    except ModuleNotFoundError:
        return None
    return full if found is not None else None


def _target(package, module, dataset, chapter):
    """The chainrule module that replaces the book's ``module``, or None to keep it."""
    head = module.split(".")[0]
    if head in ("common", "dataset"):
        if module == "dataset.mnist" and dataset == "fashion-mnist":
            return f"{package}.dataset.fashion_mnist"
        return f"{package}.{module}"
    return _chapter_module(package, chapter, module)


def check_chapter(chapter):
    """``chapter`` as 'ch01' ... 'ch08' (or None); anything else is refused."""
    if chapter is None:
        return None
    if not isinstance(chapter, str):
        raise InputTypeError(f"chapter must be a string such as 'ch05', got "
                             f"{type(chapter).__name__} {chapter!r}")
    if not re.fullmatch(r"ch\d\d", chapter):
        raise InputValueError(f"chapter must look like 'ch05', got {chapter!r}")
    return chapter


def rewrite(source, package, *, dataset="mnist", chapter=None):
    """``source`` with the books' imports pointed at ``package`` (``chainrule.book1``...).

    ``from common.X import ...`` becomes ``from <package>.common.X import ...``, the same
    for ``dataset.X`` (``dataset.mnist`` goes to ``dataset.fashion_mnist`` when
    ``dataset='fashion-mnist'``), and ``from two_layer_net import ...`` becomes
    ``from <package>.<chapter>.two_layer_net import ...`` when chainrule has that
    chapter module. ``import common.X`` lines are rewritten with an ``as`` so the
    script's own name still works. Nothing else changes.
    """
    if not isinstance(source, str):
        raise InputTypeError(f"source must be a string (a script's text), got "
                             f"{type(source).__name__}")
    if dataset not in DATASETS:
        raise InputValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    chapter = check_chapter(chapter)
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        match = _FROM.match(line)
        if match:
            module = match["module"]
            if module in ("common", "dataset"):  # from dataset import spiral
                target = f"{package}.{module}"
            else:
                target = _target(package, module, dataset, chapter)
            if target is not None:
                start, end = match.span("module")
                lines[i] = line[:start] + target + line[end:]
            continue
        match = _IMPORT.match(line)
        if match and "," not in match["rest"]:
            module, rest = match["module"], match["rest"].rstrip()
            target = _target(package, module, dataset, chapter)
            if target is None and module in ("common", "dataset"):
                target = f"{package}.{module}"
            if target is not None:
                newline = "\n" if line.endswith("\n") else ""
                if rest.lstrip().startswith("as "):
                    new = f"import {target}{rest}"
                elif "." in module:  # `import common.util` binds `common`: keep that name
                    head = module.split(".")[0]
                    new = f"import {target}; from {package} import {head}{rest}"
                else:
                    new = f"import {target} as {module}{rest}"
                lines[i] = f"{match['indent']}{new}{newline}"
    return "".join(lines)
