"""Book 1, ch. 4's ``gradient_2d.py`` without its figure: the row-wise
``numerical_gradient``, ``function_2`` and ``tangent_line``.

``numerical_gradient`` here takes the gradient at every row of a 2-D array (one point
per row), the way the book draws its field of arrows:
``numerical_gradient(function_2, np.array([X, Y]).T).T``.
"""

from __future__ import annotations

import numpy as np

from ..common.gradient import numerical_gradient_2d as numerical_gradient

__all__ = ["np", "numerical_gradient", "function_2", "tangent_line"]


def function_2(x):
    """f(x) = x0^2 + x1^2 (+ ...): the sum of squares of one point (D,), or of each row."""
    x = np.asarray(x)
    if x.ndim == 1:
        return np.sum(x**2)
    return np.sum(x**2, axis=1)


def tangent_line(f, x):
    """The tangent plane of ``f`` at ``x`` as a function of t; prints the gradient."""
    d = numerical_gradient(f, x)
    print(d)
    y = f(x) - d * x
    return lambda t: d * t + y
