"""Content-addressed embedding cache.

An entry is keyed by the image bytes' SHA-256 inside a folder keyed by the
model's identity (name, weights hash, preprocessing), so changing any of those
never serves a stale vector. Entries are small JSON files written atomically
(temp file + rename) and carry a checksum, so a killed run leaves either a whole
entry or none, a damaged entry is recomputed, and concurrent runs sharing the
folder cannot corrupt each other. No pickle anywhere.
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

ENTRY_VERSION = 2  # 2: face count stored; checksums cover a failure's detail
EMBEDDINGS = "embeddings"  # the cache dir's folder of entries, one subfolder per model identity


def holds_embeddings(root: Path) -> bool:
    """Whether the cache dir ``root`` holds any embedding yet (a warm cache)."""
    return (Path(root) / EMBEDDINGS).exists()


def model_key(identity: dict[str, Any]) -> str:
    """Stable short key for a model identity (name, weights hash, preprocessing)."""
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class EmbeddingCache:
    """One model identity's entries under ``<root>/embeddings/<key>/``."""

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

    def get(self, image_sha256: str) -> CacheEntry | None:
        """The stored entry, or None when absent or damaged (then it is recomputed)."""
        path = self._path(image_sha256)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an entry")
            if data.get("v") != ENTRY_VERSION:
                return None
            if data["status"] == "failed":
                detail = data.get("detail", "")
                if not isinstance(detail, str) or data.get("check") != _checksum(
                    _failure_bytes(data["reason"], detail)
                ):
                    raise ValueError("bad checksum")
                return CacheEntry(None, data["reason"], detail)
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
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            self.corrupt_seen += 1
            return None

    def put(self, image_sha256: str, entry: CacheEntry) -> None:
        if not self._described:
            atomic_write_text(
                self.folder / "model.json", json.dumps(self.identity, indent=2, sort_keys=True)
            )
            self._described = True
        if entry.vector is None:
            reason = entry.reason or "failed"
            data: dict[str, Any] = {
                "v": ENTRY_VERSION,
                "status": "failed",
                "reason": reason,
                "detail": entry.detail,
                "check": _checksum(_failure_bytes(reason, entry.detail)),
            }
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
        atomic_write_text(self._path(image_sha256), json.dumps(data))


def _checksum(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def _faces_bytes(n_faces: int | None, detector: str | None = None) -> bytes:
    """What an embedding's checksum covers besides the vector (nothing extra when unset)."""
    faces = b"" if n_faces is None else f"|faces={n_faces}".encode()
    return faces + (b"" if detector is None else f"|detector={detector}".encode())


def _failure_bytes(reason: str, detail: str) -> bytes:
    """What a failed entry's checksum covers: the reason and the detail shown to users."""
    return json.dumps([reason, detail], ensure_ascii=True).encode()
