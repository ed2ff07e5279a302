"""card.yaml: the owner-written parts of the model card (Mitchell et al. 2019).

Every field is optional; a part that is not provided is shown as "not provided" in the
card instead of vanishing, so a reader knows it was never written. The fields that end up in
card.md's front matter (licence, base_model, library_name) are checked against what the
Hugging Face Hub accepts there, so that a card pushed as a model repository's README is not
refused by the Hub, or shown with a licence it cannot link.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pruneaudit.errors import ConfigError
from pruneaudit.results.view import HUB_ID_EXPECTED, HUB_LICENCES, OTHER, is_hub_id
from pruneaudit.yamlfile import check_keys, read_yaml, shown

TEXT_FIELDS = (
    "name",
    "version",
    "licence",
    "licence_name",
    "licence_link",
    "base_model",
    "library_name",
    "training_data",
    "evaluation_data",
    "ethical_considerations",
)
LIST_FIELDS = ("owners", "references", "intended_uses", "out_of_scope_uses", "factors", "caveats")
CARD_KEYS = TEXT_FIELDS + LIST_FIELDS

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")  # a licence_name or library_name: one token, no spaces

BAD_LICENCE = (
    "{where}: licence must be a licence id of the Hugging Face Hub (apache-2.0, mit, cc-by-4.0, …, see "
    "https://huggingface.co/docs/hub/repositories-licenses), or other with licence_link; received {value}"
)
OTHER_NEEDS_LINK = (
    "{where}: licence other needs licence_link: a URL of the licence text, or the path of the LICENSE file "
    "in the model repository"
)
ONLY_FOR_OTHER = "{where}: {key} is for licence other only (the Hub links its listed licences itself); received {value}"


def _text(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, (str, int, float)):
        raise ConfigError(f"{where}: {key} must be text, received {shown(value)}")
    return None if value is None else str(value).strip()


def _hub_fields(card: dict[str, Any], where: str) -> None:
    """The front matter's fields, checked (and the licence id lower-cased) as the Hub reads them."""
    licence = card["licence"]
    if licence is not None:
        if licence.lower() not in HUB_LICENCES:
            raise ConfigError(BAD_LICENCE.format(where=where, value=shown(licence)))
        card["licence"] = licence = licence.lower()
    for key in ("licence_name", "licence_link"):
        if card[key] is not None and licence != OTHER:
            raise ConfigError(ONLY_FOR_OTHER.format(where=where, key=key, value=shown(card[key])))
    if licence == OTHER and not card["licence_link"]:
        raise ConfigError(OTHER_NEEDS_LINK.format(where=where))
    if card["licence_link"] is not None and any(c.isspace() for c in card["licence_link"]):
        raise ConfigError(
            f"{where}: licence_link must be a URL or a file path without spaces; received {shown(card['licence_link'])}"
        )
    if card["licence_name"] is not None and not _ID.fullmatch(card["licence_name"]):
        raise ConfigError(
            f"{where}: licence_name must be an id for the licence (letters, digits, '.', '-', '+', e.g. "
            f"my-licence-1.0); received {shown(card['licence_name'])}"
        )
    if card["base_model"] is not None and not is_hub_id(card["base_model"]):
        raise ConfigError(
            f"{where}: base_model must be {HUB_ID_EXPECTED}, the dense model's repository; "
            f"received {shown(card['base_model'])}"
        )
    if card["library_name"] is not None and not _ID.fullmatch(card["library_name"]):
        raise ConfigError(
            f"{where}: library_name must be a library id of the Hub (pytorch, onnx, timm, …); "
            f"received {shown(card['library_name'])}"
        )


def parse_card(raw: Any, *, where: str) -> dict[str, Any]:
    """Validate card metadata; returns a dict with every key present (None when not provided)."""
    raw = check_keys(where, {} if raw is None else raw, CARD_KEYS)
    card: dict[str, Any] = {key: _text(raw, key, where) for key in TEXT_FIELDS}
    for key in LIST_FIELDS:
        value = raw.get(key)
        if value is None:
            card[key] = None
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            card[key] = [str(v).strip() for v in value]
        else:
            raise ConfigError(f"{where}: {key} must be a list of text items, received {shown(value)}")
    _hub_fields(card, where)
    return card


def load_card(path: Path) -> dict[str, Any]:
    return parse_card(read_yaml(path), where=str(path))
