import numpy as np
from scipy import stats

from pruneaudit.metrics import disagreement, modal_prediction, pie_mask, rank_pies


def test_modal_prediction_matches_scipy_mode_with_ties_to_lowest(rng):
    preds = rng.integers(0, 4, size=(5, 2000))
    want = stats.mode(preds, axis=0, keepdims=False).mode  # scipy breaks ties to the smallest value
    np.testing.assert_array_equal(modal_prediction(preds), want)
    two = rng.integers(0, 10, size=(2, 500))  # every disagreement is a tie
    np.testing.assert_array_equal(modal_prediction(two), np.minimum(two[0], two[1]))


def test_pies_follow_hookers_definition():
    dense = np.array([[0, 1, 2, 3], [0, 1, 2, 2], [0, 1, 1, 3]])  # modes: 0 1 2 3
    pruned = np.array([[0, 2, 2, 1], [0, 2, 1, 1], [1, 1, 2, 3]])  # modes: 0 2 2 1
    assert pie_mask(dense, pruned).tolist() == [False, True, False, True]
    single = pie_mask(np.array([[0, 1, 2]]), np.array([[0, 2, 2]]))
    assert single.tolist() == [False, True, False]


def test_ranking_is_by_fragility_then_index():
    dense = np.array([0, 0, 0, 0, 0])
    pruned = np.array([[1, 0, 1, 1, 0], [1, 0, 0, 1, 0], [0, 0, 0, 1, 0]])
    frag = disagreement(dense, pruned)
    assert frag.tolist() == [2, 0, 1, 3, 0]
    mask = np.array([True, True, True, True, False])
    assert rank_pies(mask, frag, limit=3).tolist() == [3, 0, 2]
