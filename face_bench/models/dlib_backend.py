"""Model inputs from located faces, and dlib's ResNet descriptor.

Chips are cut from the face stage's landmarks, so detection is never repeated
per model. dlib work runs in worker processes that load the network once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from face_bench.faces.locate import Face

if TYPE_CHECKING:
    from face_bench.models.registry import ModelSpec


def model_input(rgb: np.ndarray, face: Face, spec: ModelSpec) -> np.ndarray:
    """The square uint8 RGB image a model is fed.

    A detected face is aligned with the spec's template at its chip size: dlib's
    ``get_face_chip`` (with the chip padding) or the ArcFace 5-point template. A
    whole-image crop goes to an ONNX model as a bilinear resize (its authors' recipe for
    aligned crops) and to dlib through its landmarks, as dlib expects.
    """
    if face.source == "whole_image" and spec.backend == "onnx":
        height, width = spec.input_size
        resized = Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
        return np.ascontiguousarray(np.asarray(resized))
    size = spec.chip_size or spec.input_size[0]
    if spec.alignment == "arcface":
        from face_bench.faces.chips import arcface_chip, five_points_chip, landmarks68

        if face.marks is not None:  # the detector's own 5 points (YuNet)
            return five_points_chip(rgb, np.asarray(face.marks), size)
        return arcface_chip(rgb, landmarks68(rgb, face.box), size)
    import dlib

    return np.ascontiguousarray(dlib.get_face_chip(rgb, face.landmarks(), size, spec.chip_padding))


class DlibDescriptor:
    """dlib's 128-d face descriptor on aligned 150x150 chips."""

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        import dlib

        self.spec = spec
        self.net = dlib.face_recognition_model_v1(str(weights))

    def describe(self, chip: np.ndarray) -> np.ndarray:
        """The descriptor of an aligned chip.

        ``num_jitters`` > 0 averages descriptors of randomly jittered copies, as dlib's
        published LFW figure did.
        """
        vector = self.net.compute_face_descriptor(chip, self.spec.num_jitters)
        return self.spec.finish(np.asarray(vector, dtype=np.float32))
