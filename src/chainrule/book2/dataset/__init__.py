"""Book 2's ``dataset`` package, chapter 1's part: ``spiral``."""
