"""``python -m chainrule.book1 SCRIPT.py``: run a script of book 1 on chainrule."""

import sys

from ._runner import main

if __name__ == "__main__":
    sys.exit(main("chainrule.book1"))
