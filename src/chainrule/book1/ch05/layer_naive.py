"""Book 1, ch. 5's ``layer_naive.py``: ``MulLayer`` and ``AddLayer``, chainrule's ``Mul`` and
``Add`` nodes under the book's names."""

from __future__ import annotations

from ...nodes import Add, Mul

__all__ = ["MulLayer", "AddLayer"]


class MulLayer(Mul):
    """z = x * y.   Backward: dx = dz * y, dy = dz * x (returned as a pair)."""


class AddLayer(Add):
    """z = x + y.   Backward: dx = dz, dy = dz (returned as a pair)."""
