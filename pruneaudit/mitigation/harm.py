"""Which classes an audit found harmed, and whether its split may choose them (no torch, no model).

The harmed classes are read from the audit's own per-class numbers (results.json), by a rule the
manifest records. The audit must be of the sweep's data (its file's sha256), on rows that the
re-audit never sees: not the held-out split itself, and not the training split it is carved from.
"""

from __future__ import annotations

from dataclasses import dataclass

from pruneaudit.errors import (
    HARM_ON_HELDOUT,
    HARM_ON_TRAINING,
    NO_HARMED_CLASS,
    NOT_A_PRUNED_MODEL,
    OTHER_DATASET,
    ConfigError,
    DataError,
)
from pruneaudit.fingerprint import sha256
from pruneaudit.mitigation.settings import CRITERIA, criteria
from pruneaudit.results import Results
from pruneaudit.specs import DataSpec

MAX_LISTED = 10  # model names an error lists
SWEEP_EVAL = "the sweep's eval_data"  # the split the refusals below name as the one to audit instead


@dataclass(frozen=True)
class Harm:
    """The classes to mitigate, and what the audit said of each (in class order)."""

    model: str
    rule: str
    definition: str
    tolerance: float
    alpha: float
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    recall_change: tuple[float | None, ...]
    excess_gap: tuple[float | None, ...]
    p_holm: tuple[float | None, ...]


def definition(rule: str) -> str:
    return " and ".join(CRITERIA[c] for c in criteria(rule))


def harmed_classes(results: Results, *, model: str, rule: str, where: str) -> Harm:
    """The classes of ``model`` that meet every criterion of ``rule`` in the audit ``results``."""
    pruned = {m.name: m for m in results.pruned}
    if model not in pruned:
        names = list(pruned)
        known = ", ".join(names[:MAX_LISTED]) + (
            f" (+{len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else ""
        )
        raise ConfigError(NOT_A_PRUNED_MODEL.format(path=where, name=model, known=known or "none"))
    pc = pruned[model].vs_dense.per_class  # a pruned model always has its comparison (checked when read)
    tol, alpha = results.settings.tolerance, results.settings.alpha
    tests = {
        "excess": lambda c: pc.excess_gap[c] is not None and pc.excess_gap[c] > tol,
        "tolerance": lambda c: pc.recall_change[c] is not None and pc.recall_change[c] < -tol,
        "holm": lambda c: (
            pc.mcnemar_p_holm[c] is not None and pc.mcnemar_p_holm[c] < alpha and pc.dense_only[c] > pc.pruned_only[c]
        ),
    }
    parts = criteria(rule)
    classes = tuple(c for c in range(results.data.n_classes) if all(tests[p](c) for p in parts))
    if not classes:
        raise ConfigError(NO_HARMED_CLASS.format(path=where, name=model, rule=rule, definition=definition(rule)))
    names = results.data.class_names
    return Harm(
        model=model,
        rule=rule,
        definition=definition(rule),
        tolerance=tol,
        alpha=alpha,
        classes=classes,
        class_names=tuple(names[c] for c in classes),
        recall_change=tuple(pc.recall_change[c] for c in classes),
        excess_gap=tuple(pc.excess_gap[c] for c in classes),
        p_holm=tuple(pc.mcnemar_p_holm[c] for c in classes),
    )


def check_harm_split(
    results: Results,
    *,
    where: str,
    train: DataSpec,
    eval: DataSpec,
    heldout_sha256: str,
    heldout_name: str,
    class_names: tuple[str, ...] | None,
    eval_name: str = SWEEP_EVAL,
) -> None:
    """Refuse an audit of other data, or of rows the re-audit on the held-out split would see again.

    ``class_names``: the training data's, when it names its classes; ``eval_name``: what the messages call
    the split to audit instead (the sweep's eval_data, or an audit config's own data).
    """
    data = results.data
    if data.sha256 == heldout_sha256:
        raise DataError(HARM_ON_HELDOUT.format(path=where, file=heldout_name).replace(SWEEP_EVAL, eval_name))
    train_sha = sha256(train.path)
    if data.sha256 not in (train_sha, sha256(eval.path)):
        shown = ", ".join(sorted({train.path.name, eval.path.name}))
        raise DataError(OTHER_DATASET.format(path=where, file=data.file, sha=data.sha256[:12], files=shown))
    if class_names is not None and tuple(class_names) != data.class_names:
        raise DataError(
            f"{where}: the audit's classes {list(data.class_names)[:10]} are not the training data's "
            f"{list(class_names)[:10]}"
        )
    if data.sha256 == train_sha and (train.split is None or data.split is None or data.split == train.split):
        split = "every row" if train.split is None else f"split {train.split}"
        raise DataError(
            HARM_ON_TRAINING.format(path=where, file=train.path.name, split=split).replace(SWEEP_EVAL, eval_name)
        )
