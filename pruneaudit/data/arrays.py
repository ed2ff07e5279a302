"""Read .npy and .npz arrays with their sizes checked first, from the file's own directory and headers.

``np.load`` trusts a file: an .npz member inflates to whatever it holds and an .npy header's shape
decides what is allocated before a byte of data is read, so a 1 MB zip bomb becomes gigabytes and a
header declaring 10⁹ × 28 × 28 ends in a MemoryError. Here every member's declared uncompressed size
and compression ratio, and every header's shape × itemsize, are checked against a limit first.
``zipfile`` never inflates a member past its declared size (it stops and fails the CRC), so the
declared sizes bound the memory. Object arrays (pickles) are refused from the header.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from pruneaudit.defaults import NPZ_MAX_RATIO, NPZ_RATIO_FLOOR
from pruneaudit.errors import PruneAuditError

OVER_LIMIT = "{path}: {what} declares {size} of array data, more than the limit of {limit}; {hint}"
PICKLED = (
    "{path}: {what} is an object array (dtype {dtype}), which only a pickle can hold, and pickles are "
    "never loaded; save numeric or text arrays"
)
ZIP_BOMB = (
    "{path}: {what} inflates {ratio:.0f}x ({size} from {packed}), more than the {max_ratio}x image arrays "
    "ever compress: refused as a zip bomb; if the data is real, save it uncompressed (np.savez or .npy)"
)
FORGED = "{path}: {what} declares shape {shape} of {dtype} ({size}) but holds only {held}: truncated or forged"


def human(n: int) -> str:
    """Bytes for a message: '1.2 GiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _header(f: IO[bytes], *, path: Path, what: str, error: type[PruneAuditError]) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from an .npy header, refusing object arrays; the data is not read."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise error(f"{path}: {what} is not a readable .npy array ({_first_line(exc)})") from None
    if dtype.hasobject:
        raise error(PICKLED.format(path=path, what=what, dtype=dtype))
    return shape, dtype


def _checked(
    f: IO[bytes], *, path: Path, what: str, held: int, limit: int | None, hint: str, error: type[PruneAuditError]
) -> tuple[tuple[int, ...], np.dtype]:
    """The header, after checking its shape × itemsize against the limit and the bytes the file holds."""
    shape, dtype = _header(f, path=path, what=what, error=error)
    size = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for a forged shape
    if limit is not None and size > limit:
        raise error(OVER_LIMIT.format(path=path, what=what, size=human(size), limit=human(limit), hint=hint))
    if size > held:
        raise error(FORGED.format(path=path, what=what, shape=shape, dtype=dtype, size=human(size), held=human(held)))
    return shape, dtype


def read_npy(path: Path, *, limit: int, hint: str, error: type[PruneAuditError]) -> np.ndarray:
    """A whole .npy file, once its header fits the limit and the file's size."""
    try:
        with path.open("rb") as f:
            _checked(f, path=path, what="the array", held=path.stat().st_size, limit=limit, hint=hint, error=error)
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise error(f"{path}: cannot read as .npy ({_first_line(exc)})") from None


def map_npy(path: Path, *, error: type[PruneAuditError]) -> np.memmap:
    """A memory-mapped .npy: read batch by batch, so bounded by its file size only, not by a limit."""
    try:
        with path.open("rb") as f:
            _checked(f, path=path, what="the array", held=path.stat().st_size, limit=None, hint="", error=error)
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise error(f"{path}: cannot read as .npy ({_first_line(exc)})") from None


def _members(z: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name → zip entry, named as np.load names them (without '.npy')."""
    return {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i for i in z.infolist()}


def npz_keys(path: Path, *, error: type[PruneAuditError]) -> tuple[str, ...]:
    """The array names an .npz holds, from its zip directory alone."""
    try:
        with zipfile.ZipFile(path) as z:
            return tuple(_members(z))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise error(f"{path}: cannot read as .npz ({_first_line(exc)})") from None


def read_npz(
    path: Path, keys: tuple[str, ...], *, limit: int, hint: str, error: type[PruneAuditError]
) -> dict[str, np.ndarray]:
    """The named arrays of an .npz (all present: see `npz_keys`), checked together against ``limit`` first."""
    try:
        with zipfile.ZipFile(path) as z:
            members = _members(z)
            infos = {key: members[key] for key in keys}
            total = sum(i.file_size for i in infos.values())
            if total > limit:
                what = "the archive" if len(keys) > 1 else f"array {keys[0]!r}"
                raise error(OVER_LIMIT.format(path=path, what=what, size=human(total), limit=human(limit), hint=hint))
            for key, info in infos.items():
                _check_member(z, info, path=path, what=f"array {key!r}", limit=limit, hint=hint, error=error)
            arrays = {}
            for key, info in infos.items():
                with z.open(info) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
            return arrays
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError) as exc:
        raise error(f"{path}: cannot read as .npz ({_first_line(exc)})") from None


def _check_member(
    z: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    *,
    path: Path,
    what: str,
    limit: int,
    hint: str,
    error: type[PruneAuditError],
) -> None:
    """Compression ratio from the zip directory, then the member's .npy header: nothing inflated but the header."""
    if info.file_size > NPZ_RATIO_FLOOR and info.file_size > NPZ_MAX_RATIO * max(info.compress_size, 1):
        raise error(
            ZIP_BOMB.format(
                path=path,
                what=what,
                ratio=info.file_size / max(info.compress_size, 1),
                size=human(info.file_size),
                packed=human(info.compress_size),
                max_ratio=NPZ_MAX_RATIO,
            )
        )
    with z.open(info) as f:
        _checked(f, path=path, what=what, held=info.file_size, limit=limit, hint=hint, error=error)
