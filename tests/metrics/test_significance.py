import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from pruneaudit.metrics import benjamini_hochberg, holm, mcnemar_exact, normalised_population_ttest, population_ttest


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 1), (1, 0), (5, 5), (10, 2), (2, 10), (30, 12), (0, 25), (400, 350)])
def test_mcnemar_matches_scipy_and_statsmodels(b, c):
    p = mcnemar_exact(np.array([b]), np.array([c]))[0]
    want = stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert p == pytest.approx(want, rel=1e-12, abs=1e-300)
    if b + c:
        assert p == pytest.approx(mcnemar([[7, b], [c, 9]], exact=True).pvalue, rel=1e-12, abs=1e-300)


def test_mcnemar_vectorised_over_1000_classes(rng):
    b, c = rng.integers(0, 60, size=(2, 1000))
    want = [stats.binomtest(int(x), int(x + y), 0.5).pvalue if x + y else 1.0 for x, y in zip(b, c)]
    np.testing.assert_allclose(mcnemar_exact(b, c), want, rtol=1e-10)


@pytest.mark.parametrize("m", [1, 2, 10, 1000])
def test_corrections_match_statsmodels(rng, m):
    p = rng.random(m) ** 3  # skewed towards small p-values
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)


def test_corrections_skip_untested_classes():
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan])
    got_holm, got_bh = holm(p), benjamini_hochberg(p)
    ok = ~np.isnan(p)
    np.testing.assert_allclose(got_holm[ok], multipletests(p[ok], method="holm")[1])
    np.testing.assert_allclose(got_bh[ok], multipletests(p[ok], method="fdr_bh")[1])
    assert np.isnan(got_holm[~ok]).all() and np.isnan(got_bh[~ok]).all()


def test_corrections_with_ties():
    p = np.array([0.02, 0.02, 0.02, 0.5])
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])


def test_welch_matches_scipy(rng):
    dense = rng.normal(0.9, 0.02, size=(5, 50))
    pruned = rng.normal(0.85, 0.05, size=(7, 50))
    got = population_ttest(dense, pruned)
    want = stats.ttest_ind(pruned, dense, equal_var=False, axis=0)
    assert got.method == "welch"
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-10)
    np.testing.assert_allclose(got.pvalue, want.pvalue, rtol=1e-10)


def test_one_dense_model_uses_a_one_sample_test(rng):
    dense = rng.normal(0.9, 0.02, size=(1, 20))
    pruned = rng.normal(0.85, 0.05, size=(4, 20))
    got = population_ttest(dense, pruned)
    want = stats.ttest_1samp(pruned, dense[0], axis=0)
    assert got.method == "one-sample"
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-10)
    np.testing.assert_allclose(got.pvalue, want.pvalue, rtol=1e-10)


def test_degenerate_populations_are_undefined():
    got = population_ttest(np.array([[0.9, 0.8]]), np.array([[0.9, 0.7], [0.9, 0.7]]))
    assert np.isnan(got.pvalue).all()  # zero variance: no test
    single = population_ttest(np.array([[0.9]]), np.array([[0.8]]))
    assert np.isnan(single.pvalue).all()


def test_normalised_test_matches_scipy_on_recall_minus_mean_accuracy(rng):
    """Hooker et al.'s gen_tstatistic.py: ttest_ind(recall - mean accuracy) per population, Welch."""
    dense, pruned = rng.normal(0.9, 0.02, size=(3, 30)), rng.normal(0.85, 0.05, size=(4, 30))
    dense_acc, pruned_acc = rng.normal(0.9, 0.01, size=3), rng.normal(0.86, 0.01, size=4)
    got = normalised_population_ttest(
        dense_recall=dense, dense_accuracy=dense_acc, pruned_recall=pruned, pruned_accuracy=pruned_acc
    )
    want = stats.ttest_ind(pruned - pruned_acc.mean(), dense - dense_acc.mean(), equal_var=False, axis=0)
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-10)
    np.testing.assert_allclose(got.pvalue, want.pvalue, rtol=1e-10)


def test_a_class_that_lost_what_the_model_lost_is_not_flagged():
    """Every class falls by the accuracy drop (5 pp): raw recall flags all of them, the normalised test none."""
    noise = np.array([[0.01, -0.01, 0.0], [-0.01, 0.01, 0.0]])
    dense = np.array([[0.9, 0.8, 0.7]]).repeat(2, axis=0) + noise
    pruned = dense - 0.05 + noise[::-1] * 0.5
    dense_acc, pruned_acc = np.array([0.8, 0.8]), np.array([0.75, 0.75])
    raw = population_ttest(dense, pruned)
    norm = normalised_population_ttest(
        dense_recall=dense, dense_accuracy=dense_acc, pruned_recall=pruned, pruned_accuracy=pruned_acc
    )
    assert np.all(raw.statistic[:2] < 0)
    np.testing.assert_allclose(norm.statistic[:2], 0.0, atol=1e-9)
