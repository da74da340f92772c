"""Suspected label errors: images a model places far from their own identity.

An image whose label is wrong scores like a stranger against the other images of "its"
person. Per model, each image gets the median score of its same-label pairs and its nearest
image of another identity. The rule (per model, on one subset's scores, higher = same
person): an image is **flagged** when its median same-label score is below the model's
threshold at its equal-error rate on that subset, i.e. more than half of its genuine pairs
would be rejected at a threshold where only EER of all genuine pairs are. An image flagged
by every model run is a suspect "in agreement": models that fail independently of one
another rarely agree by chance, a wrong label makes all of them fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from face_bench.metrics.scoring import prepare_embeddings, squared_norms

RULE = (
    "median same-label score below the model's threshold at its EER on the subset; "
    "a suspect in agreement is flagged by every model run"
)
BLOCK_ROWS = 1024


@dataclass(frozen=True)
class ImageEvidence:
    """One image under one model (scores higher = same person; None: no such image)."""

    index: int
    n_same: int
    median_same: float | None
    nearest_other: float | None
    nearest_other_index: int | None
    flagged: bool


def _score_rows(e: np.ndarray, sq: np.ndarray | None, r0: int, r1: int) -> np.ndarray:
    """Scores of rows [r0, r1) against every row (cosine, or negated Euclidean distance)."""
    block: np.ndarray = e[r0:r1] @ e.T
    if sq is None:
        return block
    squared: np.ndarray = sq[r0:r1, None] + sq[None, :] - 2 * block
    distances: np.ndarray = np.sqrt(np.maximum(squared, 0))
    return -distances


def image_evidence(
    vectors: np.ndarray, identities: Sequence[object], similarity: str, threshold: float
) -> list[ImageEvidence]:
    """Each row's same-label median and nearest other-identity image, and whether flagged.

    ``threshold`` is in score units (higher = same person); rows are scored in blocks so
    a large sample never holds the n x n matrix.
    """
    e = prepare_embeddings(vectors, similarity)
    sq = squared_norms(e, similarity)
    codes = np.unique(np.asarray(identities, dtype=object).astype(str), return_inverse=True)[1]
    n = len(codes)
    out: list[ImageEvidence] = []
    for r0 in range(0, n, BLOCK_ROWS):
        r1 = min(n, r0 + BLOCK_ROWS)
        block = _score_rows(e, sq, r0, r1)
        for offset, row in enumerate(block):
            index = r0 + offset
            same = codes == codes[index]
            same[index] = False
            median = float(np.median(row[same])) if same.any() else None
            other = codes != codes[index]
            nearest = int(np.flatnonzero(other)[np.argmax(row[other])]) if other.any() else None
            out.append(
                ImageEvidence(
                    index=index,
                    n_same=int(same.sum()),
                    median_same=median,
                    nearest_other=None if nearest is None else float(row[nearest]),
                    nearest_other_index=nearest,
                    flagged=median is not None and median < threshold,
                )
            )
    return out


def agreement(flags: Sequence[Sequence[bool]]) -> np.ndarray:
    """Rows flagged by every model (``flags``: one boolean sequence per model)."""
    if not flags:
        return np.zeros(0, dtype=bool)
    both: np.ndarray = np.logical_and.reduce([np.asarray(f, dtype=bool) for f in flags])
    return both
