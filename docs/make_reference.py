"""Write docs/reference.md, the API reference, from chainrule's docstrings.

    python docs/make_reference.py            # rewrite docs/reference.md
    python docs/make_reference.py --check    # exit 1 if docs/reference.md is out of date

Every public name (a module's ``__all__``) gets a heading with its signature and its
docstring, verbatim; classes also list their public methods and properties. The
docstrings are the source: to change the reference, change them and run this again.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "reference.md"

# (module, what it is for), in the order of the tour.
MODULES = [
    ("chainrule", "the top level: derivatives and gradient descent"),
    ("chainrule.functions", "activations, softmax and losses"),
    ("chainrule.numerical", "central differences and gradient descent"),
    ("chainrule.objectives", "named test functions of two variables"),
    ("chainrule.nodes", "computational-graph nodes"),
    ("chainrule.protocol", "the layer and model protocol"),
    ("chainrule.layers", "layers with forward and backward"),
    ("chainrule.models", "networks"),
    ("chainrule.network", "Sequential and the parameter mapping"),
    ("chainrule.gradcheck", "backprop against central differences"),
    ("chainrule.fastgrad", "a model's central differences from what each nudge changes"),
    ("chainrule.optim", "optimizers"),
    ("chainrule.schedules", "learning-rate schedules"),
    ("chainrule.trainer", "the training loop"),
    ("chainrule.threads", "how many BLAS threads training uses"),
    ("chainrule.distributed", "data-parallel training over MPI"),
    ("chainrule.evaluation", "loss, accuracy and predictions outside training"),
    ("chainrule.data", "data sets and mini-batches"),
    ("chainrule.plotting", "figures"),
    ("chainrule.checkpoint", "model files and checkpoints"),
    ("chainrule.checkpoint_files", "reading model files and checkpoints; checking their arrays"),
    ("chainrule.checkpoint_schema", "the checkpoint format: its SHA-256 and metadata fields"),
    ("chainrule.checkpoint_folder", "the checkpoint folder's lock and its stale temporaries"),
    ("chainrule.rng", "random generators"),
    ("chainrule.book1", "book 1's module tree, for running the book's scripts"),
    ("chainrule.book2", "book 2's module tree (chapter 1), for running the book's scripts"),
    ("chainrule.validation", "checks and the errors for bad input"),
    ("chainrule.limits", "bounds checked before allocating"),
]


def signature(obj):
    """``(a, b=1)`` for a function or class, or '' when Python cannot tell.

    Annotations are left out (only dataclasses have them), factory defaults are shown as
    the value they make, and classes as their dotted names (``numpy.float64``).
    """
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    factories = {}
    if dataclasses.is_dataclass(obj):
        factories = {f.name: f.default_factory() for f in dataclasses.fields(obj)
                     if f.default_factory is not dataclasses.MISSING}
    params = []
    for index, param in enumerate(sig.parameters.values()):
        if index == 0 and param.name in ("self", "cls"):
            continue
        param = param.replace(annotation=inspect.Parameter.empty)
        if param.name in factories:
            param = param.replace(default=factories[param.name])
        params.append(param)
    text = str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))
    return re.sub(r"<class '([\w.]+)'>", r"\1", text)


def fenced(text):
    """A docstring as a plain fenced block, so that its formulas keep their layout."""
    return f"```\n{text}\n```\n" if text else ""


def members(cls):
    """Public methods and properties defined on ``cls`` itself, in source order."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            out.append((name, "", value.__doc__, "property"))
        elif isinstance(value, (staticmethod, classmethod)):
            out.append((name, signature(value.__func__), value.__func__.__doc__, "method"))
        elif inspect.isfunction(value):
            out.append((name, signature(value), value.__doc__, "method"))
    return out


def first_line(doc):
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ") if doc else ""


def anchor(module_name):
    """The link target GitHub gives a '## chainrule.x' heading."""
    return "#" + module_name.replace(".", "")


def entry(module_name, name, obj):
    """The Markdown for one public name (a pointer, when another section documents it)."""
    home = getattr(obj, "__module__", module_name)
    documented = [m for m, _ in MODULES]
    if home != module_name and home in documented and callable(obj):
        return (f"### `{name}`\n\nThe same {'class' if inspect.isclass(obj) else 'function'} "
                f"as [`{home}.{name}`]({anchor(home)}).\n")
    lines = []
    if inspect.isclass(obj):
        lines.append(f"### `{name}{signature(obj)}`\n")
        if home != module_name:
            lines.append(f"*class, defined in `{home}`*\n")
        lines.append(fenced(inspect.getdoc(obj) or ""))
        for member, sig, doc, kind in members(obj):
            text = f" {first_line(doc)}" if doc else ""
            shown = f"{member}{sig}" if kind == "method" else member
            lines.append(f"- `{shown}`{' (property)' if kind == 'property' else ''}:{text}"
                         if text else f"- `{shown}`")
        if members(obj):
            lines.append("")
    elif callable(obj):
        lines.append(f"### `{name}{signature(obj)}`\n")
        if home != module_name:
            lines.append(f"*defined in `{home}`*\n")
        lines.append(fenced(inspect.getdoc(obj) or ""))
    else:
        kind = type(obj).__name__
        value = repr(obj) if isinstance(obj, (str, int, float)) else ""
        if isinstance(obj, dict):
            value = "keys: " + ", ".join(f"`{k}`" for k in obj)
        lines.append(f"### `{name}`\n")
        lines.append(f"A `{kind}`{': ' + value if value else ''}.\n")
    return "\n".join(lines)


def render():
    parts = [
        "# API reference\n",
        "<!-- Generated by docs/make_reference.py from the docstrings: edit those, then run "
        "python docs/make_reference.py -->\n",
        "Every public name of chainrule, module by module, with its signature and its "
        "docstring as written in the source. Docstrings open with the formula, then the "
        "shapes, then how the name relates to the book or to PyTorch where they differ. "
        "For a guided path through them, read the [tour](index.md); for the command line, "
        "`chainrule --help` and `chainrule COMMAND --help`.\n",
        "| module | for |",
        "|---|---|",
    ]
    parts += [f"| [`{m}`]({anchor(m)}) | {what} |" for m, what in MODULES]
    parts.append("")
    for module_name, _ in MODULES:
        module = importlib.import_module(module_name)
        parts.append(f"## {module_name}\n")
        parts.append(fenced(inspect.getdoc(module) or ""))
        for name in getattr(module, "__all__", []):
            if name.startswith("__"):
                continue
            parts.append(entry(module_name, name, getattr(module, name)))
    return "\n".join(parts).rstrip("\n") + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write docs/reference.md from docstrings.")
    parser.add_argument("--check", action="store_true",
                        help="only report whether docs/reference.md is up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print("docs/reference.md is out of date: run python docs/make_reference.py")
            return 1
        print("docs/reference.md is up to date")
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
