"""The audit configs a sweep writes: ``audit.yaml`` (TorchScript) and ``audit-onnx.yaml`` (ONNX).

They list the dense model, the dense seeds and every variant with what the manifest knows of it,
the evaluation data (paths made relative to the sweep folder, so the folder can move with its data),
and the training set's class counts. ``pruneaudit audit --config sweep/audit.yaml`` runs them as
they are. A state_dict needs its factory beside the audit config, so no config lists state_dicts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from pruneaudit.sweep.config import SweepConfig

PATH_KEYS = ("path", "labels", "class_names_file")
AUDITED = (("torchscript", "audit.yaml"), ("onnx", "audit-onnx.yaml"))
AUDIT_CONFIG_NAMES = tuple(name for _, name in AUDITED)


def _data(config: SweepConfig, out: Path) -> dict[str, Any]:
    data = dict(config.raw["eval_data"])
    for key in PATH_KEYS:
        if data.get(key) is not None:
            data[key] = Path(
                os.path.relpath(os.path.realpath(config.base_dir / data[key]), os.path.realpath(out))
            ).as_posix()
    return data


def _notes(entry: dict[str, Any]) -> str:
    """One line on how a variant was made, for the card's model table."""
    ft = entry.get("finetune")
    schedule = entry.get("schedule") or []
    parts = []
    if len(schedule) > 1:
        parts.append(f"{len(schedule)} cycles to {entry['amount']} (" + ", ".join(f"{s:.3g}" for s in schedule) + ")")
    if ft is None:
        parts.append("no fine-tuning")
    else:
        how = "learning-rate rewinding" if ft["rewind"] else "fine-tuned"
        each = " each cycle" if len(schedule) > 1 else ""
        epochs = f"{ft['epochs']} epoch{'s' if ft['epochs'] != 1 else ''}"
        parts.append(f"{how} {epochs}{each}, {ft['optimizer']} lr {ft['lr']:g} {ft['schedule']}")
    excluded = entry["sparsity"].get("excluded") or []
    if excluded:
        parts.append("dense: " + ", ".join(excluded))
    return "; ".join(parts)


def _entry(entry: dict[str, Any], fmt: str) -> dict[str, Any]:
    item: dict[str, Any] = {"name": entry["name"], "path": entry["files"][fmt]["path"]}
    if entry["role"] == "variant":
        ft = entry.get("finetune")
        item |= {
            "technique": entry["label"],
            "amount": entry["amount"],
            "seed": entry["seed"],
            "finetune_epochs": 0 if ft is None else ft["epochs"] * ft["cycles"],
            "notes": _notes(entry),
        }
    elif entry.get("seed") is not None:
        item["seed"] = entry["seed"]
    return item


def audit_configs(config: SweepConfig, *, manifest: dict[str, Any], out: Path) -> dict[str, str]:
    """file name → YAML text, one config per audited format the sweep saved."""
    models = manifest["models"]
    header = (
        f"# pruneaudit audit config written by `pruneaudit prune --config {config.source.name}`; "
        "it is rewritten by every run of that command\n"
    )
    texts = {}
    for fmt, filename in AUDITED:
        if fmt not in config.formats:
            continue
        body = {
            "data": _data(config, out),
            "train_class_counts": manifest["train_data"]["class_counts"],
            "dense": _entry(next(m for m in models if m["role"] == "dense"), fmt),
            "pruned": [_entry(m, fmt) for m in models if m["role"] == "variant"],
        }
        seeds = [_entry(m, fmt) for m in models if m["role"] == "dense_seed"]
        if seeds:
            body["dense_seeds"] = seeds
        texts[filename] = header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=120)
    return texts


def mitigation_configs(
    config: SweepConfig,
    *,
    sweep_manifest: dict[str, Any],
    source: str,
    recovered: list[dict[str, Any]],
    data: dict[str, Any],
    sweep_dir: Path,
    out: Path,
    command: str,
) -> dict[str, str]:
    """file name → YAML text: the re-audit of ``pruneaudit mitigate`` (written into ``out``), one per audited format.

    It lists the sweep's dense model, the pruned model ``source`` as the sweep made it, and each recovered
    model (``recovered``: its audit entry, with ``files`` as a manifest entry has them, relative to ``out``),
    on ``data``, the held-out split. The sweep's files are named relative to ``out``.
    """
    entries = {m["name"]: m for m in sweep_manifest["models"]}
    dense = next(m for m in sweep_manifest["models"] if m["role"] == "dense")
    header = (
        f"# pruneaudit audit config written by `{command}`: the dense model, {source} and its recovered models, "
        "on the split held out of every mitigation fine-tuning\n"
    )

    def swept(entry: dict[str, Any], fmt: str) -> dict[str, Any]:
        item = _entry(entry, fmt)
        where = os.path.realpath(sweep_dir / item["path"])
        return item | {"path": Path(os.path.relpath(where, os.path.realpath(out))).as_posix()}

    texts = {}
    for fmt, filename in AUDITED:
        if fmt not in config.formats or not all(fmt in m["files"] for m in (dense, entries[source])):
            continue
        made = [
            {"name": m["name"], "path": m["files"][fmt]["path"]}
            | {k: v for k, v in m.items() if k not in ("name", "files")}
            for m in recovered
        ]
        body = {
            "data": data,
            "train_class_counts": sweep_manifest["train_data"]["class_counts"],
            "dense": swept(dense, fmt),
            "pruned": [swept(entries[source], fmt), *made],
        }
        texts[filename] = header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=120)
    return texts
