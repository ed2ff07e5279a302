"""What the two Ray backends (audit: `raybackend`, prune: `sweep.raytasks`) share: importing Ray, its errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pruneaudit.errors import ConfigError, ModelError, PruneAuditError

RAY_MISSING = "--backend ray needs Ray, which is not installed: pip install 'pruneaudit[ray]'"
DIED = "{names}: the Ray worker running {them} died twice ({reason}); nothing was written for {them}"


def ray_module() -> Any:
    """Ray, imported now, with usage statistics off (no network at run time)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


@contextmanager
def ray_instance(address: str | None) -> Iterator[Any]:
    """Ray, connected: to ``address`` (a running cluster) or to a local instance started here and shut down
    on leaving, also on Ctrl-C or an error; a Ray the caller already started is left running."""
    ray = ray_module()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def slots(ray: Any, *, gpu: bool) -> int:
    """Actors the cluster holds at once: one per CPU, or one per GPU on CUDA."""
    return int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1)) or 1


def result(ray: Any, ref: Any, *, names: list[str]) -> Any:
    """``ray.get(ref)``, with the task's own pruneaudit error raised as if local, and an actor that died
    twice (restarted and retried once) reported by the names of the models it was running."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if not isinstance(exc.cause, PruneAuditError):
            raise
        raise type(exc.cause)(*exc.cause.args) from None
    except ray.exceptions.RayActorError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        them = "it" if len(names) == 1 else "them"
        raise ModelError(DIED.format(names=", ".join(names), them=them, reason=reason)) from None
