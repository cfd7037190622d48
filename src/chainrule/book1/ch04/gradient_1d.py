"""Book 1, ch. 4's ``gradient_1d.py`` without its figure: ``numerical_diff``, ``function_1``,
``tangent_line``."""

from __future__ import annotations

import numpy as np

from ...numerical import numerical_diff

__all__ = ["np", "numerical_diff", "function_1", "tangent_line"]


def function_1(x):
    """y = 0.01 x^2 + 0.1 x (the book's example; its derivative at 5 is 0.2)."""
    return 0.01 * x**2 + 0.1 * x


def tangent_line(f, x):
    """The tangent of ``f`` at ``x`` as a function of t; prints the slope, as the book does."""
    d = numerical_diff(f, x)
    print(d)
    y = f(x) - d * x
    return lambda t: d * t + y
