"""Safe file input and output and the cache location, shared by every layer that touches files.

Writes are atomic (a uniquely named temporary sibling + rename) so a reader sees the old
file or the whole new one, never a part, and two runs writing the same path never share a
temporary file. A rename only ever replaces a regular file: a folder, a device or a pipe
at the target is refused, or written through where the caller says a stream is meant
(``/dev/stdout``, a CI summary pipe). Files a user names are read only when they are
regular files, and never beyond a size bound, so ``/dev/zero`` or a FIFO is a one-line
error instead of gigabytes of memory or a hang.
"""

from __future__ import annotations

import contextlib
import errno

try:
    import fcntl
except ImportError:  # not on Windows: temporary files are then never swept
    fcntl = None  # type: ignore[assignment]
import hashlib
import io
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from face_bench.core.errors import CacheDirError, FaceBenchError, InputFileError, OutputError
from face_bench.core.signals import signals_deferred

# Size bounds for files a user names. Results and baselines are a few hundred kB; pair
# files of millions of pairs are tens of MB; nothing face-bench reads is near these.
MAX_JSON_BYTES = 64 << 20
MAX_TABLE_BYTES = 1 << 30
MAX_CONFIG_BYTES = 1 << 20


def default_cache_dir() -> Path:
    """``$FACE_BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/face-bench`` (when absolute, as the
    XDG spec requires), else ``~/.cache/face-bench``.

    A ``~`` that does not expand to a home folder is refused: it would otherwise create a
    folder literally named ``~`` wherever face-bench happens to run.
    """
    if os.environ.get("FACE_BENCH_CACHE_DIR"):
        return user_path(os.environ["FACE_BENCH_CACHE_DIR"], "$FACE_BENCH_CACHE_DIR", CacheDirError)
    if os.environ.get("XDG_CACHE_HOME"):
        xdg = user_path(os.environ["XDG_CACHE_HOME"], "$XDG_CACHE_HOME", CacheDirError)
        if xdg.is_absolute():  # the XDG spec: a relative value is invalid and ignored
            return xdg / "face-bench"
    return Path.home() / ".cache" / "face-bench"


def user_path(
    value: str | os.PathLike[str], what: str, error: type[FaceBenchError] = InputFileError
) -> Path:
    """A path a user gave, with ``~`` and ``~user`` expanded as a shell would have.

    A value that reached face-bench quoted, from an environment variable or from a config
    file was never expanded by a shell. A ``~`` that names no home folder here, or a
    leading ``$VARIABLE`` left as written, is refused with ``error`` (one line) instead of
    becoming a folder literally named ``~`` or ``$HOME`` in the working directory.
    """
    text = os.fspath(value)
    path = Path(os.path.expanduser(text))  # noqa: PTH111 (Path raises for ~unknown)
    tilde = next((part for part in path.parts if part.startswith("~")), None)
    if tilde is not None:
        raise error(
            f"{what} {text!r}: {tilde!r} does not name a home folder here; give a full path"
        )
    first = path.parts[0] if path.parts else ""
    if first.startswith("$"):
        raise error(f"{what} {text!r}: the variable {first} was not expanded; give a full path")
    return path


def ensure_folder(path: Path, what: str = "output folder", error: type = OutputError) -> Path:
    """Create ``path`` if needed and prove it writable, or raise ``error`` with one line.

    Called before any embedding work so a long run never ends in a folder it cannot use.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise error(f"{what} {path} exists and is not a folder") from None
    except OSError as exc:
        raise error(f"cannot create {what} {path}: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise error(f"{what} {path} exists and is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".face-bench-probe-")
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            Path(probe).unlink(missing_ok=True)
    except OSError as exc:
        raise error(f"{what} {path} is not writable: {exc.strerror or exc}") from None
    return path


def check_folder(path: Path, what: str = "output folder", error: type = OutputError) -> None:
    """``ensure_folder``'s check, leaving behind no folder it had to create for it.

    A run proves its output folder usable before any work and creates it again when it
    writes, so a run that fails in between (a missing package, a bad input) leaves the
    working directory as it found it: no empty ``reports/``.
    """
    path = Path(path)
    created = []
    probe = path
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        created.append(probe)  # deepest first
        probe = probe.parent
    ensure_folder(path, what, error)
    for folder in created:
        with contextlib.suppress(OSError):  # another process wrote into it meanwhile: keep it
            folder.rmdir()


def ensure_cache_folder(path: Path) -> Path:
    """The cache folder, created and checked (its own exit code: ``CacheDirError``)."""
    return ensure_folder(path, "cache folder", CacheDirError)


def atomic_write_text(path: Path, text: str, *, stream_ok: bool = False) -> None:
    """Write ``text`` (UTF-8) whole; see ``atomic_write_bytes``."""
    atomic_write_bytes(path, text.encode("utf-8"), stream_ok=stream_ok)


def atomic_write_bytes(path: Path, data: bytes, *, stream_ok: bool = False) -> None:
    """Write ``data`` so readers see the old file or the whole new one, never a part.

    The temporary file has a unique name, so concurrent writers of one path never clash.
    An existing target that is not a regular file is never renamed over: with
    ``stream_ok`` a character device or FIFO (``/dev/stdout``, a pipe) is written
    through, anything else (a folder, a socket, a block device) is an ``OutputError``.
    A symlink to a regular file is followed, so the link survives and its target changes.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if mode is not None and not stat.S_ISREG(mode):
        if stream_ok and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            _write_through(path, data)
            return
        raise OutputError(f"cannot write {path}: {_describe(mode)}, not a regular file")
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    for attempt in range(2):
        try:
            _write_replacing(target, data)
            return
        except FileNotFoundError:
            if attempt:  # the temporary file was swept twice: the folder is being removed
                raise OutputError(f"cannot write {path}: the folder vanished") from None
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_replacing(target: Path, data: bytes) -> None:
    """Write a locked temporary sibling, then rename it over ``target``.

    The temporary file is locked (``flock``) while it is written, so ``sweep_temp_files``
    can tell a live writer's file from one a killed process left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    made: list[tuple[BinaryIO, str]] = []
    try:
        # A stop signal (face-bench raises it as an exception) waits until the file is open
        # under a known name: raised inside mkstemp, it would leave a file nobody removes.
        with signals_deferred():
            fd, tmp = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name[:80]}.", suffix=".tmp"
            )
            made.append((os.fdopen(fd, "wb"), tmp))
        handle, tmp = made[0]
        with handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            # mkstemp creates 0600 files; results and reports are meant to be shared.
            os.fchmod(handle.fileno(), 0o644)
            handle.write(data)
            handle.flush()
            Path(tmp).replace(target)  # still locked: renamed before the lock goes
    except BaseException:
        for handle, tmp in made:
            handle.close()
            Path(tmp).unlink(missing_ok=True)
        raise


def sweep_temp_files(folder: Path) -> int:
    """Remove the temporary files a killed writer left in ``folder`` and its subfolders one
    level down (``.NAME.*.tmp``); a file still locked by a live writer is left alone."""
    if fcntl is None or not folder.is_dir():
        return 0
    removed = 0
    for sub in (folder, *(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())):
        for entry in os.scandir(sub):
            if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                continue
            if entry.is_file(follow_symlinks=False) and _unlocked(entry.path):
                with contextlib.suppress(OSError):
                    Path(entry.path).unlink()
                    removed += 1
    return removed


def _unlocked(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live writer holds it
    finally:
        os.close(fd)
    return True


def _write_through(path: Path, data: bytes) -> None:
    """Write to a device or pipe in place; a pipe with no reader is an error, not a hang."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        reason = "a pipe nobody reads" if exc.errno == errno.ENXIO else exc.strerror or exc
        raise OutputError(f"cannot write {path}: {reason}") from None
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def append_text(path: Path, text: str) -> None:
    """Append to a regular file, a character device or a FIFO (a CI step summary).

    A folder, a socket or a block device is refused; a missing file is created.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot append to {path}: {exc.strerror or exc}") from None
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        raise OutputError(f"cannot append to {path}: {_describe(mode)}, not a file")
    if mode is not None and not stat.S_ISREG(mode):
        _write_through(path, text.encode("utf-8"))
        return
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise OutputError(f"cannot append to {path}: {exc.strerror or exc}") from None


def describe_kind(path: Path) -> str:
    """What is at ``path`` when it is not a regular file: "a folder", "a character device"..."""
    return _describe(Path(path).stat().st_mode)


def _describe(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((text for test, text in kinds if test(mode)), "a special file")


def open_regular(path: str | Path) -> io.BufferedReader:
    """Open a regular file for reading; a FIFO, device or folder is an ``OSError``.

    A named pipe would otherwise block the run forever, and a device such as /dev/zero
    would never end. The check is on the opened descriptor, so the file cannot be
    swapped between check and read.
    """
    nonblock = getattr(os, "O_NONBLOCK", 0)  # POSIX: opening a FIFO must not wait
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | nonblock)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"{_describe(mode)}, not a regular file", str(path))
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(
    path: str | Path,
    limit: int = MAX_TABLE_BYTES,
    what: str = "file",
    error: type[FaceBenchError] = InputFileError,
) -> bytes:
    """The bytes of a user-named regular file of at most ``limit`` bytes, else ``error``.

    The bound is checked before reading and again while reading (a file may grow).
    """
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise error(f"{what} {path} is {size:,} bytes; the limit is {limit:,}")
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{what} not found (cannot read {path})") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a folder, not a file") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{what} {path} is over the limit of {limit:,} bytes")
    return data


def read_bounded_text(
    path: str | Path,
    limit: int = MAX_TABLE_BYTES,
    what: str = "file",
    error: type[FaceBenchError] = InputFileError,
    encoding: str = "utf-8-sig",
) -> str:
    """``read_bounded`` decoded as text; undecodable bytes are ``error`` too."""
    data = read_bounded(path, limit, what, error)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None


def sha256_file(path: Path, cache_dir: Path | None = None) -> str:
    """SHA-256 of a file's bytes, read in full every time.

    Size and modification time are no proof that the bytes are unchanged (a copy with
    ``cp -p``, a restored backup), and this digest keys the embedding cache and the gate's
    weights check. ``cache_dir`` is accepted for callers' convenience and not used.
    """
    del cache_dir
    digest = hashlib.sha256()
    with open_regular(path) as handle:  # a FIFO or device is an error, not a hang
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def digest_file(path: Path) -> Path:
    """Where ``write_with_digest`` records ``path``'s SHA-256: ``<name>.sha256`` beside it."""
    return path.with_name(path.name + ".sha256")


def write_with_digest(path: Path, data: bytes) -> None:
    """Write ``data`` atomically, then its SHA-256 beside it.

    For files face-bench derives and reuses by name (a converted model): a later run checks
    the bytes against the record instead of trusting the name, so a truncated or replaced
    file is rebuilt rather than used. The digest is written last: a run killed in between
    leaves no record, which reads as a miss.
    """
    atomic_write_bytes(path, data)
    atomic_write_text(digest_file(path), hashlib.sha256(data).hexdigest() + "\n")


def matches_recorded_digest(path: Path) -> bool:
    """True when ``path`` holds exactly the bytes whose digest ``write_with_digest`` recorded."""
    try:
        recorded = digest_file(path).read_text(encoding="ascii").strip()
        return len(recorded) == 64 and sha256_file(path) == recorded
    except (OSError, UnicodeDecodeError):
        return False
