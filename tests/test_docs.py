"""Every code example in README.md and docs/*.md runs, and shows what it prints.

The convention (docs/index.md explains it to writers of the docs):

* Every ```python block runs. The blocks of one file run in order, in one shared
  namespace, with the working directory set to a temporary folder of their own.
* A ```text block that follows a code block (with only blank lines between) is what that
  block prints on stdout. It is compared line by line, after stripping each line:
  numbers are compared as floats (relative tolerance 1e-6 unless a directive says
  otherwise), runs of spaces match any run of spaces, ``...`` inside a line matches any
  text, and a line that is only ``...`` matches any number of lines (none included).
* Directives are HTML comments on the lines just above a code block (invisible on a
  rendered page); they apply to that block and its output:
  ``<!-- tolerance: 0.05 -->`` (relative; ``<!-- tolerance: rel=0.05 abs=0.01 -->``),
  ``<!-- run: cli -->`` on a ```bash block runs each ``chainrule ...`` line through
  ``chainrule.cli.main`` (which must return 0), and ``<!-- requires: fashion-mnist -->``
  skips the block, and the rest of its file, when Debian's copy of Fashion-MNIST is not
  installed (``<!-- requires: mpi4py -->``: when mpi4py, the mpi extra, is not).
  Other shell blocks are not run.

No block touches NumPy's global generator (the autouse fixture in conftest.py checks it
after every block), so none needs its state saved and restored.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_REL, DEFAULT_ABS = 1e-6, 1e-12

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# A number stands alone: not part of a name (W1, x0) and not followed by '.' (so '3...' is '3'
# and a wildcard). One pattern finds numbers, wildcards and spaces in an expected line.
TOKEN = re.compile(rf"\.\.\.|\s+|(?<![\w.]){NUMBER}(?![\w.])")
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*(tolerance|run|requires)\s*:\s*(.*?)\s*-->$")


@dataclass
class Block:
    """One code block of a Markdown file and the output shown under it."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    close: int = 0  # 0-based index of the closing fence
    expected: str | None = None
    expected_line: int | None = None
    directives: dict = field(default_factory=dict)

    @property
    def runnable(self):
        return self.lang == "python" or (self.lang in ("bash", "sh", "console")
                                         and self.directives.get("run") == "cli")

    @property
    def where(self):
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def tolerance(self):
        """(rel, abs) from a tolerance directive, or the defaults."""
        text = self.directives.get("tolerance")
        if text is None:
            return DEFAULT_REL, DEFAULT_ABS
        rel, abs_ = DEFAULT_REL, DEFAULT_ABS
        for part in text.split():
            key, _, value = part.rpartition("=")
            if key in ("", "rel"):
                rel = float(value)
            elif key == "abs":
                abs_ = float(value)
            else:
                raise ValueError(f"{self.where}: bad tolerance directive {text!r}")
        return rel, abs_


def parse_blocks(path):
    """All fenced blocks of a Markdown file, each with its directives and shown output."""
    lines = path.read_text(encoding="utf-8").splitlines()
    raw, directives, i = [], {}, 0
    while i < len(lines):
        stripped = lines[i].strip()
        directive, fence = DIRECTIVE.match(stripped), FENCE.match(stripped)
        if directive:
            directives[directive.group(1)] = directive.group(2)
        elif fence:
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{path.name}:{start + 1}: code block is never closed")
            raw.append((start, i, fence.group(1).lower(), "\n".join(body), directives))
            directives = {}
        elif stripped:
            directives = {}
        i += 1
    blocks = []
    for start, close, lang, body, directives in raw:
        previous = blocks[-1] if blocks else None
        if (lang in ("text", "output") and previous is not None and previous.expected is None
                and not any(line.strip() for line in lines[previous.close + 1:start])):
            previous.expected, previous.expected_line = textwrap.dedent(body), start + 1
            continue
        blocks.append(Block(path, start + 1, lang, textwrap.dedent(body), close=close,
                            directives=directives))
    return blocks


def doc_files():
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def runnable_blocks():
    out = []
    for path in doc_files():
        out += [b for b in parse_blocks(path) if b.runnable]
    return out


# ---- comparing printed output with the output shown -----------------------------------


def _line_pattern(expected):
    """A regex for one expected line, and the numbers it expects, in order."""
    parts, numbers, pos = [], [], 0
    for m in TOKEN.finditer(expected):
        parts.append(re.escape(expected[pos:m.start()]))
        token = m.group()
        if token == "...":
            parts.append(".*?")
        elif token.isspace():
            parts.append(r"\s+")
        else:
            parts.append(f"({NUMBER})")
            numbers.append(float(token))
        pos = m.end()
    parts.append(re.escape(expected[pos:]))
    return re.compile("".join(parts)), numbers


def line_matches(expected, actual, rel, abs_):
    """True when the actual line has the expected text and numbers within tolerance."""
    pattern, numbers = _line_pattern(expected.strip())
    m = pattern.fullmatch(actual.strip())
    if m is None:
        return False
    return all(math.isclose(float(got), want, rel_tol=rel, abs_tol=abs_)
               for got, want in zip(m.groups(), numbers, strict=True))


def output_matches(expected, actual, rel, abs_):
    """Line-by-line match; an expected line that is just '...' takes any number of lines."""
    want = expected.rstrip("\n").splitlines()
    got = actual.rstrip("\n").splitlines()
    memo = {}

    def match(i, j):
        if (i, j) not in memo:
            if i == len(want):
                result = j == len(got)
            elif want[i].strip() == "...":
                result = any(match(i + 1, k) for k in range(j, len(got) + 1))
            else:
                result = j < len(got) and line_matches(want[i], got[j], rel, abs_) and match(
                    i + 1, j + 1)
            memo[i, j] = result
        return memo[i, j]

    return match(0, 0)


def first_difference(expected, actual, rel, abs_):
    """A short note on where two outputs part (for the failure message)."""
    want = expected.rstrip("\n").splitlines()
    got = actual.rstrip("\n").splitlines()
    for k, (w, g) in enumerate(zip(want, got, strict=False)):
        if w.strip() == "...":
            return "(after a '...' line)"
        if not line_matches(w, g, rel, abs_):
            return f"line {k + 1}:\n  shown:   {w.strip()}\n  printed: {g.strip()}"
    return f"the docs show {len(want)} lines, the code printed {len(got)}"


# ---- running the blocks ----------------------------------------------------------------


@dataclass
class FileRun:
    """The shared namespace and progress of one Markdown file's blocks."""

    cwd: Path
    namespace: dict = field(default_factory=lambda: {"__name__": "__docs__"})
    done: int = 0  # blocks run so far, in file order
    broken: str | None = None  # why the remaining blocks cannot run


_RUNS = {}


def _execute(block, namespace):
    """Run one block; returns what it printed on stdout."""
    out = io.StringIO()
    if block.lang == "python":
        # pad so that tracebacks give the line numbers of the Markdown file
        code = compile("\n" * block.line + block.code, str(block.path), "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
    else:
        from chainrule.cli import main

        for command in shell_commands(block):
            words = shlex.split(command)
            assert words[0] == "chainrule", f"{block.where}: not a chainrule command: {command}"
            with contextlib.redirect_stdout(out):
                status = main(words[1:])
            assert status == 0, f"{block.where}: {command!r} exited with {status}"
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    return out.getvalue()


def shell_commands(block):
    """The commands of a shell block: comments dropped, backslash continuations joined."""
    text = block.code.replace("\\\n", " ")
    return [line.split(" #")[0].strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _check(block, printed):
    if block.expected is None:
        return
    rel, abs_ = block.tolerance()
    if not output_matches(block.expected, printed, rel, abs_):
        pytest.fail(
            f"{block.where}: the output shown at line {block.expected_line} differs from what "
            f"the code printed (rel tolerance {rel:g}).\n"
            f"{first_difference(block.expected, printed, rel, abs_)}\n"
            f"--- shown ---\n{block.expected}\n--- printed ---\n{printed}",
            pytrace=False,
        )


def requirement_missing(block):
    need = block.directives.get("requires")
    if need is None:
        return None
    if need == "fashion-mnist":
        return None if FASHION_DIR.is_dir() else f"{FASHION_DIR} is not installed"
    if need == "mpi4py":
        found = importlib.util.find_spec("mpi4py") is not None
        return None if found else "mpi4py is not installed: pip install -e '.[mpi]'"
    raise ValueError(f"{block.where}: unknown requirement {need!r}")


@pytest.fixture(scope="session")
def docs_home(tmp_path_factory):
    """A private home and data cache for the examples (the user's cache is never touched)."""
    return tmp_path_factory.mktemp("docs-home")


BLOCKS = runnable_blocks()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_doc_block(block, tmp_path_factory, docs_home, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(docs_home / "cache"))
    monkeypatch.setenv("HOME", str(docs_home))
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = [b for b in BLOCKS if b.path == block.path]
    index = blocks.index(block)
    run = _RUNS.get(block.path)
    if run is None or run.done > index:  # a fresh start (or a re-run of earlier blocks)
        run = _RUNS[block.path] = FileRun(tmp_path_factory.mktemp(block.path.stem))
    monkeypatch.chdir(run.cwd)
    # the blocks before this one run first, when they have not (e.g. with pytest -k)
    while run.done <= index:
        current = blocks[run.done]
        if run.broken:
            pytest.skip(run.broken)
        missing = requirement_missing(current)
        if missing:
            run.broken = f"skipped from {current.where} on: {missing}"
            pytest.skip(run.broken)
        try:
            printed = _execute(current, run.namespace)
            _check(current, printed)
        except BaseException:
            run.broken = f"an earlier block failed ({current.where})"
            raise
        finally:
            run.done += 1


# ---- the docs as a whole ---------------------------------------------------------------

PAGES = ["index.md", "01-derivatives.md", "02-gradient-descent.md", "03-loss-and-weights.md",
         "04-chain-rule.md", "05-learning.md", "reference.md", "from-the-book.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path):
    """The link targets GitHub makes of a page's headings (code blocks left out)."""
    out, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_the_pages_exist_and_every_local_link_resolves():
    for name in PAGES:
        assert (DOCS / name).is_file(), f"docs/{name} is missing"
    for path in doc_files():
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            local = (path.parent / file_part).resolve() if file_part else path
            assert local.exists(), f"{path.relative_to(ROOT)} links to missing {target}"
            if anchor and local.suffix == ".md":
                assert anchor in anchors(local), (
                    f"{path.relative_to(ROOT)} links to {target}: no such heading")


def test_every_output_block_follows_a_runnable_block():
    for path in doc_files():
        blocks = parse_blocks(path)
        shown = [b for b in blocks if b.expected is not None]
        for b in shown:
            assert b.runnable, f"{b.where}: output shown under a block that does not run"
        for b in blocks:
            assert b.lang not in ("text", "output"), (
                f"{b.where}: a text block that follows no code block (outputs go right "
                "under the code that prints them)")


# The numbers the seeds print, where chainrule can reproduce them (the rest come from an
# unprinted random state). Each must be shown, and so asserted, in some output of the tour.
SEED_NUMBERS = {
    "000": [0.02738297, 0.22400595, -0.25138893, 0.04107446, 0.33600893, -0.37708339],
    "001": [-6.35809854e-07, -3.81434987e-07, -2499150084997, -1499450054998,
            2.97441101, 1.98460701],
    "002": [-0.8339355, -0.13553598, 1.21013523, -0.52139142, 1.6686686, -0.82705022,
            -0.96961358, 1.42048015, -0.01826406, 1.7230549742562002,
            0.04136868, 0.45151914, -0.49288782, 0.06205302, 0.67727871, -0.73933173,
            784, 100, 10],
    "004": [6.0, 8.0, 0.0, -6.11110793e-10, 8.14814391e-10, -2.58983747e13, -1.29524862e12,
            -2.99999994, 3.99999992, 0.21275089, 0.19893766, -0.41168855, 0.31912634,
            0.29840649, -0.61753283],
}


def test_each_seeds_printed_numbers_are_shown_in_the_tour():
    shown = []
    for path in sorted(DOCS.glob("0*.md")):
        for block in parse_blocks(path):
            if block.expected is not None and block.runnable:
                shown += [float(m.group()) for m in TOKEN.finditer(block.expected)
                          if m.group().strip() and m.group() != "..."]
    for seed, numbers in SEED_NUMBERS.items():
        for number in numbers:
            # printed numbers are rounded to 8 digits: equal to rel 1e-8, or 2e-8 near zero
            assert any(math.isclose(number, s, rel_tol=1e-8, abs_tol=2e-8) for s in shown), (
                f"seed {seed} prints {number!r}, which no output of docs/0*.md shows")


def test_the_figures_script_draws_the_quick_figures(tmp_path):
    """docs/make_figures.py runs (all but the Fashion-MNIST figures, which take a minute)."""
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(DOCS))
    try:
        import make_figures
    finally:
        sys.path.remove(str(DOCS))
    written = make_figures.main(["--out", str(tmp_path), "--skip", "fashion", "conv"])
    assert written
    for name in written:
        assert (tmp_path / name).stat().st_size > 10_000, f"{name} looks empty"


def test_the_api_reference_names_every_public_name():
    import importlib

    text = (DOCS / "reference.md").read_text(encoding="utf-8")
    modules = ["chainrule", "chainrule.functions", "chainrule.numerical", "chainrule.nodes",
               "chainrule.layers", "chainrule.models", "chainrule.gradcheck", "chainrule.optim",
               "chainrule.schedules", "chainrule.trainer", "chainrule.plotting",
               "chainrule.checkpoint", "chainrule.data"]
    for name in modules:
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            if public.startswith("_"):
                continue
            assert re.search(rf"`{re.escape(public)}\b", text), (
                f"docs/reference.md does not mention {name}.{public}: "
                "run python docs/make_reference.py")


def test_no_block_in_the_docs_uses_numpys_global_generator():
    banned = re.compile(r"np\.random\.(seed|rand|randn|randint|random|choice|shuffle|"
                        r"permutation|normal|uniform)\(")
    for path in doc_files():
        for block in parse_blocks(path):
            if block.lang == "python":
                assert not banned.search(block.code), (
                    f"{block.where}: use np.random.default_rng(seed) or random_state")


