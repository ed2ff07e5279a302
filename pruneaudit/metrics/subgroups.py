"""Group ids for attribute values and for intersections of two attributes.

Grouped metrics reuse the count kernel with a group axis: one bincount gives every
group's confusion matrix at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class Grouping:
    name: str  # "sex" or "sex × age"
    labels: tuple[str, ...]  # one per group id, e.g. "F" or "F × 30-39"
    ids: np.ndarray  # (N,) group id per sample, in [0, len(labels))


def _encode(values: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    uniques, ids = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return tuple(str(u) for u in uniques), ids.astype(np.int64).ravel()


def groupings(attributes: dict[str, np.ndarray]) -> list[Grouping]:
    """One grouping per attribute, then one per pair of attributes (only non-empty cells)."""
    encoded = {name: _encode(values) for name, values in sorted(attributes.items())}
    out = [Grouping(name=name, labels=labels, ids=ids) for name, (labels, ids) in encoded.items()]
    for a, b in combinations(sorted(encoded), 2):
        (la, ia), (lb, ib) = encoded[a], encoded[b]
        combined = ia * len(lb) + ib
        present, ids = np.unique(combined, return_inverse=True)
        labels = tuple(f"{la[c // len(lb)]} × {lb[c % len(lb)]}" for c in present)
        out.append(Grouping(name=f"{a} × {b}", labels=labels, ids=ids.astype(np.int64).ravel()))
    return out
