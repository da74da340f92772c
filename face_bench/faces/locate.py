"""The face stage: decode, detect and place 5 landmarks once per image, shared by all models.

Every model aligns from the same landmarks, so they are found once per image (in
worker processes) and cached by content hash and face settings. A face record
(``Face.to_record``) names its fields: the face count, the source, the box and dlib's 5
points in the coordinates of the decoded image, and for YuNet its own 5 points; a
failure is cached with its reason (``FaceEntry``).

``--align auto`` treats a photo that looks like a crop (see
``alignment.looks_like_crop``) as one: the detector runs at upsample 0 (YuNet: at
its usual resolution) on a copy at most ``CROP_DETECT_SIDE`` pixels wide, which
finds the large face of a crop several times faster than a full search, and when
it finds none the whole crop is the face.

``--fallback-detector mmod`` runs dlib's CNN (MMOD) detector on an image where the
detector found no face and which would otherwise fail to enrol; a face it finds is
recorded with source ``mmod`` so runs can count these images separately.

``--detector`` picks the face detector: ``hog`` (dlib's HOG, the default), ``mmod``
(dlib's CNN) or ``yunet`` (OpenCV Zoo's YuNet on onnxruntime, see ``faces.yunet``).
dlib's 5-point shape predictor always places the landmarks dlib's chip is cut from, on
whichever box the detector gave. YuNet's own 5 landmarks (eye centres, nose tip, mouth
corners) are kept as well, after dlib's, and ArcFace-template chips are cut from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from face_bench.core.errors import ImageError
from face_bench.core.modes import AlignMode
from face_bench.core.records import CacheEntry
from face_bench.data.images import load_rgb_bytes

if TYPE_CHECKING:
    from PIL import Image
from face_bench.faces.alignment import (
    FaceAligner,
    FaceBox,
    FaceResult,
    choose_face,
    get_aligner,
    looks_like_crop,
    unusable_crop,
    whole_image_rect,
)

LOAD_MAX_SIDE = 2048  # photos are decoded at most this large: chips need no more
CROP_DETECT_SIDE = 320
FACE_STAGE_VERSION = 3  # bump when a face record's content changes
_SOURCES = ("detector", "whole_image", "mmod")
_RECORD_KEYS = {"n_faces", "source", "box", "points", "marks"}


@dataclass(frozen=True)
class FaceSettings:
    """How faces are found; part of every cache key."""

    align: str = "auto"
    multi_face: str = "largest"
    upsample: int = 1
    fallback: str | None = None  # "mmod": dlib's CNN detector where the detector finds none
    detector: str = "hog"  # "hog", "mmod" or "yunet"
    detector_weights: str | None = None  # YuNet's ONNX file, for detector "yunet"

    def identity(self) -> dict:
        identity = {
            "align": self.align,
            "multi_face": self.multi_face,
            "upsample": self.upsample,
            "fallback_detector": self.fallback,
            "load_max_side": LOAD_MAX_SIDE,
            "crop_detect_side": CROP_DETECT_SIDE,
            "face_stage_version": FACE_STAGE_VERSION,
        }
        # HOG's records predate the choice: its keys stay as they were, so caches and
        # baselines made before it still match.
        if self.detector != "hog":
            identity["detector"] = self.detector
        if self.detector == "yunet":
            from face_bench.faces import yunet

            identity["detector_sha256"] = yunet.weights_digest(self.yunet_weights())
            identity["detector_settings"] = yunet.settings()
        return identity

    def yunet_weights(self) -> str:
        """YuNet's weights file; the run layer resolves it (``run.embed.resolve_detector``)."""
        if not self.detector_weights:
            raise ValueError("detector 'yunet' needs its weights file (detector_weights)")
        return self.detector_weights


@dataclass(frozen=True)
class Face:
    """Where the face is in the decoded image, and how it was found."""

    n_faces: int
    source: str
    box: FaceBox
    points: tuple[tuple[int, int], ...]  # dlib's 5 landmarks, for dlib's chip
    # The detector's own 5 points (YuNet) in the ArcFace template's order, or None.
    marks: tuple[tuple[float, float], ...] | None = None

    def to_record(self) -> dict[str, Any]:
        """The face as the face cache stores it (JSON; the box's detector score is not kept)."""
        b = self.box
        return {
            "n_faces": self.n_faces,
            "source": self.source,
            "box": [b.left, b.top, b.right, b.bottom],
            "points": [list(point) for point in self.points],
            "marks": None if self.marks is None else [list(mark) for mark in self.marks],
        }

    @classmethod
    def from_record(cls, data: Any) -> Face:
        """The face ``to_record`` wrote; ``ValueError`` for anything else (a cached record's
        checksum proves it whole, not that it is a face record)."""
        if not isinstance(data, dict) or set(data) != _RECORD_KEYS:
            raise ValueError("not a face record")
        n_faces, source, box = data["n_faces"], data["source"], data["box"]
        if type(n_faces) is not int or n_faces < 0 or source not in _SOURCES:
            raise ValueError("bad face count or source")
        points = _pairs(data["points"], int)
        marks = None if data["marks"] is None else _pairs(data["marks"], float)
        if not isinstance(box, list) or len(box) != 4 or any(type(v) is not int for v in box):
            raise ValueError("bad face box")
        return cls(n_faces, source, FaceBox(*box), points, marks)

    @property
    def fallback(self) -> str | None:
        """The fallback detector that found this face, or None (HOG, or a whole crop)."""
        return self.source if self.source == "mmod" else None

    def landmarks(self):
        """dlib's full_object_detection for get_face_chip."""
        import dlib

        return dlib.full_object_detection(
            self.box.to_dlib(), [dlib.point(x, y) for x, y in self.points]
        )


def _pairs(values: Any, kind: type) -> tuple[tuple[Any, Any], ...]:
    """Five finite (x, y) points of ``kind`` (int, or float which also takes int)."""
    if not isinstance(values, list) or len(values) != 5:
        raise ValueError("not five points")
    out = []
    for value in values:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("not a point")
        for c in value:
            if type(c) is bool or not isinstance(c, int if kind is int else (int, float)):
                raise ValueError("bad coordinate")
            if not math.isfinite(c):
                raise ValueError("coordinate not finite")
        out.append((kind(value[0]), kind(value[1])))
    return tuple(out)


@dataclass(frozen=True)
class FaceEntry:
    """The face stage's outcome for one image: where its face is, or why there is none."""

    face: Face | None
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.face is not None

    def failure(self) -> CacheEntry:
        """The failure to enrol it is for every model."""
        return CacheEntry(None, self.reason, self.detail)

    @classmethod
    def failed(cls, entry: CacheEntry) -> FaceEntry:
        """The face stage's failure for a failure to enrol (an undecodable file)."""
        return cls(None, entry.reason, entry.detail)


def decode_bytes(
    data: bytes, name: str, on_decoded: Callable[[Image.Image], None] | None = None
) -> np.ndarray:
    """The image as the face stage and every model see it, from bytes already read (and
    hashed) by the caller, so that pixels and hash come from the same bytes
    (``on_decoded``: ``data.images.load_rgb_bytes``)."""
    return load_rgb_bytes(data, name, max_side=LOAD_MAX_SIDE, on_decoded=on_decoded)


def locate(rgb: np.ndarray, settings: FaceSettings) -> FaceEntry:
    """Find the face of one decoded image under ``settings``."""
    aligner = get_aligner()
    mode = AlignMode(settings.align)
    marks = None
    if mode is AlignMode.NONE:
        junk = unusable_crop(rgb)
        if junk is not None:
            return FaceEntry(None, *junk)
        n_faces, source, box = 1, "whole_image", whole_image_rect(rgb)
    else:
        crop = mode is AlignMode.AUTO and looks_like_crop(rgb)
        boxes, found_marks = detect(aligner, rgb, settings, crop)
        result, source, found_marks = _choose_or_fall_back(
            aligner, rgb, settings, crop, boxes, found_marks
        )
        if result.n_faces == 0 and crop:
            junk = unusable_crop(rgb)
            if junk is not None:
                return FaceEntry(None, *junk)
            n_faces, source, box = 0, "whole_image", whole_image_rect(rgb)
        elif not result.ok or result.box is None:
            detail = f"{result.n_faces} faces found" if result.n_faces else "no face found"
            return FaceEntry(None, result.reason or "no_face", detail)
        else:
            n_faces, box = result.n_faces, result.box
            if found_marks:
                marks = _float32_marks(found_marks[boxes.index(box)])
    shape = aligner.landmarks(rgb, box)
    points = tuple((shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts))
    box = FaceBox(box.left, box.top, box.right, box.bottom)  # as a cached record gives it
    return FaceEntry(Face(n_faces, source, box, points, marks))


Marks = tuple[tuple[float, float], ...]


def _choose_or_fall_back(
    aligner: FaceAligner,
    rgb: np.ndarray,
    settings: FaceSettings,
    crop: bool,
    boxes: list[FaceBox],
    marks: list[Marks],
) -> tuple[FaceResult, str, list[Marks]]:
    """The face the multi-face policy picks among ``boxes``, its source and the detector's
    marks; where there is none (and the image is no crop), the fallback detector's pick."""
    result = choose_face(boxes, settings.multi_face)
    if result.n_faces == 0 and not crop and _fallback_applies(settings):
        # Before a failure to enrol: the CNN detector finds faces the first one misses.
        result = choose_face(aligner.detect_cnn(rgb, settings.upsample), settings.multi_face)
        return result, "mmod", []
    return result, "detector", marks


def _float32_marks(marks: Marks) -> Marks:
    """Landmarks kept at float32 precision, as face records always stored them."""
    return tuple((float(np.float32(x)), float(np.float32(y))) for x, y in marks)


def _fallback_applies(settings: FaceSettings) -> bool:
    """``--fallback-detector mmod`` behind another detector (not behind MMOD itself)."""
    return settings.fallback == "mmod" and settings.detector != "mmod"


def detect(
    aligner: FaceAligner, rgb: np.ndarray, settings: FaceSettings, crop: bool = False
) -> tuple[list[FaceBox], list[Marks]]:
    """The chosen detector's boxes and, for YuNet, each box's 5 landmarks: the detection
    step of ``locate`` alone (``crop``: the quick search ``--align auto`` gives a crop)."""
    if settings.detector == "yunet":
        from face_bench.faces.yunet import FLOOR_SCORE, MAX_SIDE, dlib_frame, faces, get_yunet

        side = CROP_DETECT_SIDE if crop else MAX_SIDE
        found = faces(get_yunet(settings.yunet_weights()).detect(rgb, side, FLOOR_SCORE))
        h, w = rgb.shape[:2]
        boxes = []
        for d in found:
            x1, y1, x2, y2 = dlib_frame(d.box)
            boxes.append(
                FaceBox(
                    max(0, round(x1)),
                    max(0, round(y1)),
                    min(w - 1, round(x2) - 1),
                    min(h - 1, round(y2) - 1),
                    d.score,
                )
            )
        marks = [tuple((float(x), float(y)) for x, y in d.landmarks) for d in found]
        return boxes, marks
    if settings.detector == "mmod":
        return aligner.detect_cnn(rgb, 0 if crop else settings.upsample), []
    return (_detect_small(aligner, rgb) if crop else aligner.detect(rgb, settings.upsample)), []


def _detect_small(aligner, rgb: np.ndarray) -> list[FaceBox]:
    """Upsample-0 detection on a copy at most CROP_DETECT_SIDE wide, boxes mapped back."""
    from PIL import Image

    h, w = rgb.shape[:2]
    scale = min(1.0, CROP_DETECT_SIDE / max(h, w))
    small = rgb
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    sx, sy = w / small.shape[1], h / small.shape[0]
    return [
        FaceBox(
            round(b.left * sx),
            round(b.top * sy),
            min(w - 1, round((b.right + 1) * sx) - 1),
            min(h - 1, round((b.bottom + 1) * sy) - 1),
            b.score,
        )
        for b in aligner.detect(small, 0)
    ]


def decode_failure(exc: ImageError) -> CacheEntry:
    """A file that cannot be decoded, as a cacheable failure to enrol.

    The detail, not the message: a cached failure must not carry this run's path.
    """
    return CacheEntry(
        None, getattr(exc, "reason", "decode_error"), getattr(exc, "detail", str(exc))
    )
