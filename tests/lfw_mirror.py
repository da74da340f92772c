"""A tiny LFW served from 127.0.0.1, so ``face-bench fetch lfw`` is tested without internet.

The archive and pairs files are built per test with LFW's real layout and file names;
face-bench's copy of scikit-learn's checksum table is pointed at them, exactly as a mirror of
the real files would match the real table.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

PEOPLE = {"Alice_Able": 2, "Bob_Baker": 2, "Carol_Cole": 1}
PAIRS_TXT = (
    "1\t2\nAlice_Able\t1\t2\nBob_Baker\t1\t2\n"
    "Alice_Able\t1\tBob_Baker\t1\nBob_Baker\t2\tCarol_Cole\t1\n"
)
PAIRS_DEV = "1\nAlice_Able\t1\t2\nAlice_Able\t2\tCarol_Cole\t1\n"


def _jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (250, 250, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def build_files(top: str = "lfw_funneled") -> dict[str, bytes]:
    """File name -> bytes for scikit-learn's LFW file names."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        seed = 0
        for person, count in PEOPLE.items():
            for n in range(1, count + 1):
                data = _jpeg(seed)
                seed += 1
                info = tarfile.TarInfo(f"{top}/{person}/{person}_{n:04d}.jpg")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    archive = "lfw-funneled.tgz" if top == "lfw_funneled" else "lfw.tgz"
    return {
        "pairsDevTrain.txt": PAIRS_DEV.encode(),
        "pairsDevTest.txt": PAIRS_DEV.encode(),
        "pairs.txt": PAIRS_TXT.encode(),
        archive: buffer.getvalue(),
    }


def point_fetch_at(monkeypatch, files: dict[str, bytes]) -> None:
    """Replace face-bench's LFW checksum table (scikit-learn's) with the tiny files' checksums."""
    from face_bench.data import fetch

    def meta(name: str) -> fetch.Remote:
        checksum = hashlib.sha256(files[name]).hexdigest()
        return fetch.Remote(name, f"https://unused.invalid/{name}", checksum)

    pairs = tuple(meta(n) for n in ("pairsDevTrain.txt", "pairsDevTest.txt", "pairs.txt"))
    monkeypatch.setattr(fetch, "LFW_PAIRS", pairs)
    archives = dict(fetch.LFW_ARCHIVES)
    if "lfw-funneled.tgz" in files:
        archives[True] = meta("lfw-funneled.tgz")
    if "lfw.tgz" in files:
        archives[False] = meta("lfw.tgz")
    monkeypatch.setattr(fetch, "LFW_ARCHIVES", archives)


@dataclass
class Mirror:
    """The running server: its base URL, what it serves and every request it saw."""

    url: str
    files: dict[str, bytes]
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    honour_range: bool = True
    # Misbehaviours, per file name: close cleanly after N body bytes (Content-Length stays
    # the whole file's), send one byte every S seconds, announce another Content-Length,
    # or send an endless body (bounded by ENDLESS_LIMIT) with no Content-Length.
    cut_after: dict[str, int] = field(default_factory=dict)
    trickle: dict[str, float] = field(default_factory=dict)
    content_length: dict[str, int] = field(default_factory=dict)
    endless: set[str] = field(default_factory=set)
    redirect_to: str | None = None  # answer every request with a 302 to this URL + name
    content_range_start: int | None = None  # a 206 reply claiming to start elsewhere
    trickle_headers: float | None = None  # a status line, then a header byte every S seconds


ENDLESS_LIMIT = 8 << 20  # the "endless" body stops here, whatever the client does


def _endless(write) -> int:
    sent, block = 0, b"x" * (1 << 16)
    try:
        while sent < ENDLESS_LIMIT:
            write(block)
            sent += len(block)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def _trickle(write, body: bytes, every: float) -> int:
    sent = 0
    try:
        for i in range(len(body)):
            write(body[i : i + 1])
            sent += 1
            time.sleep(every)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


@contextmanager
def serve(files: dict[str, bytes]) -> Iterator[Mirror]:
    """Serve ``files`` on 127.0.0.1 (a free port) with HTTP Range support."""
    mirror = Mirror(url="", files=files)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            ranged = self.headers.get("Range")
            mirror.requests.append((name, ranged))
            data = mirror.files.get(name)
            if data is None:
                self.send_error(404)
                return
            if mirror.trickle_headers is not None:
                self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
                _trickle(self.wfile.write, b"x" * 100, mirror.trickle_headers)
                return
            if mirror.redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", mirror.redirect_to + name)
                self.end_headers()
                return
            if name in mirror.endless:
                self.send_response(200)
                self.end_headers()
                mirror.bytes_sent[name] = _endless(self.wfile.write)
                return
            start = 0
            if ranged and mirror.honour_range:
                start = int(ranged.removeprefix("bytes=").rstrip("-"))
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206)
                claimed = (
                    start if mirror.content_range_start is None else mirror.content_range_start
                )
                self.send_header("Content-Range", f"bytes {claimed}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(mirror.content_length.get(name, len(body))))
            self.end_headers()
            if name in mirror.trickle:
                sent = _trickle(self.wfile.write, body, mirror.trickle[name])
            else:
                body = body[: mirror.cut_after.get(name, len(body))]
                self.wfile.write(body)
                sent = len(body)
            mirror.bytes_sent[name] = mirror.bytes_sent.get(name, 0) + sent

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
