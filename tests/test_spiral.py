"""load_spiral: the book's spiral data (Deep Learning from Scratch 2, dataset/spiral.py)."""

import numpy as np
import pytest

from chainrule.data import load_spiral


def book_spiral(seed=1984, N=100, CLS_NUM=3):
    """The book's algorithm, line for line, on a private RandomState instead of np.random."""
    rs = np.random.RandomState(seed)  # noqa: NPY002 - the legacy stream the book seeds
    DIM = 2
    x = np.zeros((N * CLS_NUM, DIM))
    t = np.zeros((N * CLS_NUM, CLS_NUM), dtype=int)
    for j in range(CLS_NUM):
        for i in range(N):
            rate = i / N
            radius = 1.0 * rate
            theta = j * 4.0 + 4.0 * rate + rs.randn() * 0.2
            ix = N * j + i
            x[ix] = np.array([radius * np.sin(theta), radius * np.cos(theta)]).flatten()
            t[ix, j] = 1
    return x, t


def test_default_is_exactly_the_books_data():
    x, t = load_spiral()
    x_book, t_book = book_spiral()
    assert x.dtype == np.float64 and x.shape == (300, 2)
    assert t.dtype == np.int64 and t.shape == (300, 3)
    np.testing.assert_array_equal(x, x_book)
    np.testing.assert_array_equal(t, t_book)


def test_published_values():
    # computed once from the book's algorithm with np.random.seed(1984)
    x, _ = load_spiral()
    np.testing.assert_array_equal(x[0], [0.0, 0.0])  # radius 0 at i = 0
    np.testing.assert_allclose(x[1], [-0.00097698643152699, 0.009952160444476976], atol=1e-12)
    np.testing.assert_allclose(x[150], [-0.13912045724684738, 0.48025565938927584], atol=1e-12)
    np.testing.assert_allclose(x[299], [-0.5974310265949212, 0.7894150799558737], atol=1e-12)


@pytest.mark.parametrize("n_per_class, n_classes, seed", [(7, 2, 0), (50, 5, 123), (1, 1, 1984)])
def test_other_sizes_and_seeds_follow_the_book(n_per_class, n_classes, seed):
    x, t = load_spiral(n_per_class, n_classes, random_state=seed)
    x_book, t_book = book_spiral(seed, n_per_class, n_classes)
    np.testing.assert_array_equal(x, x_book)
    np.testing.assert_array_equal(t, t_book)


def test_one_hot_rows_grouped_by_class():
    _, t = load_spiral(10, 4)
    assert np.all(t.sum(axis=1) == 1)
    np.testing.assert_array_equal(t.argmax(axis=1), np.repeat(np.arange(4), 10))


def test_generator_draws_its_own_stream():
    x1, _ = load_spiral(random_state=np.random.default_rng(1984))
    x2, _ = load_spiral(random_state=np.random.default_rng(1984))
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(x1, load_spiral()[0])  # a different stream than the book's
    radius = np.hypot(x1[:, 0], x1[:, 1])
    np.testing.assert_allclose(radius, np.tile(np.arange(100) / 100, 3), atol=1e-15)


def test_none_gives_fresh_noise():
    assert not np.array_equal(load_spiral(random_state=None)[0], load_spiral(random_state=None)[0])


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"n_per_class": 0}, ValueError, "n_per_class must be a positive integer, got 0"),
        ({"n_per_class": 2.5}, TypeError, "n_per_class must be an integer, got float 2.5"),
        ({"n_classes": -1}, ValueError, "n_classes must be a positive integer, got -1"),
        ({"n_classes": True}, TypeError, "n_classes must be an integer, got bool True"),
        ({"random_state": -1}, ValueError, r"random_state must be an int in \[0, 2\*\*32 - 1\]"),
        ({"random_state": 2**32}, ValueError, "got 4294967296"),
        ({"random_state": 1.5}, TypeError, "random_state must be None, an int or a numpy"),
    ],
)
def test_arguments_are_validated(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        load_spiral(**kwargs)
