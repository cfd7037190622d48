"""Named objectives: analytic gradients agree with central differences."""

import numpy as np
import pytest

from chainrule import numerical_gradient
from chainrule.objectives import OBJECTIVES, get_objective


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_gradient_matches_central_differences_and_vanishes_at_minimum(name):
    obj = OBJECTIVES[name]
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = rng.uniform(-2, 2, size=2)
        np.testing.assert_allclose(numerical_gradient(obj.f, p), obj.grad(p), rtol=1e-6, atol=1e-5)
    assert obj.f(np.array(obj.minimum)) == pytest.approx(0.0)
    np.testing.assert_allclose(obj.grad(np.array(obj.minimum)), 0.0, atol=1e-12)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="one of sphere, rosenbrock.*got 'nosuch'"):
        get_objective("nosuch")
