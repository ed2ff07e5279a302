"""Write docs/findings.md: what pruning did to the sample model, class by class, from one audit's results.

Every number and every comparison in the document is computed here from results.json (read through
the typed view, so the per-class arrays come back from per_class.parquet) and, with --sweep, from the
sweep's manifest.json (training class counts) and timings.json (cost). Nothing is pre-written: a
sentence that compares techniques is built from the values it compares.
Run: .venv/bin/python benchmarks/findings.py REPORT/results.json [--sweep SWEEP_DIR] > docs/findings.md
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pruneaudit.report.text import p_phrase
from pruneaudit.results import Results, load_results

COMMANDS = (  # what `make findings` runs (Makefile); shown verbatim so the document says how to remake it
    "pruneaudit prune --config benchmarks/findings.yaml --out build/findings-sweep --jobs 2",
    "pruneaudit audit --config build/findings-sweep/audit.yaml --out build/findings-report --quiet",
    "python benchmarks/findings.py build/findings-report/results.json --sweep build/findings-sweep "
    "--mitigation build/mitigate-l1-90 > docs/findings.md",
)
MITIGATION_COMMANDS = (  # the Mitigation section's own inputs, from the committed sample models (make findings runs them)
    "pruneaudit audit --config sample_models/audit.yaml --out build/sample-report --quiet",
    "pruneaudit mitigate --config sample_models/sweep.yaml --results build/sample-report/results.json "
    "--model l1-90 --out build/mitigate-l1-90 --quiet",
    "pruneaudit audit --config build/mitigate-l1-90/audit.yaml --out build/mitigate-l1-90/report --quiet",
)


def pp(value: float | None) -> str:
    """A change in percentage points, one decimal, signed; no "-0.0", "n/a" when undefined."""
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{100 * value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def pct(value: float, digits: int = 1) -> str:
    """A fraction as a percentage with fixed decimals (sparsities, shares, top-1)."""
    return f"{100 * value:.{digits}f}%"


def amt(value: float) -> str:
    """A declared amount as the config wrote it, as a percentage (50%, 95%, 97.5%)."""
    return f"{100 * value:.4g}%"


def spread(values: pd.Series, fmt: Any = pp) -> str:
    """Mean over the defined seeds and, where they differ in the digits shown, their min..max."""
    v = values.dropna()
    if v.empty:
        return "n/a"
    low, high = fmt(float(v.min())), fmt(float(v.max()))
    if low == high:  # one seed, or seeds that agree to the digits shown
        return fmt(float(v.mean()))
    return f"{fmt(float(v.mean()))} ({low}..{high})"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table; a "|" in a cell (a class name, a model name) is escaped so it cannot split the row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]


def frame(results: Results) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per pruned model with the scalars the sections use, and each model's per-class recall change.

    Undefined values (JSON null) become NaN, so pandas' means and ranges skip them.
    """
    rows, recall = [], {}
    for m in results.pruned:
        d = m.vs_dense
        worst = d.worst_class_change
        rows.append(
            {
                "name": m.name,
                "label": m.technique_label,  # rewound variants declare `<technique>+lr_rewinding`
                "amount": m.amount,
                "sparsity": m.facts.sparsity,
                "finetune_epochs": m.metadata.get("finetune_epochs"),
                "accuracy_change": d.accuracy_change,
                "worst_change": worst.value,
                "worst_class": worst.class_name,
                "worst_index": worst.index,
                "harmed": d.harmed,
                "harmed_holm": d.harmed_significant_holm,
                "excess_gap_spread": d.excess_gap_spread,
                "alpha": d.intensification,
            }
        )
        recall[m.name] = np.array([np.nan if v is None else v for v in d.per_class.recall_change], dtype=float)
    floats = ("amount", "accuracy_change", "worst_change", "excess_gap_spread", "alpha")
    return pd.DataFrame(rows).astype(dict.fromkeys(floats, float)), recall


def configurations(df: pd.DataFrame) -> list[tuple[str, float, pd.DataFrame]]:
    """The (label, declared amount) groups of seeds, sorted; models without a declared amount are left out."""
    declared = df.dropna(subset=["amount"])
    return [(lab, float(a), g) for (lab, a), g in declared.groupby(["label", "amount"], sort=True)]


def modal_class(g: pd.DataFrame) -> str:
    """The worst class named by most seeds (ties: lowest class index), with how many seeds name it."""
    counts = Counter(zip(g["worst_index"], g["worst_class"]))
    (_, name), n = min(counts.items(), key=lambda kv: (-kv[1], kv[0][0]))
    return f"{'n/a' if name is None else name} ({n}/{len(g)})"


def highest(df: pd.DataFrame, recall: dict[str, np.ndarray]) -> dict[str, tuple[float, np.ndarray]]:
    """Per label, its highest declared amount and the mean recall change per class over that amount's seeds."""
    out = {}
    for lab, g in df.dropna(subset=["amount"]).groupby("label", sort=True):
        top = g[g["amount"] == g["amount"].max()]
        stack = np.vstack([recall[n] for n in top["name"]])
        defined = ~np.isnan(stack)
        mean = np.where(defined.any(0), np.nansum(stack, 0) / np.maximum(defined.sum(0), 1), np.nan)
        out[lab] = (float(top["amount"].iloc[0]), mean)
    return out


def section_made(results: Results, df: pd.DataFrame) -> list[str]:
    """Section 1: how to remake the document and what it was made from."""
    data, dense = results.data, results.dense
    top1 = dense.metrics.accuracy
    split = "every row" if data.split is None else f"split {data.split}"
    lines = ["## How this was made", "", "`make findings` runs:", "", "```", *COMMANDS, "```", ""]
    lines.append(
        f"Evaluation data: `{data.file}`, {split}: {data.n_samples:,} images, {data.n_classes} classes. "
        f"Dense model `{dense.name}`: top-1 {'n/a' if top1 is None else pct(top1, 2)}. "
        f"{len(df)} pruned variants."
    )
    rows = []
    for lab, g in df.groupby("label", sort=True):
        seeds = sorted({len(s) for _, s in g.groupby("amount", dropna=False)})
        amounts = ", ".join(amt(a) for a in sorted(g["amount"].dropna().unique()))
        epochs = ", ".join(str(e) for e in sorted({e for e in g["finetune_epochs"] if e is not None}))
        rows.append([lab, str(len(g)), amounts or "n/a", "–".join(map(str, seeds)), epochs or "n/a"])
    lines += ["", *table(["technique", "variants", "amounts", "seeds per configuration", "fine-tuning epochs"], rows)]
    undeclared = int(df["amount"].isna().sum())
    if undeclared:
        lines += ["", f"{undeclared} variant(s) declare no amount and are left out of the per-amount tables."]
    return lines


def section_harm(results: Results, df: pd.DataFrame, recall: dict[str, np.ndarray]) -> list[str]:
    """Section 2: the per-configuration harm table, then the per-class changes at each technique's highest amount."""
    tol = pp(results.settings.tolerance).lstrip("+")
    rows = [
        [
            lab,
            amt(amount),
            spread(g["sparsity"], pct),
            spread(g["accuracy_change"]),
            spread(g["worst_change"]),
            modal_class(g),
            f"{g['harmed'].mean():.1f}",
            f"{g['harmed_holm'].mean():.1f}",
            spread(g["excess_gap_spread"]),
        ]
        for lab, amount, g in configurations(df)
    ]
    header = ["technique", "amount", "measured sparsity", "top-1 change (pp)", "worst-class change (pp)"]
    header += ["worst class (seeds)", f"harmed (> {tol} pp)", "significantly harmed (Holm)", "excess-gap spread (pp)"]
    lines = ["## Per-class harm against sparsity, per technique", ""]
    lines += [
        "Changes are pruned − dense in percentage points: mean over seeds (min..max where the seeds differ). "
        "Harmed: classes whose recall "
        f"fell by more than the tolerance ({tol} pp), mean over seeds; significantly harmed: McNemar, Holm-corrected, "
        f"p < {results.settings.alpha:g}.",
        "",
        *table(header, rows),
    ]
    top = highest(df, recall)
    if not top:
        return lines
    names = results.data.class_names
    cols = list(top)
    body = [[c] + [pp(top[lab][1][i]) for lab in cols] for i, c in enumerate(names)]
    lines += ["", "Mean recall change per class (pp) at each technique's highest amount:", ""]
    lines += table(["class", *(f"{lab} @ {amt(top[lab][0])}" for lab in cols)], body) + [""]
    hurt = {}
    for lab in cols:
        mean = top[lab][1]
        if np.all(np.isnan(mean)):
            continue
        i = int(np.nanargmin(mean))  # first minimum: ties go to the lowest class index
        hurt[lab] = names[i]
        lines.append(f"- {lab} at {amt(top[lab][0])} hurts class {names[i]} most ({pp(mean[i])} pp).")
    for name, n in sorted(Counter(hurt.values()).items(), key=lambda kv: (-kv[1], names.index(kv[0]))):
        if n > 1:
            lines += ["", f"Class {name} is the class hurt most by {n} of {len(hurt)} techniques."]
    return lines


def ranking(means: pd.DataFrame, column: str) -> list[str]:
    """Labels from best to worst by a seed-mean column (higher is better; ties by label)."""
    return [lab for lab, _ in sorted(means[column].items(), key=lambda kv: (-kv[1], kv[0]))]


def section_fronts(results: Results, df: pd.DataFrame) -> list[str]:
    """Section 3: the selection's fronts and verdicts as the results give them, then per-amount rankings."""
    lines = ["## Technique fronts", ""]
    sel = results.selection
    labels = dict(zip(df["name"], df["label"]))
    if sel is None:
        lines.append("The results carry no selection block (no fronts were computed).")
    else:
        objectives = ", ".join(f"{o.name} ({'max' if o.maximize else 'min'})" for o in sel.objectives)
        lines.append(f"Front over {objectives}: {len(sel.front)} of {len(df)} variants.")
        lines.append("")
        by_name = df.set_index("name")
        rows = [[n, labels[n], *(pp(by_name.at[n, k]) for k in ("accuracy_change", "worst_change"))] for n in sel.front]
        lines += table(["model", "technique", "top-1 change (pp)", "worst-class change (pp)"], rows)
        lines += ["", "Per technique:", ""]
        rows = [[t.technique, f"{len(t.front)} of {len(t.models)}", f"{t.hypervolume:.3f}"] for t in sel.techniques]
        lines += table(["technique", "on its own front", "hypervolume (scaled objectives)"], rows)
        if sel.dominance:
            pairs = {(d.technique, d.over): f"{d.pairs} of {d.of}" for d in sel.dominance}
            names = sorted({d.technique for d in sel.dominance} | {d.over for d in sel.dominance})
            lines += ["", "Dominance: pairs (row model, column model) in which the row's model dominates:", ""]
            rows = [[a] + [pairs.get((a, b), "–") for b in names] for a in names]
            lines += table(["technique", *names], rows)
        if sel.verdicts:
            lines += ["", "Verdicts, as the selection states them:", "", *(f"- {v}" for v in sel.verdicts)]
    lines += ["", "Per amount, techniques ranked by seed-mean change (best first):", ""]
    declared = df.dropna(subset=["amount"])
    for amount, g in declared.groupby("amount", sort=True):
        means = g.groupby("label")[["accuracy_change", "worst_change", "sparsity"]].mean().dropna()
        if len(means) < 2:
            continue
        low, high = pct(means["sparsity"].min()), pct(means["sparsity"].max())
        measured = "" if low == high else f" (measured sparsity differs: {low} to {high})"
        by_acc, by_worst = ranking(means, "accuracy_change"), ranking(means, "worst_change")
        best, worst = by_worst[0], by_worst[-1]
        text = (
            f"- {amt(amount)}{measured}: best worst-class change {best} ({pp(means.at[best, 'worst_change'])} pp), "
            f"worst {worst} ({pp(means.at[worst, 'worst_change'])} pp). By top-1: {', '.join(by_acc)}; "
            f"by worst-class change: {', '.join(by_worst)}."
        )
        acc, wc = means["accuracy_change"], means["worst_change"]
        flips = [
            f"{a} vs {b}" for i, a in enumerate(by_acc) for b in by_acc[i + 1 :] if acc[a] > acc[b] and wc[a] < wc[b]
        ]
        lines.append(text + (f" The rankings disagree on {'; '.join(flips)}." if flips else " The rankings agree."))
    return lines


def section_alpha(df: pd.DataFrame) -> list[str]:
    """Section 4: intensification α per configuration, and where it exceeds 1."""
    lines = ["## Intensification (α)", ""]
    lines.append(
        "α = Σ B̄_c,dense·B̄_c,pruned / Σ B̄_c,dense² with B̄_c = (recall_c − top-1)/top-1 (Good et al. 2022); "
        "α > 1: pruning amplifies the dense model's imbalance between classes. α is undefined (null in "
        "results.json) when Σ B̄_c,dense² = 0 over the classes where both biases are defined (every class's dense "
        "recall equals its top-1, or no class has both, e.g. a model with top-1 0); undefined seeds are left out "
        "of the mean and range and counted below."
    )
    rows, above, some, undefined = [], [], [], []
    for lab, amount, g in configurations(df):
        a = g["alpha"].dropna()
        rows.append([lab, amt(amount), spread(g["sparsity"], pct), spread(g["alpha"], lambda v: f"{v:.2f}")])
        name = f"{lab} at {amt(amount)}"
        if len(a) < len(g):
            undefined.append(f"{name} ({len(g) - len(a)} of {len(g)})")
        if len(a) and (a > 1).all():
            above.append(name)
        elif (a > 1).any():
            some.append(f"{name} ({int((a > 1).sum())} of {len(a)})")
    lines += ["", *table(["technique", "amount", "measured sparsity", "α mean (min..max)"], rows), ""]
    lines.append(f"- α > 1 in every seed: {', '.join(above) or 'none'}.")
    lines.append(f"- α > 1 in some seeds only: {', '.join(some) or 'none'}.")
    lines.append(f"- α undefined: {', '.join(undefined) or 'none'}.")
    return lines


def section_representation(
    results: Results, df: pd.DataFrame, recall: dict[str, np.ndarray], counts: tuple[int, ...] | None, source: str
) -> list[str]:
    """Section 5: does a class's share of the training set rank with how much it lost at the highest amount?"""
    lines = ["## Representation", ""]
    if counts is None:
        return lines + [
            "The results carry no training class counts (`data.train_class_counts`), and no sweep manifest "
            "gave them: this analysis needs them."
        ]
    names = results.data.class_names
    share = np.asarray(counts, dtype=float) / max(sum(counts), 1)
    lo, hi = int(np.argmin(share)), int(np.argmax(share))
    lines.append(
        f"Training images per class (from {source}): {sum(counts):,} in all; shares from {pct(share[lo])} (class {names[lo]}) to "
        f"{pct(share[hi])} (class {names[hi]}). Spearman's ρ between a class's share and its mean recall change "
        "at the technique's highest amount (ρ > 0: better-represented classes lost less):"
    )
    rows = []
    level = results.settings.alpha
    for lab, (amount, mean) in highest(df, recall).items():
        ok = ~np.isnan(mean)
        if ok.sum() < 3 or np.ptp(mean[ok]) == 0 or np.ptp(share[ok]) == 0:
            rows.append([lab, amt(amount), str(int(ok.sum())), "undefined", "n/a", "n/a"])
            continue
        rho, p = spearmanr(share[ok], mean[ok])
        rows.append([lab, amt(amount), str(int(ok.sum())), f"{rho:+.2f}", f"{p:.3g}", "yes" if p < level else "no"])
    return lines + ["", *table(["technique", "amount", "classes", "ρ", "p", f"p < {level:g}"], rows)]


def section_cost(results: Results, df: pd.DataFrame, timings: dict[str, float] | None) -> list[str]:
    """Section 6: seconds each variant took to make, by technique, from the sweep's timings.json."""
    lines = ["## Cost", ""]
    if timings is None:
        return lines + ["No sweep timings were given (`--sweep DIR` with a timings.json)."]
    dense = [results.dense.name, *(s.name for s in results.dense_seeds)]
    labels = {**dict.fromkeys(dense, "dense"), **dict(zip(df["name"], df["label"]))}
    t = pd.DataFrame({"label": [labels.get(n, n) for n in timings], "seconds": list(timings.values())})
    rows = [
        [lab, str(len(g)), f"{g['seconds'].mean():.1f}", f"{g['seconds'].sum():.1f}"]
        for lab, g in t.groupby("label", sort=True)
    ]
    lines.append(
        "Seconds per model as timings.json records them (each model's own time; with several jobs they overlap, "
        "so the wall time of the sweep is shorter than the total)."
    )
    lines += ["", *table(["technique", "models", "mean s per model", "total s"], rows), ""]
    return lines + [f"Total: {t['seconds'].sum():.1f} s for {len(t)} models."]


def _paired(made: dict[str, dict[str, Any]], method: str, half: float) -> str | None:
    """The verdict of the paired test against the control (same held-out images of the harmed classes, as mitigate
    measured it); None for a mitigation written before it was measured."""
    v = next((m.get("vs_control") for m in made.values() if m["method"] == method), None)
    if v is None:
        return None
    if v["p"] < 0.05:
        said = "it helped beyond" if v["method_only"] > v["control_only"] else "it did worse than"
    else:
        said = "not told apart from"
    return (
        f"Paired with the control on the harmed classes' {v['images']:,} held-out images, {v['method_only']} are "
        f"right only with `{method}` and {v['control_only']} only with the control (exact McNemar {p_phrase(v['p'])}): {said} "
        f"more fine-tuning alone. A class's 95% interval (median half-width {pp(half).lstrip('+')} pp) is too wide "
        "to show a difference this small; pairing leaves out the images both models get right or both get wrong."
    )


def section_mitigation(reaudit: Results, mitigation: dict[str, Any]) -> list[str]:
    """Section 7: a pruned model fine-tuned again, mask held, for its harmed classes; graded on the held-out split.

    ``reaudit``: the audit of the mitigation folder's audit.yaml; ``mitigation``: its mitigation.json.
    """
    harm, splits, source = mitigation["harmed"], mitigation["splits"], mitigation["source"]["name"]
    classes, names = harm["classes"], reaudit.data.class_names
    made = {m["name"]: m for m in mitigation["models"]}
    tol = pp(harm["tolerance"]).lstrip("+")
    t = mitigation["training"]
    where = f"`{splits['harm']['file']}`, " + (
        "every row" if splits["harm"]["split"] is None else f"split {splits['harm']['split']}"
    )
    carved = splits["heldout"]["carved_from"]
    lines = ["## Mitigation", "", "`make findings` also runs, from the committed sample models:", ""]
    lines += ["```", *MITIGATION_COMMANDS, "```", ""]
    lines.append(
        f"Which split did what. The audit of {where} ({splits['harm']['images']:,} images) chose the classes: rule "
        f"`{harm['rule']}` ({harm['definition']}; tolerance {tol} pp) names classes "
        + ", ".join(
            f"{n} ({pp(d)} pp, ψ {pp(e)} pp)"
            for n, d, e in zip(harm["class_names"], harm["recall_change"], harm["excess_gap"])
        )
        + f" of {source} (recall change, excess gap). Each method fine-tunes {source} {t['epochs']} more epochs "
        f"({t['optimizer']} lr {t['lr']:g} {t['schedule']}, the variant's own settings; the same batches for every "
        f"method), its mask held, on {splits['finetune']['images']:,} images of `{carved['file']}` split "
        f"{carved['split']}; the other {splits['heldout']['images']:,} (a stratified fifth, `{splits['heldout']['file']}`) "
        "are held out, and every number below is the re-audit on them. The sweep trained the dense model and "
        f"fine-tuned {source} on the whole of split {carved['split']}, so these images are new to the mitigation "
        f"only: the dense model scores {pct(reaudit.dense.metrics.accuracy, 1)} on them."
    )
    rows, by_method = [], {}
    for m in reaudit.pruned:
        d, pc = m.vs_dense, m.vs_dense.per_class
        entry = made.get(m.name)
        method = "none (as pruned)" if entry is None else entry["method"]
        worst = d.worst_class_change
        ci = f"[{pp(pc.recall_change_ci.low[worst.index])}, {pp(pc.recall_change_ci.high[worst.index])}]"
        on_harmed = float(np.mean([pc.recall_change[c] for c in classes]))
        psi = max(pc.excess_gap[c] for c in classes)
        by_method[method] = {"top1": m.metrics.accuracy, "worst": worst, "harmed": on_harmed, "ci": pc.recall_change_ci}
        rows.append(
            [
                m.name,
                method,
                "–" if entry is None else str(entry["epochs"]),
                "–" if entry is None else f"{entry['seconds']:.1f}",
                pct(m.metrics.accuracy),
                pp(d.accuracy_change),
                f"{pp(worst.value)} {ci}",
                str(worst.class_name),
                pp(on_harmed),
                pp(psi),
                str(d.harmed),
                str(d.harmed_significant_holm),
                pct(m.facts.sparsity),
            ]
        )
    header = ["model", "method", "epochs", "seconds", "top-1", "top-1 change (pp)", "worst-class change (pp) [95% CI]"]
    header += ["worst class", "harmed classes' mean change (pp)", "max ψ, harmed classes (pp)"]
    header += [f"harmed (> {tol} pp)", "significantly harmed (Holm)", "sparsity"]
    lines += ["", "Changes are against the dense model on the held-out images.", "", *table(header, rows), ""]
    body = [
        [names[c], pp(before)] + [pp(m.vs_dense.per_class.recall_change[c]) for m in reaudit.pruned]
        for c, before in zip(classes, harm["recall_change"])
    ]
    lines += ["Recall change per harmed class (pp): on the harm split, then each model on the held-out images:", ""]
    lines += table(["class", f"{source}, harm split", *(m.name for m in reaudit.pruned)], body) + [""]
    sparsities = {m.facts.sparsity for m in reaudit.pruned}
    zeros = {mitigation["source"]["sparsity"]["zeros"], *(m["sparsity"]["zeros"] for m in made.values())}
    lines.append(
        f"- Sparsity: {pct(next(iter(sparsities)))} in every model, each with the same {next(iter(zeros)):,} zero weights."
        if len(sparsities) == 1 and len(zeros) == 1
        else f"- Sparsity differs between the models: {', '.join(sorted(pct(s) for s in sparsities))}."
    )
    before, control = by_method.get("none (as pruned)"), by_method.get("finetune")
    if before is not None and control is not None:
        lines.append(
            f"- More fine-tuning alone (the control, `finetune`) moved the worst-class change from "
            f"{pp(before['worst'].value)} pp (class {before['worst'].class_name}) to {pp(control['worst'].value)} pp "
            f"(class {control['worst'].class_name}), the harmed classes' mean from {pp(before['harmed'])} to "
            f"{pp(control['harmed'])} pp, and top-1 from {pct(before['top1'])} to {pct(control['top1'])}."
        )
    if control is not None:
        half = float(np.median((np.array(control["ci"].high) - np.array(control["ci"].low)) / 2))
        for method in ("reweight", "constrained"):
            if method not in by_method:
                continue
            got = by_method[method]
            gains = (got["harmed"] - control["harmed"], got["worst"].value - control["worst"].value)
            if max(abs(g) for g in gains) <= half:
                verdict = (
                    f"Both differences are within the median half-width of a class's 95% interval here "
                    f"({pp(half).lstrip('+')} pp): on these images it did not help measurably beyond more fine-tuning."
                )
            else:
                size = ["larger than" if abs(g) > half else "within" for g in gains]
                verdict = (
                    f"Against the median half-width of a class's 95% interval here ({pp(half).lstrip('+')} pp), the "
                    f"harmed classes' difference is {size[0]} it and the worst class's {size[1]} it."
                )
            lines.append(
                f"- `{method}` against the control (positive: better): harmed classes' mean {pp(got['harmed'])} pp "
                f"instead of {pp(control['harmed'])} ({pp(gains[0])} pp), worst-class change {pp(got['worst'].value)} "
                f"pp (class {got['worst'].class_name}) instead of {pp(control['worst'].value)} ({pp(gains[1])} pp), "
                f"top-1 {pct(got['top1'])} instead of {pct(control['top1'])}. {_paired(made, method, half) or verdict}"
            )
    constrained = next((m for m in made.values() if m["method"] == "constrained"), None)
    if constrained is not None:
        lams = ", ".join(f"{names[c]} {v:.2f}" for c, v in zip(constrained["classes"], constrained["multipliers"]))
        lines.append(
            f"- `constrained` ended with multipliers λ {lams} (ε = {pp(constrained['epsilon']).lstrip('+')} pp, dual "
            f"step {constrained['dual_lr']:g}); a multiplier at 0: the last batch that held the class met its bound."
        )
    lines.append(
        f"- Made on {mitigation['cpu']} with torch {mitigation['torch']}, {mitigation['threads']} thread(s): the "
        "model files repeat there byte for byte; another CPU type gives other floats, so other numbers here."
    )
    return lines


def render(
    results: Results,
    *,
    manifest: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    mitigation: tuple[Results, dict[str, Any]] | None = None,
) -> str:
    """The whole document; the same inputs give the same bytes. ``mitigation``: the re-audit and mitigation.json."""
    df, recall = frame(results)
    counts, source = results.data.train_class_counts, "results.json `data.train_class_counts`"
    train = (manifest or {}).get("train_data") or {}
    if counts is None and len(train.get("class_counts") or []) == results.data.n_classes:
        if train.get("class_names") in (None, list(results.data.class_names)):
            counts, source = tuple(train["class_counts"]), "the sweep's manifest.json"
    sections = [
        ["# Findings: what pruning did to the sample model, class by class"],
        section_made(results, df),
        section_harm(results, df, recall),
        section_fronts(results, df),
        section_alpha(df),
        section_representation(results, df, recall, counts, source),
        section_cost(results, df, timings),
        *([section_mitigation(*mitigation)] if mitigation is not None else []),
    ]
    return "\n\n".join("\n".join(s) for s in sections) + "\n"


def read_sweep(sweep: Path | None) -> tuple[dict[str, Any] | None, dict[str, float] | None]:
    """The sweep's manifest.json and timings.json, each None when not there."""
    if sweep is None:
        return None, None
    manifest, timings = (sweep / "manifest.json", sweep / "timings.json")
    return tuple(json.loads(p.read_text()) if p.is_file() else None for p in (manifest, timings))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="results.json of the audit (its tables beside it)")
    ap.add_argument("--sweep", type=Path, help="the sweep folder: manifest.json (class counts), timings.json (cost)")
    ap.add_argument("--mitigation", type=Path, help="a `pruneaudit mitigate --out` folder, its re-audit in report/")
    args = ap.parse_args()
    manifest, timings = read_sweep(args.sweep)
    mitigation = None
    if args.mitigation is not None:
        mitigation = (
            load_results(args.mitigation / "report" / "results.json"),
            json.loads((args.mitigation / "mitigation.json").read_text()),
        )
    print(render(load_results(args.results), manifest=manifest, timings=timings, mitigation=mitigation), end="")


if __name__ == "__main__":
    main()
