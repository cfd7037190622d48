"""Words users have: user-facing text names the book's chapters and files, not study notes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = re.compile(r"seeds? ?-?0\d\d|the seeds\b|seeds'", re.IGNORECASE)


def user_facing_files():
    yield ROOT / "README.md"
    yield ROOT / "BENCHMARKS.md"
    yield from sorted((ROOT / "docs").glob("*.md"))
    yield from sorted((ROOT / "src" / "chainrule").rglob("*.py"))  # docstrings, messages, help
    yield from sorted((ROOT / "benchmarks").glob("*"))


def test_no_user_facing_text_cites_the_study_notes_by_number():
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for path in user_facing_files() if path.is_file()
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if NOTES.search(line)]
    assert hits == []
