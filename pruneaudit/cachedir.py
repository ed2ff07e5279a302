"""Where pruneaudit keeps what it can reuse between runs: predictions, file hashes, the Vega bundle.

A cache only saves time: an entry that cannot be read is recomputed (and rewritten), never
trusted and never an error. Entries are written atomically (a temporary file renamed over the
name) so that two runs sharing a cache, or a run killed halfway, never leave a torn entry.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
ENV_VAR = "PRUNEAUDIT_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$PRUNEAUDIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/pruneaudit``, else ``~/.cache/pruneaudit``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pruneaudit"


ENTRY_LIMIT = 64 << 20  # no entry this cache writes is near this size; a bigger file is not one of ours


def read_entry(path: Path, *, limit: int = ENTRY_LIMIT) -> bytes | None:
    """The entry's bytes; None when it is absent, unreadable, not a regular file, a link, or over ``limit``.

    A cache folder is written by earlier runs, but anything could be put there: a link to /dev/zero
    or a huge file is treated as a missing entry (the caller recomputes it), never read whole.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            log.warning("cache %s ignored (not a regular file of at most %d bytes)", path, limit)
            return None
        try:
            data = f.read(limit + 1)
        except OSError:
            return None
    return data if len(data) <= limit else None  # it grew while being read


def write_entry(path: Path, data: bytes) -> None:
    """Store an entry atomically; a cache that cannot be written is logged and skipped, not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("cache %s not written (%s)", path, exc.strerror or exc)
