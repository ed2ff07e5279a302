"""Reading the YAML files users write (config, policy, card): one place for their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pruneaudit.errors import MISSING_FILE, UNKNOWN_KEY, ConfigError


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file or bad YAML is a one-line ConfigError naming the file."""
    if not path.exists():
        raise ConfigError(MISSING_FILE.format(path=path))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def check_keys(where: str, mapping: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A mapping whose keys are all in ``allowed``; the error lists the valid keys."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, received {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            raise ConfigError(UNKNOWN_KEY.format(where=where, key=key, allowed=", ".join(allowed)))
    return mapping
