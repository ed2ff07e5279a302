"""card.yaml: the owner-written parts of the model card (Mitchell et al. 2019).

Every field is optional; a part that is not provided is shown as "not provided" in the
card instead of vanishing, so a reader knows it was never written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pruneaudit.errors import ConfigError
from pruneaudit.yamlfile import check_keys, read_yaml, shown

TEXT_FIELDS = ("name", "version", "licence", "training_data", "evaluation_data", "ethical_considerations")
LIST_FIELDS = ("owners", "references", "intended_uses", "out_of_scope_uses", "factors", "caveats")
CARD_KEYS = TEXT_FIELDS + LIST_FIELDS


def parse_card(raw: Any, *, where: str) -> dict[str, Any]:
    """Validate card metadata; returns a dict with every key present (None when not provided)."""
    raw = check_keys(where, {} if raw is None else raw, CARD_KEYS)
    card: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}: {key} must be text, received {shown(value)}")
        card[key] = None if value is None else str(value).strip()
    for key in LIST_FIELDS:
        value = raw.get(key)
        if value is None:
            card[key] = None
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            card[key] = [str(v).strip() for v in value]
        else:
            raise ConfigError(f"{where}: {key} must be a list of text items, received {shown(value)}")
    return card


def load_card(path: Path) -> dict[str, Any]:
    return parse_card(read_yaml(path), where=str(path))
