"""Where a run's files go: a unique folder, checked before any work, filled all at once.

A run writes into a hidden temporary sibling of its output folder and renames it into
place when every file is written, so an interrupted or failed run leaves the previous
folder untouched and two runs never mix files in one folder. The output folder is
refused when it lies inside the dataset or the cache (a figure named like a dataset
image would overwrite it, and a folder dataset would enrol the figures), when it holds
the dataset, the cache or the baseline to gate against, and when it already holds files
that face-bench did not write there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from face_bench.core.errors import FaceBenchError, GateInputError, OutputError
from face_bench.core.io import atomic_write_text, ensure_folder, user_path
from face_bench.core.signals import signals_deferred

# Written into every finished run folder: the files of that run, so a later run into the
# same folder may replace exactly those and nothing else.
MARKER = ".face-bench-run"


def unique_name(*parts: str) -> str:
    """``<parts>-<YYYYmmdd-HHMMSS>-<6 hex>``: two runs in the same second never collide."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = "-".join([*parts, stamp, uuid.uuid4().hex[:6]])
    return re.sub(r"[^\w.+-]+", "_", name)[:200]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _resolved(
    path: Path | None, what: str, error: type[FaceBenchError] = OutputError
) -> Path | None:
    return None if path is None else user_path(path, what, error).resolve()


def check_out_folder(
    out: Path,
    *,
    data: Path | None = None,
    cache_dir: Path | None = None,
    baseline: Path | None = None,
) -> Path:
    """Refuse an output folder face-bench must not write (see the module docstring)."""
    final = _resolved(out, "--out")
    assert final is not None
    for label, other in (
        ("dataset folder", _resolved(data, "the dataset folder")),
        ("cache folder", _resolved(cache_dir, "the cache folder")),
    ):
        if other is None:
            continue
        if _inside(final, other):
            raise OutputError(
                f"--out {out} is inside the {label} {other}: face-bench would write among its "
                "files; choose a folder outside it"
            )
        if _inside(other, final):
            raise OutputError(f"--out {out} contains the {label} {other}; choose another folder")
    base = _resolved(baseline, "--baseline", GateInputError)
    if base is not None and _inside(base, final):
        raise GateInputError(
            f"the baseline {baseline} is inside --out {out}, which this run replaces; "
            "keep baselines outside the output folder"
        )
    if final.exists() and not final.is_dir():
        raise OutputError(f"--out {out} exists and is not a folder")
    if final.is_dir():
        _replaceable(final, out)
    return final


def _replaceable(final: Path, shown: Path) -> None:
    """An existing output folder may be replaced only if empty or a face-bench run folder."""
    entries = {p.name for p in final.iterdir()}
    if not entries:
        return
    try:
        listed = set(json.loads((final / MARKER).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        listed = None
    if listed is None or not {e for e in entries if e != MARKER} <= {
        f.split("/", 1)[0] for f in listed
    }:
        raise OutputError(
            f"--out {shown} already holds files face-bench did not write there; "
            "choose a new or empty folder (a previous run's folder is replaced whole)"
        )


@dataclass
class RunFolder:
    """A run's temporary folder and the folder it becomes.

    The staging folder is locked (``flock`` on the folder itself) while the run lives; the
    kernel drops the lock when the process ends in any way, ``kill -9`` included, so a later
    run can tell an abandoned staging folder from a live one and remove only the former.
    """

    final: Path
    staging: Path
    lock: int | None = None  # the open, locked staging folder; None where flock is missing

    def final_path(self, path: Path) -> Path:
        """Where a file written into the staging folder ends up."""
        path = Path(path)
        try:
            return self.final / path.relative_to(self.staging)
        except ValueError:
            return path

    def publish(self) -> None:
        """Record the run's files and rename the staging folder into place."""
        files = sorted(
            p.relative_to(self.staging).as_posix() for p in self.staging.rglob("*") if p.is_file()
        )
        atomic_write_text(self.staging / MARKER, json.dumps({"files": files}, indent=1) + "\n")
        old = None
        if self.final.is_dir():
            _replaceable(self.final, self.final)
            # Named after the staging folder: while that is locked, the old folder is this
            # run's to restore or remove, not a leftover (see remove_stale).
            old = self.final.with_name(self.staging.name.replace(_PARTIAL, _OLD, 1))
            self.final.rename(old)
        try:
            self.staging.rename(self.final)
        except OSError as exc:
            if old is not None:
                old.rename(self.final)
            raise OutputError(f"cannot move the run into {self.final}: {exc.strerror}") from None
        finally:
            self._unlock()
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        """Remove the staging folder whole, even if a second stop signal arrives meanwhile."""
        with signals_deferred():
            shutil.rmtree(self.staging, ignore_errors=True)
            self._unlock()

    def _unlock(self) -> None:
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None


_PARTIAL, _OLD = ".partial-", ".old-"


def _lock_folder(folder: Path) -> int | None:
    """An open descriptor holding an exclusive lock on ``folder``; None when it is locked
    by a live run, or where the platform has no ``flock`` (then nothing counts as stale)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_stale(final: Path) -> list[Path]:
    """Remove what runs into ``final`` that were killed (``kill -9``, a power cut) left
    beside it: unlocked ``.<name>.partial-*`` staging folders, and ``.<name>.old-*``
    folders whose run is gone; an old folder is put back as ``final`` when a run died
    between moving it aside and moving its own folder in. Returns what was removed."""
    prefix = f".{final.name[:80]}"
    removed: list[Path] = []
    try:
        entries = sorted(final.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix + _PARTIAL) or entry.is_symlink():
            continue
        fd = _lock_folder(entry)
        if fd is not None:  # nobody holds it: its run is gone
            shutil.rmtree(entry, ignore_errors=True)
            os.close(fd)
            removed.append(entry)
    for entry in entries:
        if not entry.name.startswith(prefix + _OLD) or entry.is_symlink():
            continue
        staging = entry.with_name(entry.name.replace(_OLD, _PARTIAL, 1))
        if staging.exists():  # its run is still publishing (or stale and locked elsewhere)
            continue
        if not final.exists():
            with contextlib.suppress(OSError):
                entry.rename(final)
                continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def open_run_folder(final: Path) -> RunFolder:
    """A hidden temporary sibling of ``final`` (same file system, so the rename is atomic),
    after removing what killed runs into ``final`` left behind."""
    parent = ensure_folder(final.parent, "output folder")
    remove_stale(final)
    try:
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{final.name[:80]}{_PARTIAL}"))
    except OSError as exc:
        raise OutputError(f"cannot write in {parent}: {exc.strerror or exc}") from None
    staging.chmod(0o755)
    return RunFolder(final, staging, _lock_folder(staging))


@contextlib.contextmanager
def run_folder(final: Path) -> Iterator[RunFolder]:
    """Write a run into a staging folder; it becomes ``final`` only when the block succeeds."""
    folder = open_run_folder(final)
    try:
        yield folder
    except BaseException:
        folder.discard()
        raise
    folder.publish()
