"""Library errors: plain exceptions that carry their exit code.

Raised anywhere below the CLI; only `pruneaudit.cli` turns them into a one-line message
and an exit status, so the library can be used from Python without Click.
"""

from __future__ import annotations


class PruneAuditError(Exception):
    """Base for every error caused by what the user gave us: bad input, config or model (exit code 2)."""

    exit_code = 2


class ConfigError(PruneAuditError):
    """The config file or command-line options are invalid."""


class DataError(PruneAuditError):
    """The labelled data cannot be read or does not fit the models."""


class ModelError(PruneAuditError):
    """A model file cannot be loaded or produces unusable outputs."""


class OutputError(PruneAuditError):
    """The output directory cannot be written."""


# Message templates (fairlearn style): tests match them, call sites fill them.
MISSING_FILE = "{path}: file not found"
UNKNOWN_KEY = "{where}: unknown key {key!r}; expected one of {allowed}"
LABEL_OUT_OF_RANGE = (
    "{path}: labels must lie in [0, {n_classes}) to match the {n_classes} outputs of model {model!r}; "
    "received label {label}"
)
CLASS_COUNT_MISMATCH = "{path}: model {model!r} outputs {got} classes but the dense model outputs {expected}"
BOTH_TRAIN_COUNTS = "{where}: give train_class_counts or train_labels, not both (the counts are made from the labels)"
TRAIN_COUNTS_MISMATCH = "{where}: train_class_counts has {got} entries but the data has {expected} classes"
# pruneaudit mitigate
NOT_A_PRUNED_MODEL = "{path}: no pruned model {name!r}; its pruned models are {known}"
NO_HARMED_CLASS = "{path}: {name} has no class harmed by rule {rule!r} ({definition}); nothing to mitigate"
OTHER_DATASET = (
    "{path}: the audit measured {file} (sha256 {sha}...), which is neither the sweep's eval_data nor its "
    "train_data file ({files}); give the results.json of an audit of this sweep's data"
)
HARM_ON_HELDOUT = (
    "{path}: the audit was run on the held-out split that mitigate re-audits on ({file}); the harmed classes "
    "must be read on another split (the sweep's eval_data), or the re-audit would grade its own selection"
)
HARM_ON_TRAINING = (
    "{path}: the audit read the harm on the training split ({file}, {split}), which holds the rows held out "
    "for the re-audit; audit another split (the sweep's eval_data) and pass that results.json"
)
NOT_MASKABLE = "{path}: {name} has no weight of 2+ dimensions with a zero in it: no sparsity mask to hold fixed"


class GateFailed(PruneAuditError):
    """A policy rule failed: exit code 1, distinct from bad input (2)."""

    exit_code = 1

    def __init__(self, n_failed: int, n_checks: int) -> None:
        super().__init__(f"{n_failed} of {n_checks} gate check(s) failed")
