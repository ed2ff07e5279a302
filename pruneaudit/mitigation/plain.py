"""Mitigate a pruned model that an ordinary audit config declares: no sweep, the model file as the audit read it.

Everything a sweep would say is given instead: the training data by ``--train-data`` (read with the audit
data's own preprocessing, `settings.train_data`), the fine-tuning settings by `sweep.config.Training`'s
defaults (``--epochs`` and ``--lr`` change them), the mask by the model's own zeros (`sweep.masks.zero_masks`:
every exactly-zero weight of 2+ dimensions stays zero). The model and the dense model must be the very
files the audit in results.json measured (their sha256), and that audit must be of the config's data.

Trainable: TorchScript (written back as TorchScript) and a state_dict with its factory (written back as a
state_dict; the factory's module, when it lies beside the config, is copied beside the re-audit's config,
where the audit looks for it). Refused, each with its reason: ONNX and saved predictions (nothing to
train), torch.export programs (torch cannot switch them to training mode), pickled modules (code, not
weights, and never unpickled here) and a model that declares ``class_order``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pruneaudit.defaults import DEFAULT_ALPHA, DEFAULT_MAX_BYTES, DEFAULT_TOLERANCE
from pruneaudit.errors import ConfigError, DataError, ModelError
from pruneaudit.fingerprint import sha256
from pruneaudit.mitigation.harm import check_harm_split, harmed_classes
from pruneaudit.mitigation.heldout import FILE
from pruneaudit.mitigation.run import (
    MANIFEST,
    Plan,
    Swept,
    audit_item,
    build_manifest,
    check_classes,
    heldout_data,
    hold_out,
    measure,
    plain_training,
    recover,
    splits,
)
from pruneaudit.mitigation.settings import PLAIN_THREADS, SHARED_ROWS_LIMIT, Settings
from pruneaudit.models import load_predictor, resolve_device
from pruneaudit.models.factories import factory_sources
from pruneaudit.outputs import new_folder, report_lock, write_file
from pruneaudit.results import Results, load_results
from pruneaudit.specs import AuditConfig, DataSpec, ModelSpec
from pruneaudit.sweep.config import DEFAULT_OPSET
from pruneaudit.sweep.run import SweepCallback
from pruneaudit.sweep.train import Images, load_images

TRAINABLE = ("torchscript", "state_dict")  # the recovered model is written in its source's format
RUNNABLE = ("torchscript", "state_dict", "torch_export", "pickle")  # the dense model only runs (torch)
REFUSED = {
    "onnx": "an ONNX model cannot be fine-tuned (onnxruntime computes no gradients)",
    "predictions": "saved predictions hold no weights to fine-tune",
    "torch_export": (
        "a torch.export program cannot be fine-tuned: torch cannot switch it to training mode (train() is not "
        "supported), so dropout and batch norm would train as exported"
    ),
    "pickle": (
        "a pickled module is code, not weights, and mitigate writes each recovered model in its source's format"
    ),
}
INSTEAD = "give its TorchScript file, or its state_dict with the factory"


def run_plain_mitigation(
    config: AuditConfig,
    *,
    train_data: DataSpec,
    results_path: Path,
    model: str,
    out: Path,
    settings: Settings,
    progress: SweepCallback | None = None,
) -> dict[str, Any]:
    """Fine-tune ``model`` of the audit config by each of ``settings.methods`` on ``train_data``; write the files."""
    where = str(config.config_path or "command line")
    if out.resolve() == config.base_dir.resolve():
        raise ConfigError(f"{out}: is the audit config's folder; give mitigate an --out of its own")
    spec = _source_spec(config, model, where=where)
    _check_dense(config.dense)
    results = load_results(results_path)
    _check_audit(config, results, spec, where=where, results_path=results_path)
    train = load_images(train_data)
    rows, heldout = hold_out(train, path=train_data.path, what="--train-data", where=str(train_data.path))
    check_harm_split(
        results,
        where=str(results_path),
        train=train_data,
        eval=config.data,
        heldout_sha256=hashlib.sha256(heldout).hexdigest(),
        heldout_name=FILE,
        class_names=train.dataset.class_names,
        eval_name="the audit config's data, not --train-data",
    )
    _check_no_audited_rows(train, load_images(config.data), train_path=train_data.path, audited_spec=config.data)
    harm = harmed_classes(results, model=model, rule=settings.rule, where=str(results_path))
    training = plain_training(settings)
    device = resolve_device(config.device)
    tune = train.subset(np.setdiff1d(np.arange(len(train)), rows))
    held = train.subset(rows)
    check_classes(results, harm, tune, held, where=str(train_data.path))
    plan = Plan(
        results=results,
        harm=harm,
        source=_swept(spec, config=config, device=device),
        dense=_swept(config.dense, config=config, device=device),
        tune=tune,
        held=held,
        training=training,
        settings=settings,
        epsilon=results.settings.tolerance if settings.epsilon is None else settings.epsilon,
        device=device,
        threads=PLAIN_THREADS,
        batch_size=config.batch_size,
        formats=(spec.format,),
        opset=DEFAULT_OPSET,  # as a sweep would; formats hold no ONNX here
    )
    start = measure(plan, name=model)
    with report_lock(out) as lock, new_folder(lock, what="mitigate") as target:  # whole, or not at all
        made = recover(plan, start, model=model, out=target, progress=progress)
        write_file(target / FILE, heldout)
        copied = _copy_factories(config, [config.dense, spec], out=target)
        manifest = build_manifest(
            plan,
            start,
            config=Path(where).name,
            results_path=results_path,
            source_file=_relative(spec.path, config.base_dir),
            source_format=spec.format,
            splits=splits(
                plan, train=train_data, rows=rows, heldout=heldout, finetune="--train-data without the held-out rows"
            ),
            made=made,
        )
        if copied:
            manifest["factory_files"] = copied
        write_file(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        recovered = [
            _recovered_item(
                audit_item(
                    m,
                    source=model,
                    declared=spec.metadata,
                    before=int(spec.metadata.get("finetune_epochs") or 0),
                    training=training,
                    harmed=harm.class_names,
                ),
                spec,
            )
            for m in made
        ]
        body: dict[str, Any] = {"data": heldout_data(held, _kept(train_data))}
        if config.train_class_counts is not None:
            body["train_class_counts"] = list(config.train_class_counts)
        if config.tolerance != DEFAULT_TOLERANCE:
            body["tolerance"] = config.tolerance
        if config.alpha != DEFAULT_ALPHA:
            body["alpha"] = config.alpha
        body |= {
            "dense": _item(config.dense, out=target),
            "pruned": [_item(spec, out=target), *recovered],
        }
        header = (
            f"# pruneaudit audit config written by `pruneaudit mitigate --audit-config {Path(where).name} --model "
            f"{model}`: the dense model, {model} and its recovered models, on the split held out of every "
            "mitigation fine-tuning\n"
        )
        write_file(target / "audit.yaml", header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=120))
        return manifest


# ---------------------------------------------------------------------------------------------------------------
# What the audit config declares, and what the audit measured


def _check_no_audited_rows(train: Images, audited: Images, *, train_path: Path, audited_spec: DataSpec) -> None:
    """--train-data must not hold the images the harm was read on, whatever file they come in (the file and
    split checks of `check_harm_split` see only names and hashes): rows are compared by their bytes. A few
    exact duplicates between a training and a test set are common in real datasets, so up to
    SHARED_ROWS_LIMIT of the audited rows may recur; more is the audited split itself."""
    seen = {hashlib.sha1(r.tobytes()).digest() for r in audited.raw}
    shared = sum(hashlib.sha1(r.tobytes()).digest() in seen for r in train.raw)
    if shared > SHARED_ROWS_LIMIT * len(audited):
        split = "" if audited_spec.split is None else f", split {audited_spec.split}"
        raise DataError(
            f"{train_path}: {shared:,} of its images are images the audit read the harm on ({audited_spec.path.name}"
            f"{split}: {len(audited):,} images); fine-tune on other rows (--train-split), not on those that chose the classes"
        )


def _source_spec(config: AuditConfig, model: str, *, where: str) -> ModelSpec:
    spec = next((p for p in config.pruned if p.name == model), None)
    if spec is None:
        names = [p.name for p in config.pruned]
        shown = ", ".join(names[:10]) + (f" (+{len(names) - 10} more)" if len(names) > 10 else "")
        raise ConfigError(f"{where}: declares no pruned model {model!r}; its pruned models are {shown}")
    if spec.format not in TRAINABLE:
        reason = REFUSED.get(spec.format, f"format {spec.format!r} cannot be fine-tuned")
        raise ModelError(f"{spec.path}: pruned model {model}: {reason}; {INSTEAD}")
    if spec.class_order is not None:
        raise ModelError(
            f"{spec.path}: {model} declares class_order; mitigate fine-tunes on the data's labels, in the data's "
            "class order, so give a model whose outputs are in that order"
        )
    return spec


def _check_dense(spec: ModelSpec) -> None:
    """The dense model is only run, never trained: in torch, for the held-out top-1 and the constrained reference."""
    if spec.format not in RUNNABLE:
        raise ModelError(
            f"{spec.path}: dense model {spec.name}: mitigate runs the dense model in torch (its held-out top-1, the "
            f"constrained method's reference), and a {spec.format} model does not run there; give a torch file of it "
            "(TorchScript, state_dict with its factory, torch.export)"
        )


def _check_audit(config: AuditConfig, results: Results, spec: ModelSpec, *, where: str, results_path: Path) -> None:
    """The audit in results.json must be of the config's data and of the very files the config names."""
    data = results.data
    if data.sha256 != sha256(config.data.path):
        raise DataError(
            f"{results_path}: the audit measured {data.file} (sha256 {data.sha256[:12]}...), not the data "
            f"{where} names ({config.data.path.name}); give the results.json of an audit of that config"
        )
    for declared, role in ((config.dense, "dense"), (spec, "pruned")):
        try:
            audited = results.model(declared.name)
        except KeyError:
            raise ConfigError(
                f"{results_path}: the audit has no model {declared.name!r}, which {where} declares; "
                "give the results.json of an audit of that config"
            ) from None
        if role == "dense" and audited.name != results.dense.name:
            raise ConfigError(
                f"{results_path}: the audit's dense model is {results.dense.name}, but {where} declares {declared.name}"
            )
        if audited.sha256 != sha256(declared.path):
            raise ConfigError(
                f"{results_path}: the audit's {declared.name} (sha256 {audited.sha256[:12]}...) is not the file "
                f"{where} names ({declared.path}); audit that file and pass its results.json"
            )


def _swept(spec: ModelSpec, *, config: AuditConfig, device: str) -> Swept:
    """A fresh module from the file on each call, opened as the audit opens it (in fp32, whatever its precision)."""

    def build() -> Any:
        predictor = load_predictor(
            spec,
            device=device,
            trust_pickle=config.trust_pickle,
            trusted_factories=config.trusted_factories,
            search=config.base_dir,
        )
        return predictor.module

    return Swept(entry={}, file=spec.path, build=build, output=spec.output)


# ---------------------------------------------------------------------------------------------------------------
# The re-audit's config


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(os.path.realpath(path), os.path.realpath(folder))).as_posix()


def _how_read(spec: ModelSpec) -> dict[str, Any]:
    fields: dict[str, Any] = {"format": spec.format}
    if spec.factory is not None:
        fields |= {"factory": spec.factory, **({"factory_kwargs": spec.factory_kwargs} if spec.factory_kwargs else {})}
    if spec.output is not None:
        fields["output"] = spec.output
    if spec.class_order is not None:
        fields["class_order"] = list(spec.class_order)
    return fields


def _item(spec: ModelSpec, *, out: Path) -> dict[str, Any]:
    """A model of the audit config as the re-audit lists it: its own file (named relative to ``out``), as declared."""
    return {"name": spec.name, "path": _relative(spec.path, out), **_how_read(spec), **spec.metadata}


def _recovered_item(item: dict[str, Any], source: ModelSpec) -> dict[str, Any]:
    """`audit_item`'s entry with its file: a TorchScript file holds the scores alone (no ``output``)."""
    files = item.pop("files")
    ((fmt, file),) = files.items()
    read = _how_read(source) if fmt == "state_dict" else {"format": fmt}
    return {"name": item.pop("name"), "path": file["path"], **read, **item}


def _kept(train: DataSpec) -> dict[str, Any]:
    """The training data's preprocessing that still holds of heldout.npz (images as stored, keys of its own)."""
    return {
        "scale": train.scale,
        "mean": None if train.mean is None else list(train.mean),
        "std": None if train.std is None else list(train.std),
        "channels_first": None if train.channels_first else False,
        "max_bytes": None if train.max_bytes == DEFAULT_MAX_BYTES else train.max_bytes,
        "name": train.name,
        "hf_id": train.hf_id,
    }


def _copy_factories(config: AuditConfig, specs: list[ModelSpec], *, out: Path) -> list[dict[str, str]]:
    """The factory modules beside the audit config, copied beside the re-audit's, where the audit looks for them.

    A factory from an installed package stays where it is (the re-audit needs --trust-factory again)."""
    base = config.base_dir.resolve()
    copied: dict[str, str] = {}
    for spec in specs:
        if spec.format != "state_dict":
            continue
        for source in factory_sources(spec, search=config.base_dir):
            source = source.resolve()
            if not source.is_relative_to(base):
                continue
            name = source.relative_to(base).as_posix()
            if name not in copied:
                content = source.read_bytes()
                write_file(out / name, content)
                copied[name] = hashlib.sha256(content).hexdigest()
    return [{"path": name, "sha256": digest} for name, digest in copied.items()]
