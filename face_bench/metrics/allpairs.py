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

import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.confusion import (
    ConfusionCounts,
    ThresholdSweep,
    check_two_classes,
    counts_sorted,
)
from face_bench.metrics.operating import CountedRates, ZeroRates
from face_bench.metrics.rates import (
    NO_MOMENTS,
    Moments,
    Rates,
    ScoreStats,
    chunk_moments,
    merge_chunk,
    rates_from_counts,
    score_stats_checked,
    stats_from_moments,
)
from face_bench.metrics.scoring import prepare_embeddings, row_blocks, score_block
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
_SORT_THREADS = 8  # sorted slices at most: one per core
_MIN_SLICE = 1 << 20  # scores per slice at least: below this one sort is quick


@dataclass(frozen=True)
class Triangle:
    """What every block task needs: the prepared embeddings and identity codes."""

    e: np.ndarray
    sq: np.ndarray | None
    ids: np.ndarray

    def block(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        vals, same = score_block(self.e, self.sq, self.ids, r0, r1)
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
    return score_block(t.e, t.sq, t.ids, r0, r1)


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
    summary = VerificationSummary.of(
        auc_from_counts(*c.vertices(), n_pos, n_neg), eer, tars,
        f1_point(c.thresholds, c.tp, c.fp_ge, n_pos), st, (n_pos, n_neg), "search",
    )  # fmt: skip
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


# ---------------------------------------------------------------- one sort, every figure


def _key(like: Any, x: float) -> Any:
    """The lowest value of ``like``'s dtype that is >= ``x``: ``s >= x`` compared in float64
    (as :func:`rates.rates_at_threshold` does) counts the same scores as ``s >= key``, and a
    key of the array's own dtype never makes numpy cast the whole array to search it."""
    kind = like.dtype.type
    with np.errstate(over="ignore"):
        key = np.asarray(x, np.float64).astype(like.dtype)
    if np.float64(key) < x:
        key = np.nextafter(key, kind(np.inf))
    return kind(key)


class SortedScores:
    """Every pair's score sorted once (ascending, in the scores' own float32), the genuine
    scores sorted apart: how many pairs of either class score at or above any value is then
    two binary searches, so AUC, EER, TAR@FAR, best F1, the sweep, the ROC points, the zero
    rates and the rates at any threshold all read one sort, never another pass over the pairs.

    Each figure is the array path's (``summary.compute_all``'s search path, the sweep at the
    genuine scores, ``operating``'s points, ``rates_at_threshold``) to the last bit: every
    count is the same integer and every threshold the same score. The sorted copy is the only
    full-size array it adds; d' is still summed block by block over the scores in pair order.
    """

    def __init__(
        self, scores: Any, labels: Any, chunk_bounds: Sequence[tuple[int, int]] | None = None
    ) -> None:
        s, y, n_pos, n_neg = check_two_classes(scores, labels, "verification metrics")
        self.scores, self.labels = s, y
        self.n_pos, self.n_neg = n_pos, n_neg
        # d' first, summed over ``chunk_bounds`` (the all-pairs blocks) as compute_all does:
        # its float64 block copies come and go before the sorted copy exists.
        self.stats = score_stats_checked(s, y, chunk_bounds)
        self.genuine = np.sort(s[y])
        self.parts = _sorted_parts(s)  # the one sort: one copy of the scores, in slices
        self.lowest = min(part[0] for part in self.parts)
        u, counts = np.unique(self.genuine, return_counts=True)  # ascending
        gen_ge = np.cumsum(counts[::-1])[::-1]  # genuine pairs >= u[r]
        fp_ge = self._ge(u) - gen_ge
        fp_gt = self._gt(u) - (gen_ge - counts)
        self.corners = Corners(
            u[::-1], counts[::-1], gen_ge[::-1], fp_ge[::-1], fp_gt[::-1], n_pos, n_neg
        )

    # ---------------------------------------------------------------- counting
    def _ge(self, x: Any, side: Literal["left", "right"] = "left") -> Any:
        """Pairs scoring >= x (> x with ``side="right"``); x of the scores' dtype."""
        return sum(part.size - np.searchsorted(part, x, side=side) for part in self.parts)

    def _gt(self, x: Any) -> Any:
        return self._ge(x, side="right")

    def _genuine_ge(self, x: Any) -> int:
        return self.n_pos - int(np.searchsorted(self.genuine, x, side="left"))

    def _impostors_ge(self, x: Any) -> int:
        return int(self._ge(x)) - self._genuine_ge(x)

    def counts_at(self, threshold: float) -> tuple[int, int]:
        """(genuine, impostor) pairs with ``score >= threshold``, compared in float64."""
        key = _key(self.lowest, threshold)
        return self._genuine_ge(key), self._impostors_ge(key)

    def _kth_impostor(self, k: int) -> Any:
        """The (k+1)-th largest impostor score: a binary search over the scores' order keys
        (the largest value with more than k impostors at or above it is an impostor score)."""
        lo, hi = _order_key(self.lowest), _order_key(max(part[-1] for part in self.parts))
        while lo < hi:  # invariant: more than k impostors score >= value(lo)
            mid = (lo + hi + 1) // 2
            if self._impostors_ge(_from_order_key(mid, self.lowest.dtype)) > k:
                lo = mid
            else:
                hi = mid - 1
        return _from_order_key(lo, self.lowest.dtype)

    def _above(self, v: Any) -> float:
        """The lowest score above ``v`` (inf when none)."""
        above = [
            part[i] for part in self.parts if (i := np.searchsorted(part, v, "right")) < part.size
        ]
        return float(min(above)) if above else math.inf

    # ---------------------------------------------------------------- the figures
    def summary(self, far_targets: Sequence[float] = DEFAULT_FAR_TARGETS) -> VerificationSummary:
        """``compute_all(scores, labels, far_targets, "search", chunk_bounds)``, bit for bit."""
        c, n_pos, n_neg, st = self.corners, self.n_pos, self.n_neg, self.stats
        return VerificationSummary.of(
            auc_from_counts(*c.vertices(), n_pos, n_neg), self._eer(),
            [self._tar(t) for t in far_targets], f1_point(c.thresholds, c.tp, c.fp_ge, n_pos),
            st, (n_pos, n_neg), "search",
        )  # fmt: skip

    def _eer(self) -> EerPoint:
        """The crossing, re-counted on the scores between the two genuine scores around it."""
        c = self.corners
        k, _lo, _hi = _eer_bracket(c)
        lo = c.thresholds[k]
        hi = c.thresholds[k - 1] if k > 0 else None
        between = np.sort(np.concatenate([_between(part, lo, hi) for part in self.parts]))
        local = _counts_ascending(between, _between(self.genuine, lo, hi))
        return _eer_from_bracket(c, k, local)

    def _tar(self, target: float) -> TarAtFar:
        """TAR at the lowest score whose FMR stays within ``target`` (``_tar_search``'s rule)."""
        k = allowed_false_accepts(target, self.n_neg)
        if k < 1:
            return unsupported_tar(target, self.n_neg)
        if k >= self.n_neg:
            return tar_point(target, self.n_neg, 1.0, float(self.lowest), 1.0)
        v = self._kth_impostor(k)
        g = int(np.searchsorted(self.genuine, v, side="right"))  # genuine pairs <= v
        above = int(self._gt(v)) - (self.n_pos - g)  # impostors > v
        tar = (self.n_pos - g) / self.n_pos
        return tar_point(target, self.n_neg, tar, self._above(v), above / self.n_neg)

    def sweep(self) -> ThresholdSweep:
        """Every rate at each distinct genuine score (``sweep_at_genuine_scores``)."""
        c = self.corners
        return ConfusionCounts(c.thresholds, c.tp, c.fp_ge, c.n_pos, c.n_neg).sweep()

    def rates(self, threshold: float) -> Rates:
        """``rates_at_threshold`` at one threshold."""
        tp, fp = self.counts_at(threshold)
        return rates_from_counts(threshold, tp, fp, self.n_pos, self.n_neg)

    def counted_rates(self, threshold: float) -> CountedRates:
        """``operating.counted_rates`` at one threshold."""
        tp, fp = self.counts_at(threshold)
        return CountedRates.of(fp, self.n_neg, self.n_pos - tp, self.n_pos)

    def zero_rates(self) -> ZeroRates:
        """``operating.zero_rates``: FNMR where no impostor passes, FMR where no genuine fails."""
        top = self._kth_impostor(0)
        g = int(np.searchsorted(self.genuine, top, side="right"))
        zero_fmr_threshold = float(self.genuine[g]) if g < self.n_pos else math.inf
        low = self.genuine[0]
        zero_fnmr = self._impostors_ge(low) / self.n_neg
        return ZeroRates(1.0 - (self.n_pos - g) / self.n_pos, zero_fmr_threshold, zero_fnmr,
                         float(low))  # fmt: skip

    def threshold_at_fmr(self, target: float) -> float | None:
        """``operating.threshold_at_fmr``: the lowest score whose FMR stays within ``target``."""
        allowed = allowed_false_accepts(target, self.n_neg)
        if allowed < 1:
            return None
        if allowed >= self.n_neg:
            return float(self.lowest)
        return self._above(self._kth_impostor(allowed))


def _sorted_parts(s: np.ndarray) -> list[np.ndarray]:
    """A sorted copy of ``s`` in one slice per core, sorted side by side (numpy releases the
    GIL while it sorts): counts and order statistics add up over the slices, so they never
    need merging."""
    n = max(1, min(_SORT_THREADS, len(os.sched_getaffinity(0)), s.size // _MIN_SLICE))
    edges = [s.size * i // n for i in range(n + 1)]
    parts = [s[a:b].copy() for a, b in itertools.pairwise(edges)]
    if n == 1:
        parts[0].sort()
    else:
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(np.ndarray.sort, parts))
    return parts


def _between(values: np.ndarray, lo: Any, hi: Any) -> np.ndarray:
    """The slice of sorted ``values`` with lo <= value <= hi (no upper bound when hi is None)."""
    i0 = int(np.searchsorted(values, lo, side="left"))
    i1 = values.size if hi is None else int(np.searchsorted(values, hi, side="right"))
    return values[i0:i1]


def _order_key(value: Any) -> int:
    """An integer whose order is the float's (-0.0 just below 0.0), for any float width."""
    a = np.asarray(value)
    bits = int(a.view(np.dtype(f"u{a.itemsize}")))
    top = 1 << (8 * a.itemsize - 1)
    return (2 * top - 1 - bits) if bits & top else bits | top


def _from_order_key(key: int, dtype: np.dtype) -> Any:
    top = 1 << (8 * dtype.itemsize - 1)
    bits = key & (top - 1) if key & top else (2 * top - 1) - key
    return np.array(bits, np.dtype(f"u{dtype.itemsize}")).view(dtype)[()]


def _counts_ascending(values: np.ndarray, genuine: np.ndarray) -> ConfusionCounts:
    """``confusion.counts_sorted`` of pairs whose scores (``values``) and genuine scores
    (``genuine``) are both sorted ascending already."""
    desc = values[::-1]
    ends = np.r_[np.flatnonzero(desc[1:] != desc[:-1]), desc.size - 1]
    thresholds = desc[ends]
    below = np.searchsorted(genuine, thresholds[::-1], side="left")[::-1]
    tp = (genuine.size - below).astype(np.int64)
    fp = ends + 1 - tp
    return ConfusionCounts(thresholds, tp, fp, genuine.size, int(fp[-1]))
