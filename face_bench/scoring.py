"""Pair scores from embeddings, vectorised and in bounded memory.

Scores are oriented so that higher means "same person": cosine similarity as
is, Euclidean distance negated. A row of NaN (an image that failed to enrol)
gives NaN scores, which the caller excludes or rejects explicitly.
"""

from __future__ import annotations

import numpy as np

CHUNK_PAIRS = 1 << 18


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float64 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, vectors / norms, 0.0)


def score_pairs(vectors: np.ndarray, a: np.ndarray, b: np.ndarray, similarity: str) -> np.ndarray:
    """Scores of the pairs (a[k], b[k]) in chunks, so memory stays bounded for many pairs."""
    if similarity == "cosine":
        prepared = normalise(vectors)
    elif similarity == "euclidean":
        prepared = np.asarray(vectors, dtype=np.float64)
    else:
        raise ValueError(f"unknown similarity {similarity!r}")
    out = np.empty(len(a), dtype=np.float64)
    for start in range(0, len(a), CHUNK_PAIRS):
        stop = start + CHUNK_PAIRS
        left = prepared[a[start:stop]]
        right = prepared[b[start:stop]]
        if similarity == "cosine":
            out[start:stop] = np.einsum("ij,ij->i", left, right)
        else:
            out[start:stop] = -np.sqrt(np.einsum("ij,ij->i", left - right, left - right))
    return out


def reject_failed(scores: np.ndarray) -> tuple[np.ndarray, float | None]:
    """Replace NaN scores (pairs touching a failed image) by one score below every real one.

    Such pairs are then non-matches at every threshold, as ``--on-fail reject`` means.
    """
    missing = np.isnan(scores)
    if not missing.any():
        return scores, None
    finite = scores[~missing]
    floor = float(finite.min() - 1.0) if finite.size else -1.0
    out = scores.copy()
    out[missing] = floor
    return out, floor
