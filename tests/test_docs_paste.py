"""Every page's examples, pasted into a real interactive Python, give the shown output.

docs/index.md tells readers to paste a page's code blocks into Python in order. The
interactive interpreter is stricter than a script: a blank line inside an indented block
ends it, an indented block needs a blank line before the next unindented statement, and
a bare expression prints its value. So each page's blocks are fed, in order, to
``python -i`` (the same interpreter, reading from a pipe, parses exactly as it does at a
terminal), each followed by the blank line a user types after pasting, and the output of
every block is compared with what the page shows. Any error printed by the interpreter
fails the page.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from test_docs import (
    doc_files,
    first_difference,
    output_matches,
    parse_blocks,
    requirement_missing,
    shell_commands,
)

MARK = "<<<chainrule-docs-block {}>>>"
ERRORS = ("Traceback (most recent call last)", "SyntaxError", "IndentationError")


def pasted_script(blocks):
    """What a reader types: every block, a blank line after each, and a marker print."""
    lines = ["import shlex", "from chainrule.cli import main as chainrule_cli_main", ""]
    for k, block in enumerate(blocks):
        if block.lang == "python":
            lines += [block.code, "", ""]
        else:  # a '<!-- run: cli -->' shell block: its commands, as the docs test runs them
            for command in shell_commands(block):
                lines.append(f"status = chainrule_cli_main(shlex.split({command!r})[1:])")
                lines.append(f"assert status == 0, {command!r}")
            lines.append("")
        lines += [f"print({MARK.format(k)!r})", ""]
    return "\n".join(lines) + "\n"


PAGES = [path for path in doc_files() if any(b.runnable for b in parse_blocks(path))]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_pasting_a_page_into_the_interactive_interpreter(page, tmp_path):
    blocks = []
    for block in (b for b in parse_blocks(page) if b.runnable):
        if requirement_missing(block):
            break  # like the docs test: the rest of the page needs what is missing
        blocks.append(block)
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
               MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    env.pop("CHAINRULE_DATA", None)
    done = subprocess.run([sys.executable, "-i", "-q"], input=pasted_script(blocks),
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)
    errors = [line for line in done.stderr.splitlines() if line.startswith(ERRORS)
              or any(e in line for e in ERRORS[1:])]
    assert not errors, f"{page.name}: pasting printed errors:\n{done.stderr[-3000:]}"
    printed, rest = {}, done.stdout
    for k in range(len(blocks)):
        before, marker, rest = rest.partition(MARK.format(k) + "\n")
        assert marker, f"{page.name}: block {blocks[k].where} never finished"
        printed[k] = before
    for k, block in enumerate(blocks):
        if block.expected is None or block.lang != "python":
            continue
        rel, abs_ = block.tolerance()
        assert output_matches(block.expected, printed[k], rel, abs_), (
            f"{block.where}: pasted into python -i, it printed something else "
            f"(rel tolerance {rel:g}).\n{first_difference(block.expected, printed[k], rel, abs_)}"
            f"\n--- shown ---\n{block.expected}\n--- printed ---\n{printed[k][:2000]}"
        )
