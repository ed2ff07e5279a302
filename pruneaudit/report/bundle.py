"""The Vega JavaScript the card inlines, kept in the cache folder: building it takes vl-convert 2–3 s.

The bundle depends only on the vl-convert release and the Vega-Lite version it is built with, so one
entry per pair (``<cache_dir>/vega/<vl-convert version>-vl<Vega-Lite version>.js``) serves every audit
and render that shares a cache folder.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from markupsafe import Markup

from pruneaudit.cachedir import read_entry, write_entry

ENTRY_POINT = "vegaEmbed"  # what card.html.j2 calls: a bundle without it cannot draw the charts
# The Vega-Lite release of Altair's specs ($schema), pinned so that the interactive charts and their
# static SVGs (report/svg.py) are drawn by the same one whatever vl-convert's latest is.
VEGALITE_VERSION = "6.4"


def bundle_path(cache_dir: Path) -> Path:
    """The cache entry of the installed vl-convert's bundle."""
    import vl_convert

    return cache_dir / "vega" / f"{vl_convert.__version__}-vl{VEGALITE_VERSION}.js"


def _usable(data: bytes | None) -> str | None:
    """The bundle's text if it can be inlined in a <script> element as it is, else None (rebuild it)."""
    try:
        js = (data or b"").decode("utf-8")
    except UnicodeDecodeError:
        return None
    if ENTRY_POINT not in js or "</script" in js.lower():
        return None
    return js


@lru_cache(maxsize=1)
def _build() -> str:
    """vega + vega-lite + vega-embed from vl-convert (about 0.9 MB); once per process at most."""
    import vl_convert

    js = _usable(vl_convert.javascript_bundle(vl_version=VEGALITE_VERSION).encode("utf-8"))
    if js is None:
        raise RuntimeError("vl-convert's vega bundle contains '</script' or lacks vegaEmbed and cannot be inlined")
    return js


def vega_javascript(cache_dir: Path | None) -> Markup:
    """The bundle from the cache folder when its entry is usable; else built and stored there.

    ``cache_dir`` None: no cache folder, the bundle is built (once per process)."""
    if cache_dir is None:
        return Markup(_build())
    path = bundle_path(cache_dir)
    js = _usable(read_entry(path))
    if js is None:
        js = _build()
        write_entry(path, js.encode("utf-8"))
    return Markup(js)
