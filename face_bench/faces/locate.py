"""The face stage: decode, detect and place 5 landmarks once per image, shared by all models.

Every model aligns from the same landmarks, so they are found once per image (in
worker processes) and cached by content hash and face settings. A face record is
stored as a small vector in the embedding cache format:
``[n_faces, source, left, top, right, bottom, x1, y1, ..., x5, y5]`` (dlib's 5
points) in the coordinates of the decoded image, then, for YuNet, its own 5 points
as 10 more values; or as a failure with its reason.

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

from dataclasses import dataclass

import numpy as np

from face_bench.core.errors import ImageError
from face_bench.core.modes import AlignMode
from face_bench.core.records import CacheEntry
from face_bench.data.images import load_rgb_bytes
from face_bench.faces.alignment import (
    FaceAligner,
    FaceBox,
    choose_face,
    get_aligner,
    looks_like_crop,
    unusable_crop,
    whole_image_rect,
)

LOAD_MAX_SIDE = 2048  # photos are decoded at most this large: chips need no more
CROP_DETECT_SIDE = 320
FACE_STAGE_VERSION = 3  # bump when a face record's content changes
_SOURCES = ("detector", "whole_image", "mmod")  # append only: records store the index
FACE_VECTOR_SIZE = 6 + 2 * 5  # count, source, box, dlib's five landmarks; then the detector's own


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

    def to_vector(self) -> np.ndarray:
        b = self.box
        flat: list[float] = [self.n_faces, _SOURCES.index(self.source)]
        flat += [b.left, b.top, b.right, b.bottom]
        flat += [c for point in self.points for c in point]
        flat += [c for point in self.marks or () for c in point]
        return np.asarray(flat, dtype=np.float32)

    @staticmethod
    def readable(vector: np.ndarray) -> bool:
        """Whether ``vector`` is one ``to_vector`` wrote: a count, a known source, a box and
        five landmarks (then, from YuNet, its own five), all finite. A cached vector is checked
        before use: its checksum proves it whole, not that it is a face record."""
        v = np.asarray(vector, dtype=np.float64)
        return (
            v.shape in ((FACE_VECTOR_SIZE,), (FACE_VECTOR_SIZE + 10,))
            and bool(np.isfinite(v).all())
            and 0 <= v[1] < len(_SOURCES)
            and float(v[1]).is_integer()
        )

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> Face:
        v = [round(float(x)) for x in vector[:FACE_VECTOR_SIZE]]
        points = tuple((v[i], v[i + 1]) for i in range(6, len(v), 2))
        rest = [float(x) for x in vector[FACE_VECTOR_SIZE:]]
        marks = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2)) or None
        return cls(v[0], _SOURCES[v[1]], FaceBox(v[2], v[3], v[4], v[5]), points, marks)

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


def decode_bytes(data: bytes, name: str) -> np.ndarray:
    """The image as the face stage and every model see it, from bytes already read (and
    hashed) by the caller, so that pixels and hash come from the same bytes."""
    return load_rgb_bytes(data, name, max_side=LOAD_MAX_SIDE)


def locate(rgb: np.ndarray, settings: FaceSettings) -> CacheEntry:
    """Find the face of one decoded image under ``settings``."""
    aligner = get_aligner()
    mode = AlignMode(settings.align)
    if mode is AlignMode.NONE:
        junk = unusable_crop(rgb)
        if junk is not None:
            return CacheEntry(None, *junk)
        found: _Found | CacheEntry = (1, "whole_image", whole_image_rect(rgb), None)
    else:
        found = _detected(aligner, rgb, settings, mode is AlignMode.AUTO and looks_like_crop(rgb))
    if isinstance(found, CacheEntry):
        return found
    n_faces, source, box, marks = found
    shape = aligner.landmarks(rgb, box)
    points = tuple((shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts))
    return CacheEntry(Face(n_faces, source, box, points, marks).to_vector())


Marks = tuple[tuple[float, float], ...]
_Found = tuple[int, str, FaceBox, Marks | None]
"""(faces found, where the box came from, the box, the detector's own landmarks or None)."""


def _detected(
    aligner: FaceAligner, rgb: np.ndarray, settings: FaceSettings, crop: bool
) -> _Found | CacheEntry:
    """The face a detector finds (the fallback detector's where the first finds none), the
    whole image of a crop without one, or the failure to enrol."""
    boxes, found_marks = detect(aligner, rgb, settings, crop)
    result = choose_face(boxes, settings.multi_face)
    source = "detector"
    if result.n_faces == 0 and not crop and _fallback_applies(settings):
        # Before a failure to enrol: the CNN detector finds faces the first one misses.
        result = choose_face(aligner.detect_cnn(rgb, settings.upsample), settings.multi_face)
        source, found_marks = "mmod", []
    if result.n_faces == 0 and crop:
        junk = unusable_crop(rgb)
        if junk is not None:
            return CacheEntry(None, *junk)
        return 0, "whole_image", whole_image_rect(rgb), None
    if not result.ok or result.box is None:
        detail = f"{result.n_faces} faces found" if result.n_faces else "no face found"
        return CacheEntry(None, result.reason or "no_face", detail)
    marks = found_marks[boxes.index(result.box)] if found_marks else None
    return result.n_faces, source, result.box, marks


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
