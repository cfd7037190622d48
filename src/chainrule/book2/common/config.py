"""Book 2's ``common/config.py``: ``GPU = False`` (chainrule runs on NumPy only)."""

__all__ = ["GPU"]

GPU = False
