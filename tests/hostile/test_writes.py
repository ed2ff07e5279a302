"""Kills, interrupts, full disks, concurrent runs: the report directory is always whole, old or new.

Subprocess cases start ``python -c`` with a few lines that patch one step (the swap, inference)
and then call the real CLI or `write_outputs`, so that a SIGKILL or SIGINT lands exactly there.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pruneaudit import outputs
from pruneaudit.errors import OutputError
from pruneaudit.outputs import report_lock
from tests.conftest import REPORT_FILES, ROOT, SAMPLES, audit_args
from tests.hostile.conftest import Outcome, assert_user_error, invoke, tree_digest

OWNER_FILES = {"notes.txt": b"the owner's notes\n", "models/dense.onnx": b"\x08\x07not a real model"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory, test_npz) -> dict[str, Path]:
    """Two whole reports of one small audit: 'old' as audited, 'new' re-rendered with a card."""
    root = tmp_path_factory.mktemp("reports")
    outcome = invoke(audit_args("onnx", test_npz, root / "old", names=("l1-50",)))
    assert outcome.exit_code == 0, outcome.stderr
    outcome = invoke(["render", root / "old" / "results.json", "--out", root / "new", "--card", SAMPLES / "card.yaml"])
    assert outcome.exit_code == 0, outcome.stderr
    assert tree_digest(root / "old") != tree_digest(root / "new")
    return {"old": root / "old", "new": root / "new", "results": root / "old" / "results.json"}


def _report(where: Path, src: Path) -> Path:
    """A report directory at ``where``: the files of ``src`` plus the owner's own files."""
    shutil.copytree(src, where)
    for rel, data in OWNER_FILES.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_bytes(data)
    return where


def _digest(tmp_path: Path, src: Path) -> str:
    """What ``--out`` must hash to when it holds the report ``src`` and the owner's files."""
    return tree_digest(_report(tmp_path / "expected" / src.name, src))


def _out(tmp_path: Path, src: Path | None) -> Path:
    """``--out`` alone in its folder (so that leftovers beside it show), holding ``src`` if given."""
    out = tmp_path / "work" / "report"
    out.parent.mkdir()
    return out if src is None else _report(out, src)


def _beside(out: Path) -> list[str]:
    """Everything beside ``--out``: staging copies, moved-aside reports, lock files."""
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


def _spawn(code: str, args: list, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _finish(proc: subprocess.Popen, timeout: float = 300) -> Outcome:
    stdout, stderr = proc.communicate(timeout=timeout)
    return Outcome(proc.returncode, stdout, stderr)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared: {_finish(proc).stderr[-2000:]}")
        time.sleep(0.05)


# --- a kill during the swap ------------------------------------------------------------------

WRITE = """
import os, signal, sys
from pathlib import Path
from pruneaudit import outputs
def die(*_): os.kill(os.getpid(), signal.SIGKILL)
{patch}
src, out = Path(sys.argv[1]), Path(sys.argv[2])
with outputs.report_lock(out) as lock:
    outputs.write_outputs(lock, {{p.name: p.read_bytes() for p in sorted(src.iterdir())}})
"""
KILLS = {
    "while staging": (
        "real = outputs._write\ncalls = []\n"
        "def _write(path, content):\n    calls.append(path)\n    die() if len(calls) == 3 else real(path, content)\n"
        "outputs._write = _write"
    ),
    "before the exchange": "outputs._exchange = lambda stage, target: die()",
    "after the exchange": "real = outputs._exchange\noutputs._exchange = lambda stage, target: (real(stage, target), die())",
    "between the two renames": (
        "outputs._exchange = lambda stage, target: False\nreal = os.rename\n"
        "os.rename = lambda a, b: die() if '-stage.' in str(a) else real(a, b)"
    ),
}
#: what --out holds right after the kill (nothing: the old report is moved aside), and once the next run cleaned up
AFTER_KILL = {
    "while staging": ("old", "old"),
    "before the exchange": ("old", "old"),
    "after the exchange": ("new", "new"),
    "between the two renames": (None, "old"),
}


@pytest.mark.parametrize("moment", KILLS)
def test_a_kill_leaves_the_whole_old_or_the_whole_new_report(moment, reports, tmp_path):
    out = _out(tmp_path, reports["old"])
    digests = {"old": _digest(tmp_path, reports["old"]), "new": _digest(tmp_path, reports["new"])}
    digests[None] = tree_digest(tmp_path / "absent")
    outcome = _finish(_spawn(WRITE.format(patch=KILLS[moment]), [reports["new"], out]))
    assert outcome.exit_code == -signal.SIGKILL, outcome.stderr
    now, then = AFTER_KILL[moment]
    assert tree_digest(out) == digests[now]
    assert _beside(out)  # the killed run left its staging copy (or the moved-aside report) and its lock file
    with report_lock(out):  # the next run, first thing under the lock
        assert tree_digest(out) == digests[then]
        assert _beside(out) == [".pruneaudit-lock.report"]
    assert _beside(out) == []


def test_a_kill_before_a_new_out_appears_leaves_no_out(reports, tmp_path):
    out = _out(tmp_path, None)
    patch = "real = os.rename\nos.rename = lambda a, b: die() if '-stage.' in str(a) else real(a, b)"
    outcome = _finish(_spawn(WRITE.format(patch=patch), [reports["new"], out]))
    assert outcome.exit_code == -signal.SIGKILL, outcome.stderr
    assert not out.exists()
    with report_lock(out):
        assert not out.exists() and _beside(out) == [".pruneaudit-lock.report"]
    assert _beside(out) == []


def test_a_kill_during_the_swap_of_a_real_render(reports, tmp_path):
    """End to end: `pruneaudit render` killed right after the exchange; the next render cleans up."""
    out = _out(tmp_path, reports["old"])
    code = (
        "import os, signal, sys\nfrom pruneaudit import outputs\nreal = outputs._exchange\n"
        "outputs._exchange = lambda s, t: (real(s, t), os.kill(os.getpid(), signal.SIGKILL))\n"
        "from pruneaudit.cli import main\nsys.argv[0] = 'pruneaudit'\nmain()"
    )
    args = ["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"]
    outcome = _finish(_spawn(code, args))
    assert outcome.exit_code == -signal.SIGKILL, outcome.stderr
    assert tree_digest(out) == _digest(tmp_path, reports["new"])
    assert any(name.startswith(".pruneaudit-stage.report.") for name in _beside(out))
    # the next run: a stale lock file of a killed process does not block, and the leftovers go
    assert invoke(["render", reports["results"], "--out", out]).exit_code == 0
    assert tree_digest(out) == _digest(tmp_path, reports["old"]) and _beside(out) == []


def test_a_report_moved_aside_is_put_back_by_the_next_run(reports, tmp_path, monkeypatch):
    """The fallback swap (no renameat2) killed between its renames: --out is missing until the next run."""
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)
    outcome = _finish(_spawn(WRITE.format(patch=KILLS["between the two renames"]), [reports["new"], out]))
    assert outcome.exit_code == -signal.SIGKILL and not out.exists()
    assert any(name.startswith(".pruneaudit-old.report.") for name in _beside(out))
    monkeypatch.setattr(outputs, "_exchange", lambda stage, target: False)
    outcome = invoke(["render", "--out", out, reports["results"]])  # writes through the fallback too
    assert outcome.exit_code == 0, outcome.stderr
    assert tree_digest(out) == before and _beside(out) == []


# --- two runs on one --out -------------------------------------------------------------------

GATED = """
import sys, time
from pathlib import Path
import pruneaudit.pipeline as pipeline
gate = Path({gate!r})
real = pipeline.run_group
def run_group(*args, **kwargs):
    gate.with_suffix(".started").write_text("started")
    deadline = time.monotonic() + 120
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return real(*args, **kwargs)
pipeline.run_group = run_group
from pruneaudit.cli import main
sys.argv[0] = "pruneaudit"
main()
"""


def test_two_audits_on_one_out_one_fails_at_once_the_other_writes_whole(reports, tmp_path, test_npz):
    """Also a render onto a directory that an audit is writing: it fails at once too."""
    out = _out(tmp_path, reports["new"])
    gate = tmp_path / "gate"
    gated = [*audit_args("onnx", test_npz, out, names=("l1-50",)), "--no-cache"]  # it must reach inference
    first = _spawn(GATED.format(gate=str(gate)), gated)
    try:
        _wait_for(gate.with_suffix(".started"), first)  # the first audit holds the lock, inside inference
        second = _spawn(
            "from pruneaudit.cli import main; main()", audit_args("onnx", test_npz, out, names=("global-90",))
        )
        third = _spawn("from pruneaudit.cli import main; main()", ["render", reports["results"], "--out", out])
        for proc in (second, third):
            line = assert_user_error(_finish(proc), names=out, says=f"another pruneaudit run (pid {first.pid})")
            assert "wait for it or give another --out" in line
        assert tree_digest(out) == _digest(tmp_path, reports["new"])  # untouched while the first runs
    finally:
        gate.write_text("go")
    outcome = _finish(first)
    assert outcome.exit_code == 0, outcome.stderr
    assert tree_digest(out) == _digest(tmp_path, reports["old"])  # exactly the first audit's report, whole
    assert _beside(out) == []


def test_a_stale_lock_file_does_not_block(reports, tmp_path):
    out = _out(tmp_path, reports["old"])
    (out.parent / ".pruneaudit-lock.report").write_text("999999\n")  # left by a process killed long ago
    outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    assert outcome.exit_code == 0, outcome.stderr
    assert tree_digest(out) == _digest(tmp_path, reports["new"]) and _beside(out) == []


def test_the_lock_is_per_run_not_per_process(reports, tmp_path):
    """A second thread of the same process is refused, and so is a second lock within one run."""
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)
    seen: list[Outcome] = []
    with report_lock(out):
        worker = threading.Thread(target=lambda: seen.append(invoke(["render", reports["results"], "--out", out])))
        worker.start()
        worker.join()
        with pytest.raises(OutputError, match="another pruneaudit run"):
            with report_lock(out):
                pass
    assert_user_error(seen[0], names=out, says=f"another pruneaudit run (pid {os.getpid()})")
    assert tree_digest(out) == before and _beside(out) == []


# --- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_during_inference_exits_130_and_keeps_the_old_report(reports, tmp_path, test_npz):
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)
    gate = tmp_path / "gate"
    gated = [*audit_args("onnx", test_npz, out, names=("global-90",)), "--no-cache"]  # it must reach inference
    proc = _spawn(GATED.format(gate=str(gate)), gated)
    _wait_for(gate.with_suffix(".started"), proc)
    proc.send_signal(signal.SIGINT)
    outcome = _finish(proc, timeout=60)
    assert outcome.stderr.strip() == "Error: interrupted", outcome.stderr
    assert outcome.exit_code == 130 and outcome.stdout == ""
    assert tree_digest(out) == before and _beside(out) == []  # lock released and removed, nothing staged
    with report_lock(out):
        pass


def test_ctrl_c_while_writing_in_process(reports, tmp_path, monkeypatch):
    """Through CliRunner too (it calls `cli`, not `main`): 130, one line, the staged copy removed."""
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)

    def interrupted(path, content):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "_write", interrupted)
    outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    assert (outcome.exit_code, outcome.stderr) == (130, "Error: interrupted\n")
    assert tree_digest(out) == before and _beside(out) == []


# --- a full disk -----------------------------------------------------------------------------


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")


@pytest.fixture
def mounts():
    """Mount a tmpfs (skipped where that is not permitted); unmounted after the test."""
    mounted: list[Path] = []

    def mount(where: Path, options: str = "size=512k") -> None:
        _mount_tmpfs(where, options)
        mounted.append(where)

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_keeps_the_old_report(reports, tmp_path, mounts):
    disk = tmp_path / "disk"
    mounts(disk)  # 512 KiB: room for the owner's files and a small old report, not for the new one
    out = disk / "report"
    out.mkdir()
    (out / "index.html").write_text("the previous report")
    for rel, data in OWNER_FILES.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    before = tree_digest(out)
    outcome = invoke(["render", reports["results"], "--out", out])
    assert_user_error(outcome, names=out, says="cannot write the report (No space left on device)")
    assert tree_digest(out) == before and _beside(out) == []


def test_an_injected_enospc_keeps_the_old_report(reports, tmp_path, monkeypatch):
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)
    real, calls = outputs._write, []

    def nearly_full(path, content):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, content)

    monkeypatch.setattr(outputs, "_write", nearly_full)
    outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    assert_user_error(outcome, names=out, says="cannot write the report (No space left on device)")
    assert tree_digest(out) == before and _beside(out) == []


def test_an_injected_enospc_on_a_new_out_leaves_no_out(reports, tmp_path, monkeypatch):
    out = _out(tmp_path, None)

    def full(path, content):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(outputs, "_write", full)
    assert_user_error(invoke(["render", reports["results"], "--out", out]), names=out, says="No space left")
    assert not out.exists() and _beside(out) == []


# --- a failure in the middle of the swap -----------------------------------------------------


def _fail_renames(monkeypatch, *, fail_back: bool) -> None:
    """Force the two-rename fallback; the staged directory's rename fails, and the rename back if asked."""
    real = os.rename

    def rename(src, dst):
        if ".pruneaudit-stage." in str(src) or (fail_back and ".pruneaudit-old." in str(src)):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        real(src, dst)

    monkeypatch.setattr(outputs, "_exchange", lambda stage, target: False)
    monkeypatch.setattr(os, "rename", rename)


def test_a_failed_exchange_keeps_the_old_report(reports, tmp_path, monkeypatch):
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)

    def broken(stage, target):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(target))

    monkeypatch.setattr(outputs, "_exchange", broken)
    outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    assert_user_error(outcome, names=out, says="cannot write the report (Input/output error)")
    assert tree_digest(out) == before and _beside(out) == []


def test_a_failed_second_rename_puts_the_old_report_back(reports, tmp_path, monkeypatch):
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)
    _fail_renames(monkeypatch, fail_back=False)
    outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    assert_user_error(outcome, names=out, says="the output directory is unchanged")
    assert tree_digest(out) == before and _beside(out) == []


def test_when_even_the_rename_back_fails_the_next_run_restores(reports, tmp_path, monkeypatch):
    out = _out(tmp_path, reports["old"])
    before = tree_digest(out)
    with monkeypatch.context() as patch:
        _fail_renames(patch, fail_back=True)
        outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    line = assert_user_error(outcome, names=out, says="the next pruneaudit run on this --out puts it back")
    assert not out.exists()
    (aside,) = _beside(out)
    assert aside.startswith(".pruneaudit-old.report.") and aside in line  # never a mix: the whole old tree
    assert tree_digest(out.parent / aside) == before
    with report_lock(out):
        assert tree_digest(out) == before
    assert _beside(out) == []


# --- where --out is ----------------------------------------------------------------------------


def test_out_is_a_file(reports, tmp_path):
    out = tmp_path / "report"
    out.write_text("keep me")
    assert_user_error(invoke(["render", reports["results"], "--out", out]), names=out, says="is not a directory")
    assert out.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_out_in_a_read_only_folder(reports, tmp_path, mounts):
    disk = tmp_path / "disk"
    mounts(disk, "size=4m")
    out = _report(disk / "report", reports["old"])
    before = tree_digest(out)
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    assert_user_error(outcome, names=out, says="is not writable")
    assert tree_digest(out) == before and _beside(out) == []


def test_out_is_a_mount_point(reports, tmp_path, mounts):
    out = tmp_path / "report"
    mounts(out, "size=4m")
    (out / "notes.txt").write_text("on another filesystem")
    outcome = invoke(["render", reports["results"], "--out", out])
    assert_user_error(outcome, names=out, says="is a mount point")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_mount_point_inside_out_is_refused_and_left_alone(reports, tmp_path, mounts):
    out = _out(tmp_path, reports["old"])
    mounts(out / "data", "size=4m")
    (out / "data" / "big.npz").write_bytes(b"the owner's data, on another filesystem")
    before = tree_digest(out)
    outcome = invoke(["render", reports["results"], "--out", out, "--card", SAMPLES / "card.yaml"])
    assert_user_error(outcome, names=out, says=f"{out / 'data'} is a mount point")
    assert tree_digest(out) == before and _beside(out) == []


def test_out_a_symlink_to_a_folder_stays_a_link(reports, tmp_path):
    """The link is followed: the folder it names is replaced, beside itself; the link is left as it is."""
    real = _out(tmp_path, reports["old"])
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    outcome = invoke(["render", reports["results"], "--out", link, "--card", SAMPLES / "card.yaml"])
    assert outcome.exit_code == 0, outcome.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert tree_digest(real) == _digest(tmp_path, reports["new"]) and _beside(real) == []


def test_out_is_the_folder_of_the_config_and_its_models(tmp_path, test_npz):
    """The owner's files in --out survive the swap as the very same files (hard links, not copies)."""
    folder = tmp_path / "models"
    (folder / "notes").mkdir(parents=True)
    for name in ("dense.onnx", "l1-50.onnx"):
        shutil.copy(SAMPLES / "onnx" / name, folder / name)
    shutil.copy(test_npz, folder / "digits.npz")
    (folder / "notes" / "todo.md").write_text("prune more")
    (folder / "latest").symlink_to("dense.onnx")
    config = folder / "audit.yaml"
    config.write_text("data: {path: digits.npz}\ndense: {path: dense.onnx}\npruned:\n  - {path: l1-50.onnx}\n")
    owner = {p.relative_to(folder): (p.lstat().st_ino, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}
    outcome = invoke(["audit", "--quiet", "--config", config, "--out", folder])
    assert outcome.exit_code == 0, outcome.stderr
    assert {rel: (folder / rel).lstat().st_ino for rel in owner} == {rel: ino for rel, (ino, _) in owner.items()}
    assert all((folder / rel).read_bytes() == data for rel, (_, data) in owner.items())
    assert os.readlink(folder / "latest") == "dense.onnx"
    assert {p.name for p in folder.iterdir()} == set(REPORT_FILES) | {
        "audit.yaml",
        "dense.onnx",
        "l1-50.onnx",
        "digits.npz",
        "notes",
        "latest",
    }
    assert _beside(folder) == []
    again = invoke(["audit", "--quiet", "--config", config, "--out", folder])  # and once more, over its own report
    assert again.exit_code == 0, again.stderr
    assert all((folder / rel).read_bytes() == data for rel, (_, data) in owner.items())


def test_the_folder_mode_of_out_is_kept(reports, tmp_path):
    out = _out(tmp_path, reports["old"])
    out.chmod(0o750)
    assert invoke(["render", reports["results"], "--out", out]).exit_code == 0
    assert out.stat().st_mode & 0o7777 == 0o750


def test_a_new_out_in_missing_folders(reports, tmp_path):
    out = tmp_path / "a" / "b" / "report"
    assert invoke(["render", reports["results"], "--out", out]).exit_code == 0
    assert {p.name for p in out.iterdir()} == set(REPORT_FILES) and _beside(out) == []


def test_junit_in_a_missing_folder_is_created(reports, tmp_path):
    junit = tmp_path / "ci" / "reports" / "gate.xml"
    outcome = invoke(["check", reports["results"], "--max-accuracy-drop", "1", "--junit", junit])
    assert outcome.exit_code == 0, outcome.stderr
    assert junit.read_text().startswith("<?xml") and os.listdir(junit.parent) == ["gate.xml"]


def test_junit_under_a_file_fails_naming_it(reports, tmp_path):
    (tmp_path / "ci").write_text("a file in the way")
    junit = tmp_path / "ci" / "gate.xml"
    outcome = invoke(["check", reports["results"], "--max-accuracy-drop", "1", "--junit", junit])
    assert_user_error(outcome, names=junit, says="cannot write")
    assert (tmp_path / "ci").read_text() == "a file in the way"


def test_a_new_folder_appears_whole_or_not_at_all(tmp_path):
    """outputs.new_folder (mitigate's): an error or an interrupt inside leaves no --out and no staged copy."""
    from pruneaudit.errors import OutputError
    from pruneaudit.outputs import new_folder, report_lock

    out = tmp_path / "out"
    for failure in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(failure)), report_lock(out) as lock, new_folder(lock, what="mitigate") as stage:
            (stage / "half.pt").write_bytes(b"x")
            raise failure
        assert not out.exists() and [p.name for p in tmp_path.iterdir() if "stage" in p.name] == []
    with report_lock(out) as lock, new_folder(lock, what="mitigate") as stage:
        (stage / "sub").mkdir()
        (stage / "sub" / "whole.pt").write_bytes(b"y")
    assert (out / "sub" / "whole.pt").read_bytes() == b"y"
    with pytest.raises(OutputError, match="exists and is not empty; mitigate writes a folder of its own"):
        with report_lock(out) as lock, new_folder(lock, what="mitigate"):
            pass
    (tmp_path / "empty").mkdir()
    with report_lock(tmp_path / "empty") as lock, new_folder(lock, what="mitigate") as stage:
        (stage / "a").write_bytes(b"z")
    assert (tmp_path / "empty" / "a").read_bytes() == b"z"
