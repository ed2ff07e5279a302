"""What a mitigation run is asked to do, as plain frozen data (no torch): the CLI and the API build it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pruneaudit.errors import MISSING_FILE, ConfigError
from pruneaudit.specs import DataSpec

# finetune: the control (plain cross-entropy, same epochs, batches and seed), so that a gain can be told apart
# from what more fine-tuning alone gives; reweight: class-reweighted cross-entropy; constrained: Hashemizadeh
# et al. 2023's per-class excess-accuracy-gap constraints with Lagrange multipliers.
METHODS = ("finetune", "reweight", "constrained")
CONTROL = "finetune"  # the method every other is tested against, paired on the same held-out images
# A class is harmed when it meets every criterion of the rule ("excess+holm": both).
CRITERIA = {
    "excess": "excess accuracy gap ψ_c = (R_c,dense − R_c,pruned) − (A_dense − A_pruned) above the tolerance",
    "tolerance": "recall change Δ_c = R_c,pruned − R_c,dense below −tolerance (the audit's 'harmed')",
    "holm": "McNemar Holm-adjusted p below alpha, dense right more often than pruned (the audit's 'significantly harmed')",
}
DEFAULT_RULE = "excess"  # what mitigation can move: classes that lost more than the model did overall
DEFAULT_CLASS_WEIGHT = 2.0  # reweight: the loss weight of a harmed class; every other class weighs 1
# constrained: the step of the multipliers' projected gradient ascent, chosen on the fine-tuning images only,
# never on the held-out split the re-audit grades: for the sample model l1-90 there, 1.0 met every constraint
# but cost 1.3 pp of top-1; 0.2 and 0.05 met three of four at no cost, 0.2 with less excess on the fourth.
DEFAULT_DUAL_LR = 0.2
DEFAULT_SEED = 0  # batch order and augmentation, the same for every method
# From an audit config there is no sweep to give fine-tuning settings: `sweep.config.Training`'s defaults (SGD,
# momentum 0.9, lr 0.01, constant rate, batches of 128, no augmentation, no weight decay) for this many epochs,
# and one intra-op thread, as `prune` defaults to, so the model files repeat byte for byte.
PLAIN_EPOCHS = 3
PLAIN_THREADS = 1
# --train-data may repeat at most this share of the audited images byte for byte (the duplicates real training
# and test sets share); more means the audited rows themselves are in the training data.
SHARED_ROWS_LIMIT = 0.01

UNKNOWN_RULE = "--harmed {rule!r}: expected one of {allowed}, or several joined by '+' (all must hold)"


@dataclass(frozen=True)
class Settings:
    """How to mitigate; ``None`` fields come from the audit or the sweep (documented where they are settled)."""

    methods: tuple[str, ...] = METHODS
    rule: str = DEFAULT_RULE
    epochs: int | None = None  # None: the variant's own fine-tuning epochs (from an audit config: PLAIN_EPOCHS)
    lr: float | None = None  # None: the variant's own learning rate (from an audit config: Training's default)
    class_weight: float = DEFAULT_CLASS_WEIGHT
    epsilon: float | None = None  # constrained: the bound on ψ_c; None: the audit's tolerance
    dual_lr: float = DEFAULT_DUAL_LR
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        criteria(self.rule)
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods or len(set(self.methods)) != len(self.methods):
            raise ConfigError(
                f"--method: expected distinct methods among {', '.join(METHODS)}; received {self.methods}"
            )
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"--epochs: expected a positive integer; received {self.epochs}")
        if self.lr is not None and not 0 < self.lr < float("inf"):
            raise ConfigError(f"--lr: expected a positive number; received {self.lr}")
        if not self.class_weight > 0 or self.class_weight == float("inf"):
            raise ConfigError(f"--class-weight: expected a positive number; received {self.class_weight}")
        if self.epsilon is not None and not 0 <= self.epsilon < 1:
            raise ConfigError(f"--epsilon: expected a number in [0, 1); received {self.epsilon}")
        if not 0 < self.dual_lr < float("inf"):
            raise ConfigError(f"--dual-lr: expected a positive number; received {self.dual_lr}")


def criteria(rule: str) -> tuple[str, ...]:
    """The criteria a rule joins with '+', each known and given once."""
    parts = tuple(rule.split("+"))
    if not all(p in CRITERIA for p in parts) or len(set(parts)) != len(parts):
        raise ConfigError(UNKNOWN_RULE.format(rule=rule, allowed=", ".join(CRITERIA)))
    return parts


def train_data(audited: DataSpec, path: Path, *, split: int | None) -> DataSpec:
    """``--train-data PATH [--train-split N]``: read as the audit config reads its data, another file or split.

    The audit's preprocessing (keys, class names, scale, mean, std, resize, crop, colour, layout, size bound)
    is what the models expect; its labels file, attributes and split name belong to its own data, not this one.
    """
    if not path.exists():
        raise ConfigError(MISSING_FILE.format(path=path) + " (--train-data)")
    return replace(audited, path=path, split=split, labels=None, attributes=(), split_name=None)
