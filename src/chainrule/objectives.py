"""Named test functions of two variables for gradient descent (``chainrule gd``).

Each takes ``x`` with ``x[0]`` and ``x[1]`` (a point ``(2,)``, or two grids stacked as
``(2, H, W)`` for contour plots) and returns f. The analytic gradient sits under each
function; the tests compare it with ``numerical_gradient``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import InputValueError

__all__ = ["Objective", "OBJECTIVES", "get_objective"]


def sphere(x):
    """f = x0**2 + x1**2 (the book's ``function_2``); minimum 0 at (0, 0)."""
    return x[0] ** 2 + x[1] ** 2


def sphere_grad(x):
    """grad f = (2 x0, 2 x1)."""
    return np.array([2 * x[0], 2 * x[1]])


def rosenbrock(x):
    """f = (1 - x0)**2 + 100 (x1 - x0**2)**2; minimum 0 at (1, 1), in a curved valley."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_grad(x):
    """grad f = (-2 (1 - x0) - 400 x0 (x1 - x0**2), 200 (x1 - x0**2))."""
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])


def booth(x):
    """f = (x0 + 2 x1 - 7)**2 + (2 x0 + x1 - 5)**2; minimum 0 at (1, 3)."""
    return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2


def booth_grad(x):
    """grad f = (2 a + 4 b, 4 a + 2 b) with a = x0 + 2 x1 - 7, b = 2 x0 + x1 - 5."""
    a = x[0] + 2 * x[1] - 7
    b = 2 * x[0] + x[1] - 5
    return np.array([2 * a + 4 * b, 4 * a + 2 * b])


def himmelblau(x):
    """f = (x0**2 + x1 - 11)**2 + (x0 + x1**2 - 7)**2; four minima of 0, one at (3, 2)."""
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def himmelblau_grad(x):
    """grad f = (4 x0 a + 2 b, 2 a + 4 x1 b) with a = x0**2 + x1 - 11, b = x0 + x1**2 - 7."""
    a = x[0] ** 2 + x[1] - 11
    b = x[0] + x[1] ** 2 - 7
    return np.array([4 * x[0] * a + 2 * b, 2 * a + 4 * x[1] * b])


@dataclass(frozen=True)
class Objective:
    """A named function with its gradient, a known minimum and a plotting window."""

    name: str
    f: object
    grad: object
    minimum: tuple
    window: tuple  # (x0_min, x0_max, x1_min, x1_max)


OBJECTIVES = {
    "sphere": Objective("sphere", sphere, sphere_grad, (0.0, 0.0), (-4.5, 4.5, -4.5, 4.5)),
    "rosenbrock": Objective(
        "rosenbrock", rosenbrock, rosenbrock_grad, (1.0, 1.0), (-2.0, 2.0, -1.0, 3.0)
    ),
    "booth": Objective("booth", booth, booth_grad, (1.0, 3.0), (-5.0, 5.0, -5.0, 5.0)),
    "himmelblau": Objective(
        "himmelblau", himmelblau, himmelblau_grad, (3.0, 2.0), (-5.0, 5.0, -5.0, 5.0)
    ),
}


def get_objective(name):
    """Look up a named objective; unknown names raise ``ValueError`` listing the choices."""
    try:
        return OBJECTIVES[name]
    except (KeyError, TypeError):
        raise InputValueError(
            f"function must be one of {', '.join(OBJECTIVES)}; got {name!r}"
        ) from None
