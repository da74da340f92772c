"""Perceptual near-duplicates: the same photo under another name, resized or re-encoded.

Byte-identical copies are found from content hashes (``run.duplicates``); a photo that was
resized, re-compressed, re-coloured or converted has other bytes but the same picture. Each
image is reduced to a 32x32 greyscale thumbnail. Two images are near-duplicates when

1. their 64-bit DCT perceptual hashes (pHash: the 8x8 lowest frequencies of the thumbnail's
   2-D DCT without the DC term, each bit "above the median") differ in at most
   ``MAX_DISTANCE`` bits, and
2. the thumbnails' Pearson correlation is at least ``MIN_CORRELATION``.

Aligned face crops all share one layout, so the hash alone also pairs different people who
look alike; the correlation keeps only the same picture. On ``jp_faces_dev`` the rule finds
50 same-person pairs and no pair of two people. It looks at pixels only, never at a model's
embedding, so every model is judged on the same pairs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from face_bench.core.errors import ImageError
from face_bench.data.images import read_image_bytes

MAX_DISTANCE = 8
"""Most differing pHash bits (of 64) for two images to be compared further."""
MIN_CORRELATION = 0.95
"""Least correlation of the two 32x32 greyscale thumbnails for the same photo."""
THUMB_SIZE = 32
HASH_SIZE = 8


@dataclass(frozen=True)
class Fingerprint:
    """One image's perceptual hash and its standardised thumbnail (unit length, mean 0)."""

    phash: int
    thumb: np.ndarray


def fingerprint(path: Path) -> Fingerprint | None:
    """The image's fingerprint; None when it cannot be decoded (enrolment reports that)."""
    try:  # never open() a path: a named pipe in the manifest would block the run
        data = read_image_bytes(path)
    except ImageError:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return fingerprint_of(image)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def fingerprint_of(image: Image.Image) -> Fingerprint:
    """The fingerprint of an opened image at its full size (loaded or not): what
    ``fingerprint`` computes from a file, here from an image a caller decoded anyway."""
    from scipy.fft import dctn

    grey = ImageOps.exif_transpose(image).convert("L")
    small = grey.resize((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    low = dctn(pixels, norm="ortho")[:HASH_SIZE, :HASH_SIZE].ravel()
    ac = low[1:]  # the DC term is the mean brightness, not the picture's structure
    bits = np.r_[False, ac > np.median(ac)]
    centred = pixels.ravel() - pixels.mean()
    norm = float(np.linalg.norm(centred))
    thumb = (centred / norm if norm else centred).astype(np.float32)
    return Fingerprint(int(np.packbits(bits).view(">u8")[0]), thumb)


@dataclass(frozen=True)
class NearPair:
    """Two images (positions in the list given): hash bits apart and thumbnail correlation."""

    a: int
    b: int
    distance: int
    correlation: float


def near_pairs(
    prints: Sequence[Fingerprint | None],
    max_distance: int = MAX_DISTANCE,
    min_correlation: float = MIN_CORRELATION,
) -> list[NearPair]:
    """Every pair a < b meeting both rules, by position; an undecodable image never matches."""
    known = np.array([i for i, p in enumerate(prints) if p is not None], dtype=np.int64)
    if known.size < 2:
        return []
    hashes = np.array([prints[i].phash for i in known], dtype=np.uint64)
    thumbs = np.stack([prints[i].thumb for i in known])
    found: list[NearPair] = []
    for row in range(known.size - 1):
        distance = np.bitwise_count(hashes[row + 1 :] ^ hashes[row])
        close = np.flatnonzero(distance <= max_distance)
        if not close.size:
            continue
        correlation = thumbs[row + 1 + close] @ thumbs[row]
        for offset, value in zip(close.tolist(), correlation.tolist(), strict=True):
            if value >= min_correlation:
                col = row + 1 + offset
                found.append(
                    NearPair(int(known[row]), int(known[col]), int(distance[offset]), value)
                )
    return found
