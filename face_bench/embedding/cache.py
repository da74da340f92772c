"""Content-addressed embedding cache.

An entry is keyed by the image bytes' SHA-256 inside a folder keyed by the
model's identity (name, weights hash, preprocessing), so changing any of those
never serves a stale vector. Entries are small JSON files written atomically
(temp file + rename) and carry a checksum, so a killed run leaves either a whole
entry or none, a damaged entry is recomputed, and concurrent runs sharing the
folder cannot corrupt each other. No pickle anywhere.

The face stage's records (``faces.locate.FaceEntry``) are cached the same way, under a
folder keyed by the face settings (``FaceCache``): a record's fields are stored by name.
Their version is ``FACE_ENTRY_VERSION``; an entry of another version (a face record of
version 2 was a float vector) is a miss, so the face is located again and rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from face_bench.core.io import atomic_write_text
from face_bench.core.records import CacheEntry
from face_bench.faces.locate import Face, FaceEntry

ENTRY_VERSION = 2  # 2: face count stored; checksums cover a failure's detail
FACE_ENTRY_VERSION = 3  # 3: the face record's fields by name (2: packed into a vector)
EMBEDDINGS = "embeddings"  # the cache dir's folder of entries, one subfolder per model identity


def holds_embeddings(root: Path) -> bool:
    """Whether the cache dir ``root`` holds any embedding yet (a warm cache)."""
    return (Path(root) / EMBEDDINGS).exists()


def model_key(identity: dict[str, Any]) -> str:
    """Stable short key for a model identity (name, weights hash, preprocessing)."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class _Entries:
    """One identity's entries under ``<root>/embeddings/<key>/``, one JSON file per image."""

    def __init__(self, root: Path, identity: dict[str, Any]) -> None:
        self.identity = identity
        self.root = Path(root)  # the cache dir; converted models live beside the embeddings
        self.key = model_key(identity)
        self.folder = Path(root) / EMBEDDINGS / self.key
        self.corrupt_seen = 0
        self._described = False

    def _path(self, image_sha256: str) -> Path:
        return self.folder / image_sha256[:2] / f"{image_sha256}.json"

    def sweep(self) -> int:
        """Remove the half-written entries a killed run left (never a live writer's)."""
        from face_bench.core.io import sweep_temp_files

        return sweep_temp_files(self.folder)

    def _read(self, image_sha256: str, version: int) -> dict[str, Any] | None:
        """The stored JSON of an entry of ``version``; None when absent or of another
        version. Raises ``ValueError`` for one that is no entry."""
        try:
            data = json.loads(self._path(image_sha256).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        if not isinstance(data, dict):
            raise ValueError("not an entry")
        return data if data.get("v") == version else None

    def _write(self, image_sha256: str, data: dict[str, Any]) -> None:
        if not self._described:
            atomic_write_text(
                self.folder / "model.json", json.dumps(self.identity, indent=2, sort_keys=True)
            )
            self._described = True
        atomic_write_text(self._path(image_sha256), json.dumps(data))


class EmbeddingCache(_Entries):
    """One model identity's embeddings (and failures to enrol)."""

    def get(self, image_sha256: str) -> CacheEntry | None:
        """The stored entry, or None when absent or damaged (then it is recomputed)."""
        try:
            data = self._read(image_sha256, ENTRY_VERSION)
            if data is None:
                return None
            if data["status"] == "failed":
                return _failure(data)
            raw = base64.b64decode(data["vector"], validate=True)
            n_faces = data.get("faces")
            if n_faces is not None and type(n_faces) is not int:
                raise ValueError("bad face count")
            detector = data.get("detector")
            if detector is not None and not isinstance(detector, str):
                raise ValueError("bad detector")
            if data.get("check") != _checksum(raw + _faces_bytes(n_faces, detector)):
                raise ValueError("bad checksum")
            vector = np.frombuffer(raw, dtype="<f4").copy()
            if vector.size != data["dim"]:
                raise ValueError("bad size")
            return CacheEntry(vector, n_faces=n_faces, detector=detector)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            self.corrupt_seen += 1
            return None

    def put(self, image_sha256: str, entry: CacheEntry) -> None:
        if entry.vector is None:
            data = _failed(ENTRY_VERSION, entry.reason, entry.detail)
        else:
            raw = np.ascontiguousarray(entry.vector, dtype="<f4").tobytes()
            n_faces = None if entry.n_faces is None else int(entry.n_faces)
            data = {
                "v": ENTRY_VERSION,
                "status": "ok",
                "dim": int(entry.vector.size),
                "vector": base64.b64encode(raw).decode("ascii"),
                "faces": n_faces,
                "check": _checksum(raw + _faces_bytes(n_faces, entry.detector)),
            }
            if entry.detector is not None:
                data["detector"] = entry.detector
        self._write(image_sha256, data)


class FaceCache(_Entries):
    """The face stage's records for one set of face settings, stored like embeddings."""

    def get(self, image_sha256: str) -> FaceEntry | None:
        """The stored record, or None when absent, of an older version, or damaged."""
        try:
            data = self._read(image_sha256, FACE_ENTRY_VERSION)
            if data is None:
                return None
            if data["status"] == "failed":
                return FaceEntry.failed(_failure(data))
            record = data["face"]
            if data.get("check") != _checksum(_record_bytes(record)):
                raise ValueError("bad checksum")
            return FaceEntry(Face.from_record(record))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            self.corrupt_seen += 1
            return None

    def put(self, image_sha256: str, entry: FaceEntry) -> None:
        if entry.face is None:
            data = _failed(FACE_ENTRY_VERSION, entry.reason, entry.detail)
        else:
            record = entry.face.to_record()
            data = {
                "v": FACE_ENTRY_VERSION,
                "status": "ok",
                "face": record,
                "check": _checksum(_record_bytes(record)),
            }
        self._write(image_sha256, data)


def _failed(version: int, reason: str | None, detail: str) -> dict[str, Any]:
    """A failure's entry: its reason and the detail shown to users, under a checksum."""
    reason = reason or "failed"
    return {
        "v": version,
        "status": "failed",
        "reason": reason,
        "detail": detail,
        "check": _checksum(_failure_bytes(reason, detail)),
    }


def _failure(data: dict[str, Any]) -> CacheEntry:
    detail = data.get("detail", "")
    if not isinstance(detail, str) or data.get("check") != _checksum(
        _failure_bytes(data["reason"], detail)
    ):
        raise ValueError("bad checksum")
    return CacheEntry(None, data["reason"], detail)


def _record_bytes(record: Any) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def _checksum(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def _faces_bytes(n_faces: int | None, detector: str | None = None) -> bytes:
    """What an embedding's checksum covers besides the vector (nothing extra when unset)."""
    faces = b"" if n_faces is None else f"|faces={n_faces}".encode()
    return faces + (b"" if detector is None else f"|detector={detector}".encode())


def _failure_bytes(reason: str, detail: str) -> bytes:
    """What a failed entry's checksum covers: the reason and the detail shown to users."""
    return json.dumps([reason, detail], ensure_ascii=True).encode()
