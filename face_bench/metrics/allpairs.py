"""Exact metrics of every pair of a large embedding set, from per-block counting statistics.

The score triangle is cut into the row blocks of :func:`scoring.row_blocks`; each block is
scored by :func:`scoring.score_block` and reduced to small statistics; the driver merges
them in block order. Three passes over the blocks, each a pure function of
(embeddings, identities, block, argument):

1. genuine scores (kept: they are few) and per-block score moments;
2. against the distinct genuine scores, impostor counts per interval and exact ties (the
   search path's ROC corners), impostors at or above chosen thresholds, and a histogram
   of the impostors' top 16 key bits (for TAR@FAR's order statistic);
3. the scores between the two genuine scores around the EER crossing, and the low 16 key
   bits of the impostors inside each TAR@FAR bucket (an exact radix selection).

A *mapper* runs a pass over the blocks and returns the results in block order: the local
engine maps in-process, the Ray engine maps on a cluster. Both feed this module the same
blocks and merge in the same order, so AUC, EER, TAR@FAR, the sweep and d' agree to the
last bit, and no engine ever holds more than one block of impostor scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.confusion import ConfusionCounts, ThresholdSweep, counts_sorted
from face_bench.metrics.rates import (
    NO_MOMENTS,
    Moments,
    ScoreStats,
    chunk_moments,
    merge_chunk,
    stats_from_moments,
)
from face_bench.metrics.scoring import block_mask, prepare_embeddings, row_blocks, score_block
from face_bench.metrics.summary import (
    DEFAULT_FAR_TARGETS,
    Corners,
    EerPoint,
    TarAtFar,
    VerificationSummary,
    allowed_false_accepts,
    auc_from_counts,
    corners_from_histogram,
    eer_on_vertices,
    f1_point,
    tar_point,
    unsupported_tar,
)

_BUCKETS = 1 << 16


@dataclass(frozen=True)
class Triangle:
    """What every block task needs: the prepared embeddings and identity codes."""

    e: np.ndarray
    sq: np.ndarray | None
    ids: np.ndarray

    def block(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        mask = block_mask(self.e.shape[0], r0, r1)
        vals, same = score_block(self.e, self.sq, self.ids, r0, r1, mask)
        return vals + np.float32(0), same  # -0.0 becomes 0.0: one key per value


class Mapper(Protocol):
    """Runs ``fn(triangle, r0, r1, arg)`` on every block and yields the results in block
    order, as they come: the driver folds them one by one, so its memory holds one block's
    statistics plus the engine's window of blocks in flight, however many blocks there are."""

    def __call__(
        self,
        fn: Callable[..., Any],
        triangle: Triangle,
        blocks: Sequence[tuple[int, int]],
        arg: Any,
    ) -> Iterable[Any]: ...


def local_mapper(
    fn: Callable[..., Any], triangle: Triangle, blocks: Sequence[tuple[int, int]], arg: Any
) -> Iterator[Any]:
    """The in-process engine: one block after the other."""
    for r0, r1 in blocks:
        yield fn(triangle, r0, r1, arg)


def _keys(values: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keys whose unsigned order is the values' order."""
    bits = values.astype(np.float32, copy=False).view(np.uint32)
    return np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000))


def _value(key: int) -> float:
    bits = key & 0x7FFFFFFF if key >> 31 == 1 else ~key & 0xFFFFFFFF
    return float(np.array([bits], np.uint32).view(np.float32)[0])


# ---------------------------------------------------------------- the three passes


def _pass_genuine(t: Triangle, r0: int, r1: int, _arg: Any) -> tuple[Any, ...]:
    vals, same = t.block(r0, r1)
    lowest = float(vals.min()) if vals.size else math.inf
    return vals[same], chunk_moments(vals[same]), chunk_moments(vals[~same]), lowest


def _pass_counts(
    t: Triangle, r0: int, r1: int, arg: tuple[np.ndarray, np.ndarray]
) -> tuple[Any, ...]:
    u, extra = arg
    vals, same = t.block(r0, r1)
    imp = vals[~same]
    high = np.bincount(_keys(imp) >> 16, minlength=_BUCKETS).astype(np.int64)
    ge_extra = np.array([np.count_nonzero(imp >= x) for x in extra], np.int64)
    imp = imp[imp >= u[0]]  # impostors below every genuine score never matter
    r = np.searchsorted(u, imp, side="right")  # u[r-1] <= score < u[r]
    hist = np.bincount(r, minlength=u.size + 1).astype(np.int64)
    eq = np.bincount(r[u[r - 1] == imp] - 1, minlength=u.size).astype(np.int64)
    return hist, eq, ge_extra, high


def _pass_select(t: Triangle, r0: int, r1: int, arg: tuple[Any, ...]) -> tuple[Any, ...]:
    lo, hi, buckets, nexts = arg
    vals, same = t.block(r0, r1)
    keep = (vals >= lo) & (vals <= hi)
    keys = _keys(vals[~same])
    top = keys >> 16
    low = [np.bincount(keys[top == b] & 0xFFFF, minlength=_BUCKETS).astype(np.int64)
           for b in buckets]  # fmt: skip
    mins = [int(keys[top == b].min()) if np.any(top == b) else None for b in nexts]
    return vals[keep], same[keep], low, mins


def _pass_scores(t: Triangle, r0: int, r1: int, _arg: Any) -> tuple[Any, ...]:
    mask = block_mask(t.e.shape[0], r0, r1)
    return score_block(t.e, t.sq, t.ids, r0, r1, mask)


def all_pair_scores(
    embeddings: Any,
    ids: Any,
    similarity: str = "cosine",
    mapper: Mapper = local_mapper,
    block_elems: int = 1 << 24,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of every pair, scored block by block by ``mapper``; the same arrays,
    bit for bit, as :func:`scoring.pair_scores_blocked`."""
    tri = _triangle(embeddings, ids, similarity)
    parts = list(mapper(_pass_scores, tri, row_blocks(tri.e.shape[0], block_elems), None))
    if not parts:
        return np.empty(0, np.float32), np.empty(0, bool)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _triangle(embeddings: Any, ids: Any, similarity: str) -> Triangle:
    e = prepare_embeddings(embeddings, similarity)
    ids = np.asarray(ids)
    if ids.shape != (e.shape[0],):
        raise MetricError(f"need one identity per embedding: {ids.shape} vs {e.shape[0]} rows")
    sq = np.einsum("ij,ij->i", e, e) if similarity == "euclidean" else None
    return Triangle(e, sq, ids)


# ---------------------------------------------------------------- the summary


@dataclass(frozen=True)
class AllPairsSummary:
    """Every exact figure of an all-pairs run, plus what figures and sweeps are drawn from."""

    summary: VerificationSummary
    corners: Corners
    genuine: np.ndarray  # sorted genuine scores
    impostors_at_or_above: dict[float, int]  # for the rates at chosen thresholds

    def sweep(self) -> ThresholdSweep:
        c = self.corners
        return ConfusionCounts(c.thresholds, c.tp, c.fp_ge, c.n_pos, c.n_neg).sweep()


def summarise_all_pairs(
    embeddings: Any,
    ids: Any,
    similarity: str = "cosine",
    far_targets: Sequence[float] = DEFAULT_FAR_TARGETS,
    thresholds: Sequence[float] = (),
    mapper: Mapper = local_mapper,
    block_elems: int = 1 << 24,
) -> AllPairsSummary:
    """Exact metrics of every pair i<j of ``embeddings`` (same identity = genuine)."""
    tri = _triangle(embeddings, ids, similarity)
    blocks = row_blocks(tri.e.shape[0], block_elems)
    first = _fold_genuine(mapper(_pass_genuine, tri, blocks, None))
    n_pos, n_neg = first.genuine_moments[0], first.impostor_moments[0]
    extra = np.asarray(sorted(set(thresholds)), np.float64)
    c, ge_extra, high = _fold_counts(
        mapper(_pass_counts, tri, blocks, (first.distinct, extra)), first, extra.size
    )
    k_eer, lo, hi = _eer_bracket(c)
    plans = [_tar_plan(t, n_neg, high) for t in far_targets]
    buckets = sorted({p[1] for p in plans if p is not None})
    nexts = sorted({p[3] for p in plans if p is not None and p[3] is not None})
    local, low, mins = _fold_select(
        mapper(_pass_select, tri, blocks, (lo, hi, buckets, nexts)), buckets, nexts
    )
    eer = _eer_from_bracket(c, k_eer, local)
    tars = [
        _tar_from_plan(t, p, low, mins, first.genuine, n_pos, n_neg, first.lowest)
        for t, p in zip(far_targets, plans, strict=True)
    ]
    st: ScoreStats = stats_from_moments(first.genuine_moments, first.impostor_moments)
    summary = VerificationSummary(
        roc_auc=auc_from_counts(*c.vertices(), n_pos, n_neg),
        eer=eer.eer,
        eer_threshold=eer.threshold,
        tar_at_far=tuple(tars),
        best_f1=f1_point(c.thresholds, c.tp, c.fp_ge, n_pos),
        d_prime=st.d_prime,
        genuine_mean=st.genuine_mean,
        genuine_std=st.genuine_std,
        impostor_mean=st.impostor_mean,
        impostor_std=st.impostor_std,
        n_genuine=n_pos,
        n_impostor=n_neg,
        method="search",
    )
    at = {float(x): int(v) for x, v in zip(extra, ge_extra, strict=True)}
    return AllPairsSummary(summary, c, first.genuine, at)


@dataclass(frozen=True)
class _FirstPass:
    """What pass 1 leaves on the driver: every genuine score and both classes' moments."""

    genuine: np.ndarray  # sorted
    distinct: np.ndarray  # the distinct genuine scores, ascending
    counts: np.ndarray  # how many genuine pairs have each
    genuine_moments: Moments
    impostor_moments: Moments
    lowest: float


def _fold_genuine(results: Iterable[Any]) -> _FirstPass:
    parts: list[np.ndarray] = []
    gm, im, lowest = NO_MOMENTS, NO_MOMENTS, math.inf
    for gen, g_moments, i_moments, block_lowest in results:
        parts.append(gen)
        gm, im = merge_chunk(gm, g_moments), merge_chunk(im, i_moments)
        lowest = min(lowest, block_lowest)
    if gm[0] == 0 or im[0] == 0:
        raise MetricError("verification metrics need both genuine and impostor pairs")
    genuine = np.sort(np.concatenate(parts))
    distinct, counts = np.unique(genuine, return_counts=True)
    return _FirstPass(genuine, distinct, counts, gm, im, lowest)


def _fold_counts(
    results: Iterable[Any], first: _FirstPass, n_extra: int
) -> tuple[Corners, np.ndarray, np.ndarray]:
    """Pass 2 summed over blocks: the ROC corners, impostors at chosen thresholds, key bits."""
    u = first.distinct
    hist = np.zeros(u.size + 1, np.int64)
    eq = np.zeros(u.size, np.int64)
    ge_extra = np.zeros(n_extra, np.int64)
    high = np.zeros(_BUCKETS, np.int64)
    for b_hist, b_eq, b_extra, b_high in results:
        hist += b_hist
        eq += b_eq
        ge_extra += b_extra
        high += b_high
    n_pos, n_neg = first.genuine_moments[0], first.impostor_moments[0]
    return corners_from_histogram(u, first.counts, hist, eq, n_pos, n_neg), ge_extra, high


def _fold_select(
    results: Iterable[Any], buckets: list[int], nexts: list[int]
) -> tuple[ConfusionCounts, dict[int, np.ndarray], dict[int, int | None]]:
    """Pass 3 over blocks: the EER bracket's scores, and each TAR bucket's low key bits."""
    sel_s: list[np.ndarray] = []
    sel_y: list[np.ndarray] = []
    low = {b: np.zeros(_BUCKETS, np.int64) for b in buckets}
    mins: dict[int, int | None] = dict.fromkeys(nexts)
    for s, y, b_low, b_mins in results:
        sel_s.append(s)
        sel_y.append(y)
        for b, counts_in in zip(buckets, b_low, strict=True):
            low[b] += counts_in
        for b, key in zip(nexts, b_mins, strict=True):
            mins[b] = _min_key([mins[b], key])
    return counts_sorted(np.concatenate(sel_s), np.concatenate(sel_y)), low, mins


def _eer_bracket(c: Corners) -> tuple[int, float, float]:
    """The two genuine scores around the FMR = FNMR crossing (as the search path finds them)."""
    tp_v, fp_v = c.vertices()
    gap = (c.n_pos - tp_v) * c.n_neg - fp_v * c.n_pos
    k = (int(np.argmax(gap <= 0)) - 1) // 2
    lo = float(c.thresholds[k])
    hi = float(c.thresholds[k - 1]) if k > 0 else math.inf
    return k, lo, hi


def _eer_from_bracket(c: Corners, k: int, local: ConfusionCounts) -> EerPoint:
    if k > 0:
        tp_off = int(c.tp[k - 1] - c.counts[k - 1])
        fp_off = int(c.fp_gt[k - 1])
        return eer_on_vertices(
            local.thresholds, local.tp + tp_off, local.fp + fp_off, c.n_pos, c.n_neg
        )
    thr = np.r_[np.inf, local.thresholds]
    return eer_on_vertices(thr, np.r_[0, local.tp], np.r_[0, local.fp], c.n_pos, c.n_neg)


def _tar_plan(target: float, n_neg: int, high: np.ndarray) -> tuple[Any, ...] | None:
    """(allowed false accepts k, bucket holding the (k+1)-th largest impostor, impostors in
    higher buckets, next non-empty higher bucket); None when no selection is needed."""
    k = allowed_false_accepts(target, n_neg)
    if k < 1 or k >= n_neg:
        return None
    above = np.cumsum(high[::-1])[::-1]  # impostors with top bits >= b
    b = int(np.flatnonzero(above > k)[-1])
    higher = int(above[b + 1]) if b + 1 < _BUCKETS else 0
    later = np.flatnonzero(high[b + 1 :])
    nxt = int(b + 1 + later[0]) if later.size else None
    return k, b, higher, nxt


def _min_key(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _tar_from_plan(
    target: float,
    plan: tuple[Any, ...] | None,
    low: dict[int, np.ndarray],
    mins: dict[int, int | None],
    genuine: np.ndarray,
    n_pos: int,
    n_neg: int,
    lowest: float,
) -> TarAtFar:
    k = allowed_false_accepts(target, n_neg)
    if k < 1:
        return unsupported_tar(target, n_neg)
    if plan is None:  # k >= n_neg: every threshold is allowed
        return tar_point(target, n_neg, 1.0, lowest, 1.0)
    _k, b, higher, nxt = plan
    inside = low[b]
    above_in = np.cumsum(inside[::-1])[::-1]  # impostors in the bucket with low bits >= l
    lo_bits = int(np.flatnonzero(higher + above_in > k)[-1])
    v = np.float32(_value((b << 16) | lo_bits))
    n_above = higher + (int(above_in[lo_bits + 1]) if lo_bits + 1 < _BUCKETS else 0)
    later = np.flatnonzero(inside[lo_bits + 1 :])
    if later.size:
        above_min = _value((b << 16) | (lo_bits + 1 + int(later[0])))
    else:
        key = mins.get(nxt) if nxt is not None else None
        above_min = _value(key) if key is not None else math.inf
    g = int(np.searchsorted(genuine, v, side="right"))
    thr = min(above_min, float(genuine[g]) if g < n_pos else math.inf)
    return tar_point(target, n_neg, (n_pos - g) / n_pos, thr, n_above / n_neg)
