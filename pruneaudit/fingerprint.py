"""sha256 of the files an audit read, so a results.json names exactly which model and data it describes.

With a cache folder, a file's hash is kept under ``<cache>/sha256/``, keyed by what ``stat`` says
of it (resolved path, size, mtime_ns, ctime_ns, inode, device), so an unchanged file is not read
again; any write to it changes its ctime, which no program can set back. A file changed in the last
two seconds is hashed every time and not kept: filesystem clocks tick coarsely (FAT: 2 s), and a
second write within the same tick would otherwise leave the same stat behind (git's "racy" case).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pruneaudit.cachedir import read_entry, write_entry

RACY_NS = 2 * 10**9  # files whose ctime is this recent are hashed every time


def sha256(path: Path, *, cache_dir: Path | None = None) -> str:
    """Hash of a file, or of a folder tree (every file's relative path and hash, in sorted order)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + bytes.fromhex(sha256(f, cache_dir=cache_dir)))
        return h.hexdigest()
    if cache_dir is None:
        return _hash_file(path)
    st = path.stat()
    stat_key = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\0{st.st_dev}"
    entry = cache_dir / "sha256" / hashlib.sha256(stat_key.encode()).hexdigest()
    kept = read_entry(entry)
    if kept is not None and len(kept) == 64 and all(c in b"0123456789abcdef" for c in kept):
        return kept.decode()
    digest = _hash_file(path)
    if time.time_ns() - st.st_ctime_ns >= RACY_NS:
        write_entry(entry, digest.encode())
    return digest


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
