"""`pruneaudit prune --backend ray`: the sweep's models made by Ray actors, recorded by the driver.

Each actor loads the training and evaluation data once and makes the models it is given with the
same `run.make_model` as a local worker, writing their files into the sweep folder (which every
node must see at the same path: a shared file system, or a single machine). Only the manifest
entry comes back; the driver records it, so the resume rule is the local one: a finished model is
never made again, and a killed sweep continues where it stopped. An actor that dies is restarted
and its model retried once; a second death is reported by model name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pruneaudit.raycommon import ray_instance, result, slots
from pruneaudit.sweep.config import SweepConfig


class SweepWorker:
    def __init__(self, config: SweepConfig, out: Path, device: str, n_classes: int) -> None:
        from pruneaudit.sweep.run import Context

        self.ctx = Context.loaded(config, out=out, device=device, n_classes=n_classes)

    def make(self, job: Any) -> dict[str, Any]:
        from pruneaudit.sweep.run import make_model

        return make_model(job, self.ctx, lambda step, total: None)


def run_on_ray(
    todo: list[Any],
    *,
    config: SweepConfig,
    out: Path,
    device: str,
    n_classes: int,
    workers: int | None,
    address: str | None,
    record: Callable[[dict[str, Any]], None],
) -> dict[str, str]:
    """Make ``todo`` (run.Job) on Ray actors, recording each entry as it comes back; the backend's description."""
    with ray_instance(address) as ray:
        gpu = device == "cuda"
        count = min(workers or slots(ray, gpu=gpu), len(todo))
        actor = ray.remote(
            num_cpus=0 if gpu else config.threads, num_gpus=1 if gpu else 0, max_restarts=1, max_task_retries=1
        )(SweepWorker)
        pool = [actor.remote(config, out, device, n_classes) for _ in range(count)]
        futures = {pool[k % count].make.remote(job): job for k, job in enumerate(todo)}
        while futures:
            ready, _ = ray.wait(list(futures), num_returns=1)
            job = futures.pop(ready[0])
            record(result(ray, ready[0], names=[job.name]))
        return {"backend": "ray", "ray": ray.__version__, "ray_workers": str(count)}
