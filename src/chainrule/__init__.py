"""chainrule: neural networks that learn by the chain rule, on NumPy alone.

The book's names are here: ``numerical_diff``, ``numerical_gradient``,
``gradient_descent`` at the top level; activations and losses in
``chainrule.functions``; networks in ``chainrule.models``.
"""

from .numerical import (
    DivergenceWarning,
    gradient_ascent,
    gradient_descent,
    numerical_diff,
    numerical_gradient,
)

__version__ = "0.1.0"

__all__ = [
    "DivergenceWarning",
    "gradient_ascent",
    "gradient_descent",
    "numerical_diff",
    "numerical_gradient",
    "__version__",
]
