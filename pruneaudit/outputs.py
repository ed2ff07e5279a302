"""Write a report directory as a whole: a complete copy is staged beside it, then swapped in.

What a crash or a kill at any moment can leave, by platform:

- Linux (glibc 2.28 or later, and a filesystem with ``RENAME_EXCHANGE``: ext4, xfs, btrfs,
  tmpfs, ...): one ``renameat2`` call exchanges the staged and the old directory, so ``--out``
  is always the whole old report or the whole new one.
- Elsewhere (macOS, filesystems that refuse the exchange): the old directory is renamed aside,
  then the staged one into place. A crash between the two leaves no ``--out`` and the old report
  beside it (``.pruneaudit-old.<name>.<hex>``); the next run on that ``--out`` puts it back.
- A new ``--out`` is one rename: it appears whole or not at all.

A killed run's staging copies are removed by the next run on the same ``--out``, under its lock.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from pruneaudit.errors import OutputError

NOT_A_DIRECTORY = "{out}: output path exists and is not a directory"
HOLDS_CWD = (
    "{out}: is the current folder or holds it; the report directory is replaced as a whole, so give --out a "
    "folder of its own"
)
NOT_EMPTY = "{out}: exists and is not empty; {what} writes a folder of its own (remove it, or give another --out)"
NOT_WRITABLE = "{out}: cannot write the output directory ({probe} is not writable)"
MOUNT_POINT = (
    "{out}: {path} is a mount point; the report directory is replaced as a whole, "
    "so give as --out a folder that is not and holds no mount point"
)
CANNOT_CREATE = "{out}: cannot create the output directory ({reason})"
CANNOT_LOCK = "{out}: cannot lock the output directory ({reason})"
BUSY = "{out}: another pruneaudit run{pid} is writing this report; wait for it or give another --out"
CANNOT_WRITE = "{out}: cannot write the report ({reason}); the output directory is unchanged"
CANNOT_KEEP = "{out}: cannot keep {path} in the new report ({reason}); the output directory is unchanged"
CANNOT_RESTORE = (
    "{out}: cannot write the report, and the previous report, moved aside to {old}, cannot be put back "
    "({reason}); the next pruneaudit run on this --out puts it back"
)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def check_writable(out_dir: Path) -> None:
    """Fail before any inference if the output directory could not be created or replaced."""
    target = _target(out_dir)
    if target.exists() and not target.is_dir():
        raise OutputError(NOT_A_DIRECTORY.format(out=out_dir))
    if os.path.ismount(target):
        raise OutputError(MOUNT_POINT.format(out=out_dir, path=target))
    here = Path.cwd().resolve()
    if target == here or target in here.parents:
        raise OutputError(HOLDS_CWD.format(out=out_dir))
    probe = target.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(NOT_WRITABLE.format(out=out_dir, probe=probe))


@dataclass(frozen=True)
class HeldLock:
    """A report directory whose lock this run holds: what `write_outputs` needs, so it cannot write unlocked."""

    out_dir: Path  # as given (for messages)
    target: Path  # the directory actually written (absolute, symlinks resolved)


@contextmanager
def report_lock(out_dir: Path) -> Iterator[HeldLock]:
    """Hold the advisory lock of one report directory for a whole run.

    Taken before inference, so that a second run on the same ``--out`` fails at once instead of
    mixing two reports; a second lock within the same run is refused the same way. The kernel
    drops an flock when its process dies: a lock file left by a killed run never blocks. Holding
    the lock, the run first cleans up what a killed run left.
    """
    target = _target(out_dir)
    check_writable(out_dir)
    fd = _acquire(out_dir, target)
    try:
        try:
            _recover(out_dir, target)
        except OSError as exc:
            raise OutputError(CANNOT_WRITE.format(out=out_dir, reason=exc.strerror)) from None
        yield HeldLock(out_dir=out_dir, target=target)
    finally:
        with suppress(OSError):  # removed while still locked (see _acquire); a stale one never blocks
            _lock_path(target).unlink(missing_ok=True)
        os.close(fd)


def write_outputs(lock: HeldLock, files: Mapping[str, str | bytes]) -> None:
    """Stage the whole new report directory beside ``out_dir``, synced to disk, then swap it in.

    Files of an existing ``out_dir`` that are not report files (the owner's own) are brought
    into the staged directory first, as hard links (copies where linking is refused). After any
    failure ``out_dir`` is as it was, or still absent: never empty, half-written or mixed.
    """
    out_dir, target = lock.out_dir, lock.target
    existed = target.is_dir()
    try:
        stage = _new_sibling(target, "stage", mode=target.stat().st_mode if existed else None)
    except OSError as exc:
        raise OutputError(CANNOT_WRITE.format(out=out_dir, reason=exc.strerror)) from None
    try:
        for name, content in files.items():
            _write(stage / name, content)
        if existed:
            _keep_owner_files(out_dir, target, stage, report=frozenset(files))
        _fsync_dir(stage)
        if not existed:
            os.rename(stage, target)
            replaced = None
        elif _exchange(stage, target):
            replaced = stage
        else:
            replaced = _swap_by_renames(out_dir, stage, target)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(CANNOT_WRITE.format(out=out_dir, reason=exc.strerror)) from None
        raise
    with suppress(OSError):  # the report is in place; this only makes the rename survive a power cut
        _fsync_dir(target.parent)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)  # a leftover would be removed by the next run


@contextmanager
def new_folder(lock: HeldLock, *, what: str) -> Iterator[Path]:
    """A folder written whole or not at all, for a command that writes its files one by one (mitigate).

    ``--out`` must not exist or must be empty (what a folder already holds is never mixed with, or left beside,
    the new files). The caller writes into the staged sibling this yields; when the block ends without an error
    it is renamed into place, and after an error or an interrupt it is removed: ``--out`` is then as it was."""
    out_dir, target = lock.out_dir, lock.target
    if target.is_dir() and any(target.iterdir()):
        raise OutputError(NOT_EMPTY.format(out=out_dir, what=what))
    try:
        stage = _new_sibling(target, "stage", mode=None)
    except OSError as exc:
        raise OutputError(CANNOT_WRITE.format(out=out_dir, reason=exc.strerror)) from None
    try:
        yield stage
        _fsync_dir(stage)
        if target.is_dir():
            target.rmdir()
        os.rename(stage, target)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(CANNOT_WRITE.format(out=out_dir, reason=exc.strerror)) from None
        raise
    with suppress(OSError):
        _fsync_dir(target.parent)


def _umask() -> int:
    """The process's umask (reading it means setting it: set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file(path: Path, content: str | bytes) -> None:
    """Write one file atomically: a temporary sibling, synced, then a rename; text is written as UTF-8."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make the file private, unlike the report's
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _target(out_dir: Path) -> Path:
    """The directory actually written: absolute, symlinks resolved, so that a linked --out stays a link."""
    return Path(os.path.realpath(out_dir))


def _lock_path(target: Path) -> Path:
    return target.parent / f".pruneaudit-lock.{target.name}"


def _leftover(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.pruneaudit-(stage|old)\.{re.escape(target.name)}\.[0-9a-f]{{8}}")


def _new_sibling(target: Path, kind: str, *, mode: int | None) -> Path:
    """A new empty directory beside ``target`` (same filesystem), with its mode or the umask's."""
    path = target.parent / f".pruneaudit-{kind}.{target.name}.{secrets.token_hex(4)}"
    os.mkdir(path, 0o777)
    if mode is not None:
        os.chmod(path, stat.S_IMODE(mode))
    return path


def _acquire(out_dir: Path, target: Path) -> int:
    """Lock the file beside ``target`` and write our pid in it; fail at once if another run holds it.

    A finishing run removes the lock file while still holding it; a run that locked the removed
    file meanwhile sees that the path no longer names its file, and locks the new one instead.
    """
    path = _lock_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(CANNOT_CREATE.format(out=out_dir, reason=exc.strerror)) from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(CANNOT_LOCK.format(out=out_dir, reason=exc.strerror)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise OutputError(BUSY.format(out=out_dir, pid=f" (pid {pid})" if pid.isdigit() else "")) from None
        except OSError as exc:
            os.close(fd)
            raise OutputError(CANNOT_LOCK.format(out=out_dir, reason=exc.strerror)) from None
        if _names(path, fd):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the open file ``fd``."""
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _recover(out_dir: Path, target: Path) -> None:
    """Undo what a killed run left: put a report moved aside back, remove staging copies."""
    pattern = _leftover(target)
    leftovers = sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name))
    if not os.path.lexists(target):
        # At most one report can be moved aside while --out is missing: the run after puts it back.
        for old in (p for p in leftovers if p.name.startswith(".pruneaudit-old.")):
            try:
                os.rename(old, target)
            except OSError as exc:
                raise OutputError(CANNOT_RESTORE.format(out=out_dir, old=old, reason=exc.strerror)) from None
            leftovers.remove(old)
            break
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)


def _write(path: Path, content: str | bytes) -> None:
    with open(path, "xb") as f:
        f.write(content.encode("utf-8") if isinstance(content, str) else content)
        f.flush()
        os.fsync(f.fileno())


def _keep_owner_files(out_dir: Path, target: Path, stage: Path, *, report: frozenset[str]) -> None:
    """Bring every entry of the old directory but the report files into the staged one."""
    device = target.stat().st_dev
    for entry in sorted(os.scandir(target), key=lambda e: e.name):
        if entry.name not in report:
            try:
                _keep(Path(entry.path), stage / entry.name, device=device, out_dir=out_dir)
            except OSError as exc:
                path = exc.filename or entry.path
                raise OutputError(CANNOT_KEEP.format(out=out_dir, path=path, reason=exc.strerror)) from None


def _keep(src: Path, dst: Path, *, device: int, out_dir: Path) -> None:
    """A hard link (the same file, no space used), a copy where linking is refused; folders entry by entry.

    A mount point inside the old directory is refused: removing the old tree afterwards would
    reach into the mounted filesystem.
    """
    info = src.lstat()
    if stat.S_ISDIR(info.st_mode):
        if info.st_dev != device or os.path.ismount(src):
            raise OutputError(MOUNT_POINT.format(out=out_dir, path=src))
        os.mkdir(dst)
        for entry in sorted(os.scandir(src), key=lambda e: e.name):
            _keep(Path(entry.path), dst / entry.name, device=device, out_dir=out_dir)
        shutil.copystat(src, dst, follow_symlinks=False)
        _fsync_dir(dst)
        return
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISREG(info.st_mode):
            shutil.copy2(src, dst)
            with open(dst, "rb") as f:
                os.fsync(f.fileno())
        else:
            raise


def _fsync_dir(path: Path) -> None:
    """Make a directory's entries durable (some filesystems cannot sync a directory: EINVAL)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """glibc's renameat2 (2.28 or later) on Linux; None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


def _exchange(stage: Path, target: Path) -> bool:
    """Swap two directory entries in one step; False where the C library or the filesystem cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(stage), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS):
        return False
    raise OSError(code, os.strerror(code), str(target))


def _swap_by_renames(out_dir: Path, stage: Path, target: Path) -> Path:
    """Rename the old directory aside, then the staged one into place; returns where the old one is.

    If the second rename fails the old directory is put back; if a kill comes between them,
    `_recover` puts it back on the next run.
    """
    old = target.parent / f".pruneaudit-old.{target.name}.{secrets.token_hex(4)}"
    os.rename(target, old)
    try:
        os.rename(stage, target)
    except BaseException:
        try:
            os.rename(old, target)
        except OSError as exc:
            raise OutputError(CANNOT_RESTORE.format(out=out_dir, old=old, reason=exc.strerror)) from None
        raise
    return old
