"""dlib's ResNet descriptor, and the aligned chips every model is fed.

Both run inside worker processes: each process loads dlib's models once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from face_bench.alignment import get_aligner
from face_bench.cache import CacheEntry
from face_bench.errors import ImageError
from face_bench.images import load_rgb

if TYPE_CHECKING:
    from face_bench.embed import FaceSettings
    from face_bench.models.registry import ModelSpec

# Photos are decoded at most this large: detection and 150-224 px chips need no more,
# and a 100-megapixel photo must not take gigabytes.
LOAD_MAX_SIDE = 2048


class ChipMaker:
    """Decode, find the face and cut the model's input image (uint8 RGB, square)."""

    def __init__(self, size: int, padding: float, spec: ModelSpec, faces: FaceSettings) -> None:
        self.size = size
        self.padding = padding
        self.spec = spec
        self.faces = faces
        self.aligner = get_aligner()

    def chip_for_path(self, path: Path) -> tuple[np.ndarray | None, str, str]:
        """(chip, "", "") or (None, reason, detail) for a failure to enrol."""
        try:
            rgb = load_rgb(path, max_side=LOAD_MAX_SIDE)
        except ImageError as exc:
            return None, getattr(exc, "reason", "decode_error"), str(exc)
        result = self.aligner.find_face(
            rgb,
            align=self.faces.align,
            multi_face=self.faces.multi_face,
            upsample=self.spec.upsample,
        )
        if not result.ok or result.box is None:
            detail = f"{result.n_faces} faces found" if result.n_faces else "no face found"
            return None, result.reason or "no_face", detail
        if result.source == "whole_image" and self.spec.backend == "onnx":
            # An aligned crop goes to an ONNX model as a plain bilinear resize.
            height, width = self.spec.input_size
            resized = Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
            return np.ascontiguousarray(np.asarray(resized)), "", ""
        shape = self.aligner.landmarks(rgb, result.box)
        return self.aligner.chip(rgb, shape, self.size, self.padding), "", ""


class DlibEmbedder:
    """HOG detection (or whole crop) -> 5 landmarks -> 150x150 chip -> 128-d descriptor."""

    def __init__(self, spec: ModelSpec, weights: Path, faces: FaceSettings) -> None:
        import dlib

        self.spec = spec
        self.chips = ChipMaker(spec.chip_size or 150, spec.chip_padding, spec, faces)
        self.net = dlib.face_recognition_model_v1(str(weights))

    def embed_path(self, path: Path) -> CacheEntry:
        chip, reason, detail = self.chips.chip_for_path(path)
        if chip is None:
            return CacheEntry(None, reason, detail)
        return CacheEntry(self.describe(chip))

    def describe(self, chip: np.ndarray) -> np.ndarray:
        """Descriptor of an aligned chip (``num_jitters`` random jitters averaged, as dlib does)."""
        vector = self.net.compute_face_descriptor(chip, self.spec.num_jitters or 0)
        return np.asarray(vector, dtype=np.float32)
