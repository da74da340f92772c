"""One image file through the face stage as a run's workers take it: its bytes read once,
decoded, the face located; a file that cannot be read or decoded is a recorded failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from face_bench.core.errors import ImageError
from face_bench.data.images import read_image_bytes
from face_bench.faces.locate import FaceEntry, FaceSettings, decode_bytes, decode_failure, locate


def decode(path: Path) -> np.ndarray:
    return decode_bytes(read_image_bytes(path), str(path))


def locate_path(path: Path, settings: FaceSettings) -> FaceEntry:
    try:
        rgb = decode(path)
    except ImageError as exc:
        return FaceEntry.failed(decode_failure(exc))
    return locate(rgb, settings)
