"""Computational-graph nodes: forward values, exact gradient checks, no mutation, bad arguments.

Expected values are written independently with plain NumPy; gradients are compared with
central differences by ``gradient_check`` in float64 (every element, ``mode="exact"``).
"""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrule import nodes
from chainrule.gradcheck import gradient_check

dims = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)


def _check(report, n_entries):
    """The report passed, has one entry per array, and each is accurate to 1e-6 relative."""
    assert report.passed, str(report)
    assert len(report.entries) == n_entries, str(report)
    for entry in report.entries:
        assert entry.max_rel_error < 1e-6, str(report)


# ---- forward values -----------------------------------------------------------------


def test_add_forward():
    x = np.array([[1.0, -2.0], [3.5, 0.0]])
    y = np.array([[0.5, 2.0], [-1.0, 4.0]])
    np.testing.assert_array_equal(nodes.Add().forward(x, y), [[1.5, 0.0], [2.5, 4.0]])


def test_mul_forward():
    x = np.array([[1.0, -2.0], [3.5, 0.0]])
    y = np.array([[0.5, 2.0], [-1.0, 4.0]])
    np.testing.assert_array_equal(nodes.Mul().forward(x, y), [[0.5, -4.0], [-3.5, 0.0]])


def test_branch_forward_gives_n_copies_of_x():
    x = np.arange(6.0).reshape(2, 3)
    outs = nodes.Branch(3).forward(x)
    assert len(outs) == 3
    for out in outs:
        np.testing.assert_array_equal(out, x)


def test_repeat_forward_stacks_the_row():
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(nodes.Repeat(4).forward(x), np.vstack([x] * 4))
    assert nodes.Repeat(4).forward(x).shape == (4, 3)


def test_sum_forward_sums_rows_keeping_dims():
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, -6.0]])
    np.testing.assert_array_equal(nodes.Sum().forward(x), [[9.0, 0.0]])


def test_matmul_forward():
    x = np.array([[1.0, 2.0], [0.0, -1.0]])
    W = np.array([[1.0, 0.0, 2.0], [3.0, -1.0, 1.0]])
    expected = [[1 + 6, 0 - 2, 2 + 2], [0 - 3, 0 + 1, 0 - 1]]
    np.testing.assert_array_equal(nodes.MatMul(W).forward(x), expected)


# ---- backward by hand ---------------------------------------------------------------


def test_backward_rules_by_hand():
    """The docstring rules on small numbers: Add passes dz on, Mul swaps, Sum repeats, ..."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[5.0, 6.0], [7.0, 8.0]])
    dz = np.array([[1.0, -1.0], [2.0, 0.5]])
    add = nodes.Add()
    add.forward(x, y)
    dx, dy = add.backward(dz)
    np.testing.assert_array_equal(dx, dz)
    np.testing.assert_array_equal(dy, dz)
    mul = nodes.Mul()
    mul.forward(x, y)
    dx, dy = mul.backward(dz)
    np.testing.assert_array_equal(dx, dz * y)
    np.testing.assert_array_equal(dy, dz * x)
    branch = nodes.Branch(2)
    branch.forward(x)
    np.testing.assert_array_equal(branch.backward([dz, y]), dz + y)
    rep = nodes.Repeat(2)
    rep.forward(x[:1])
    np.testing.assert_array_equal(rep.backward(dz), [[3.0, -0.5]])
    s = nodes.Sum()
    s.forward(x)
    np.testing.assert_array_equal(s.backward(np.array([[2.0, 3.0]])), [[2.0, 3.0], [2.0, 3.0]])
    W = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])
    mm = nodes.MatMul(W)
    mm.forward(x)
    d = np.ones((2, 3))
    np.testing.assert_array_equal(mm.backward(d), d @ W.T)
    np.testing.assert_array_equal(mm.grads[0], x.T @ d)


# ---- exact gradient checks over random shapes ---------------------------------------


@given(n=dims, d=dims, seed=seeds)
def test_add_gradient(n, d, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    report = gradient_check(nodes.Add(), (x, y), mode="exact", random_state=seed)
    _check(report, 2)
    assert [e.name for e in report.entries] == ["x0", "x1"]


@given(n=dims, d=dims, seed=seeds)
def test_mul_gradient(n, d, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    report = gradient_check(nodes.Mul(), (x, y), mode="exact", random_state=seed)
    _check(report, 2)


@given(n_out=st.integers(1, 4), n=dims, d=dims, seed=seeds)
def test_branch_gradient(n_out, n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d))
    report = gradient_check(nodes.Branch(n_out), x, mode="exact", random_state=seed)
    _check(report, 1)


@given(n=dims, d=dims, seed=seeds)
def test_repeat_gradient(n, d, seed):
    x = np.random.default_rng(seed).standard_normal((1, d))
    report = gradient_check(nodes.Repeat(n), x, mode="exact", random_state=seed)
    _check(report, 1)


@given(n=dims, d=dims, seed=seeds)
def test_sum_gradient(n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d))
    report = gradient_check(nodes.Sum(), x, mode="exact", random_state=seed)
    _check(report, 1)


@given(n=dims, d=dims, h=dims, seed=seeds)
def test_matmul_gradient_for_x_and_W(n, d, h, seed):
    rng = np.random.default_rng(seed)
    x, W = rng.standard_normal((n, d)), rng.standard_normal((d, h))
    report = gradient_check(nodes.MatMul(W), x, mode="exact", random_state=seed)
    _check(report, 2)  # x and the one parameter
    assert [e.name for e in report.entries] == ["x", "W"]
    assert report["W"].shape == (d, h)


# ---- backward mutates neither dout nor the cached inputs ----------------------------


def _copies(arrays):
    return [a.copy() for a in arrays]


def _assert_unchanged(before, after):
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_backward_does_not_mutate_dout_or_inputs():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 3))
    for node in (nodes.Add(), nodes.Mul()):
        keep = _copies([x, y, dout])
        node.forward(x, y)
        node.backward(dout)
        _assert_unchanged(keep, [x, y, dout])
    douts = [rng.standard_normal((4, 3)) for _ in range(3)]
    keep = _copies([x, *douts])
    branch = nodes.Branch(3)
    branch.forward(x)
    branch.backward(douts)
    _assert_unchanged(keep, [x, *douts])
    row = rng.standard_normal((1, 3))
    keep = _copies([row, dout])
    rep = nodes.Repeat(4)
    rep.forward(row)
    rep.backward(dout)
    _assert_unchanged(keep, [row, dout])
    d_row = rng.standard_normal((1, 3))
    keep = _copies([x, d_row])
    s = nodes.Sum()
    s.forward(x)
    s.backward(d_row)
    _assert_unchanged(keep, [x, d_row])
    W = rng.standard_normal((3, 2))
    d2 = rng.standard_normal((4, 2))
    keep = _copies([x, W, d2])
    mm = nodes.MatMul(W)
    mm.forward(x)
    mm.backward(d2)
    _assert_unchanged(keep, [x, W, d2])


def test_backward_twice_gives_the_same_answer():
    """No node's backward consumes its cache: a second call returns the same gradients."""
    rng = np.random.default_rng(1)
    x, y, dout = (rng.standard_normal((3, 2)) for _ in range(3))
    mul = nodes.Mul()
    mul.forward(x, y)
    first = [g.copy() for g in mul.backward(dout)]
    _assert_unchanged(first, mul.backward(dout))
    branch = nodes.Branch(2)
    branch.forward(x)
    first = branch.backward([dout, y]).copy()
    np.testing.assert_array_equal(branch.backward([dout, y]), first)


def test_branch_backward_wants_n_gradients():
    branch = nodes.Branch(3)
    branch.forward(np.ones((2, 2)))
    with pytest.raises(ValueError, match="douts"):
        branch.backward([np.ones((2, 2))] * 2)


# ---- bad constructor arguments ------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "bad"),
    [
        (nodes.Branch, 0),
        (nodes.Branch, -3),
        (nodes.Branch, True),
        (nodes.Branch, 2.0),
        (nodes.Repeat, -1),
        (nodes.Repeat, 0),
        (nodes.Repeat, True),
        (nodes.Repeat, 1.5),
    ],
)
def test_bad_counts_raise_naming_n(make, bad):
    with pytest.raises(ValueError, match=r"\bn must be a positive integer") as info:
        make(bad)
    assert repr(bad) in str(info.value)


def test_numpy_integer_counts_are_accepted():
    assert nodes.Branch(np.int64(2)).n == 2
    assert nodes.Repeat(np.int32(3)).forward(np.ones((1, 2))).shape == (3, 2)


def test_matmul_report_names_W_without_importing_layers():
    """MatMul's weight is reported as 'W' in a fresh interpreter that imports only nodes and
    gradcheck: the name must not depend on chainrule.layers having been imported."""
    code = (
        "import numpy as np\n"
        "from chainrule.nodes import MatMul\n"
        "from chainrule.gradcheck import gradient_check\n"
        "r = gradient_check(MatMul(np.ones((2, 3))), np.ones((4, 2)), mode='exact',"
        " random_state=0)\n"
        "print(','.join(e.name for e in r.entries))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "x,W"
