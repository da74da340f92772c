"""Safe file output and the cache location, shared by every layer that writes.

Writes are atomic (temporary sibling + rename) so a reader sees the old file or the whole new
one, never a part.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def default_cache_dir() -> Path:
    """``$FACE_BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/face-bench``, else ``~/.cache``."""
    if os.environ.get("FACE_BENCH_CACHE_DIR"):
        return Path(os.environ["FACE_BENCH_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "face-bench"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` so readers see the old file or the whole new one, never a part."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` so readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        # mkstemp creates 0600 files; results and reports are meant to be shared.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
