"""Pair scores from embeddings, vectorised and in bounded memory.

Scores are oriented so that higher means "same person": cosine similarity as
is, Euclidean distance negated. Two scorers: :func:`score_pairs` for explicit
pairs (a protocol or a sampled subset), where a row of NaN (an image that failed
to enrol) gives NaN scores that the caller excludes or rejects explicitly; and
:func:`pair_scores_blocked` for every pair i<j of a clean embedding matrix,
without ever holding the n x n matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from face_bench.core.errors import MetricError

CHUNK_BYTES = 1 << 22
"""Bytes of gathered embedding rows per side and chunk: a few MB stay in the CPU cache, which
scores 2-3x faster than one pass over all pairs (the numbers are the same: each pair's score
is computed on its own)."""


def _check_similarity(similarity: str) -> None:
    if similarity not in ("cosine", "euclidean"):
        raise ValueError(f"similarity must be 'cosine' or 'euclidean', got {similarity!r}")


def _as_matrix(vectors: Any) -> np.ndarray:
    e = np.asarray(vectors)
    if e.ndim != 2:
        raise MetricError(f"embeddings must be an (n, d) matrix, got shape {e.shape}")
    return e


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows in float64; zero rows stay zero and NaN rows stay NaN."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


# ---------------------------------------------------------------- explicit pairs


def score_pairs(
    vectors: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    similarity: str,
    *,
    chunk_pairs: int | None = None,
) -> np.ndarray:
    """float64 scores of the pairs (a[k], b[k]), in chunks so memory stays bounded.

    Tolerant of failed images: a NaN row gives NaN scores, and a zero row scores 0
    under cosine, so one bad image never aborts a run.
    """
    _check_similarity(similarity)
    vectors = _as_matrix(vectors)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise MetricError(f"pair index arrays differ in shape: {a.shape}, {b.shape}")
    if similarity == "cosine":
        prepared = normalise(vectors)
    else:
        prepared = np.asarray(vectors, dtype=np.float64)
    out = np.empty(len(a), dtype=np.float64)
    chunk_pairs = chunk_pairs or max(64, CHUNK_BYTES // (8 * max(1, prepared.shape[1])))
    for start in range(0, len(a), chunk_pairs):
        stop = start + chunk_pairs
        left = prepared[a[start:stop]]
        right = prepared[b[start:stop]]
        if similarity == "cosine":
            out[start:stop] = np.einsum("ij,ij->i", left, right)
        else:
            diff = left - right
            out[start:stop] = -np.sqrt(np.einsum("ij,ij->i", diff, diff))
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


# ---------------------------------------------------------------- all pairs


def _prepare_embeddings(emb: Any, similarity: str) -> np.ndarray:
    """float32 (or wider) rows, unit length for cosine; all-pairs runs hold no failed rows."""
    _check_similarity(similarity)
    e = _as_matrix(emb)
    e = e.astype(np.result_type(e.dtype, np.float32), copy=False)
    if similarity == "euclidean":
        return e
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise MetricError("an embedding is all zeros: its cosine similarity is undefined")
    unit: np.ndarray = e / norms
    return unit


def _row_ranges(n: int, block_elems: int) -> Iterator[tuple[int, int]]:
    """Row ranges [r0, r1) of about ``block_elems`` similarities each, in pair order."""
    rows = max(1, block_elems // max(n, 1))
    for r0 in range(0, n - 1, rows):
        yield r0, min(n - 1, r0 + rows)


def _pairs_in_rows(n: int, r0: int, r1: int) -> int:
    """How many pairs (i, j), i < j, have r0 <= i < r1: the sum of n - i - 1."""
    return (r1 - r0) * (2 * n - r0 - r1 - 1) // 2


def pair_scores_blocked(
    emb: Any, ids: Any, similarity: str = "cosine", block_elems: int = 1 << 24
) -> tuple[np.ndarray, np.ndarray]:
    """float32 scores and same-person labels of every pair i<j, in ``np.triu_indices(n, 1)`` order.

    Rows are processed in blocks of about ``block_elems`` similarities, so no n x n matrix
    is ever held. Cosine rows are L2-normalised here, then the score is the dot product;
    "euclidean" scores are -||a-b|| via ||a||^2+||b||^2-2a.b clipped at 0 (higher = same).
    """
    e = _prepare_embeddings(emb, similarity)
    ids = np.asarray(ids)
    n = e.shape[0]
    if ids.shape != (n,):
        raise MetricError(f"need one identity per embedding: {ids.shape} vs {n} rows")
    total = n * (n - 1) // 2
    scores = np.empty(total, np.float32)
    labels = np.empty(total, bool)
    sq = squared_norms(e, similarity)
    pos = 0
    for r0, r1 in _row_ranges(n, block_elems):
        end = pos + _pairs_in_rows(n, r0, r1)
        score_block(e, sq, ids, r0, r1, out=(scores[pos:end], labels[pos:end]))
        pos = end
    return scores, labels


def squared_norms(e: np.ndarray, similarity: str) -> np.ndarray | None:
    """Row norms squared for Euclidean scoring (None for cosine)."""
    return np.einsum("ij,ij->i", e, e) if similarity == "euclidean" else None


def score_block(
    e: np.ndarray,
    sq: np.ndarray | None,
    ids: np.ndarray,
    r0: int,
    r1: int,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of the pairs (i, j), r0 <= i < r1, i < j: one block of the triangle.

    Every engine scores a block through this one function with the same row ranges, so the
    scores, and every statistic built on them, are identical to the last bit. The upper
    triangle is copied out row by row (into ``out`` when given): a boolean mask of the
    block and a full identity-equality block would cost more than the copies themselves.
    """
    block = e[r0:r1] @ e[r0:].T
    if sq is not None:
        block *= -2
        block += sq[r0:r1, None]
        block += sq[None, r0:]
        np.maximum(block, 0, out=block)
        np.sqrt(block, out=block)
        np.negative(block, out=block)
    n = e.shape[0]
    if out is None:
        size = _pairs_in_rows(n, r0, r1)
        out = np.empty(size, block.dtype), np.empty(size, bool)
    vals, same = out
    pos = 0
    for k in range(r1 - r0):
        i, end = r0 + k, pos + n - r0 - k - 1
        vals[pos:end] = block[k, k + 1 :]
        same[pos:end] = ids[i + 1 :] == ids[i]
        pos = end
    return vals, same


def row_blocks(n: int, block_elems: int = 1 << 24) -> list[tuple[int, int]]:
    """The row ranges [r0, r1) that :func:`pair_scores_blocked` cuts the triangle into."""
    return list(_row_ranges(n, block_elems))


def block_bounds(n: int, block_elems: int = 1 << 24) -> list[tuple[int, int]]:
    """[start, end) of each block's pairs in the flat order of :func:`pair_scores_blocked`."""
    bounds, pos = [], 0
    for r0, r1 in row_blocks(n, block_elems):
        size = _pairs_in_rows(n, r0, r1)
        bounds.append((pos, pos + size))
        pos += size
    return bounds


def block_mask(n: int, r0: int, r1: int) -> np.ndarray:
    """The i<j mask of the (r1-r0, n-r0) block that starts at row r0."""
    return np.arange(n - r0)[None, :] > np.arange(r1 - r0)[:, None]


def prepare_embeddings(emb: Any, similarity: str) -> np.ndarray:
    """The matrix every all-pairs engine scores: float32 rows, unit length for cosine."""
    return _prepare_embeddings(emb, similarity)


def all_pair_indices(n: int, block_elems: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
    """int32 (i, j) of every pair i<j, in the order of :func:`pair_scores_blocked`."""
    total = n * (n - 1) // 2
    i_out, j_out = np.empty(total, np.int32), np.empty(total, np.int32)
    pos = 0
    for r0, r1 in _row_ranges(n, block_elems):
        a, b = np.nonzero(block_mask(n, r0, r1))
        i_out[pos : pos + a.size] = a + r0
        j_out[pos : pos + a.size] = b + r0
        pos += a.size
    return i_out, j_out
