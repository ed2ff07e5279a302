"""Pareto fronts, hypervolume and dominance over objective vectors.

Everything works on an (n, k) array of objective values plus a per-objective direction;
values are flipped internally so that larger is better. A point dominates another when it
is at least as good in every objective and strictly better in one; identical points do not
dominate each other, so both stay on the front (ties are deterministic, never random).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PAIR_BLOCK = 1 << 22  # (row of a, row of b) pairs compared at once by dominance_count: ~50 MB of booleans


def _oriented(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(maximize):
        raise ValueError(f"expected values of shape (n, {len(maximize)}), received {v.shape}")
    if np.isnan(v).any():
        raise ValueError("objective values must not be NaN; drop undefined candidates first")
    return np.where(np.asarray(maximize, dtype=bool), v, -v)


def pareto_mask(values: np.ndarray, *, maximize: Sequence[bool]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n, k).

    Rows are visited in lexicographically descending order, where a later row can never
    dominate an earlier one; each row still undominated culls the rows after it in one
    vectorised comparison. Work is O(n · front size · k).
    """
    v = _oriented(values, maximize)
    n = v.shape[0]
    order = np.lexsort(v.T[::-1])[::-1]  # descending lexicographic by column 0, then 1, …
    s = v[order]
    alive = np.ones(n, dtype=bool)
    for i in range(n):
        if not alive[i]:
            continue
        rest = s[i + 1 :]
        ge = np.all(s[i] >= rest, axis=1)
        gt = np.any(s[i] > rest, axis=1)
        alive[i + 1 :] &= ~(ge & gt)
    mask = np.empty(n, dtype=bool)
    mask[order] = alive
    return mask


def dominates(a: np.ndarray, b: np.ndarray, *, maximize: Sequence[bool]) -> bool:
    oa, ob = _oriented(np.atleast_2d(a), maximize)[0], _oriented(np.atleast_2d(b), maximize)[0]
    return bool(np.all(oa >= ob) and np.any(oa > ob))


def dominance_count(a: np.ndarray, b: np.ndarray, *, maximize: Sequence[bool]) -> int:
    """How many (row of a, row of b) pairs have the a-row dominating the b-row.

    A block of a's rows against all of b at a time, one 2-D comparison per objective (an axis of length
    k reduced per pair is ~100x slower): memory stays within ``PAIR_BLOCK`` pairs and two techniques of
    25,000 models each take about a second; the work is still |a|·|b|·k."""
    oa, ob = _oriented(a, maximize), _oriented(b, maximize)
    if not len(oa) or not len(ob):
        return 0
    columns = [np.ascontiguousarray(ob[:, j])[None, :] for j in range(ob.shape[1])]
    step = max(1, PAIR_BLOCK // len(ob))
    total = 0
    for start in range(0, len(oa), step):
        block = oa[start : start + step]
        ge = np.ones((len(block), len(ob)), dtype=bool)
        gt = np.zeros_like(ge)
        for j, column in enumerate(columns):
            ge &= block[:, j, None] >= column
            gt |= block[:, j, None] > column
        total += int(np.count_nonzero(ge & gt))
    return total


def _hv_max(points: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by ``points`` above ``ref`` (all objectives maximised).

    Exact, by slicing along the last objective (HSO): O(n^(k-1)) — meant for fronts of tens
    to hundreds of points, which is what audits produce.
    """
    pts = points[np.all(points > ref, axis=1)]
    if not len(pts):
        return 0.0
    k = pts.shape[1]
    if k == 1:
        return float(pts[:, 0].max() - ref[0])
    if k == 2:
        pts = pts[np.lexsort((-pts[:, 1], -pts[:, 0]))]  # x descending, then y descending
        area, best_y = 0.0, ref[1]
        for x, y in pts:
            if y > best_y:
                area += (x - ref[0]) * (y - best_y)
                best_y = y
        return float(area)
    levels = np.unique(pts[:, -1])[::-1]  # slice from the top of the last objective down
    volume = 0.0
    for i, top in enumerate(levels):
        bottom = levels[i + 1] if i + 1 < len(levels) else ref[-1]
        layer = pts[pts[:, -1] >= top][:, :-1]
        volume += _hv_max(layer, ref[:-1]) * (top - bottom)
    return float(volume)


def hypervolume(values: np.ndarray, *, maximize: Sequence[bool], reference: Sequence[float]) -> float:
    """Volume of objective space dominated by ``values`` and dominating ``reference``."""
    v = _oriented(values, maximize)
    ref = _oriented(np.atleast_2d(np.asarray(reference, dtype=np.float64)), maximize)[0]
    if not len(v):
        return 0.0
    return _hv_max(v[pareto_mask(v, maximize=[True] * v.shape[1])], ref)
