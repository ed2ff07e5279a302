"""Run a sweep: train or load the dense model, make every variant, write the manifest and audit configs.

Resuming is the normal case, not a special one: ``manifest.json`` lists each finished model with a
key (the hash of everything that decides its weights) and its files' sha256. A model whose entry
matches is never made again; one that a killed run left half-written has no entry and is made
again. The manifest is rewritten atomically after each model, by this process only (workers return
their results), so a kill at any moment leaves it valid. ``audit.yaml`` is written last, once every
model exists.

Each model is made from its own seed with a fixed number of intra-op threads (``threads``), so its
weights depend neither on which other models ran, nor in which order, nor on ``--jobs``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pruneaudit._version import __version__
from pruneaudit.errors import ConfigError, ModelError, OutputError, PruneAuditError
from pruneaudit.fingerprint import sha256
from pruneaudit.models import load_predictor, resolve_device
from pruneaudit.models.base import first_line
from pruneaudit.models.torch_common import select_output
from pruneaudit.models.torch_module import build_module
from pruneaudit.outputs import report_lock, write_file
from pruneaudit.sweep import export
from pruneaudit.sweep.audit_config import AUDIT_CONFIG_NAMES, audit_configs
from pruneaudit.sweep.config import DenseRun, SweepConfig, Variant
from pruneaudit.sweep.masks import MaskedWeights, compute_masks, select_layers, sparsity, weight_names
from pruneaudit.sweep.train import Images, accuracy, fit, load_images

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
TIMINGS = "timings.json"
MANIFEST_VERSION = "1.0"
# Bumped whenever the same settings would give other weights (how masks, seeds or training work):
# models made by another version are then made again, never mixed in silently.
ALGORITHM = 1
CYCLE_SEED_STRIDE = 1_000_003  # fine-tuning cycle c of a variant with seed s draws from s + c × this
STALE = (
    "{path}: {name} was made with other settings than this config gives it; "
    "delete its files and its entry (or use another --out) to make it again"
)
BAD_MANIFEST = "{path}: not a sweep manifest written by pruneaudit prune ({reason}); use another --out"


@dataclass(frozen=True)
class Job:
    """One model to make: the dense model itself, a dense seed, or a pruned variant."""

    name: str
    role: str  # "dense", "dense_seed" or "variant"
    key: str  # sha256 of everything that decides its weights
    variant: Variant | None = None
    dense: DenseRun | None = None


@dataclass(frozen=True)
class SweepProgress:
    """What the progress callback is told: a step of model ``name`` and how far the sweep is."""

    name: str
    step: int  # steps of this model done so far
    steps: int  # its steps in all (batches × epochs; 1 for a model that is only exported)
    finished: int  # models finished in the whole sweep, skipped ones included
    total: int
    made: bool = False  # this event says that model ``name`` is finished and recorded


SweepCallback = Callable[[SweepProgress], None]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _data_identity(images: Images) -> dict[str, Any]:
    """The data's options and files: an image folder as its tree, a manifest with every image it lists."""
    spec = images.dataset.spec
    fields = {k: v for k, v in asdict(spec).items() if k not in ("path", "labels", *spec.DESCRIPTIVE)}
    files = [spec.path, *([spec.labels] if spec.labels else [])]
    files += list(getattr(images.dataset.images, "paths", ()))  # manifest and folder images
    fields["files"] = [sha256(f) for f in files]
    return fields


def plan(config: SweepConfig, *, device: str, train: Images, eval: Images) -> tuple[Job, ...]:
    """Every model of the sweep in order (dense, dense seeds, variants), each with its key."""
    common = {
        "algorithm": ALGORITHM,
        "threads": config.threads,
        "device": device,
        "train_data": _data_identity(train),
        "eval_data": _data_identity(eval),  # the manifest's eval accuracy
        "output": config.model.output,
        "factory": config.model.factory,
        "factory_kwargs": config.model.factory_kwargs,
    }
    if config.trained is None:
        dense_identity: dict[str, Any] = {
            "file": sha256(config.model.path),
            "format": config.model.format,
            "eval_data": common["eval_data"],
        }
    else:
        dense_identity = {"train": asdict(config.train), "seed": config.trained.seed, **common}
    dense_key = hashlib.sha256(_canonical(dense_identity).encode()).hexdigest()
    jobs = [Job(name=config.model.name, role="dense", key=dense_key, dense=config.trained)]
    for run in config.dense_seeds:
        identity = {"train": asdict(config.train), "seed": run.seed, **common}
        jobs.append(Job(name=run.name, role="dense_seed", key=_key(identity), dense=run))
    for v in config.variants:
        # neither its name nor its audit label changes a model's weights
        made = {k: value for k, value in asdict(v).items() if k != "label"} | {"name": None}
        identity = {"variant": made, "dense": dense_key, **common}
        if v.finetune is not None and v.finetune.rewind:
            identity["rewind_from"] = asdict(config.train)
        jobs.append(Job(name=v.name, role="variant", key=_key(identity), variant=v))
    return tuple(jobs)


def _key(identity: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(identity).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Making one model (in this process or in a worker)


@dataclass
class Context:
    """What every job of one process needs, loaded once: the data and the dense model's weights."""

    config: SweepConfig
    out: Path
    device: str
    train: Images
    eval: Images
    dense_module: torch.nn.Module | None = None  # loaded from model.path, or the trained dense model
    n_classes: int = 0  # the dense model's outputs, settled by _check_dense (workers: given)

    @classmethod
    def loaded(cls, config: SweepConfig, *, out: Path, device: str, n_classes: int) -> Context:
        """A worker's context (a process or a Ray actor): its own threads setting and copy of the data."""
        torch.set_num_threads(config.threads)
        train, eval = load_images(config.train_data), load_images(config.eval_data)
        return cls(config=config, out=out, device=device, train=train, eval=eval, n_classes=n_classes)

    def build(self) -> torch.nn.Module:
        """A fresh module from the factory, initialised by torch's global generator (seeded by the caller)."""
        return build_module(self.config.model, search=self.config.base_dir, trusted=self.config.trusted_factories)

    def dense(self) -> torch.nn.Module:
        """A copy of the dense model on the device, in eval mode: each variant starts from the same weights.

        A TorchScript model is read again from its file (a deep copy of one has non-leaf parameters).
        """
        config = self.config
        if config.trained is None and config.model.format == "torchscript":
            return load_predictor(config.model, device=self.device).module
        if self.dense_module is None:
            self.dense_module = _read_dense(self)
        return copy.deepcopy(self.dense_module).to(self.device).eval()

    def example(self) -> torch.Tensor:
        return self.eval.prepared(self.eval.raw[:1])


def _read_dense(ctx: Context) -> torch.nn.Module:
    """The dense model: from the config's file, or (trained by this sweep) back from its saved files."""
    config = ctx.config
    if config.trained is None:
        predictor = load_predictor(
            config.model,
            device="cpu",
            trust_pickle=config.trust_pickle,
            trusted_factories=config.trusted_factories,
            search=config.base_dir,
        )
        return predictor.module
    if "state_dict" in config.formats:
        saved = _model_path(ctx.out, config.model.name, "state_dict")
        state = torch.load(str(saved), map_location="cpu", weights_only=True)
    else:
        state = torch.jit.load(
            str(_model_path(ctx.out, config.model.name, "torchscript")), map_location="cpu"
        ).state_dict()
    module = ctx.build()
    module.load_state_dict(state)
    return module


def _model_path(out: Path, name: str, fmt: str) -> Path:
    return out / fmt / f"{name}.{export.EXTENSIONS[fmt]}"


def cuda_devices(device: str) -> list[int]:
    return [torch.cuda.current_device()] if device == "cuda" else []


@contextmanager
def numerics(threads: int) -> Iterator[None]:
    """Fixed threads and deterministic kernels for one model, restored afterwards."""
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)  # CUDA has ops without a deterministic kernel
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


def make_model(job: Job, ctx: Context, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Make one model, write its files, and return its manifest entry."""
    config = ctx.config
    started = time.perf_counter()
    entry: dict[str, Any] = {"name": job.name, "role": job.role, "key": job.key}
    seed = job.variant.seed if job.variant is not None else job.dense.seed if job.dense is not None else 0
    with numerics(config.threads), torch.random.fork_rng(devices=cuda_devices(ctx.device)):
        torch.manual_seed(seed)  # dropout and any other draw from torch's global generator
        if job.role == "variant":
            module, facts = _prune(job.variant, ctx, progress)
            entry.update(facts)
        elif job.dense is not None:
            module = ctx.build().to(ctx.device)  # initialised from the seed just set
            fit(
                module,
                ctx.train,
                config.train,
                seed=job.dense.seed,
                device=ctx.device,
                output=config.model.output,
                progress=progress,
            )
            entry.update({"technique": "none", "amount": 0.0, "seed": job.dense.seed, "train": asdict(config.train)})
        else:
            module = ctx.dense()
            progress(1, 1)
            entry.update({"technique": "none", "amount": 0.0, "seed": None})
        names = weight_names(module)
        entry["sparsity"] = {**entry.get("sparsity", {}), "measured": sparsity(module, names)}
        entry["eval_accuracy"] = accuracy(
            module, ctx.eval, device=ctx.device, output=config.model.output, batch_size=config.batch_size
        )
        module = module.to("cpu").eval()
        files = export.model_files(
            module, ctx.example(), formats=config.formats, opset=config.opset, output=config.model.output
        )
    entry["files"] = {}
    for fmt, content in files.items():
        path = _model_path(ctx.out, job.name, fmt)
        _write_model(path, content)
        entry["files"][fmt] = {
            "path": path.relative_to(ctx.out).as_posix(),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    if job.role == "dense" and config.trained is not None:
        ctx.dense_module = module
    entry["seconds"] = time.perf_counter() - started
    return entry


def _prune(v: Variant, ctx: Context, progress: Callable[[int, int], None]) -> tuple[torch.nn.Module, dict[str, Any]]:
    config = ctx.config
    module = ctx.dense()
    layers = select_layers(
        module,
        exclude=v.exclude,
        structured=v.base_technique == "ln_structured",
        n_classes=ctx.n_classes,
        where=str(config.source),
    )
    masks = None
    schedule = v.schedule()
    for cycle, target in enumerate(schedule):
        masks = compute_masks(
            module, technique=v.base_technique, sparsity=target, layers=layers, current=masks, seed=v.seed
        )
        if v.finetune is None:
            MaskedWeights(module, masks).remove()  # zeroes the weights once; nothing trains
            progress(1, 1)
            continue
        fit(
            module,
            ctx.train,
            v.finetune.training,
            seed=v.seed + CYCLE_SEED_STRIDE * cycle,
            device=ctx.device,
            output=config.model.output,
            masks=masks,
            rewind_from=config.train if v.finetune.rewind else None,
            progress=progress,
        )
    facts = {
        **_config_facts(Job(name=v.name, role="variant", key="", variant=v)),
        "sparsity": {
            "declared": v.amount,
            "pruned_layers": sparsity(module, layers.pruned),
            "layers": [n.removesuffix(".weight") for n in layers.pruned],
            "excluded": list(layers.excluded),
        },
    }
    return module, facts


def _config_facts(job: Job) -> dict[str, Any]:
    """What the config alone says of a variant (how it is made); measured facts come from making it."""
    v = job.variant
    if v is None:
        return {}
    finetune = None
    if v.finetune is not None:
        finetune = {**asdict(v.finetune.training), "rewind": v.finetune.rewind, "cycles": len(v.schedule())}
    return {
        "technique": v.technique,
        "label": v.audit_technique,
        "amount": v.amount,
        "seed": v.seed,
        "finetune": finetune,
        "schedule": list(v.schedule()),
    }


def _write_model(path: Path, content: bytes) -> None:
    """Atomically (a kill leaves the old file or the new one), and never through a link out of --out."""
    if path.is_symlink():
        raise OutputError(f"{path}: is a link; the sweep writes its models only inside --out")
    write_file(path, content)


# ---------------------------------------------------------------------------------------------------------------
# Workers


_WORKER: dict[str, Any] = {}  # per worker process: its Context and progress queue (a process is its own scope)


def _exit_with_parent(parent: int) -> None:
    """A worker whose sweep process died (killed, not interrupted) leaves at once instead of lingering."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _init_worker(config: SweepConfig, out: Path, device: str, n_classes: int, queue: Any) -> None:
    _exit_with_parent(os.getppid())
    _WORKER["ctx"] = Context.loaded(config, out=out, device=device, n_classes=n_classes)
    _WORKER["queue"] = queue


def _run_in_worker(job: Job) -> dict[str, Any]:
    queue = _WORKER["queue"]
    done = [0]

    def progress(step: int, total: int) -> None:
        done[0] += step
        if done[0] == total or done[0] % 10 == 0:
            queue.put((job.name, done[0], total))

    return make_model(job, _WORKER["ctx"], progress)


# ---------------------------------------------------------------------------------------------------------------
# The sweep


MALFORMED = (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError)


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Previous:
    """What an existing manifest says: its model entries by name, and the sources they were made from."""

    entries: dict[str, dict[str, Any]]
    sources: dict[str, Any]


def _read_manifest(path: Path) -> Previous:
    """The manifest, each entry shaped as this module writes it; anything else is refused in one line."""
    if not path.exists():
        return Previous(entries={}, sources={})
    try:
        raw = _load_json(path)
        if str(raw["manifest_version"]).split(".")[0] != MANIFEST_VERSION.split(".")[0]:
            raise ValueError(f"manifest version {raw['manifest_version']!r}, expected {MANIFEST_VERSION}")
        sources = raw.get("sources") or {}
        if not isinstance(sources, dict):
            raise TypeError("sources must be a mapping")
        entries = {}
        for m in raw["models"]:
            files = m["files"]
            if not isinstance(m["name"], str) or not isinstance(m["key"], str) or not isinstance(files, dict):
                raise TypeError(f"model entry {str(m.get('name'))[:80]!r} is malformed")
            if not all(isinstance(f, dict) and isinstance(f.get("sha256"), str) for f in files.values()):
                raise TypeError(f"{m['name']}: files must map formats to their path and sha256")
            if not isinstance(m["sparsity"], dict):
                raise TypeError(f"{m['name']}: sparsity must be a mapping")
            entries[m["name"]] = m
    except MALFORMED as exc:
        raise OutputError(BAD_MANIFEST.format(path=path, reason=first_line(exc)[:200])) from None
    return Previous(entries=entries, sources=sources)


def _read_timings(path: Path) -> dict[str, float]:
    """Seconds each model took, kept apart from the manifest so that the manifest repeats byte for byte."""
    try:
        raw = _load_json(path)
    except MALFORMED:
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, (int, float))} if isinstance(raw, dict) else {}


def _finished(entry: dict[str, Any] | None, job: Job, *, out: Path, manifest: Path, formats: tuple[str, ...]) -> bool:
    """Whether ``job`` is done: its entry has the job's key and a file of each format, each intact."""
    if entry is None:
        return False
    if entry.get("key") != job.key:
        raise ConfigError(STALE.format(path=manifest, name=job.name))
    files = entry["files"]
    if set(formats) - set(files):
        log.info("%s: no %s file yet; making it again", job.name, ", ".join(sorted(set(formats) - set(files))))
        return False
    for fmt, item in ((f, files[f]) for f in formats):
        path = _model_path(out, job.name, fmt) if fmt in export.EXTENSIONS else None
        if (
            path is None or not isinstance(item, dict) or item.get("path") != path.relative_to(out).as_posix()
        ):  # only where this sweep writes: never elsewhere
            raise OutputError(
                BAD_MANIFEST.format(path=manifest, reason=f"{job.name}: unexpected file {item.get('path')!r}")
            )
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != item["sha256"]:
            log.info("%s: %s is missing or changed; making it again", job.name, path)
            return False
    return True


def _check_dense(ctx: Context, jobs: tuple[Job, ...]) -> int:
    """Before any training: the dense model runs on the data, its classes cover the labels, every variant's layers exist.

    Returns the number of classes (the model's outputs).
    """
    config = ctx.config
    module = ctx.build() if config.trained is not None else ctx.dense()
    module = module.to(ctx.device).eval()
    with torch.inference_mode():
        try:
            scores = select_output(module(ctx.example().to(ctx.device)), config.model.output, config.source)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise ModelError(
                f"{config.source}: the dense model rejected the data's input ({first_line(exc)})"
            ) from None
    n_classes = int(scores.shape[-1])
    ctx.n_classes = n_classes
    size = min(ctx.example().shape[-2:]) if config.eval_data.channels_first else min(ctx.example().shape[1:3])
    for job in jobs:
        t = job.variant.finetune.training if job.variant and job.variant.finetune else None
        if t is not None and t.translate >= size:
            raise ConfigError(
                f"{config.source}: {job.name}: augment.translate {t.translate} must be below the image size {size}"
            )
    try:  # the formats can be written: an export that fails does so now, not after the training
        export.model_files(
            module.to("cpu"), ctx.example(), formats=config.formats, opset=config.opset, output=config.model.output
        )
    except ModelError as exc:
        raise ModelError(f"{config.source}: the dense model: {exc}") from None
    module = module.to(ctx.device)
    for images, key in ((ctx.train, "train_data"), (ctx.eval, "eval_data")):
        if int(images.labels.max()) >= n_classes:
            raise ConfigError(
                f"{images.dataset.source}: {key} has labels up to {int(images.labels.max())} "
                f"but the dense model has {n_classes} outputs"
            )
    for job in jobs:
        if job.variant is not None:
            select_layers(
                module,
                exclude=job.variant.exclude,
                structured=job.variant.base_technique == "ln_structured",
                n_classes=n_classes,
                where=f"{config.source}: {job.name}",
            )
    return n_classes


def _check_out(config: SweepConfig, out: Path) -> None:
    """Refuse, before any training, a --out this sweep cannot write or would write its own input into."""
    for fmt in export.EXTENSIONS:
        folder = out / fmt
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise OutputError(f"{folder}: expected a folder of this sweep's {fmt} files, not a link or a file")
        if _model_path(out, config.model.name, fmt).resolve() == config.model.path.resolve():
            raise ConfigError(
                f"{config.source}: model.path {config.model.path} is where the sweep writes the dense model's "
                f"{fmt} file; give another --out"
            )
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write the sweep folder")


def _sources(config: SweepConfig) -> dict[str, Any]:
    """The code a sweep's models come from besides pruneaudit: the factory's own Python files."""
    if config.model.factory is None:
        return {"factory": None}
    from pruneaudit.models.factories import factory_sources

    files = factory_sources(config.model, search=config.base_dir)
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + bytes.fromhex(sha256(f)))
    return {"factory": digest.hexdigest()}


def _check_sources(config: SweepConfig, previous: dict[str, Any], manifest: Path) -> None:
    if "factory" in previous and previous["factory"] != _sources(config)["factory"]:
        raise ConfigError(
            f"{manifest}: the factory's code ({config.model.factory}) changed since these models were made; "
            "use another --out, or delete the models to make them again"
        )


def run_sweep(
    config: SweepConfig,
    *,
    out: Path,
    jobs: int | None = None,
    backend: str = "local",
    ray_address: str | None = None,
    progress: SweepCallback | None = None,
) -> dict[str, Any]:
    """Make every model of the sweep in ``out`` (resuming what is there) and return the manifest.

    ``jobs``: models made at once (local: worker processes, default 1; ray: actors, default one per
    CPU of the cluster). ``backend`` "ray" makes them on Ray actors (`pruneaudit.sweep.raytasks`).
    """
    device = resolve_device(config.device)
    with report_lock(out) as lock:
        target = lock.target
        target.mkdir(parents=True, exist_ok=True)
        _check_out(config, target)
        manifest_path = target / MANIFEST
        previous = _read_manifest(manifest_path)
        seconds = _read_timings(target / TIMINGS)
        ctx = Context(
            config=config,
            out=target,
            device=device,
            train=load_images(config.train_data),
            eval=load_images(config.eval_data),
        )
        planned = plan(config, device=device, train=ctx.train, eval=ctx.eval)
        n_classes = _check_dense(ctx, planned)
        _check_sources(config, previous.sources, manifest_path)
        counts = np.bincount(ctx.train.labels, minlength=n_classes).tolist()
        done: dict[str, dict[str, Any]] = {}
        todo = []
        for job in planned:
            if _finished(
                previous.entries.get(job.name), job, out=target, manifest=manifest_path, formats=config.formats
            ):
                # what the config alone decides comes from the config (the key vouches they match),
                # and only the files of the formats asked for are listed
                entry = previous.entries[job.name]
                files = {f: entry["files"][f] for f in config.formats}
                done[job.name] = {**entry, **_config_facts(job), "files": files}
            else:
                todo.append(job)
        log.info("%d of %d models already made; %d to make", len(done), len(planned), len(todo))

        def record(entry: dict[str, Any]) -> None:
            done[entry["name"]] = entry
            manifest = _manifest(config, planned, done, counts, ctx)
            write_file(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            seconds[entry["name"]] = entry["seconds"]
            write_file(target / TIMINGS, json.dumps(seconds, indent=2, sort_keys=True) + "\n")
            tell(entry["name"], 1, 1, made=True)

        def tell(name: str, step: int, steps: int, *, made: bool = False) -> None:
            if progress is not None:
                p = SweepProgress(name=name, step=step, steps=steps, finished=len(done), total=len(planned), made=made)
                progress(p)

        first = [j for j in todo if j.role == "dense"]
        rest = [j for j in todo if j.role != "dense"]
        for job in first:  # every variant starts from it
            record(make_model(job, ctx, _counter(job.name, tell)))
        if backend == "ray" and rest:
            from pruneaudit.sweep.raytasks import run_on_ray  # Ray is imported only for --backend ray

            run_on_ray(
                rest,
                config=config,
                out=target,
                device=device,
                n_classes=n_classes,
                workers=jobs,
                address=ray_address,
                record=record,
            )
        elif (jobs or 1) <= 1 or len(rest) <= 1:
            for job in rest:
                record(make_model(job, ctx, _counter(job.name, tell)))
        else:
            _run_pool(
                rest,
                config=config,
                out=target,
                device=device,
                n_classes=n_classes,
                jobs=jobs or 1,
                record=record,
                tell=tell,
            )
        manifest = _manifest(config, planned, done, counts, ctx)
        write_file(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        written = audit_configs(config, manifest=manifest, out=target)
        for name, text in written.items():
            write_file(target / name, text)
        for name in AUDIT_CONFIG_NAMES:
            if name not in written:  # a format dropped from the config: its audit config would list stale files
                (target / name).unlink(missing_ok=True)
        return manifest


def _counter(name: str, tell: Callable[[str, int, int], None]) -> Callable[[int, int], None]:
    done = [0]

    def progress(step: int, total: int) -> None:
        done[0] += step
        tell(name, done[0], total)

    return progress


def _run_pool(
    jobs_todo: list[Job],
    *,
    config: SweepConfig,
    out: Path,
    device: str,
    n_classes: int,
    jobs: int,
    record: Callable[[dict[str, Any]], None],
    tell: Callable[[str, int, int], None],
) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fork after torch has started threads can deadlock
    queue = context.Queue()
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(jobs_todo)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(config, out, device, n_classes, queue),
    ) as pool:
        pending: dict[Future, Job] = {pool.submit(_run_in_worker, job): job for job in jobs_todo}
        try:
            while pending:
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while not queue.empty():
                    tell(*queue.get_nowait())
                for future in finished:
                    job = pending.pop(future)
                    try:
                        record(future.result())
                    except PruneAuditError:
                        raise
                    except Exception as exc:  # a worker that died (BrokenProcessPool) or a bug in it
                        raise ModelError(f"{out}: making {job.name} failed in a worker ({first_line(exc)})") from None
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def cpu_name() -> str:
    """The CPU's model name with its family and model numbers (Linux), else the machine type.

    The numbers matter: a virtual machine may call two generations "AMD EPYC" alike, and their SIMD
    kernels give fine-tuned weights that differ in the last bits."""
    import platform

    try:
        fields: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if not key.strip():
                break  # the first processor's block is enough
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        fields = {}
    name = fields.get("model name")
    if not name:
        return platform.machine()
    numbers = [f"{k} {fields[k]}" for k in ("cpu family", "model") if k in fields]
    return f"{name} ({', '.join(numbers)})" if numbers else name


def _manifest(
    config: SweepConfig,
    planned: tuple[Job, ...],
    done: dict[str, dict[str, Any]],
    counts: list[int],
    ctx: Context,
) -> dict[str, Any]:
    """The manifest: the finished models in plan order, what they were made from, and the training class counts."""
    models = []
    for job in planned:
        if job.name in done:
            entry = {k: v for k, v in done[job.name].items() if k != "seconds"}
            models.append(entry)
    return {
        "manifest_version": MANIFEST_VERSION,
        "pruneaudit": __version__,
        "torch": torch.__version__,
        "cpu": cpu_name(),  # float results differ between CPU types (SIMD kernels): where these were made
        "config": str(config.source.name),
        "threads": config.threads,
        "train_data": {
            "images": len(ctx.train),
            "class_counts": counts,
            "class_names": list(ctx.train.dataset.class_names) if ctx.train.dataset.class_names else None,
        },
        "eval_data": {"images": len(ctx.eval)},
        "sources": _sources(config),
        "models": models,
        "complete": len(models) == len(planned),
    }
