"""Mitigate one pruned model of a sweep: fine-tune it, mask held, for the classes its audit found harmed.

Which split does what (stated again in the manifest):

- the *harm* split is the one the audit in results.json measured: it chooses the harmed classes;
- the *held-out* split is carved from the sweep's training split (`mitigation.heldout`) and written as
  ``heldout.npz``: no mitigation fine-tunes on it, and ``audit.yaml`` re-audits every model on it;
- the *fine-tuning* split is the training split without the held-out rows.

An audit of the held-out split, or of the training split it comes from, cannot choose the classes
(`mitigation.harm.check_harm_split`): the re-audit would then grade rows that chose what it grades.

Every method starts from the same file, draws the same batches and augmentation (one seed), with
``threads`` intra-op threads and deterministic kernels, so the model files repeat byte for byte on
one CPU type and torch build; only the manifest's seconds vary. `Plan`, `measure` and `recover` are the part
that does not depend on where the model comes from: `mitigation.plain` uses them for an audit config's model.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pruneaudit._version import __version__
from pruneaudit.errors import NOT_MASKABLE, ConfigError, DataError, ModelError
from pruneaudit.fingerprint import sha256
from pruneaudit.metrics.significance import mcnemar_exact
from pruneaudit.mitigation.harm import Harm, check_harm_split, harmed_classes
from pruneaudit.mitigation.heldout import FILE, HELDOUT_FRACTION, heldout_arrays, heldout_rows, npz_bytes
from pruneaudit.mitigation.objectives import ConstrainedLoss, Reference, class_weights, reference, reweighted
from pruneaudit.mitigation.settings import CONTROL, PLAIN_EPOCHS, Settings
from pruneaudit.models import load_predictor, resolve_device
from pruneaudit.models.base import first_line
from pruneaudit.models.torch_common import select_output
from pruneaudit.models.torch_module import build_module
from pruneaudit.outputs import new_folder, report_lock, write_file
from pruneaudit.results import Model, Results, load_results
from pruneaudit.specs import DataSpec, ModelSpec
from pruneaudit.sweep import export
from pruneaudit.sweep.audit_config import mitigation_configs
from pruneaudit.sweep.config import SweepConfig, Training
from pruneaudit.sweep.masks import sparsity as zero_share
from pruneaudit.sweep.masks import weight_names, zero_masks
from pruneaudit.sweep.run import MANIFEST as SWEEP_MANIFEST
from pruneaudit.sweep.run import SweepCallback, SweepProgress, cpu_name, cuda_devices, numerics
from pruneaudit.sweep.train import Images, accuracy, fit, load_images, predict

MANIFEST = "mitigation.json"
MANIFEST_VERSION = "1.0"
HOW = {
    "finetune": "plain cross-entropy (the control: more fine-tuning alone)",
    "reweight": "class-reweighted cross-entropy",
    "constrained": "excess-accuracy-gap constraints with Lagrange multipliers (Hashemizadeh et al. 2023)",
}
KEEP_DATA_KEYS = ("scale", "mean", "std", "channels_first", "max_bytes", "name", "hf_id")  # still true of heldout.npz


@dataclass(frozen=True)
class Swept:
    """A model of the sweep as mitigate reads it: its manifest entry, and a fresh module on each call."""

    entry: dict[str, Any]
    file: Path  # the file the module is read from
    build: Callable[[], torch.nn.Module]
    output: str | int | None  # what selects the scores from the module's output


def run_mitigation(
    config: SweepConfig,
    *,
    results_path: Path,
    model: str,
    sweep_dir: Path,
    out: Path,
    settings: Settings,
    progress: SweepCallback | None = None,
) -> dict[str, Any]:
    """Fine-tune ``model`` of the sweep in ``sweep_dir`` by each of ``settings.methods``; write them and return the manifest."""
    if out.resolve() == sweep_dir.resolve():
        raise ConfigError(f"{out}: is the sweep folder; give mitigate an --out of its own")
    results = load_results(results_path)
    sweep_manifest = _read_sweep_manifest(sweep_dir)
    train = load_images(config.train_data)
    rows, heldout = hold_out(train, path=config.train_data.path, what="train_data", where=str(config.source))
    check_harm_split(
        results,
        where=str(results_path),
        train=config.train_data,
        eval=config.eval_data,
        heldout_sha256=hashlib.sha256(heldout).hexdigest(),
        heldout_name=FILE,
        class_names=train.dataset.class_names,
    )
    harm = harmed_classes(results, model=model, rule=settings.rule, where=str(results_path))
    training = _training(config, model, settings)
    epsilon = results.settings.tolerance if settings.epsilon is None else settings.epsilon
    device = resolve_device(config.device)
    source_entry = _audited(sweep_manifest, results.model(model), sweep_dir=sweep_dir, results_path=results_path)
    dense_entry = _audited(sweep_manifest, results.dense, sweep_dir=sweep_dir, results_path=results_path)
    tune = train.subset(np.setdiff1d(np.arange(len(train)), rows))
    held = train.subset(rows)
    check_classes(results, harm, tune, held, where=str(config.train_data.path))
    with numerics(config.threads):
        source = _swept(source_entry, config=config, sweep_dir=sweep_dir, device=device)
        dense = _swept(dense_entry, config=config, sweep_dir=sweep_dir, device=device)
    plan = Plan(
        results=results,
        harm=harm,
        source=source,
        dense=dense,
        tune=tune,
        held=held,
        training=training,
        settings=settings,
        epsilon=epsilon,
        device=device,
        threads=config.threads,
        batch_size=config.batch_size,
        formats=config.formats,
        opset=config.opset,
    )
    start = measure(plan, name=model)
    with report_lock(out) as lock, new_folder(lock, what="mitigate") as target:  # whole, or not at all
        made = recover(plan, start, model=model, out=target, progress=progress)
        write_file(target / FILE, heldout)
        manifest = build_manifest(
            plan,
            start,
            config=config.source.name,
            results_path=results_path,
            source_file=source.file.relative_to(sweep_dir).as_posix(),
            splits=splits(
                plan,
                train=config.train_data,
                rows=rows,
                heldout=heldout,
                finetune="the sweep's train_data without the held-out rows",
            ),
            made=made,
        )
        write_file(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        ft = source_entry.get("finetune") or {}
        recovered = [
            audit_item(
                m,
                source=model,
                declared={
                    "technique": source_entry["label"],
                    "amount": source_entry["amount"],
                    "seed": source_entry["seed"],
                },
                before=ft.get("epochs", 0) * ft.get("cycles", 1),
                training=training,
                harmed=harm.class_names,
            )
            for m in made
        ]
        texts = mitigation_configs(
            config,
            sweep_manifest=sweep_manifest,
            source=model,
            recovered=recovered,
            data=heldout_data(held, config.raw["train_data"]),
            sweep_dir=sweep_dir,
            out=target,
            command=f"pruneaudit mitigate --model {model}",
        )
        for filename, text in texts.items():
            write_file(target / filename, text)
        return manifest


# ---------------------------------------------------------------------------------------------------------------
# What the sweep made


def _read_sweep_manifest(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / SWEEP_MANIFEST
    if not path.is_file():
        raise ConfigError(f"{path}: file not found; --sweep must be the folder `pruneaudit prune --out` wrote")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        models = raw["models"]
        if not all(isinstance(m["name"], str) and isinstance(m["files"], dict) for m in models):
            raise TypeError("a model entry has no name or files")
        if not isinstance(raw["train_data"]["class_counts"], list):  # the re-audit's config repeats them
            raise TypeError("train_data.class_counts must be a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a sweep manifest written by pruneaudit prune ({first_line(exc)[:200]})"
        ) from None
    return raw


def _audited(manifest: dict[str, Any], model: Model, *, sweep_dir: Path, results_path: Path) -> dict[str, Any]:
    """The sweep's entry for a model of the audit, which must have audited one of that entry's files."""
    entry = next((m for m in manifest["models"] if m["name"] == model.name), None)
    where = sweep_dir / SWEEP_MANIFEST
    if entry is None:
        raise ConfigError(f"{where}: the sweep made no model {model.name!r}, which {results_path} audits")
    if model.sha256 not in {f.get("sha256") for f in entry["files"].values() if isinstance(f, dict)}:
        raise ConfigError(
            f"{results_path}: the audit's {model.name} (sha256 {model.sha256[:12]}...) is none of the files "
            f"the sweep made under that name ({where}); audit the sweep's own files"
        )
    return entry


def _training(config: SweepConfig, model: str, settings: Settings) -> Training:
    """The variant's own fine-tuning settings, its epochs and rate replaced by ``settings``' when given.

    A rewound variant's are the dense training's optimiser and rate, its schedule started afresh. A one-shot
    variant (``finetune: null``) has none: it gets those of a model from an audit config (`Training`'s
    defaults, PLAIN_EPOCHS epochs), the same for the control and for every method.
    """
    variant = next((v for v in config.variants if v.name == model), None)
    if variant is None:
        raise ConfigError(f"{config.source}: {model} is not a variant of this sweep")
    if variant.finetune is None:  # one-shot: no fine-tuning of its own to repeat, so the defaults of a plain spec
        return plain_training(settings)
    return given(variant.finetune.training, settings)


def plain_training(settings: Settings) -> Training:
    """For a model with no fine-tuning settings of its own (one-shot, or from an audit config): `Training`'s
    defaults for PLAIN_EPOCHS epochs, ``--epochs`` and ``--lr`` where given."""
    return given(Training(epochs=PLAIN_EPOCHS), settings)


def given(training: Training, settings: Settings) -> Training:
    """``training`` with ``--epochs`` and ``--lr`` where they are given."""
    changed = {k: v for k, v in (("epochs", settings.epochs), ("lr", settings.lr)) if v is not None}
    return replace(training, **changed)


def _swept(entry: dict[str, Any], *, config: SweepConfig, sweep_dir: Path, device: str) -> Swept:
    """How to read a sweep's model: through its factory (state_dict, else TorchScript weights), else as TorchScript."""
    name, files = entry["name"], entry["files"]
    kinds = ("state_dict", "torchscript") if config.model.factory else ("torchscript",)
    fmt = next((k for k in kinds if k in files), None)
    if fmt is None:
        raise ModelError(f"{sweep_dir}: {name} has no {' or '.join(kinds)} file to fine-tune (ONNX files cannot train)")
    path = sweep_dir / fmt / f"{name}.{export.EXTENSIONS[fmt]}"
    if not path.is_file() or sha256(path) != files[fmt].get("sha256"):
        raise ModelError(f"{path}: missing, or changed since the sweep made it (its sha256 is not the manifest's)")
    if config.model.factory is None:
        spec = ModelSpec(name=name, path=path, format="torchscript")
        return Swept(entry=entry, file=path, build=lambda: load_predictor(spec, device=device).module, output=None)

    def build() -> torch.nn.Module:
        try:
            if fmt == "state_dict":
                state = torch.load(str(path), map_location="cpu", weights_only=True)
            else:  # the scores alone were traced (export._Scores) when the model has an `output`
                state = torch.jit.load(str(path), map_location="cpu").state_dict()
                if config.model.output is not None:
                    state = {k.removeprefix("inner."): v for k, v in state.items()}
            module = build_module(config.model, search=config.base_dir, trusted=config.trusted_factories)
            module.load_state_dict(state)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"{path}: cannot load it into the factory's model ({first_line(exc)})") from None
        return module.to(device).eval()

    return Swept(entry=entry, file=path, build=build, output=config.model.output)


def hold_out(train: Images, *, path: Path, what: str, where: str) -> tuple[np.ndarray, bytes]:
    """The rows held out of fine-tuning (a stratified fifth, `heldout.heldout_rows`) and heldout.npz's bytes."""
    rows = heldout_rows(train.labels)
    if not len(rows):
        raise DataError(f"{path}: {what} has no class with two images; nothing can be held out")
    return rows, npz_bytes(heldout_arrays(train.raw, train.labels, train.dataset.attributes, rows, where=where))


def check_classes(results: Results, harm: Harm, tune: Images, held: Images, *, where: str) -> None:
    """Every harmed class can be fine-tuned on and graded: images in the fine-tuning rows and in the held-out ones."""
    n = results.data.n_classes
    if int(tune.labels.max()) >= n:
        raise DataError(f"{where}: train_data has labels up to {int(tune.labels.max())}; the audit has {n} classes")
    absent = [harm.class_names[i] for i, c in enumerate(harm.classes) if not np.any(tune.labels == c)]
    if absent:
        raise DataError(f"{where}: harmed class(es) {', '.join(absent)} have no fine-tuning image")
    ungraded = [harm.class_names[i] for i, c in enumerate(harm.classes) if not np.any(held.labels == c)]
    if ungraded:
        raise DataError(
            f"{where}: harmed class(es) {', '.join(ungraded)} have fewer than two images, so none is held out to grade "
            "the mitigation on"
        )


@torch.inference_mode()
def _check_outputs(
    module: torch.nn.Module, held: Images, *, output: str | int | None, n_classes: int, where: Path
) -> None:
    x = held.prepared(held.raw[:1]).to(next(module.parameters()).device)
    try:
        got = int(select_output(module(x), output, where).shape[-1])
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ModelError(f"{where}: the model rejected the training data's input ({first_line(exc)})") from None
    if got != n_classes:
        raise ModelError(f"{where}: the model outputs {got} classes but the audit has {n_classes}")


def _zeros(module: torch.nn.Module, names: tuple[str, ...]) -> int:
    params = dict(module.named_parameters())
    return sum(int((params[n] == 0).sum()) for n in names)


# ---------------------------------------------------------------------------------------------------------------
# Every method, from a sweep's model or an audit config's


@dataclass(frozen=True)
class Plan:
    """What every method of one run shares: the audit, the models, the splits, the settings, the files' formats."""

    results: Results
    harm: Harm
    source: Swept
    dense: Swept
    tune: Images  # the fine-tuning split
    held: Images  # the held-out split
    training: Training
    settings: Settings
    epsilon: float  # constrained: the bound on ψ_c
    device: str
    threads: int
    batch_size: int  # inference (accuracies, the constrained method's reference)
    formats: tuple[str, ...]  # the recovered models' files (`export.model_files`)
    opset: int


@dataclass(frozen=True)
class Start:
    """The source model as it is, measured once before any method runs."""

    masks: dict[str, torch.Tensor]
    reference: Reference | None  # the dense model on the fine-tuning split (constrained only)
    facts: dict[str, Any]  # the source's held-out top-1 and sparsity (measured, zeros)
    dense_accuracy: float  # the dense model's held-out top-1


def measure(plan: Plan, *, name: str) -> Start:
    """The mask the source's zeros imply, checked against the audit's classes, and what the manifest records before."""
    source, held, n = plan.source, plan.held, plan.results.data.n_classes
    with numerics(plan.threads):
        start = source.build()
        masks = zero_masks(start)
        if not masks:
            raise ModelError(NOT_MASKABLE.format(path=source.file, name=name))
        _check_outputs(start, held, output=source.output, n_classes=n, where=source.file)
        names = weight_names(start)
        ref = None
        if "constrained" in plan.settings.methods:
            ref = reference(
                plan.dense.build(),
                plan.tune,
                n_classes=n,
                device=plan.device,
                output=plan.dense.output,
                batch_size=plan.batch_size,
            )
        facts = {
            "heldout_accuracy": accuracy(
                start, held, device=plan.device, output=source.output, batch_size=plan.batch_size
            ),
            "sparsity": {"measured": zero_share(start, names), "zeros": _zeros(start, names)},
        }
        dense_accuracy = accuracy(
            plan.dense.build(), held, device=plan.device, output=plan.dense.output, batch_size=plan.batch_size
        )
    return Start(masks=masks, reference=ref, facts=facts, dense_accuracy=dense_accuracy)


def recover(plan: Plan, start: Start, *, model: str, out: Path, progress: SweepCallback | None) -> list[dict[str, Any]]:
    """Every method of ``plan.settings``, one after another, each from a fresh copy of the source; their manifest entries."""
    methods = plan.settings.methods
    made: list[dict[str, Any]] = []
    predicted: dict[str, np.ndarray] = {}  # method → its held-out predictions, for the paired test against the control
    for method in methods:
        name = f"{model}+{method}"

        def tell(step: int, steps: int, *, name: str = name, finished: bool = False) -> None:
            if progress is not None:
                progress(SweepProgress(name, step, steps, len(made), len(methods), made=finished))

        entry, predicted[method] = _mitigate(method, plan, start, name=name, out=out, progress=tell)
        made.append(entry)
        tell(1, 1, finished=True)
    if CONTROL in predicted:
        for entry in made:
            if entry["method"] != CONTROL:
                entry["vs_control"] = vs_control(
                    predicted[entry["method"]], predicted[CONTROL], plan.held.labels, plan.harm.classes
                )
    return made


def vs_control(method: np.ndarray, control: np.ndarray, labels: np.ndarray, classes: tuple[int, ...]) -> dict[str, Any]:
    """A method against the control, paired on the held-out images of the harmed classes: the images only the method
    gets right, those only the control gets right, and the exact two-sided McNemar p-value of the two counts
    (binomial, p = 1/2, `metrics.significance.mcnemar_exact`). More fine-tuning alone recovers accuracy too, so
    a method helps only where it beats the control on the same images."""
    on = np.isin(labels, classes)
    right_m, right_c = method[on] == labels[on], control[on] == labels[on]
    only_m, only_c = int(np.sum(right_m & ~right_c)), int(np.sum(right_c & ~right_m))
    p = float(mcnemar_exact(np.array([only_m]), np.array([only_c]))[0])
    return {"images": int(on.sum()), "method_only": only_m, "control_only": only_c, "p": p}


def _mitigate(
    method: str, plan: Plan, start: Start, *, name: str, out: Path, progress: Callable[..., None]
) -> tuple[dict[str, Any], np.ndarray]:
    """Fine-tune a fresh copy of the source model by one method; write its files. Its manifest entry and its
    predictions on the held-out images."""
    started = time.perf_counter()
    training, settings, harm, source = plan.training, plan.settings, plan.harm, plan.source
    entry: dict[str, Any] = {"name": name, "method": method, "how": HOW[method], "epochs": training.epochs}
    loss = None
    if method != "finetune":
        entry |= {"classes": list(harm.classes), "class_names": list(harm.class_names)}
    with numerics(plan.threads), torch.random.fork_rng(devices=cuda_devices(plan.device)):
        torch.manual_seed(settings.seed)  # dropout and any other draw from torch's global generator
        module = source.build()
        if method == "reweight":
            loss = reweighted(class_weights(plan.results.data.n_classes, harm.classes, settings.class_weight))
            entry["class_weight"] = settings.class_weight
        elif method == "constrained":
            loss = ConstrainedLoss(
                classes=harm.classes, reference=start.reference, epsilon=plan.epsilon, dual_lr=settings.dual_lr
            )
            entry |= {"epsilon": plan.epsilon, "dual_lr": settings.dual_lr}
        done = [0]

        def step(n: int, total: int) -> None:
            done[0] += n
            progress(done[0], total)

        fit(
            module,
            plan.tune,
            training,
            seed=settings.seed,
            device=plan.device,
            output=source.output,
            masks=start.masks,
            loss=loss,
            progress=step,
        )
        _check_held(module, start.masks, where=name)
        names = weight_names(module)
        predicted = predict(module, plan.held, device=plan.device, output=source.output, batch_size=plan.batch_size)
        entry["heldout_accuracy"] = float(np.mean(predicted == plan.held.labels))
        entry["sparsity"] = {"measured": zero_share(module, names), "zeros": _zeros(module, names)}
        if isinstance(loss, ConstrainedLoss):
            entry["multipliers"] = [float(v) for v in loss.multipliers]
        module = module.to("cpu").eval()
        files = export.model_files(
            module,
            plan.tune.prepared(plan.tune.raw[:1]),
            formats=plan.formats,
            opset=plan.opset,
            output=source.output,
        )
    entry["files"] = {}
    for fmt, content in files.items():
        path = out / fmt / f"{name}.{export.EXTENSIONS[fmt]}"
        if path.is_symlink():
            raise ModelError(f"{path}: is a link; mitigate writes its models only inside --out")
        write_file(path, content)
        entry["files"][fmt] = {"path": path.relative_to(out).as_posix(), "sha256": hashlib.sha256(content).hexdigest()}
    entry["seconds"] = time.perf_counter() - started
    return entry, predicted


def _check_held(module: torch.nn.Module, masks: dict[str, torch.Tensor], *, where: str) -> None:
    """Every weight pruned before is still zero (what `MaskedWeights` promises), checked, not assumed."""
    params = dict(module.named_parameters())
    moved = sum(int((params[n].detach().cpu()[m == 0] != 0).sum()) for n, m in masks.items())
    if moved:
        raise ModelError(f"{where}: {moved} pruned weight(s) became non-zero during fine-tuning; the mask did not hold")


# ---------------------------------------------------------------------------------------------------------------
# What is written


def splits(plan: Plan, *, train: DataSpec, rows: np.ndarray, heldout: bytes, finetune: str) -> dict[str, Any]:
    """Which split did what; ``finetune`` says what the fine-tuning split is (the training data less the held-out rows)."""
    results, n = plan.results, plan.results.data.n_classes
    return {
        "harm": {
            "role": "chose the harmed classes: the audit in results.json",
            "file": results.data.file,
            "sha256": results.data.sha256,
            "split": results.data.split,
            "images": results.data.n_samples,
        },
        "finetune": {
            "role": f"every mitigation fine-tuned on it: {finetune}",
            "file": train.path.name,
            "split": train.split,
            "images": len(plan.tune),
            "class_counts": np.bincount(plan.tune.labels, minlength=n).tolist(),
        },
        "heldout": {
            "role": f"held out of every mitigation fine-tuning; {FILE} holds it and audit.yaml re-audits on it",
            "file": FILE,
            "sha256": hashlib.sha256(heldout).hexdigest(),
            "carved_from": {"file": train.path.name, "split": train.split},
            "fraction": HELDOUT_FRACTION,
            "images": len(rows),
            "class_counts": np.bincount(plan.held.labels, minlength=n).tolist(),
        },
    }


def heldout_data(held: Images, kept: dict[str, Any]) -> dict[str, Any]:
    """The re-audit's data mapping: heldout.npz, read with the training data's own preprocessing settings.

    ``kept``: the training data's values of `KEEP_DATA_KEYS` that were given."""
    data: dict[str, Any] = {"path": FILE}
    names = held.dataset.class_names
    if names:
        data["class_names"] = list(names)
    if held.dataset.attributes:
        data["attributes"] = list(held.dataset.attributes)
    return data | {k: kept[k] for k in KEEP_DATA_KEYS if kept.get(k) is not None}


def audit_item(
    made: dict[str, Any],
    *,
    source: str,
    declared: dict[str, Any],
    before: int,
    training: Training,
    harmed: tuple[str, ...],
) -> dict[str, Any]:
    """A recovered model as the re-audit's config lists it: its own technique, so it is never pooled with the source.

    ``declared``: the source's technique, amount and seed, where it declares them (a technique ``t`` becomes
    ``t+METHOD``); ``before``: its fine-tuning epochs. ``harmed`` names the source's harmed classes on every
    method, the control's too: the card compares each method with the control on those classes."""
    classes = ", ".join(made.get("class_names", []))
    how = {
        "finetune": "plain cross-entropy",
        "reweight": f"classes {classes} weighted ×{made.get('class_weight', 0):g}",
        "constrained": f"ψ_c ≤ {made.get('epsilon', 0):g} on classes {classes}",
    }[made["method"]]
    technique = declared.get("technique")
    item: dict[str, Any] = {"name": made["name"]}
    if technique is not None:
        item["technique"] = f"{technique}+{made['method']}"
    item |= {k: declared[k] for k in ("amount", "seed") if declared.get(k) is not None}
    return (
        item
        | {
            "finetune_epochs": before + training.epochs,
            "notes": (
                f"{source} fine-tuned {training.epochs} more epoch{'s' if training.epochs != 1 else ''}, mask held, "
                f"{training.optimizer} lr {training.lr:g} {training.schedule}: {how}"
            ),
            "files": made["files"],
            # what the card's Mitigation section reads back from the re-audit's results.json
            "mitigates": source,
            "method": made["method"],
            "mitigation_seconds": round(made["seconds"], 1),
            "harmed_classes": list(harmed),
        }
        | ({"vs_control": made["vs_control"]} if "vs_control" in made else {})
    )


def build_manifest(
    plan: Plan,
    start: Start,
    *,
    config: str,
    results_path: Path,
    source_file: str,
    splits: dict[str, Any],
    made: list[dict[str, Any]],
    source_format: str | None = None,
) -> dict[str, Any]:
    """mitigation.json. ``config``: the file the models come from (the sweep's, or the audit config's) by name;
    ``source_file``: the source model's file, relative to that config's folder (or the sweep folder)."""
    results, harm = plan.results, plan.harm
    source = {"name": harm.model, "sha256": results.model(harm.model).sha256, "file": source_file}
    if source_format is not None:
        source["format"] = source_format
    return {
        "mitigation_version": MANIFEST_VERSION,
        "pruneaudit": __version__,
        "torch": torch.__version__,
        "cpu": cpu_name(),
        "config": config,
        "threads": plan.threads,
        "seed": plan.settings.seed,
        "results": {"file": results_path.name, "sha256": sha256(results_path)},
        "source": source | start.facts,
        "dense": {
            "name": results.dense.name,
            "sha256": results.dense.sha256,
            "heldout_accuracy": start.dense_accuracy,
        },
        "harmed": {
            "rule": harm.rule,
            "definition": harm.definition,
            "tolerance": harm.tolerance,
            "alpha": harm.alpha,
            "classes": list(harm.classes),
            "class_names": list(harm.class_names),
            "recall_change": list(harm.recall_change),
            "excess_gap": list(harm.excess_gap),
            "mcnemar_p_holm": list(harm.p_holm),
        },
        "training": asdict(plan.training),
        "splits": splits,
        "models": made,
    }
