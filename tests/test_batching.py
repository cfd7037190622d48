"""minibatches and BatchIterator: one epoch covers every sample once, reproducibly, in buffers."""

import numpy as np
import pytest

from chainrule.data import BatchIterator, minibatches


@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (5, 8), (1, 1), (0, 4)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_exactly_once_per_epoch(n, batch_size, shuffle):
    batches = list(minibatches(n, batch_size, shuffle=shuffle, random_state=0))
    assert [len(b) for b in batches] == [min(batch_size, n - s) for s in range(0, n, batch_size)]
    joined = np.concatenate(batches) if batches else np.array([], dtype=int)
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))
    if not shuffle:
        np.testing.assert_array_equal(joined, np.arange(n))


def test_drop_last():
    batches = list(minibatches(10, 3, drop_last=True, random_state=0))
    assert [len(b) for b in batches] == [3, 3, 3]
    assert len(set(np.concatenate(batches).tolist())) == 9
    assert list(minibatches(5, 8, drop_last=True)) == []


def test_same_seed_same_order_and_generator_gives_new_epochs():
    a = np.concatenate(list(minibatches(50, 7, random_state=3)))
    b = np.concatenate(list(minibatches(50, 7, random_state=3)))
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(3)
    e1 = np.concatenate(list(minibatches(50, 7, random_state=rng)))
    e2 = np.concatenate(list(minibatches(50, 7, random_state=rng)))
    assert not np.array_equal(e1, e2)


@pytest.mark.parametrize(
    "args, kwargs, exc, message",
    [
        ((10, 0), {}, ValueError, "batch_size must be a positive integer, got 0"),
        ((10, 2.0), {}, TypeError, "batch_size must be an integer, got float 2.0"),
        ((-1, 2), {}, ValueError, "n_samples must be a non-negative integer, got -1"),
        ((10, 2), {"shuffle": 1}, TypeError, "shuffle must be True or False, got 1"),
        ((10, 2), {"drop_last": None}, TypeError, "drop_last must be True or False, got None"),
        ((10, 2), {"random_state": "a"}, TypeError, "random_state must be None, an int or"),
    ],
)
def test_minibatches_validates_at_the_call(args, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        minibatches(*args, **kwargs)  # no next(): checked before the first batch


def data(n=23, features=(4,)):
    x = np.arange(n * int(np.prod(features)), dtype=np.float32).reshape((n, *features))
    t = np.arange(n) % 5
    return x, t


def test_batch_iterator_pairs_rows_and_covers_the_epoch():
    x, t = data()
    it = BatchIterator(x, t, 5, random_state=0)
    assert len(it) == 5
    seen = []
    for xb, tb in it:
        rows = (xb[:, 0] // 4).astype(int)  # row i of x starts with 4 i
        np.testing.assert_array_equal(tb, t[rows])
        np.testing.assert_array_equal(xb, x[rows])
        seen.extend(rows.tolist())
    assert sorted(seen) == list(range(23))
    assert [len(xb) for xb, _ in it] == [5, 5, 5, 5, 3]


def test_batch_iterator_drop_last_and_len():
    x, t = data()
    it = BatchIterator(x, t, 5, drop_last=True, random_state=0)
    assert len(it) == 4
    assert [len(xb) for xb, _ in it] == [5, 5, 5, 5]
    assert len(BatchIterator(x, t, 100, drop_last=True)) == 0
    assert list(BatchIterator(x, t, 100, drop_last=True)) == []
    assert len(BatchIterator(x, t, 100)) == 1


def test_epochs_differ_and_seed_reproduces_them():
    x, t = data(n=40)

    def epochs(it, k):
        return [np.concatenate([tb.copy() for _, tb in it]) for _ in range(k)]

    it = BatchIterator(x, np.arange(40), 8, random_state=7)
    first, second = epochs(it, 2)
    assert not np.array_equal(first, second)
    again = epochs(BatchIterator(x, np.arange(40), 8, random_state=7), 2)
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)


def test_rng_state_checkpoint_resumes_the_epoch_sequence():
    x, t = data(n=30)
    it = BatchIterator(x, t, 4, random_state=1)
    list(it)
    state = it.rng.bit_generator.state
    expected = [tb.copy() for _, tb in it]
    resumed = BatchIterator(x, t, 4, random_state=99)
    resumed.rng.bit_generator.state = state
    for (_, tb), want in zip(resumed, expected, strict=True):
        np.testing.assert_array_equal(tb, want)


def test_buffers_are_reused_and_dataset_not_copied():
    x, t = data(n=20, features=(2, 3))
    it = BatchIterator(x, t, 6, random_state=0)
    batches = list(it)
    first_x, first_t = batches[0]
    for xb, tb in batches:
        assert np.shares_memory(xb, first_x) and np.shares_memory(tb, first_t)
        assert not np.shares_memory(xb, x)
        assert xb.shape[1:] == (2, 3) and xb.dtype == np.float32 and tb.dtype == t.dtype
    xb_last, _ = batches[-1]
    assert xb_last.shape == (2, 2, 3)  # the short batch is a view of the same buffer
    for _ in range(2):  # later epochs still use the same buffers
        xb, _ = next(iter(it))
        assert np.shares_memory(xb, first_x)


def test_no_shuffle_keeps_order():
    x, t = data(n=7)
    got = np.concatenate([tb.copy() for _, tb in BatchIterator(x, t, 3, shuffle=False)])
    np.testing.assert_array_equal(got, t)


def test_one_hot_targets_and_lists():
    x = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    t = np.eye(3)
    batches = [(xb.copy(), tb.copy()) for xb, tb in BatchIterator(x, t, 2, shuffle=False)]
    np.testing.assert_array_equal(batches[0][1], np.eye(3)[:2])
    np.testing.assert_array_equal(batches[1][0], [[5.0, 6.0]])


def test_batch_iterator_validates():
    x, t = data(n=100)
    with pytest.raises(ValueError, match="inconsistent numbers of samples: x has 100, t has 99"):
        BatchIterator(x, t[:99], 10)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        BatchIterator(x, t, 0)
    with pytest.raises(TypeError, match="batch_size must be an integer, got bool True"):
        BatchIterator(x, t, True)
    with pytest.raises(TypeError, match="shuffle must be True or False, got 'yes'"):
        BatchIterator(x, t, 10, shuffle="yes")
    with pytest.raises(ValueError, match="x and t must be arrays with a sample axis"):
        BatchIterator(np.float64(1.0), t, 10)


def test_global_rng_untouched_explicitly():
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    x, t = data()
    list(BatchIterator(x, t, 4, random_state=None))
    list(minibatches(50, 3))
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
