"""The library's entry points: audit, select, check and render, over the typed results.

`render`, `select` and `check` work from saved results alone; only `audit` loads the
pipeline (models, data, torch), imported when it is called.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pruneaudit.cachedir import default_cache_dir
from pruneaudit.errors import ConfigError
from pruneaudit.gate import Check, compare_baseline, evaluate_rules, verdict
from pruneaudit.outputs import HeldLock, report_lock, write_outputs
from pruneaudit.policy import Policy, Selection
from pruneaudit.results import Results, parse_results, with_blocks
from pruneaudit.selection import select as selection_block
from pruneaudit.specs import AuditConfig, DataSpec

if TYPE_CHECKING:
    from pruneaudit.inference import Progress
    from pruneaudit.mitigation.settings import Settings
    from pruneaudit.studies import Study
    from pruneaudit.sweep.config import SweepConfig
    from pruneaudit.sweep.run import SweepCallback

SELECTION_TWICE = (
    "{policy}: the audit config also has a 'selection' section; give the operating-point selection in one place "
    "(the policy file, which `pruneaudit select` and `check` read too)"
)


def audit(config: AuditConfig, *, progress: Progress | None = None) -> Results:
    """Run every model over the data and return the results, with the config's operating-point selection.

    ``progress`` (a `pruneaudit.inference.Progress`) is told each stage, and each batch of each model.
    """
    from pruneaudit.data import load_dataset
    from pruneaudit.encode import encode_results
    from pruneaudit.inference import Silent
    from pruneaudit.pipeline import run_audit

    if progress is not None and not all(hasattr(progress, m) for m in ("stage", "advance", "finished")):
        raise TypeError(
            "progress= takes an object with stage(), advance() and finished() (pruneaudit.inference.Progress); "
            f"received {type(progress).__name__} (a plain function was the earlier form)"
        )
    progress = progress or Silent()
    progress.stage("Reading data")
    dataset = load_dataset(config.data)
    results = parse_results(encode_results(run_audit(config, dataset=dataset, progress=progress)))
    progress.stage("Selection")
    return select(results, selection=config.selection)


def select(results: Results, *, selection: Selection | None = None) -> Results:
    """The results with their operating-point selection (re)computed; None means the default policies."""
    return with_blocks(results, selection=selection_block(results, selection or Selection()))


def check(results: Results, *, policy: Policy, baseline: Results | None = None, where: str = "policy") -> list[Check]:
    """Every gate check of the policy's rules, and of the baseline comparison when a baseline is given."""
    checks = evaluate_rules(results, policy.rules, where=where)
    if baseline is not None:
        checks += compare_baseline(results, baseline, policy.baseline, where=where)
    return checks


def audit_to_directory(
    config: AuditConfig,
    *,
    out_dir: Path,
    policy: Policy | None = None,
    policy_name: str = "policy",
    card: dict[str, Any] | None = None,
    timestamp: str | None = None,
    progress: Progress | None = None,
) -> tuple[Results, list[Check]]:
    """Audit (select and gate with a policy), then write every report file together.

    Nothing is written when the audit fails; a failed gate still writes the report, whose
    card shows the verdict rule by rule. The selection comes from the policy or the config,
    never both: a selection given twice is a ConfigError, not a silent choice. The output
    directory's lock is taken before inference: a second run on it fails at once. ``progress`` is
    told the audit's stages, then the gate's and the report's.
    """
    from pruneaudit.inference import Silent

    if policy is not None and policy.selection is not None:
        if config.selection is not None:
            raise ConfigError(SELECTION_TWICE.format(policy=policy_name))
        config = replace(config, selection=policy.selection)
    progress = progress or Silent()
    with report_lock(out_dir) as lock:
        results = audit(config, progress=progress)
        checks: list[Check] = []
        if policy is not None:
            progress.stage("Gate")
            checks = check(results, policy=policy, where=policy_name)
            results = with_blocks(results, gate=verdict(checks))
        progress.stage("Card and files")
        results = _write_report(lock, results, card=card, timestamp=timestamp, cache_dir=config.cache_dir)
    return results, checks


def render(
    results: Results,
    *,
    out_dir: Path,
    card: dict[str, Any] | None = None,
    timestamp: str | None = None,
    cache_dir: Path | None | Literal["default"] = "default",
) -> None:
    """Write every report file (index.html, card.md, results.json, per_class.csv/.parquet) at once.

    ``card``: owner-written card parts (card.yaml) replacing those saved in the results.
    ``cache_dir``: where the Vega bundle is kept between runs; "default" is `default_cache_dir()`, read
    when called; None keeps none (the bundle is rebuilt).
    The output directory's lock is held from before rendering until the files are in place.
    """
    folder = default_cache_dir() if cache_dir == "default" else cache_dir
    with report_lock(out_dir) as lock:
        _write_report(lock, results, card=card, timestamp=timestamp, cache_dir=folder)


def _write_report(
    lock: HeldLock,
    results: Results,
    *,
    card: dict[str, Any] | None,
    timestamp: str | None,
    cache_dir: Path | None,
) -> Results:
    """Render every report file and write them together; returns the results as written (with the card)."""
    if card is not None:
        results = with_blocks(results, card=card)
    from pruneaudit.report import render_outputs  # Altair and Jinja: only for the commands that render

    write_outputs(lock, render_outputs(results, timestamp=timestamp, cache_dir=cache_dir))
    return results


def prune(
    config: SweepConfig,
    *,
    out_dir: Path,
    jobs: int | None = None,
    backend: str = "local",
    ray_address: str | None = None,
    progress: SweepCallback | None = None,
) -> dict[str, Any]:
    """Make every model of a sweep in ``out_dir`` (a finished model is never made again); return the manifest.

    Writes each model as TorchScript, ONNX and a state_dict, ``manifest.json``, and the audit configs
    ``audit.yaml`` / ``audit-onnx.yaml`` that `audit` runs as they are. ``jobs``: models made at once
    (worker processes, or Ray actors with ``backend="ray"``).
    """
    from pruneaudit.sweep.run import run_sweep  # torch: only for the command that trains

    return run_sweep(config, out=out_dir, jobs=jobs, backend=backend, ray_address=ray_address, progress=progress)


def mitigate(
    config: SweepConfig | AuditConfig,
    *,
    results_path: Path,
    model: str,
    out_dir: Path,
    sweep_dir: Path | None = None,
    train_data: DataSpec | None = None,
    settings: Settings | None = None,
    progress: SweepCallback | None = None,
) -> dict[str, Any]:
    """Fine-tune pruned ``model``, its mask held, for the classes its audit harmed.

    ``config``: the sweep that made the model (its folder ``sweep_dir``, default the config's folder), or an
    audit config that declares it, with ``train_data`` to fine-tune on (`mitigation.settings.train_data`
    reads a file as the audit reads its data). ``results_path``: the audit (results.json) that says which
    classes; it must not be of the split the recovered models are re-audited on. Writes each recovered model
    (one per method of ``settings``) in the sweep's formats (from an audit config: its own), ``heldout.npz``
    (the split held out of the fine-tuning), ``mitigation.json`` and ``audit.yaml`` (dense, ``model`` and the
    recovered models on the held-out split); returns the manifest.
    """
    from pruneaudit.mitigation.settings import Settings

    if isinstance(config, AuditConfig):
        if train_data is None or sweep_dir is not None:
            raise ConfigError("mitigate from an audit config takes train_data (--train-data) and no sweep folder")
        from pruneaudit.mitigation.plain import run_plain_mitigation  # torch: only for the command that trains

        return run_plain_mitigation(
            config,
            train_data=train_data,
            results_path=results_path,
            model=model,
            out=out_dir,
            settings=settings or Settings(),
            progress=progress,
        )
    if train_data is not None:
        raise ConfigError("mitigate of a sweep's model fine-tunes on the sweep's train_data; give no train_data")
    from pruneaudit.mitigation.run import run_mitigation  # torch: only for the command that trains

    return run_mitigation(
        config,
        results_path=results_path,
        model=model,
        sweep_dir=config.source.parent if sweep_dir is None else sweep_dir,
        out=out_dir,
        settings=settings or Settings(),
        progress=progress,
    )


def study(
    paths: Sequence[Path | str],
    *,
    out_dir: Path | str,
    title: str | None = None,
    timestamp: str | None = None,
    cache_dir: Path | None | Literal["default"] = "default",
) -> Study:
    """Pool the audits saved at ``paths`` (results.json files, or folders holding one) into one study card:
    index.html, study.md and study.json in ``out_dir``, written together. Returns the study.

    Each audit is read, summarised and let go before the next (`studies.summarise`): memory holds one at a time."""
    from pruneaudit._version import __version__
    from pruneaudit.report.study import render_study  # Altair and Jinja: only for the commands that render
    from pruneaudit.results import load_results
    from pruneaudit.studies import audit_labels, check_audits, check_out, pool, summarise

    out = Path(out_dir)
    files = [Path(p) / "results.json" if Path(p).is_dir() else Path(p) for p in paths]
    check_out(out, files)
    labels = audit_labels(files)
    audits = [summarise(label, load_results(f)) for label, f in zip(labels, files)]
    check_audits(audits, [str(f) for f in files], [hashlib.sha256(f.read_bytes()).hexdigest() for f in files])
    pooled = pool(audits)
    folder = default_cache_dir() if cache_dir == "default" else cache_dir
    with report_lock(out) as lock:
        write_outputs(
            lock, render_study(pooled, title=title, timestamp=timestamp, cache_dir=folder, version=__version__)
        )
    return pooled
