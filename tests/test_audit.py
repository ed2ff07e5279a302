"""The audit's statistics on real model outputs, checked against independent computations."""

import base64
import json
import zlib

import numpy as np
import pandas as pd
import pytest
import torch
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score, recall_score, top_k_accuracy_score

from pruneaudit.results import load_raw, stored_files
from tests.conftest import DATA, SAMPLES, run_cli

PRUNED = ("global-95", "random-90-s0", "random-90-s1")


@pytest.fixture(scope="module")
def attributed(tmp_path_factory):
    """600 test digits with two attributes, audited through a config file."""
    d = np.load(DATA)
    keep = np.flatnonzero(d["split"] == 1)[:600]
    images, labels = d["images"][keep], d["labels"][keep]
    ink = images.reshape(len(keep), -1).mean(axis=1)
    stroke = np.where(
        ink < np.quantile(ink, 1 / 3), "light", np.where(ink < np.quantile(ink, 2 / 3), "medium", "heavy")
    )
    half = np.where(np.arange(len(keep)) % 2 == 0, "even", "odd")
    root = tmp_path_factory.mktemp("attributed")
    np.savez(root / "digits.npz", images=images, labels=labels, stroke=stroke, half=half)
    lines = [
        "data: {path: digits.npz, attributes: [stroke, half]}",
        f"dense: {{path: {SAMPLES / 'torchscript' / 'dense.pt'}}}",
        "pruned:",
    ]
    for name in PRUNED:
        technique, amount = ("global_l1", 0.95) if name.startswith("global") else ("random_unstructured", 0.9)
        lines.append(
            f"  - {{name: {name}, path: {SAMPLES / 'torchscript' / name}.pt, technique: {technique}, amount: {amount}}}"
        )
    (root / "audit.yaml").write_text("\n".join(lines) + "\n")
    # on the CPU: the oracles below recompute predictions with torch on the CPU
    result = run_cli(
        ["audit", "--quiet", "--device", "cpu", "--config", str(root / "audit.yaml"), "--out", str(root / "out")]
    )
    assert result.exit_code == 0, result.output
    logits = {}
    x = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)
    for name in ("dense", *PRUNED):
        model = torch.jit.load(str(SAMPLES / "torchscript" / f"{name}.pt"))
        with torch.inference_mode():
            logits[name] = model(x).numpy()
    results = load_raw(root / "out" / "results.json")
    return results, labels, {"stroke": stroke, "half": half}, logits


def test_top5_matches_sklearn(attributed):
    results, labels, _, logits = attributed
    for m in results["models"]:
        want = top_k_accuracy_score(labels, logits[m["name"]], k=5, labels=list(range(10)))
        assert m["metrics"]["top5_accuracy"] == pytest.approx(want)


def test_subgroups_match_fairlearn(attributed):
    results, labels, attrs, logits = attributed
    preds = {k: v.argmax(1) for k, v in logits.items()}
    by = {(g["grouping"], g["group"], g["model"]): g for g in results["subgroups"]}
    features = {
        "half": attrs["half"],
        "stroke": attrs["stroke"],
        "half × stroke": np.char.add(np.char.add(attrs["half"], " × "), attrs["stroke"]),
    }
    assert {k[0] for k in by} == set(features)
    for grouping, feature in features.items():
        dense = MetricFrame(
            metrics=accuracy_score, y_true=labels, y_pred=preds["dense"], sensitive_features=pd.Series(feature)
        ).by_group
        for name in PRUNED:
            pruned = MetricFrame(
                metrics=accuracy_score, y_true=labels, y_pred=preds[name], sensitive_features=pd.Series(feature)
            ).by_group
            for group in dense.index:
                row = by[(grouping, group, name)]
                assert row["dense_accuracy"] == pytest.approx(dense[group])
                assert row["pruned_accuracy"] == pytest.approx(pruned[group])
                assert row["accuracy_change"] == pytest.approx(pruned[group] - dense[group])
                sel = feature == group
                assert row["n_samples"] == int(sel.sum())
                labels_list = list(range(10))
                want = recall_score(
                    labels[sel], preds[name][sel], labels=labels_list, average=None, zero_division=np.nan
                )
                want -= recall_score(
                    labels[sel], preds["dense"][sel], labels=labels_list, average=None, zero_division=np.nan
                )
                np.testing.assert_allclose(
                    np.array(row["per_class"]["recall_change"], dtype=float), want, equal_nan=True, atol=1e-12
                )
                assert row["per_class"]["support"] == np.bincount(labels[sel], minlength=10).tolist()
                assert row["changed_predictions"] == int((preds[name][sel] != preds["dense"][sel]).sum())


def _decode_png(uri: str) -> np.ndarray:
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    idat_len = int.from_bytes(raw[33:37], "big")
    assert raw[37:41] == b"IDAT"
    data = zlib.decompress(raw[41 : 41 + idat_len])
    rows = np.frombuffer(data, dtype=np.uint8).reshape(h, w + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


def test_pies_follow_the_population_definition(attributed):
    results, labels, _, logits = attributed
    preds = {k: v.argmax(1) for k, v in logits.items()}
    configs = {(c["technique"], c["amount"]): c for c in results["configurations"]}
    random = configs[("random_unstructured", 0.9)]
    assert random["models"] == ["random-90-s0", "random-90-s1"]
    pop = np.stack([preds["random-90-s0"], preds["random-90-s1"]])
    modal = np.where(pop[0] == pop[1], pop[0], np.minimum(pop[0], pop[1]))  # two seeds: ties → lowest
    mask = modal != preds["dense"]
    assert random["pie_count"] == int(mask.sum())
    assert random["population_test"]["method"] == "one-sample"
    fragility = sum((preds[n] != preds["dense"]).astype(int) for n in PRUNED)
    shown = random["top_pies"]
    assert 0 < len(shown) <= results["settings"]["top_pies"]
    assert [p["fragility"] for p in shown] == sorted((p["fragility"] for p in shown), reverse=True)
    d = np.load(DATA)
    images = d["images"][np.flatnonzero(d["split"] == 1)[:600]]
    for p in shown:
        i = p["index"]
        assert mask[i] and p["label"] == labels[i] and p["dense_pred"] == preds["dense"][i]
        assert p["pruned_pred"] == modal[i] and p["fragility"] == fragility[i]
        np.testing.assert_array_equal(_decode_png(p["thumbnail"]), images[i])


def test_significance_and_intervals_on_real_predictions(attributed):
    from scipy.stats import binomtest
    from statsmodels.stats.multitest import multipletests

    results, labels, _, logits = attributed
    dense_ok = logits["dense"].argmax(1) == labels
    m = next(m for m in results["models"] if m["name"] == "global-95")
    pruned_ok = logits["global-95"].argmax(1) == labels
    pc = m["vs_dense"]["per_class"]
    want = []
    for c in range(10):
        sel = labels == c
        b = int((dense_ok & ~pruned_ok)[sel].sum())
        k = int((~dense_ok & pruned_ok)[sel].sum())
        assert (pc["dense_only"][c], pc["pruned_only"][c]) == (b, k)
        want.append(binomtest(b, b + k).pvalue if b + k else 1.0)
    np.testing.assert_allclose(pc["mcnemar_p"], want, rtol=1e-10)
    np.testing.assert_allclose(pc["mcnemar_p_holm"], multipletests(want, method="holm")[1], rtol=1e-10)
    holm_harmed = sum(
        1 for c in range(10) if pc["mcnemar_p_holm"][c] < 0.05 and pc["dense_only"][c] > pc["pruned_only"][c]
    )
    assert m["vs_dense"]["harmed_significant_holm"] == holm_harmed
    for c in range(10):
        assert pc["recall_change_ci"]["low"][c] <= pc["recall_change"][c] <= pc["recall_change_ci"]["high"][c]


def test_population_test_is_hookers_normalised_welch_test(sample_results):
    """audit.yaml lists a second dense seed: each configuration's seeds get Hooker et al.'s test, Welch's
    t-test on class recall minus the population's mean top-1 accuracy (their gen_tstatistic.py)."""
    from scipy import stats
    from sklearn.metrics import accuracy_score, recall_score

    d = np.load(DATA)
    keep = d["split"] == 1
    x = torch.from_numpy(d["images"][keep].astype(np.float32) / 255).unsqueeze(1)
    y = d["labels"][keep]

    def recall_and_accuracy(name):
        with torch.inference_mode():
            pred = torch.jit.load(str(SAMPLES / "torchscript" / f"{name}.pt"))(x).argmax(1).numpy()
        return recall_score(y, pred, labels=list(range(10)), average=None), accuracy_score(y, pred)

    def population(*names):
        rows = [recall_and_accuracy(n) for n in names]
        return np.stack([r for r, _ in rows]), np.array([a for _, a in rows])

    dense, dense_acc = population("dense", "dense-s1")
    tests = {c["models"][0]: c["population_test"] for c in sample_results["configurations"] if c["population_test"]}
    for amount in (50, 80, 90):
        pruned, pruned_acc = population(f"random-{amount}-s0", f"random-{amount}-s1")
        want = stats.ttest_ind(pruned - pruned_acc.mean(), dense - dense_acc.mean(), equal_var=False, axis=0)
        test = tests[f"random-{amount}-s0"]
        assert test["method"] == "welch"
        # zero variance in both populations: scipy says ±inf, results.json null (docs/metrics.md)
        finite = np.isfinite(want.statistic)
        statistic = np.array(test["statistic"], dtype=float)
        assert np.isnan(statistic[~finite]).all()
        np.testing.assert_allclose(statistic[finite], want.statistic[finite], rtol=1e-9)
        np.testing.assert_allclose(np.array(test["pvalue"], dtype=float)[finite], want.pvalue[finite], rtol=1e-9)
        np.testing.assert_allclose(test["mean_recall_change"], pruned.mean(0) - dense.mean(0), atol=1e-12)
        assert test["significant"] == int((want.pvalue[finite] < 0.05).sum())  # undefined is not significant
    # On the sample models (sample_models/sweep.yaml): random-50 flags no class (smallest p 0.151),
    # random-80 flags class 1 only, random-90 classes 1 and 6.
    p50 = np.array(tests["random-50-s0"]["pvalue"], dtype=float)
    assert tests["random-50-s0"]["significant"] == 0 and round(float(np.nanmin(p50)), 3) == 0.151
    p80 = np.array(tests["random-80-s0"]["pvalue"], dtype=float)
    assert np.flatnonzero(p80 < 0.05).tolist() == [1]
    p90 = np.array(tests["random-90-s0"]["pvalue"], dtype=float)
    assert np.flatnonzero(p90 < 0.05).tolist() == [1, 6]
    # one-shot global L1 is its own technique, never pooled with the fine-tuned global-50 as a seed
    assert "global-50" not in tests and "oneshot-global-50" not in tests
    assert sample_results["dense_seeds"][0]["name"] == "dense-s1"


def test_subgroup_results_validate_against_the_schema(attributed):
    import jsonschema

    from tests.test_schema import SCHEMA

    results = attributed[0]
    assert results["subgroups"]
    stored = json.loads(stored_files(results)["results.json"])  # as written: the bulk arrays in its tables
    jsonschema.validate(stored, SCHEMA, cls=jsonschema.Draft202012Validator)
