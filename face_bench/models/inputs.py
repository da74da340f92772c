"""A model's input image from a located face: cut with the spec's alignment template.

Chips are cut from the face stage's landmarks, so detection is never repeated per model.
Which cut a backend uses for a whole-image crop is its own choice (``Embedder.chip``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from face_bench.models.spec import ModelSpec

if TYPE_CHECKING:
    from face_bench.faces.locate import Face


def aligned_input(rgb: np.ndarray, face: Face, spec: ModelSpec) -> np.ndarray:
    """The square uint8 RGB chip of ``face`` at the spec's chip size.

    Aligned with the spec's template: dlib's ``get_face_chip`` (with the chip padding) or
    the ArcFace 5-point template (from the detector's own points when it gave them).
    """
    size = spec.chip_size or spec.input_size[0]
    if spec.alignment == "arcface":
        from face_bench.faces.chips import arcface_chip, five_points_chip, landmarks68

        if face.marks is not None:  # the detector's own 5 points (YuNet)
            return five_points_chip(rgb, np.asarray(face.marks), size)
        return arcface_chip(rgb, landmarks68(rgb, face.box), size)
    import dlib

    return np.ascontiguousarray(dlib.get_face_chip(rgb, face.landmarks(), size, spec.chip_padding))


def resized_input(rgb: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The whole image resized (bilinear) to the spec's input size."""
    from PIL import Image  # here, not at the top: the registry's import stays light

    height, width = spec.input_size
    resized = Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(resized))
