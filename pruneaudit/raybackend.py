"""The Ray backend of `pruneaudit audit`: models spread over Ray actors, everything else as the local backend.

Each actor receives the dataset once, from Ray's object store (numpy arrays are shared, read-only,
by every actor of a node), opens the models it is given with the same loaders, and runs them over
the data with the same `inference.run_group`; only the compact `ModelRun` of each model comes back
(predictions, top-5 hits, facts). The driver computes metrics, selection and the card as it does
for the local backend, so the results are the same bytes but for the environment block, which
names the backend.

An actor that dies (a model that crashes its process, a lost node) is restarted and its task
retried once; a second death is reported by model name. A Ray instance this module started (no
``--ray-address``) is shut down when the audit ends, also on Ctrl-C or an error. Usage statistics,
which Ray would send over the network, are off.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from pruneaudit.data.dataset import Dataset
from pruneaudit.inference import ModelRun, Progress
from pruneaudit.raycommon import ray_instance, result, slots
from pruneaudit.specs import AuditConfig, ModelSpec

CHUNKS_PER_WORKER = 4  # tasks per actor: small enough to balance uneven models, large enough to share a data pass


class Worker:
    """One actor: the dataset and the audit's settings, kept for every task it runs."""

    def __init__(self, config: AuditConfig, dataset: Dataset) -> None:
        self.config, self.dataset = config, dataset

    def run(self, indices: list[int], *, device: str, n_classes: int | None) -> list[tuple[int, ModelRun]]:
        from pruneaudit.pipeline import run_local  # the local backend itself, on this actor

        config = self.config
        specs = (config.dense, *config.pruned, *config.dense_seeds)
        out: list[tuple[int, ModelRun]] = []
        run_local(
            config,
            specs,
            indices,
            self.dataset,
            device=device,
            n_classes=n_classes,
            keep=lambda *kept: out.append(kept),
        )
        return out


def _chunks(indices: Sequence[int], parts: int) -> list[list[int]]:
    size = max(1, math.ceil(len(indices) / parts))
    return [list(indices[i : i + size]) for i in range(0, len(indices), size)]


def run_models(
    config: AuditConfig,
    specs: tuple[ModelSpec, ...],
    pending: list[int],
    dataset: Dataset,
    *,
    device: str,
    n_classes: int | None,
    keep: Callable[[int, ModelRun], None],
    progress: Progress | None,
) -> dict[str, str]:
    """Run ``specs[i]`` for every i in ``pending`` on Ray actors, handing each run to ``keep`` as it comes back;
    returns the environment entries that name the backend.

    ``config.ray_address``: an existing cluster ("auto", "ray://head:10001"), else a local instance is
    started; ``config.workers``: actors, by default one per CPU of the cluster (one per GPU on CUDA).
    """
    with ray_instance(config.ray_address) as ray:
        gpu = device == "cuda"
        workers = min(config.workers or slots(ray, gpu=gpu), max(1, len(pending)))
        actor = ray.remote(num_cpus=0 if gpu else 1, num_gpus=1 if gpu else 0, max_restarts=1, max_task_retries=1)
        data = ray.put(dataset)
        pool = [actor(Worker).remote(config, data) for _ in range(workers)]
        order = list(pending)
        if n_classes is None and order[0] == 0:  # label-only models are checked against the dense model's count
            n_classes = _gather(ray, pool[:1], [[0]], specs, dataset, device, None, keep, progress)
            order = order[1:]
        _gather(
            ray, pool, _chunks(order, workers * CHUNKS_PER_WORKER), specs, dataset, device, n_classes, keep, progress
        )
        return {"backend": "ray", "ray": ray.__version__, "ray_workers": str(workers)}


def _gather(
    ray: Any,
    pool: list[Any],
    chunks: list[list[int]],
    specs: tuple[ModelSpec, ...],
    dataset: Dataset,
    device: str,
    n_classes: int | None,
    keep: Callable[[int, ModelRun], None],
    progress: Progress | None,
) -> int | None:
    """Run the chunks on the pool, round robin; returns the class count of the last run (the dense model's for [[0]])."""
    futures = {
        pool[k % len(pool)].run.remote(chunk, device=device, n_classes=n_classes): chunk
        for k, chunk in enumerate(chunks)
    }
    last = n_classes
    while futures:
        ready, _ = ray.wait(list(futures), num_returns=1)
        chunk = futures.pop(ready[0])
        done = result(ray, ready[0], names=[specs[i].name for i in chunk])
        for i, run in done:
            if progress is not None:  # a whole model at once: its time, warm-up included, is what the others take
                progress.advance(len(dataset), model=specs[i].name)
            keep(i, run)
            last = run.n_classes
    return last
