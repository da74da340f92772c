"""The pairs each model gets most wrong, as small thumbnails for the report.

Numbers say how often a model errs; looking at the pairs says why (same hairstyle,
glasses, a mislabelled photo). For each model: the impostor pairs it finds most
similar and the genuine pairs it finds least similar, each shown with every other
model's score for the very same pair.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_TOP_K = 8
THUMB_SIZE = 96
THUMB_QUALITY = 85


@dataclass(frozen=True)
class PairScore:
    """One model's score for a pair, in the model's own units, and its verdict."""

    model: str
    score: float | None
    accepted: bool | None
    probability: float | None = None  # P(same person) from --calibration, at its prior


@dataclass(frozen=True)
class GalleryPair:
    """A pair worth looking at; ``mine`` is the model whose error it shows."""

    image_a: str
    image_b: str
    identity_a: str
    identity_b: str
    genuine: bool
    mine: PairScore
    others: tuple[PairScore, ...]

    @property
    def error(self) -> bool:
        """A false accept (impostor) or false reject (genuine) at the default threshold."""
        return self.mine.accepted is not None and self.mine.accepted != self.genuine


@dataclass(frozen=True)
class ModelGallery:
    """One model on one subset: its hardest impostor and genuine pairs."""

    subset: str
    model: str
    units: str
    threshold: float
    accept_rule: str
    impostors: tuple[GalleryPair, ...]
    genuines: tuple[GalleryPair, ...]
    n_false_accepts: int
    n_false_rejects: int

    def images(self) -> set[str]:
        return {
            p for pair in (*self.impostors, *self.genuines) for p in (pair.image_a, pair.image_b)
        }


def _accept_rule(spec) -> str:
    return (
        f"distance ≤ {spec.threshold:g}"
        if spec.distance_like
        else f"similarity ≥ {spec.threshold:g}"
    )


def _pair_score(spec, model: str, score: float, calibration=None) -> PairScore:
    if not np.isfinite(score):
        return PairScore(model, None, None)
    probability = (
        None
        if calibration is None
        else float(calibration.probability(model, np.array([score], dtype=np.float64))[0])
    )
    return PairScore(
        model,
        float(spec.from_score(score)),
        bool(score >= spec.to_score(spec.threshold)),
        probability,
    )


def select(subset, k: int = DEFAULT_TOP_K, calibration=None) -> list[ModelGallery]:
    """Hardest pairs of every model in ``subset`` (a ``subset_scores.SubsetScores``).

    Impostors are ranked most similar first, genuine pairs least similar first; ties keep
    pair order so the gallery is the same on every run. With ``calibration`` (a
    ``run.calibration_apply.RunCalibration``) each score carries P(same person).
    """
    if subset.pairs.implicit:
        return []  # scored in blocks: no pair indices to show
    a, b, _labels = subset.pairs.explicit()
    paths = subset.images["path"].to_numpy()
    identities = subset.images["identity"].to_numpy()
    out: list[ModelGallery] = []
    for name, ms in subset.scores.items():
        spec = ms.spec
        scores = np.asarray(ms.scores, dtype=np.float64)
        labels = np.asarray(ms.labels, dtype=bool)
        usable = np.isfinite(scores)
        accept = scores >= spec.to_score(spec.threshold)

        def build(indices: Iterable[int], genuine: bool, model: str = name, spec=spec):
            pairs = []
            for i in indices:
                mine = _pair_score(spec, model, subset.scores[model].scores[i], calibration)
                others = tuple(
                    _pair_score(other.spec, other_name, other.scores[i], calibration)
                    for other_name, other in subset.scores.items()
                    if other_name != model
                )
                pairs.append(
                    GalleryPair(
                        image_a=str(paths[a[i]]),
                        image_b=str(paths[b[i]]),
                        identity_a=str(identities[a[i]]),
                        identity_b=str(identities[b[i]]),
                        genuine=genuine,
                        mine=mine,
                        others=others,
                    )
                )
            return tuple(pairs)

        impostor = np.flatnonzero(~labels & usable)
        genuine = np.flatnonzero(labels & usable)
        top_impostors = impostor[np.argsort(-scores[impostor], kind="stable")[:k]]
        low_genuines = genuine[np.argsort(scores[genuine], kind="stable")[:k]]
        out.append(
            ModelGallery(
                subset=subset.name,
                model=name,
                units=spec.units,
                threshold=float(spec.threshold),
                accept_rule=_accept_rule(spec),
                impostors=build(top_impostors, False),
                genuines=build(low_genuines, True),
                n_false_accepts=int((accept & ~labels & usable).sum()),
                n_false_rejects=int((~accept & labels & usable).sum()),
            )
        )
    return out


def thumbnail_name(relative: str) -> str:
    """A file name per image that is safe anywhere (no identity names in file names)."""
    return hashlib.sha256(relative.encode("utf-8")).hexdigest()[:20] + ".jpg"


def thumbnail_bytes(images: Iterable[str], root: Path, size: int = THUMB_SIZE) -> dict:
    """Small JPEGs of dataset images, in memory; None for an image that cannot be read.

    Made from the original files so what is shown is exactly what was embedded. A
    self-contained page embeds these and writes no thumbnail file.
    """
    from PIL import Image

    from face_bench.core.errors import ImageError
    from face_bench.data.images import load_rgb

    out: dict[str, bytes | None] = {}
    for relative in sorted(set(images)):
        try:
            pixels = load_rgb(Path(root) / relative, max_side=size * 2)
        except (ImageError, OSError):
            out[relative] = None
            continue
        with Image.fromarray(pixels) as picture:
            picture.thumbnail((size, size), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            picture.save(buffer, format="JPEG", quality=THUMB_QUALITY, optimize=True)
        out[relative] = buffer.getvalue()
    return out


def write_thumbnails(
    images: Iterable[str], root: Path, folder: Path, size: int = THUMB_SIZE
) -> dict[str, Path | None]:
    """thumbnail_bytes written under ``folder`` (for a page that links its images)."""
    from face_bench.core.io import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path | None] = {}
    for relative, data in thumbnail_bytes(images, root, size).items():
        if data is None:
            out[relative] = None
            continue
        target = folder / thumbnail_name(relative)
        atomic_write_bytes(target, data)
        out[relative] = target
    return out
