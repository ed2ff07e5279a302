import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pruneaudit.pareto import dominance_count, dominates, hypervolume, pareto_mask


def test_known_front_2d():
    pts = np.array([[1, 5], [2, 4], [3, 3], [2, 2], [1, 1], [3, 3], [0, 6]])
    assert pareto_mask(pts, maximize=[True, True]).tolist() == [True, True, True, False, False, True, True]


def test_directions():
    pts = np.array([[0.9, 100], [0.8, 50], [0.7, 60]])  # accuracy up, size down
    assert pareto_mask(pts, maximize=[True, False]).tolist() == [True, True, False]


def test_known_front_3d():
    pts = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0.4, 0.4, 0.4], [1, 0, 0]])
    assert pareto_mask(pts, maximize=[True] * 3).tolist() == [True, True, True, True, False, True]


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        pareto_mask(np.array([[np.nan, 1.0]]), maximize=[True, True])


points = st.lists(st.tuples(*[st.integers(0, 6)] * 3), min_size=1, max_size=40).map(
    lambda rows: np.array(rows, dtype=float)
)


@settings(max_examples=200, deadline=None)
@given(points, st.lists(st.booleans(), min_size=3, max_size=3), st.randoms())
def test_front_properties(pts, maximize, random):
    mask = pareto_mask(pts, maximize=maximize)
    front, rest = pts[mask], pts[~mask]
    for a, b in itertools.product(front, front):
        assert not dominates(a, b, maximize=maximize)
    for r in rest:
        assert any(dominates(f, r, maximize=maximize) for f in front)
    perm = list(range(len(pts)))
    random.shuffle(perm)
    assert pareto_mask(pts[perm], maximize=maximize).tolist() == mask[perm].tolist()


def _brute_hv(pts, ref, grid):
    """Monte-Carlo-free brute force: count unit cells of an integer grid dominated by some point."""
    k = pts.shape[1]
    total = 0
    for cell in itertools.product(*[range(int(ref[i]), grid) for i in range(k)]):
        corner = np.array(cell) + 1  # the cell [c, c+1) is covered if a point reaches c+1 everywhere
        if np.any(np.all(pts >= corner, axis=1)):
            total += 1
    return total


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=12))
def test_hypervolume_2d_brute_force(rows):
    pts = np.array(rows, dtype=float)
    assert hypervolume(pts, maximize=[True, True], reference=[0, 0]) == _brute_hv(pts, [0, 0], 8)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=10))
def test_hypervolume_3d_brute_force(rows):
    pts = np.array(rows, dtype=float)
    assert hypervolume(pts, maximize=[True] * 3, reference=[0, 0, 0]) == _brute_hv(pts, [0, 0, 0], 6)


def test_hypervolume_minimised_objective():
    pts = np.array([[0.9, 10.0], [0.5, 5.0]])  # maximise accuracy, minimise size; reference (0, 20)
    assert hypervolume(pts, maximize=[True, False], reference=[0.0, 20.0]) == pytest.approx(0.9 * 10 + 0.5 * 5)


def test_dominance_count():
    a = np.array([[2, 2], [0, 0]])
    b = np.array([[1, 1], [2, 2], [3, 0]])
    assert dominance_count(a, b, maximize=[True, True]) == 1
    assert dominance_count(b, a, maximize=[True, True]) == 3


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.tuples(
            st.lists(st.lists(st.integers(0, 3), min_size=k, max_size=k), max_size=12),
            st.lists(st.lists(st.integers(0, 3), min_size=k, max_size=k), max_size=12),
            st.lists(st.booleans(), min_size=k, max_size=k),
        )
    )
)
def test_dominance_count_matches_pairwise_dominates(case):
    """Blocked counting (PAIR_BLOCK of 5 pairs here, so blocks split) against `dominates` on every pair; ties included."""
    a, b, maximize = case
    k = len(maximize)
    a, b = np.array(a, dtype=float).reshape(-1, k), np.array(b, dtype=float).reshape(-1, k)
    expected = sum(dominates(x, y, maximize=maximize) for x in a for y in b)
    import pruneaudit.pareto as pareto

    block, pareto.PAIR_BLOCK = pareto.PAIR_BLOCK, 5
    try:
        assert dominance_count(a, b, maximize=maximize) == expected
    finally:
        pareto.PAIR_BLOCK = block
