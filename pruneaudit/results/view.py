"""The typed read view of results.json: one frozen dataclass per JSON object, field for field.

The report, the selection and the gate read an audit through these classes only, so a
results.json written by any run (or by hand) is checked once, when it is read, and the
readers never look a key up by string. Field names are the JSON keys (``class`` is
``class_name``); ``None`` is JSON null: a value that is undefined (e.g. zero support).
Per-class arrays are tuples in the data's class order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Numbers = tuple[float | None, ...]  # one value per class; None = undefined
Counts = tuple[int, ...]

ROLES = ("dense", "pruned")
POLICIES = ("accuracy_only", "fairness_aware", "value_function", "knee")  # the picks of every selection block
UNSPECIFIED = "unspecified"  # how a pruned model without a declared technique is labelled


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# What a declared metadata value must be, for the config that declares it and the results that carry it;
# null means "not declared". Other metadata keys are kept as written.
METADATA_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "technique": ("text", lambda v: isinstance(v, str)),
    "amount": ("a number in [0, 1]", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1),
    "seed": ("an integer", _integer),
    "finetune_epochs": ("a non-negative integer", lambda v: _integer(v) and v >= 0),
    "notes": ("text", lambda v: isinstance(v, str)),
    # written by `pruneaudit mitigate` into its re-audit's config, so that the card's Mitigation section
    # is built from results.json alone: the pruned model recovered, how, at what cost, for which classes
    "mitigates": ("a model name (text)", lambda v: isinstance(v, str) and v.strip() != ""),
    "method": ("text", lambda v: isinstance(v, str)),
    "mitigation_seconds": (
        "a non-negative number",
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf"),
    ),
    "harmed_classes": (
        "a list of class names (text)",
        lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
    ),
    # the method against the control, paired on the held-out images of the harmed classes (mitigate measures it)
    "vs_control": (
        "a mapping of images, method_only, control_only (non-negative integers) and p (a number in [0, 1])",
        lambda v: (
            isinstance(v, dict)
            and set(v) == {"images", "method_only", "control_only", "p"}
            and all(_integer(v[k]) and v[k] >= 0 for k in ("images", "method_only", "control_only"))
            and v["method_only"] + v["control_only"] <= v["images"]
            and isinstance(v["p"], (int, float))
            and not isinstance(v["p"], bool)
            and 0 <= v["p"] <= 1
        ),
    ),
}


# A Hugging Face Hub repository id, "name" or "owner/name", by huggingface_hub's `validate_repo_id` rules (ASCII
# letters, digits, "-", "_" and ".", no "--" or "..", neither part starting or ending with "-" or "."): what the
# card's metadata may name as a dataset (data.hf_id) or a base model (card.yaml base_model).
_HUB_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
HUB_ID = re.compile(rf"(?!.*(?:--|\.\.))(?:{_HUB_PART}/)?{_HUB_PART}(?<!\.git)")
HUB_ID_EXPECTED = "a Hugging Face Hub id ('owner/name' or 'name': letters, digits, '-', '_', '.')"


# The licence identifiers of the Hub (huggingface/hub-docs, docs/hub/repositories-licenses.md); any other
# licence is `other`, named by licence_name and linked by licence_link.
HUB_LICENCES = (
    "apache-2.0",
    "mit",
    "openrail",
    "bigscience-openrail-m",
    "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m",
    "afl-3.0",
    "artistic-2.0",
    "bsl-1.0",
    "bsd",
    "bsd-2-clause",
    "bsd-3-clause",
    "bsd-3-clause-clear",
    "c-uda",
    "cc",
    "cc0-1.0",
    "cc-by-2.0",
    "cc-by-2.5",
    "cc-by-3.0",
    "cc-by-4.0",
    "cc-by-sa-3.0",
    "cc-by-sa-4.0",
    "cc-by-nc-2.0",
    "cc-by-nc-3.0",
    "cc-by-nc-4.0",
    "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0",
    "cc-by-nc-nd-4.0",
    "cc-by-nc-sa-2.0",
    "cc-by-nc-sa-3.0",
    "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0",
    "cdla-permissive-1.0",
    "cdla-permissive-2.0",
    "wtfpl",
    "ecl-2.0",
    "epl-1.0",
    "epl-2.0",
    "etalab-2.0",
    "eupl-1.1",
    "agpl-3.0",
    "gfdl",
    "gpl",
    "gpl-2.0",
    "gpl-3.0",
    "lgpl",
    "lgpl-2.1",
    "lgpl-3.0",
    "isc",
    "lppl-1.3c",
    "ms-pl",
    "mpl-2.0",
    "odc-by",
    "odbl",
    "openrail++",
    "osl-3.0",
    "postgresql",
    "ofl-1.1",
    "ncsa",
    "unlicense",
    "zlib",
    "pddl",
    "lgpl-lr",
    "deepfloyd-if-license",
    "llama2",
    "gemma",
    "unknown",
    "other",
)
OTHER = "other"


def is_hub_id(value: object) -> bool:
    return isinstance(value, str) and HUB_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Interval:
    high: Numbers
    low: Numbers


@dataclass(frozen=True)
class Worst:
    """The class with the lowest value (ties: lowest index); index -1 and None when no class is defined."""

    class_name: str | None = field(metadata={"key": "class"})
    index: int
    value: float | None


@dataclass(frozen=True)
class Layer:
    count: int
    name: str
    nonzero: int
    sparsity: float


@dataclass(frozen=True)
class Facts:
    """Measured from the model's tensors: sparsity counts zeros among weights of two or more dimensions."""

    declared_amount_mismatch: bool | None
    file_size_bytes: int
    layers: tuple[Layer, ...]
    parameter_count: int
    sparsity: float
    weight_count: int
    weight_nonzero: int


@dataclass(frozen=True)
class Metrics:
    accuracy: float | None
    balanced_accuracy: float | None
    macro_f1: float | None
    recall_spread: float | None
    top5_accuracy: float | None
    worst_class_recall: Worst


@dataclass(frozen=True)
class PerClass:
    correct: Counts
    f1: Numbers
    fnr: Numbers
    fnr_ci: Interval
    fpr: Numbers
    fpr_ci: Interval
    normalised_bias: Numbers
    precision: Numbers
    precision_ci: Interval
    predicted: Counts
    recall: Numbers
    recall_ci: Interval
    support: Counts


@dataclass(frozen=True)
class ChangePerClass:
    dense_only: Counts
    excess_gap: Numbers
    mcnemar_p: Numbers
    mcnemar_p_bh: Numbers
    mcnemar_p_holm: Numbers
    normalised_change: Numbers
    pruned_only: Counts
    recall_change: Numbers
    recall_change_ci: Interval


@dataclass(frozen=True)
class Change:
    """How a pruned model differs from the dense one on the same images (the scalars of a comparison)."""

    accuracy_change: float | None
    balanced_accuracy_change: float | None
    changed_fraction: float | None
    changed_predictions: int
    excess_gap_spread: float | None
    harmed: int
    harmed_significant_bh: int
    harmed_significant_holm: int
    helped: int
    intensification: float | None
    macro_f1_change: float | None
    max_excess_gap: float | None
    recall_change_spread: float | None
    recall_change_std: float | None
    worst_class_change: Worst


@dataclass(frozen=True)
class Comparison(Change):
    """A pruned model against the dense model, with the per-class arrays."""

    per_class: ChangePerClass


@dataclass(frozen=True, eq=False)
class Confusion:
    """A confusion matrix's non-zero cells, row-major, as three int64 arrays of one length.

    Arrays, not tuples: at 1,000 classes a model has tens of thousands of cells, and only
    the models a card draws are ever iterated (as ``(true, predicted, count)`` triplets).
    """

    true: np.ndarray
    predicted: np.ndarray
    count: np.ndarray

    def __len__(self) -> int:
        return len(self.count)

    def __iter__(self):
        return zip(self.true.tolist(), self.predicted.tolist(), self.count.tolist())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Confusion):
            return NotImplemented
        return all(np.array_equal(getattr(self, k), getattr(other, k)) for k in ("true", "predicted", "count"))

    __hash__ = None  # type: ignore[assignment]  # holds arrays: compared by value, never hashed


@dataclass(frozen=True)
class Timing:
    median_batch_seconds: float


@dataclass(frozen=True)
class Model:
    name: str
    role: str  # one of ROLES; "pruned" exactly when vs_dense is set (checked when read)
    file: str
    sha256: str
    backend: str
    device: str
    dtype: str
    output_kind: str
    timing: Timing | None
    metadata: dict[str, Any]  # as declared in the config: technique, amount, seed, finetune_epochs, notes
    facts: Facts
    metrics: Metrics
    per_class: PerClass
    confusion: Confusion  # non-zero cells, row-major (schema 1: a list of [true, predicted, count])
    vs_dense: Comparison | None

    @property
    def is_pruned(self) -> bool:
        return self.role == "pruned"

    @property
    def technique(self) -> str | None:
        """The declared pruning technique; None when the config does not declare one."""
        t = self.metadata.get("technique")
        return None if t is None else str(t)

    @property
    def technique_label(self) -> str:
        """The group a model is drawn and listed in: "dense", its technique, or "unspecified"."""
        if not self.is_pruned:
            return "dense"
        return self.technique or UNSPECIFIED

    @property
    def amount(self) -> float | None:
        """The declared pruning amount (a fraction); None when not declared."""
        a = self.metadata.get("amount")
        return None if a is None else float(a)


@dataclass(frozen=True)
class Population:
    mean_recall_change: Numbers
    method: str
    pvalue: Numbers
    significant: int
    significant_holm: int
    statistic: Numbers


@dataclass(frozen=True)
class Exemplar:
    dense_pred: int
    fragility: int
    index: int
    label: int
    pruned_pred: int
    thumbnail: str


@dataclass(frozen=True)
class Configuration:
    amount: float | None
    models: tuple[str, ...]
    pie_count: int
    pie_fraction: float | None
    population_test: Population | None
    technique: str | None
    top_pies: tuple[Exemplar, ...]


@dataclass(frozen=True)
class GroupPerClass:
    mcnemar_p_holm: Numbers
    recall_change: Numbers
    recall_change_ci: Interval
    support: Counts


@dataclass(frozen=True)
class GroupComparison(Change):
    dense_accuracy: float | None
    group: str
    grouping: str
    model: str
    n_samples: int
    pruned_accuracy: float | None
    per_class: GroupPerClass


@dataclass(frozen=True)
class DenseSeed:
    accuracy: float | None
    file: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Data:
    attributes: tuple[str, ...]
    class_names: tuple[str, ...]
    file: str
    n_classes: int
    n_samples: int
    sha256: str
    split: int | None
    # Training images per class, in class order, from the audit config (schema 2.1); None: not given, or an older file.
    train_class_counts: Counts | None = None
    # How the card names the data (schema 2.2): a pretty name, its Hugging Face Hub dataset id and the split's
    # name there ("test"); None: not given, or an older file (the card falls back to the file name).
    name: str | None = None
    hf_id: str | None = None
    split_name: str | None = None


@dataclass(frozen=True)
class Settings:
    alpha: float
    batch_size: int
    tolerance: float
    top_pies: int
    precision: str = "fp32"  # torch models' dtype; files written before it was recorded ran in fp32


@dataclass(frozen=True)
class Tool:
    name: str
    version: str


@dataclass(frozen=True)
class Pick:
    closest: str | None
    feasible: bool
    model: str | None
    policy: str
    reason: str


@dataclass(frozen=True)
class Price:
    accuracy_pick: str
    accuracy_pick_harmed_significant_holm: float | None
    accuracy_pick_worst_class: str | None
    accuracy_pick_worst_class_drop: float | None
    exact: bool
    fairness_pick: str
    fairness_pick_worst_class_drop: float | None
    file_size_added: float | None
    nonzero_weights_added: float | None
    sparsity_given_up: float | None


@dataclass(frozen=True)
class Objective:
    maximize: bool
    name: str


@dataclass(frozen=True)
class TechniqueFront:
    front: tuple[str, ...]
    hypervolume: float
    models: tuple[str, ...]
    technique: str


@dataclass(frozen=True)
class Dominance:
    of: int
    over: str
    pairs: int
    technique: str


@dataclass(frozen=True)
class SelectionResult:
    dominance: tuple[Dominance, ...]
    front: tuple[str, ...]
    objectives: tuple[Objective, ...]
    picks: dict[str, Pick]  # policy → pick, in the order the file lists them
    price_of_fairness: Price | None
    primary: str
    techniques: tuple[TechniqueFront, ...]
    verdicts: tuple[str, ...]
    accuracy_sparsity_front: tuple[str, ...] = ()  # the operating-point chart's front (schema 1.1)

    @property
    def primary_pick(self) -> Pick:
        return self.picks[self.primary]


@dataclass(frozen=True)
class CheckResult:
    detail: str
    model: str
    passed: bool  # not failed: a check with a warning passes
    rule: str
    value: float | None
    warned: bool = False  # beyond the rule's warning limit (schema 2.2; older files have no warnings)


@dataclass(frozen=True)
class GateResult:
    checks: tuple[CheckResult, ...]
    failed: int
    passed: bool
    total: int
    warned: int = 0


@dataclass(frozen=True)
class Card:
    """The owner-written parts of the model card; None = not provided (the card says so)."""

    base_model: str | None = None  # the dense model's Hub id: the front matter names it when it releases a pruned model
    caveats: tuple[str, ...] | None = None
    ethical_considerations: str | None = None
    evaluation_data: str | None = None
    factors: tuple[str, ...] | None = None
    intended_uses: tuple[str, ...] | None = None
    library_name: str | None = None  # the Hub's library tag of the model files (pytorch, onnx, …)
    licence: str | None = None  # a Hub licence id (card.yaml, checked by pruneaudit.card); older files: free text
    licence_link: str | None = None  # licence "other": a URL or the LICENSE file's path in the model repository
    licence_name: str | None = None  # licence "other": an id for it
    name: str | None = None
    out_of_scope_uses: tuple[str, ...] | None = None
    owners: tuple[str, ...] | None = None
    references: tuple[str, ...] | None = None
    training_data: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Results:
    """One audit: the dense model first, then the pruned models, and what was decided about them."""

    schema_version: str
    tool: Tool
    environment: dict[str, str]
    settings: Settings
    data: Data
    models: tuple[Model, ...]
    configurations: tuple[Configuration, ...]
    subgroups: tuple[GroupComparison, ...]
    dense_seeds: tuple[DenseSeed, ...]
    selection: SelectionResult | None = None
    gate: GateResult | None = None
    card: Card | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, metadata={"raw": True})

    @property
    def dense(self) -> Model:
        return self.models[0]

    @property
    def pruned(self) -> tuple[Model, ...]:
        return self.models[1:]

    def model(self, name: str) -> Model:
        """The model of that name (KeyError if there is none)."""
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)
