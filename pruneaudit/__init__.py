"""pruneaudit: audit what pruning did to a classifier, class by class.

The library behind the CLI, for use from Python:

    from pathlib import Path
    import pruneaudit

    config = pruneaudit.build_config(config_path=Path("audit.yaml"))
    results = pruneaudit.audit(config)                      # typed view of results.json
    pruneaudit.render(results, out_dir=Path("report"))      # index.html, card.md, results.json, ...
    saved = pruneaudit.load_results(Path("report/results.json"))
    checks = pruneaudit.check(saved, policy=pruneaudit.load_policy(Path("policy.yaml")))

Errors are `pruneaudit.PruneAuditError` subclasses carrying the CLI's exit code.
"""

from importlib import import_module

from pruneaudit._version import __version__

# name → module that defines it: imported on first use, so `import pruneaudit` loads no torch.
_EXPORTS = {
    "audit": "pruneaudit.api",
    "audit_to_directory": "pruneaudit.api",
    "check": "pruneaudit.api",
    "render": "pruneaudit.api",
    "select": "pruneaudit.api",
    "prune": "pruneaudit.api",
    "mitigate": "pruneaudit.api",
    "study": "pruneaudit.api",
    "build_config": "pruneaudit.config",
    "build_sweep_config": "pruneaudit.sweep.config",
    "load_policy": "pruneaudit.policy",
    "load_results": "pruneaudit.results",
    "PruneAuditError": "pruneaudit.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pruneaudit' has no attribute {name!r}")
