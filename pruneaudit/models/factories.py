"""Where a state_dict factory may come from, decided before any of its code runs.

A factory is code named by the config, and importing its module runs that code, so the config
alone must not be able to name just any callable (``os:system`` with ``factory_kwargs: {command: ...}``
is a shell). Allowed: a module beside the config, that is a .py file or package folder directly in
the config's folder (auditing a config means trusting the Python files beside it; a virtual
environment further down is not "beside"), or an installed package whose top-level name the person
running the command gave with ``--trust-factory``. Never the standard library or pruneaudit itself,
even when named. Paths are resolved, so a symlink beside the config counts where it points. The
module is only located (``importlib.util.find_spec`` of its top-level name), never imported.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pruneaudit.errors import ModelError

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    from pruneaudit.specs import ModelSpec

NEVER_TRUSTED = frozenset(sys.stdlib_module_names) | {"pruneaudit", "__main__"}

ALLOWED = (
    "a factory may come from a .py file or package beside the config ({folder}), "
    "or from an installed package you allow with --trust-factory {package}"
)
FACTORY_MALFORMED = "{path}: factory {factory!r} must name a module as dotted Python names before the ':'"
FACTORY_NEVER = (
    "{path}: factory {factory!r} comes from {top!r}, part of the Python standard library or of pruneaudit, "
    "which no factory may come from, not even with --trust-factory; " + ALLOWED
)
FACTORY_NOT_FOUND = (
    "{path}: factory {factory!r}: no module {top!r} beside the config nor among the installed packages; " + ALLOWED
)
FACTORY_UNTRUSTED = "{path}: factory {factory!r} comes from {where}, not from beside the config; " + ALLOWED
FACTORY_UNDEFINED = (
    "{path}: factory {factory!r} does not name a function or class defined in a module; "
    "name one defined in the factory's module"
)


def _locate(top: str, folder: Path) -> ModuleSpec | None:
    """Where ``import top`` would load from, with the config's folder first on the path (as the loader puts it)."""
    added = str(folder)
    sys.path.insert(0, added)
    try:
        return importlib.util.find_spec(top)  # sys.modules first, then the finders: nothing is executed
    except ValueError:  # in sys.modules without a __spec__: no known file
        return None
    finally:
        sys.path.remove(added)


def _places(found: ModuleSpec) -> list[Path]:
    """The module's file and, for a package, every folder its submodules come from (all portions of a namespace)."""
    files = [found.origin] if found.has_location and found.origin else []
    return [Path(p).resolve() for p in [*files, *(found.submodule_search_locations or [])]]


def _check_module(top: str, *, spec: ModelSpec, folder: Path, trusted: tuple[str, ...]) -> None:
    """Raise ModelError unless the top-level module ``top`` lies beside the config or is a trusted package."""
    fields = {"path": spec.path, "factory": spec.factory, "top": top, "folder": folder, "package": "PACKAGE"}
    if top in NEVER_TRUSTED:
        raise ModelError(FACTORY_NEVER.format(**fields))
    found = _locate(top, folder)
    if found is None:
        raise ModelError(FACTORY_NOT_FOUND.format(**fields))
    places = _places(found)
    if places and all(p.parent == folder or p.is_relative_to(folder / top) for p in places):
        return  # a .py file (or extension) in the folder itself, or its package folder: not a venv below it
    if top not in trusted:
        where = ", ".join(map(str, places)) or f"{top!r} (no file)"
        raise ModelError(FACTORY_UNTRUSTED.format(**{**fields, "package": top}, where=where))


def check_factory(spec: ModelSpec, *, search: Path, trusted: tuple[str, ...]) -> None:
    """Raise ModelError unless ``spec.factory``'s module may be imported; imports nothing."""
    module = (spec.factory or "").partition(":")[0]
    if not all(part.isidentifier() for part in module.split(".")):
        raise ModelError(FACTORY_MALFORMED.format(path=spec.path, factory=spec.factory))
    _check_module(module.partition(".")[0], spec=spec, folder=search.resolve(), trusted=trusted)


def check_target(target: object, *, spec: ModelSpec, search: Path, trusted: tuple[str, ...]) -> None:
    """Raise ModelError unless the callable the attribute path reached is defined where a factory may come from.

    ``factory: mymodels:torch.hub.load`` or ``trusted_pkg.sub:os.system`` would otherwise reach through an
    allowed module into any module it imported.
    """
    defined = getattr(target, "__module__", None)
    if not isinstance(defined, str):
        raise ModelError(FACTORY_UNDEFINED.format(path=spec.path, factory=spec.factory))
    _check_module(defined.partition(".")[0], spec=spec, folder=search.resolve(), trusted=trusted)


def factory_sources(spec: ModelSpec, *, search: Path) -> list[Path]:
    """The Python files of the factory's top-level module or package, located without importing it.

    The prediction cache hashes them: an edit to the factory's own code infers its models again.
    """
    found = _locate((spec.factory or "").partition(":")[0].partition(".")[0], search.resolve())
    files: list[Path] = []
    for place in _places(found) if found else []:
        files += sorted(place.rglob("*.py")) if place.is_dir() else [place]
    return list(dict.fromkeys(files))
