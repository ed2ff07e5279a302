"""A static SVG of each chart, drawn by vl-convert, inlined so that the card shows its charts without JavaScript.

The card's script replaces each SVG with the interactive view; printing, a reader with scripts off and
a chart that fails to draw keep the static one. Drawn with the Vega-Lite release the inlined bundle runs
(bundle.VEGALITE_VERSION), so both views are the same picture.

Inlined rather than an <img> data URI: its text stays text (found by search, copied, extracted from a
printed PDF) and it costs no base64. Inline SVG is parsed as markup, so what is inlined is checked:
only the elements Vega writes, with plain attributes: no script, link, external reference or event
handler (`checked`).
Chart data holds user-supplied names; vl-convert escapes them in text and attributes.

Vega numbers gradients and clip paths from a process-wide counter, and every chart on one page starts
at 0: ids are renumbered per chart and prefixed with its section id, which makes the SVG the same bytes
in every run and unique on the page. Converting costs 0.05-0.6 s a chart (and about 0.7 s to start
vl-convert), so the SVG is cached by spec (``<cache_dir>/svg/<sha256>.svg``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pruneaudit.cachedir import read_entry, write_entry
from pruneaudit.escape import xml_text
from pruneaudit.report.bundle import VEGALITE_VERSION

# Marks' own aria-labels are left out: the chart's container is role="img" with a label, which hides its
# content from assistive technology, and they are a third to two thirds of the SVG's bytes.
CONFIG = {"aria": False}
_TAG = re.compile(r"<(/?)([A-Za-z][\w.:-]*)((?:\s+[\w.:-]+=\"[^\"<>]*\")*)\s*(/?)>")
_ATTRIBUTE = re.compile(r"\s+([\w.:-]+)=\"([^\"]*)\"")
# What Vega's SVG renderer writes for the marks the card uses. Anything else is refused: an HTML element (<b>,
# <p>) would end the SVG for an HTML parser, and script, style, a, use, image and foreignObject run or fetch.
_ELEMENTS = {"svg", "g", "path", "rect", "line", "text", "tspan", "defs", "lineargradient", "radialgradient", "stop"}
_ELEMENTS |= {"clippath", "title", "desc"}
_ID = re.compile(r"\bid=\"([^\"]*)\"")


def checked(svg: str) -> bool:
    """Whether the text is one <svg> element of plain tags and attributes that is safe to inline in HTML.

    Text between tags holds no '<' or '>' (vl-convert writes them as entities), so the tags found are the
    tags an HTML parser sees. Refused: an element Vega's renderer does not write (_ELEMENTS), comments and
    other markup, event handlers, links, style attributes and any reference but a fragment (url(#id))."""
    if not (svg.startswith("<svg ") and svg.endswith("</svg>")):
        return False
    end = 0
    for tag in _TAG.finditer(svg):
        if any(c in svg[end : tag.start()] for c in "<>"):
            return False
        end = tag.end()
        if tag.group(2).lower() not in _ELEMENTS:
            return False
        for name, value in _ATTRIBUTE.findall(tag.group(3)):
            name, value = name.lower(), value.lower()
            if name.startswith("on") or name.endswith("href") or name == "style":
                return False
            if "url(" in value.replace(" ", "").replace("url(#", ""):
                return False
    return end == len(svg)


def _renumbered(svg: str, prefix: str) -> str:
    """Every id replaced by ``<prefix>-<n>`` in order of first appearance, with its url(#id) references."""
    names = {old: f"{prefix}-{n}" for n, old in enumerate(dict.fromkeys(_ID.findall(svg)))}
    if not names:
        return svg
    ref = re.compile(r"(\bid=\"|url\(#)(" + "|".join(map(re.escape, names)) + r")(?=[\")])")
    return _TAG.sub(lambda tag: ref.sub(lambda m: m.group(1) + names[m.group(2)], tag.group(0)), svg)


def _key(spec: dict[str, Any]) -> str:
    import vl_convert

    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)
    identity = f"{vl_convert.__version__}\0{VEGALITE_VERSION}\0{json.dumps(CONFIG, sort_keys=True)}\0{text}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def _xml_safe(value: Any) -> Any:
    """The spec with every string one that XML can hold: vl-convert parses its own SVG again and aborts the
    whole process (a Rust panic, no Python exception) on a character such as ESC in a model or class name."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {k: _xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_safe(v) for v in value]
    return value


def _convert(spec: dict[str, Any]) -> str:
    """The spec drawn by vl-convert, its ids renumbered from 0 (the same bytes whatever ran before)."""
    import vl_convert

    safe = _xml_safe(spec)
    svg = _renumbered(vl_convert.vegalite_to_svg(safe, vl_version=VEGALITE_VERSION, config=CONFIG), "id")
    if not checked(svg):
        raise RuntimeError("vl-convert's SVG holds markup that cannot be inlined in the card (see report/svg.py)")
    return svg


def chart_svg(spec: dict[str, Any], *, prefix: str, cache_dir: Path | None) -> Markup:
    """The chart as inline SVG markup, its ids prefixed with ``prefix``; from the cache folder when its
    entry passes the same check as a fresh conversion, else converted (and stored there)."""
    path = None if cache_dir is None else cache_dir / "svg" / f"{_key(spec)}.svg"
    svg = None
    if path is not None:
        try:
            svg = (read_entry(path) or b"").decode("utf-8")
        except UnicodeDecodeError:
            svg = None
        if not svg or not checked(svg):
            svg = None
    if svg is None:
        svg = _convert(spec)
        if path is not None:
            write_entry(path, svg.encode("utf-8"))
    return Markup(_renumbered(svg, prefix))
