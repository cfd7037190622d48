"""``python -m chainrule.book2 SCRIPT.py``: run a script of book 2 on chainrule."""

import sys

from ..book1._runner import main

if __name__ == "__main__":
    sys.exit(main("chainrule.book2"))
