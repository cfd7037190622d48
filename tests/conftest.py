import os

import numpy as np
import pytest
from hypothesis import settings

# CI runs the same examples every time (derandomize); a failure then reproduces on re-run.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test of a minute or more (runs in CI)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="slow: runs in CI, or locally with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _global_rng_untouched():
    """No chainrule code may draw from (or reseed) NumPy's global generator."""
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    yield
    after = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(before, after), "a test or chainrule touched NumPy's global RNG"
