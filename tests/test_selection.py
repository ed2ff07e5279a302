"""Operating-point policies on hand-made results whose answers are known."""

import pytest

from pruneaudit.errors import ConfigError
from pruneaudit.policy import Bound, Selection, parse_policy, parse_selection
from pruneaudit.results import with_blocks
from pruneaudit.selection import select, selected_model, verdicts
from tests.results_factory import model, view

R = view(
    model("a50", acc=0.95, worst=-0.01, sparsity=0.5),
    model("a70", acc=0.945, worst=-0.015, sparsity=0.7),
    model("a90", acc=0.943, worst=-0.08, sparsity=0.9, harmed=2),  # within 1 pp overall, one class loses 8 pp
    model("a95", acc=0.90, worst=-0.20, sparsity=0.95, harmed=5),
)


def test_accuracy_only_takes_the_sparsest_within_epsilon():
    s = select(R, Selection())
    assert s["picks"]["accuracy_only"]["model"] == "a90"


def test_fairness_aware_gives_up_sparsity_and_says_what_it_costs():
    s = select(R, Selection())
    assert s["picks"]["fairness_aware"]["model"] == "a70"
    price = s["price_of_fairness"]
    assert price["sparsity_given_up"] == pytest.approx(0.2)
    assert price["accuracy_pick_worst_class_drop"] == pytest.approx(0.08)
    assert price["accuracy_pick_harmed_significant_holm"] == 2
    assert selected_model(with_blocks(R, selection=s)) == "a70"


def test_infeasible_policy_names_the_closest_model():
    strict = Selection(fairness=(Bound("worst_class_drop", "max", 0.001),))
    s = select(R, strict)
    pick = s["picks"]["fairness_aware"]
    assert pick["model"] is None and not pick["feasible"]
    assert pick["closest"] == "a50" and "no model satisfies" in pick["reason"]
    assert s["price_of_fairness"]["exact"] is False
    assert selected_model(with_blocks(R, selection=s)) is None


def test_value_function_weights():
    only_sparsity = Selection(weights=(("sparsity", 1.0),))
    assert select(R, only_sparsity)["picks"]["value_function"]["model"] == "a95"
    only_worst = Selection(weights=(("worst_class_change", 1.0),))
    assert select(R, only_worst)["picks"]["value_function"]["model"] == "a50"


def test_knee_of_accuracy_sparsity_front():
    # front: (0.5, .95), (0.7, .945), (0.9, .943), (0.95, .90) -> the knee is a90 (flat, then a cliff)
    assert select(R, Selection())["picks"]["knee"]["model"] == "a90"
    tiny = view(model("x", acc=0.9, worst=0, sparsity=0.5), model("y", acc=0.8, worst=0, sparsity=0.9))
    pick = select(tiny, Selection())["picks"]["knee"]
    assert pick["model"] is None and "needs 3" in pick["reason"]


def test_ties_are_broken_by_accuracy_then_name():
    r = view(
        model("b", acc=0.949, worst=0, sparsity=0.8),
        model("a", acc=0.949, worst=0, sparsity=0.8),
        model("c", acc=0.95, worst=0, sparsity=0.8),
    )
    assert select(r, Selection())["picks"]["accuracy_only"]["model"] == "c"
    r = view(model("b", acc=0.949, worst=0, sparsity=0.8), model("a", acc=0.949, worst=0, sparsity=0.8))
    assert select(r, Selection())["picks"]["accuracy_only"]["model"] == "a"


def test_fronts_hypervolume_and_dominance_per_technique():
    r = view(
        model("g1", acc=0.95, worst=-0.01, sparsity=0.5, technique="global"),
        model("g2", acc=0.94, worst=-0.02, sparsity=0.9, technique="global"),
        model("r1", acc=0.93, worst=-0.05, sparsity=0.5, technique="random"),
        model("r2", acc=0.80, worst=-0.30, sparsity=0.9, technique="random"),
    )
    s = select(r, Selection())
    assert s["front"] == ["g1", "g2"]
    hv = {t["technique"]: t["hypervolume"] for t in s["techniques"]}
    assert hv["global"] > hv["random"]
    dom = {(d["technique"], d["over"]): d["pairs"] for d in s["dominance"]}
    assert dom[("global", "random")] == 3 and dom[("random", "global")] == 0  # g1>r1, g1>... g2>r2


def test_verdicts_in_plain_words():
    r = view(
        *(
            model(f"g{a}", acc=0.95, worst=-0.01 * a, sparsity=a / 10, technique="global", amount=a / 10)
            for a in (5, 7, 9)
        ),
        *(
            model(
                f"r{a}",
                acc=0.95,
                worst=-0.02 * a if a > 5 else -0.01,
                sparsity=a / 10,
                technique="random",
                amount=a / 10,
            )
            for a in (5, 7, 9)
        ),
    )
    lines = verdicts(list(r.pruned), metrics=("worst_class_change",))
    assert lines == [
        "global beats random on worst-class recall change at every amount ≥ 70% (70%, 90%) "
        "(mean difference +8.0 pp; one seed per amount: no interval)."
    ]


def test_verdict_intervals_resample_seeds_and_skip_mismatched_sparsity():
    """Two seeds a side: a bootstrap interval around the hand-computed mean difference; an amount where the
    techniques' measured sparsities differ (structured vs unstructured at one declared amount) is not compared."""
    from pruneaudit.selection import difference_interval

    cells = [([-0.01, -0.03], [-0.10, -0.12]), ([-0.02, -0.04], [-0.20, -0.16])]
    estimate, low, high = difference_interval(cells)
    assert estimate == pytest.approx(((-0.02 + 0.11) + (-0.03 + 0.18)) / 2)
    assert low < estimate < high and (low, high) == difference_interval(cells)[1:]  # fixed seed: repeatable
    assert difference_interval([([0.1], [0.0])])[1:] == (None, None)
    models = [
        model(f"{t}{a}{s}", acc=0.95, worst=w - 0.001 * s, sparsity=sp, technique=t, amount=a / 10)
        for t, w_of, sp_of in (
            ("u", lambda a: -0.01 * a, lambda a: a / 10),
            ("s", lambda a: -0.03 * a, lambda a: a / 20),
        )
        for a in (5, 7, 9)
        for s in (0, 1)
        for w, sp in ((w_of(a), sp_of(a)),)
    ]
    assert verdicts(list(view(*models).pruned), metrics=("worst_class_change",)) == []  # no amount is comparable


def test_selection_config_errors():
    with pytest.raises(ConfigError, match="unknown metric 'acuracy'; expected one of accuracy, balanced_accuracy"):
        parse_selection("s", {"prefer": "acuracy"})
    with pytest.raises(
        ConfigError, match="primary: expected one of accuracy_only, fairness_aware, value_function, knee"
    ):
        parse_selection("s", {"primary": "best"})
    with pytest.raises(ConfigError, match="unknown key 'epsilon'"):
        parse_selection("s", {"epsilon": 0.1})
    with pytest.raises(ConfigError, match="at least 2 objectives"):
        parse_selection("s", {"objectives": {"accuracy": "max"}})
    s = parse_selection(
        "s",
        {
            "objectives": {"accuracy": "max", "file_size_bytes": "min"},
            "fairness": [{"metric": "worst_class_drop", "max": 0.05}],
        },
    )
    assert s.objectives == (("accuracy", True), ("file_size_bytes", False))
    assert s.fairness[0].limit == 0.05


def test_policy_rule_errors():
    with pytest.raises(ConfigError, match="exactly one of 'max' or 'min'"):
        parse_policy({"rules": [{"metric": "accuracy", "max": 1, "min": 0}]}, where="p")
    with pytest.raises(ConfigError, match="scope must be one of all, selected"):
        parse_policy({"rules": [{"metric": "accuracy", "min": 0.9, "scope": "best"}]}, where="p")
    with pytest.raises(
        ConfigError, match="unknown key 'threshold'; expected one of metric, max, min, tolerance, name, scope"
    ):
        parse_policy({"rules": [{"metric": "accuracy", "threshold": 0.9}]}, where="p")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": [{"metric": ["accuracy"], "max": 1}]}, r"p: rules\[0\]\.metric: unknown metric \['accuracy'\]"),
        ({"rules": [{"metric": "accuracy", "min": 0.5, "name": ["x"]}]}, r"rules\[0\]\.name: expected text"),
        (
            {"rules": [{"metric": "accuracy", "min": 0.5, "scope": []}]},
            r"a non-empty list of model names; received \[\]",
        ),
        ({"rules": [{"metric": "accuracy", "min": 0.5, "scope": {"a": 1}}]}, r"received \{'a': 1\}"),
        ({"rules": [{"metric": "accuracy", "max": float("nan")}]}, r"rules\[0\]\.max: expected a finite number"),
        ({"rules": [{"metric": "accuracy", "max": float("inf")}]}, r"rules\[0\]\.max: expected a finite number"),
        ({"rules": [{"metric": "accuracy", "max": True}]}, r"rules\[0\]\.max: expected a finite number, received True"),
        ({"rules": {}}, r"p: 'rules' must be a list; received \{\}"),
        ({"baseline": []}, r"p: baseline: expected a mapping, received list"),
        ({"baseline": {"max_accuracy_regression": "x"}}, r"p: baseline\.max_accuracy_regression: expected a finite"),
        ({"selection": {"prefer": ["sparsity"]}}, r"selection\.prefer: unknown metric \['sparsity'\]"),
        ({"selection": {"weights": {"accuracy": float("nan")}}}, r"selection\.weights\.accuracy: expected a finite"),
        ({"selection": []}, r"p: selection: expected a mapping, received list"),
        ([], r"p: expected a mapping, received list"),
        (0, r"p: expected a mapping, received int"),
    ],
)
def test_policy_values_of_the_wrong_type(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_policy(raw, where="p")


def test_absent_policy_sections_take_the_defaults():
    policy = parse_policy({"rules": None, "baseline": None, "selection": None}, where="p")
    assert policy.rules == () and policy.baseline.max_accuracy_regression == 0.005
    assert policy.selection == Selection()
    assert parse_policy(None, where="p").selection is None


def test_pairwise_fronts_match_brute_force_dominance(sample_view):
    """Each pair of objectives' 2-D front, against every pair of candidates compared by hand."""
    from itertools import combinations

    from pruneaudit.pareto import dominates
    from pruneaudit.scalars import model_value
    from pruneaudit.selection import pairwise_fronts

    objectives = [(o.name, o.maximize) for o in sample_view.selection.objectives]
    candidates = [m for m in sample_view.pruned if all(model_value(m, n) is not None for n, _ in objectives)]
    fronts = pairwise_fronts(sample_view)
    assert set(fronts) == {(a, b) for (a, _), (b, _) in combinations(objectives, 2)}
    for (a, ma), (b, mb) in combinations(objectives, 2):
        point = {m.name: [model_value(m, a), model_value(m, b)] for m in candidates}
        expected = tuple(
            m.name
            for m in candidates
            if not any(dominates(point[o.name], point[m.name], maximize=[ma, mb]) for o in candidates)
        )
        assert fronts[(a, b)] == expected
