"""Download named datasets (LFW) into face-bench's cache, only when the user asks.

The file list, URLs and SHA-256 checksums are copied from scikit-learn 1.9 (the tables
behind ``fetch_lfw_people`` / ``fetch_lfw_pairs``, which it keeps private), and so is the
on-disk layout under a data home and the archive extraction, so a download here is
byte-for-byte what scikit-learn would fetch and its public loaders read the result.
What face-bench adds: a progress callback, resuming a broken download where it stopped
(HTTP Range into a ``.part`` file), a mirror for hosts without access to figshare,
one-line errors offline, and a ``manifest.csv`` (plus ``pairs.txt``) so the result is an
ordinary face-bench dataset folder.

What a server sends is bounded: no file may grow past a ceiling above its known size,
the whole fetch has a deadline besides the per-read timeout, only http(s) URLs are
opened or followed through a redirect, and a body that ends short of its
Content-Length is kept as a ``.part`` to resume, never taken for the whole file.
"""

from __future__ import annotations

import http.client
import math
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from face_bench.core.errors import FetchError, OutputError
from face_bench.core.io import atomic_write_text, sha256_file
from face_bench.data.http_guard import SCHEMES, guarded_opener

Progress = Callable[[str, int], Callable[[int], None]]
Message = Callable[[str], None]
MIRROR_ENV = "FACE_BENCH_LFW_MIRROR"
CHUNK = 1 << 16
USER_AGENT = "face-bench (+https://github.com/) urllib"
DEADLINE = 3600.0  # seconds for a whole fetch; a rerun resumes where it stopped
# Ceilings above each file's size (the pairs files are under 200 kB, the archives about
# 180 MB and 240 MB): a server sending more is cut off instead of filling the disk.
MAX_BYTES = {
    "pairsDevTrain.txt": 1 << 20,
    "pairsDevTest.txt": 1 << 20,
    "pairs.txt": 1 << 20,
    "lfw.tgz": 320 << 20,
    "lfw-funneled.tgz": 320 << 20,
}
DEFAULT_MAX_BYTES = 512 << 20


@dataclass(frozen=True)
class Remote:
    """One file to download: scikit-learn's metadata, possibly re-pointed at a mirror."""

    filename: str
    url: str
    checksum: str
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class FetchResult:
    """Where a fetched dataset landed and what it holds."""

    name: str
    folder: Path
    n_images: int
    n_identities: int
    pairs_file: Path | None
    downloaded: tuple[str, ...]
    reused: tuple[str, ...]


# The LFW files as scikit-learn fetches them (sklearn/datasets/_lfw.py): the pairs files
# first, then one of the two image archives, each from figshare with its SHA-256.
LFW_PAIRS: tuple[Remote, ...] = (
    Remote(
        "pairsDevTrain.txt",
        "https://ndownloader.figshare.com/files/5976012",
        "1d454dada7dfeca0e7eab6f65dc4e97a6312d44cf142207be28d688be92aabfa",
    ),
    Remote(
        "pairsDevTest.txt",
        "https://ndownloader.figshare.com/files/5976009",
        "7cb06600ea8b2814ac26e946201cdb304296262aad67d046a16a7ec85d0ff87c",
    ),
    Remote(
        "pairs.txt",
        "https://ndownloader.figshare.com/files/5976006",
        "ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592",
    ),
)
LFW_ARCHIVES: dict[bool, Remote] = {  # by ``funneled``
    False: Remote(
        "lfw.tgz",
        "https://ndownloader.figshare.com/files/5976018",
        "055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0",
    ),
    True: Remote(
        "lfw-funneled.tgz",
        "https://ndownloader.figshare.com/files/5976015",
        "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a",
    ),
}


def lfw_remotes(funneled: bool, mirror: str | None = None) -> list[Remote]:
    """The pairs files and the image archive, with scikit-learn's URLs and checksums.

    With a mirror, each file is fetched from ``<mirror>/<file name>`` instead; the
    checksums stay scikit-learn's, so a mirror cannot change what is measured.
    """
    if mirror:
        check_mirror(mirror)
    remotes = []
    for meta in (*LFW_PAIRS, LFW_ARCHIVES[funneled]):
        url = f"{mirror.rstrip('/')}/{meta.filename}" if mirror else meta.url
        size = MAX_BYTES.get(meta.filename, DEFAULT_MAX_BYTES)
        remotes.append(Remote(meta.filename, url, meta.checksum, size))
    return remotes


def unpack_archive(archive: Path, into: Path) -> None:
    """Extract ``archive`` into ``into`` as scikit-learn does, then remove the archive.

    The ``data`` filter refuses members that would land outside ``into``, links out of
    it and device files. The archive goes only after a whole extraction, so a folder
    beside its archive is one that was cut short.
    """
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter="data")
    archive.unlink()


def check_mirror(mirror: str) -> None:
    """Refuse a mirror that is not an http(s) URL with a host (a path, ``file://``, a typo)."""
    try:
        parts = urlsplit(mirror)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise FetchError(f"--mirror {mirror!r} is not a valid URL ({exc})") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise FetchError(f"--mirror {mirror!r} is not an http:// or https:// URL with a host name")


def _offline_message(url: str, reason: object) -> str:
    host = urlsplit(url).netloc or url
    return (
        f"cannot download {url}: {host} is unreachable ({reason}); check the network, or "
        f"point --mirror / ${MIRROR_ENV} at a copy of the files"
    )


def _past_deadline(remote: Remote, got: int) -> FetchError:
    return FetchError(
        f"download of {remote.filename} ran past the --deadline after {got:,} bytes; run "
        "the same command again to resume"
    )


def _open(opener: Any, remote: Remote, offset: int, timeout: float, deadline: float) -> Any:
    url = remote.url
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None  # the partial file already holds everything the server has
        reason = " ".join(str(exc.reason).split())  # urllib's redirect-loop reason spans lines
        raise FetchError(f"cannot download {url}: HTTP {exc.code} {reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        if time.monotonic() > deadline:  # the deadline shut a trickling reply down
            raise _past_deadline(remote, offset) from None
        if isinstance(exc, http.client.HTTPException):  # a reply that is not HTTP at all
            raise FetchError(f"cannot download {url}: not an HTTP reply ({exc!r})") from None
        raise FetchError(_offline_message(url, getattr(exc, "reason", exc))) from None
    if time.monotonic() > deadline:
        response.close()
        raise _past_deadline(remote, offset)
    return response


def _regular_or_absent(path: Path) -> None:
    """Never append to or rename onto a link, folder or device someone left at ``path``."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise FetchError(f"{path} is not a regular file; remove it and run again")


def _resume_start(response: Any, offset: int) -> int:
    """Where a 206 reply's bytes start, from its Content-Range (``offset`` when absent)."""
    found = re.match(r"bytes (\d+)-", response.headers.get("Content-Range") or "")
    return int(found.group(1)) if found else offset


class _OversizeError(FetchError):
    """More bytes than the file can be: the ``.part`` is garbage, not worth resuming."""


@dataclass
class _Transfer:
    """One response being written to a ``.part``: what arrived, what was announced."""

    remote: Remote
    part: Path
    offset: int
    total: int  # offset + Content-Length; 0 when the server did not say
    deadline: float  # time.monotonic() by which the whole fetch must end
    received: int = 0

    def broke_off(self, why: str) -> FetchError:
        size = f" of {self.total:,}" if self.total else ""
        return FetchError(
            f"download of {self.remote.filename} {why} after {self.offset + self.received:,}"
            f"{size} bytes; run the same command again to resume"
        )

    def too_large(self, size: int) -> FetchError:
        return _OversizeError(
            f"{self.remote.url} sends {size:,} bytes or more for {self.remote.filename}, "
            f"which is at most {self.remote.max_bytes:,}; the download was removed"
        )


def _stream(response: Any, handle: Any, job: _Transfer, tick: Any) -> None:
    """Copy the body into ``handle`` within the size ceiling and the deadline."""
    while block := response.read1(CHUNK):  # whatever arrived: a trickle cannot stall a read
        job.received += len(block)
        if job.offset + job.received > job.remote.max_bytes:
            raise job.too_large(job.offset + job.received)
        try:
            handle.write(block)
        except OSError as exc:
            raise OutputError(f"cannot write {job.part}: {exc.strerror or exc}") from None
        if tick:
            tick(len(block))
        if time.monotonic() > job.deadline:
            raise job.broke_off("ran past the --deadline")
    if time.monotonic() > job.deadline:  # the deadline shut the connection down
        raise job.broke_off("ran past the --deadline")
    if job.total and job.offset + job.received < job.total:
        raise job.broke_off("ended early (the server closed the connection)")


def _receive(response: Any, remote: Remote, part: Path, offset: int, deadline: float,
             progress: Progress | None) -> None:  # fmt: skip
    """Write ``response`` into ``part``: appended after ``offset`` on a 206, else from 0."""
    resumed = _resumes(response, remote, part, offset)
    offset = offset if resumed else 0
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length and length.isdigit() else 0
    job = _Transfer(remote, part, offset, total, deadline)
    tick = progress(remote.filename, total) if progress else None
    if tick and offset:
        tick(offset)
    try:
        if total > remote.max_bytes:
            raise job.too_large(total)
        _write_body(response, job, "ab" if resumed else "wb", tick)
    except _OversizeError:
        part.unlink(missing_ok=True)
        raise
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        late = time.monotonic() > deadline  # the deadline shut the connection down
        raise job.broke_off("ran past the --deadline" if late else f"broke off ({exc})") from None


def _resumes(response: Any, remote: Remote, part: Path, offset: int) -> bool:
    """Whether ``response`` continues ``part`` after ``offset`` (a 206 from that byte); a 206
    from any other byte removes the part, which can no longer be continued."""
    if not (offset > 0 and response.status == 206):
        return False
    start = _resume_start(response, offset)
    if start != offset:
        part.unlink()
        raise FetchError(
            f"{remote.url} answered a resume from byte {offset:,} with bytes from "
            f"{start:,}; the partial file was removed, run again"
        )
    return True


def _write_body(response: Any, job: _Transfer, mode: str, tick: Any) -> None:
    try:
        handle = job.part.open(mode)
    except OSError as exc:
        raise OutputError(f"cannot write {job.part}: {exc.strerror or exc}") from None
    with handle:
        _stream(response, handle, job, tick)


def download(
    remote: Remote,
    folder: Path,
    progress: Progress | None = None,
    timeout: float = 30.0,
    on_message: Message | None = None,
    deadline: float | None = None,
) -> bool:
    """Fetch ``remote`` into ``folder``; True when bytes were downloaded, False when reused.

    A file already there with the right checksum is kept. Bytes arrive in
    ``<name>.part``; an interrupted download (a timeout, a closed connection, the
    deadline) resumes from its end with an HTTP Range request (a server that ignores
    Range sends the whole file, which replaces it). Only a file whose checksum matches
    is renamed into place. ``deadline`` is a ``time.monotonic()`` value (default: now
    plus ``DEADLINE``).
    """
    target = folder / remote.filename
    part = folder / (remote.filename + ".part")
    _regular_or_absent(target)
    _regular_or_absent(part)
    if target.is_file() and sha256_file(target) == remote.checksum:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    if offset > remote.max_bytes:  # not the start of this file: start again
        part.unlink()
        offset = 0
    if on_message:
        resume = f" (resuming after {offset:,} bytes)" if offset else ""
        on_message(f"downloading {remote.filename} from {remote.url}{resume}")
    if deadline is None:
        deadline = time.monotonic() + DEADLINE
    with guarded_opener(deadline) as opener:
        response = _open(opener, remote, offset, timeout, deadline)
        if response is not None:
            with response:
                _receive(response, remote, part, offset, deadline, progress)
    actual = sha256_file(part)
    if actual != remote.checksum:
        part.unlink()
        raise FetchError(
            f"{remote.filename} from {remote.url} has SHA-256 {actual[:16]}…, expected "
            f"{remote.checksum[:16]}…; the damaged download was removed, run again"
        )
    part.replace(target)
    return True


def write_manifest(folder: Path) -> tuple[int, int]:
    """``manifest.csv`` (path, identity) for LFW's ``<name>/<name>_NNNN.jpg`` layout."""
    import csv
    import io

    rows = sorted(
        (p.relative_to(folder).as_posix(), p.parent.name)
        for p in folder.glob("*/*.jpg")
        if p.is_file()
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "identity"])
    writer.writerows(rows)
    atomic_write_text(folder / "manifest.csv", buffer.getvalue())
    return len(rows), len({identity for _, identity in rows})


def _check_seconds(limits: dict[str, float]) -> None:
    for name, value in limits.items():
        if not (math.isfinite(value) and value > 0):
            raise FetchError(f"{name} must be a positive number of seconds, got {value}")


def _unpack(archive: Path, into: Path, on_message: Message | None) -> None:
    if on_message:
        on_message(f"extracting {archive.name} into {into}")
    try:
        unpack_archive(archive, into)
    except (OSError, tarfile.TarError) as exc:
        raise FetchError(f"cannot unpack LFW in {into}: {exc}") from None


def fetch_lfw(
    home: Path,
    *,
    funneled: bool = True,
    mirror: str | None = None,
    progress: Progress | None = None,
    on_message: Message | None = None,
    timeout: float = 30.0,
    deadline: float = DEADLINE,
) -> FetchResult:
    """Download LFW (scikit-learn's files) under ``home`` and make it a face-bench dataset.

    ``home`` is scikit-learn's data home: files land in ``home/lfw_home`` as
    ``fetch_lfw_pairs(data_home=home)`` expects them, and the image folder gets a
    manifest.csv and a copy of pairs.txt. Safe to rerun: finished files are reused.
    ``timeout`` bounds each read, ``deadline`` the whole fetch (seconds).
    """
    _check_seconds({"--timeout": timeout, "--deadline": deadline})
    ends = time.monotonic() + deadline
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    lfw_home = home / "lfw_home"
    folder = lfw_home / ("lfw_funneled" if funneled else "lfw")
    archive = LFW_ARCHIVES[funneled].filename
    manifest = folder / "manifest.csv"
    if folder.is_dir() and (lfw_home / archive).is_file():
        # An extraction that was cut short: scikit-learn removes the archive only at the end.
        shutil.rmtree(folder)
    downloaded: list[str] = []
    reused: list[str] = []
    for remote in lfw_remotes(funneled, mirror):
        if remote.filename == archive and folder.is_dir():
            reused.append(remote.filename)  # already extracted (the archive is gone by design)
            continue
        fetched = download(remote, lfw_home, progress, timeout, on_message, ends)
        (downloaded if fetched else reused).append(remote.filename)
    if not folder.is_dir():
        _unpack(lfw_home / archive, lfw_home, on_message)
    shutil.copyfile(lfw_home / "pairs.txt", folder / "pairs.txt")
    n_images, n_identities = write_manifest(folder)
    if not n_images:
        manifest.unlink(missing_ok=True)
        raise FetchError(f"{archive} unpacked to {folder} but holds no <name>/<file>.jpg images")
    return FetchResult(
        "lfw" if funneled else "lfw-original",
        folder,
        n_images,
        n_identities,
        folder / "pairs.txt",
        tuple(downloaded),
        tuple(reused),
    )
