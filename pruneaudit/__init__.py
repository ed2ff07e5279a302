"""pruneaudit: audit what pruning did to a classifier, class by class.

The library behind the CLI, for use from Python:

    from pruneaudit import audit, build_config, render_outputs

    results = audit(build_config(config_path=Path("audit.yaml")))
    files = render_outputs(results)  # {"index.html": ..., "card.md": ..., ...}
"""

__version__ = "0.1.0"

__all__ = ["__version__", "audit", "build_config", "gate", "load_policy", "load_results", "render_outputs", "select"]


def __getattr__(name: str):
    """Import on first use: `import pruneaudit` stays light (no torch) for `--version` and tools."""
    if name in ("audit", "gate"):
        from pruneaudit import api

        return getattr(api, name)
    if name == "build_config":
        from pruneaudit.config import build_config

        return build_config
    if name == "load_policy":
        from pruneaudit.policy import load_policy

        return load_policy
    if name == "load_results":
        from pruneaudit.results import load_results

        return load_results
    if name == "render_outputs":
        from pruneaudit.report import render_outputs

        return render_outputs
    if name == "select":
        from pruneaudit.selection import select

        return select
    raise AttributeError(f"module 'pruneaudit' has no attribute {name!r}")
