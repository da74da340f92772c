"""Download named datasets (LFW) into face-bench's cache, only when the user asks.

The file list, URLs and SHA-256 checksums are scikit-learn's own (the tables behind
``fetch_lfw_people`` / ``fetch_lfw_pairs``), and so is the on-disk layout under a
data home and the archive extraction, so a download here is byte-for-byte what
scikit-learn would fetch. What face-bench adds: a progress callback, resuming a
broken download where it stopped (HTTP Range into a ``.part`` file), a mirror for
hosts without access to figshare, one-line errors offline, and a ``manifest.csv``
(plus ``pairs.txt``) so the result is an ordinary face-bench dataset folder.
"""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from face_bench.core.errors import FetchError
from face_bench.core.io import atomic_write_text, sha256_file

Progress = Callable[[str, int], Callable[[int], None]]
Message = Callable[[str], None]
MIRROR_ENV = "FACE_BENCH_LFW_MIRROR"
CHUNK = 1 << 16
USER_AGENT = "face-bench (+https://github.com/) urllib"


@dataclass(frozen=True)
class Remote:
    """One file to download: scikit-learn's metadata, possibly re-pointed at a mirror."""

    filename: str
    url: str
    checksum: str


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


def _sklearn_lfw() -> Any:
    """scikit-learn's LFW module; its private tables are pinned by constraints.txt."""
    try:
        from sklearn.datasets import _lfw
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise FetchError(f"scikit-learn's LFW fetcher is unavailable: {exc}") from None
    for name in ("ARCHIVE", "FUNNELED_ARCHIVE", "TARGETS", "_check_fetch_lfw"):
        if not hasattr(_lfw, name):
            raise FetchError(
                f"this scikit-learn has no sklearn.datasets._lfw.{name}; install the version "
                "locked in constraints.txt"
            )
    return _lfw


def lfw_remotes(funneled: bool, mirror: str | None = None) -> list[Remote]:
    """The pairs files and the image archive, with scikit-learn's URLs and checksums.

    With a mirror, each file is fetched from ``<mirror>/<file name>`` instead; the
    checksums stay scikit-learn's, so a mirror cannot change what is measured.
    """
    lfw = _sklearn_lfw()
    archive = lfw.FUNNELED_ARCHIVE if funneled else lfw.ARCHIVE
    remotes = []
    for meta in (*lfw.TARGETS, archive):
        url = f"{mirror.rstrip('/')}/{meta.filename}" if mirror else meta.url
        remotes.append(Remote(meta.filename, url, meta.checksum))
    return remotes


def _offline_message(url: str, reason: object) -> str:
    host = urlsplit(url).netloc or url
    return (
        f"cannot download {url}: {host} is unreachable ({reason}); check the network, or "
        f"point --mirror / ${MIRROR_ENV} at a copy of the files"
    )


def _open(url: str, offset: int, timeout: float) -> Any:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None  # the partial file already holds everything the server has
        raise FetchError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(_offline_message(url, reason)) from None


def download(
    remote: Remote,
    folder: Path,
    progress: Progress | None = None,
    timeout: float = 30.0,
    on_message: Message | None = None,
) -> bool:
    """Fetch ``remote`` into ``folder``; True when bytes were downloaded, False when reused.

    A file already there with the right checksum is kept. Bytes arrive in
    ``<name>.part``; an interrupted download resumes from its end with an HTTP Range
    request (a server that ignores Range sends the whole file, which replaces it).
    Only a file whose checksum matches is renamed into place.
    """
    target = folder / remote.filename
    if target.is_file() and sha256_file(target) == remote.checksum:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / (remote.filename + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    if on_message:
        resume = f" (resuming after {offset:,} bytes)" if offset else ""
        on_message(f"downloading {remote.filename} from {remote.url}{resume}")
    response = _open(remote.url, offset, timeout)
    if response is not None:
        with response:
            resumed = offset > 0 and response.status == 206
            offset = offset if resumed else 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else 0
            tick = progress(remote.filename, total) if progress else None
            if tick and offset:
                tick(offset)
            try:
                with part.open("ab" if resumed else "wb") as handle:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        handle.write(block)
                        if tick:
                            tick(len(block))
            except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
                raise FetchError(
                    f"download of {remote.filename} broke off ({exc}); run the same command "
                    "again to resume"
                ) from None
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


def fetch_lfw(
    home: Path,
    *,
    funneled: bool = True,
    mirror: str | None = None,
    progress: Progress | None = None,
    on_message: Message | None = None,
    timeout: float = 30.0,
) -> FetchResult:
    """Download LFW (scikit-learn's files) under ``home`` and make it a face-bench dataset.

    ``home`` is scikit-learn's data home: files land in ``home/lfw_home`` as
    ``fetch_lfw_pairs(data_home=home)`` expects them, and the image folder gets a
    manifest.csv and a copy of pairs.txt. Safe to rerun: finished files are reused.
    """
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    lfw = _sklearn_lfw()
    lfw_home = home / "lfw_home"
    folder = lfw_home / ("lfw_funneled" if funneled else "lfw")
    archive = (lfw.FUNNELED_ARCHIVE if funneled else lfw.ARCHIVE).filename
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
        fetched = download(remote, lfw_home, progress, timeout, on_message)
        (downloaded if fetched else reused).append(remote.filename)
    if not folder.is_dir() and on_message:
        on_message(f"extracting {archive} into {lfw_home}")
    try:
        lfw._check_fetch_lfw(data_home=str(home), funneled=funneled, download_if_missing=False)
    except OSError as exc:
        raise FetchError(f"cannot unpack LFW in {lfw_home}: {exc}") from None
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
