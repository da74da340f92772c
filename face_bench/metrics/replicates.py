"""Identity-bootstrap replicates of one ROC: AUC, EER, TAR@FAR and DET points per replicate.

Every replicate weights pair (a, b) by c[a] * c[b], the copies of its two people drawn in that
replicate (see ``uncertainty``). Two ways count the same replicates:

- ``DenseReplicates``: one row of pair weights per replicate, ranked, cumulated. Work and
  memory grow with replicates x pairs.
- ``ClassReplicates``: pairs of the same two people and label share every replicate's weight,
  so a replicate's cumulative genuine (or impostor) weight at any vertex is a weighted sum of
  a few per-class cumulative counts, tabulated once. AUC is then a bilinear form of the
  class weights and one table of class-pair areas; EER, TAR@FAR and DET points are found by
  bisection on the monotone curves. Work grows with replicates x classes x log(pairs),
  which is far less when few people make up a set (a subset of a few dozen people).

All weights are integers and every sum stays below 2**53, so both ways compute the same
integers in float64 and then the same final divisions: the figures are equal to the last
bit (tested), whichever way ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from face_bench.metrics import weighted
from face_bench.metrics.confusion import RankedPairs, rank_pairs

CELLS_PER_CHUNK = 1 << 21  # replicate x pair cells per dense chunk: bounds memory to ~100 MB
CLASS_TABLE_CELLS = 1 << 21
"""Largest vertices x classes table (int32, 8 MB) for which ``ClassReplicates`` is used."""


class DenseReplicates:
    """The pairs ranked once (``confusion.rank_pairs``); each chunk of replicates is then a
    weighted count of the same primitive the unweighted metrics use."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray, a: np.ndarray, b: np.ndarray):
        self.ranked = rank_pairs(scores, labels)
        # Identity codes in ranked order, so each replicate's weights come out ranked.
        self.a, self.b = a[self.ranked.order], b[self.ranked.order]
        self.genuine = np.r_[False, self.ranked.genuine]
        ends = self.ranked.ends
        # The (0, 0) start, then each distinct score's last pair; None: every pair's own.
        self.take = None if ends.size == scores.size else np.r_[0, ends + 1]
        self.chunk = max(1, CELLS_PER_CHUNK // scores.size)

    def vertices(self, copies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted (tp, fp) per replicate row, each pair weighted c[a] * c[b], with the ROC's
        (0, 0) start: ``weighted.vertices(ranked.counts(w))`` without its copies (integer
        weights, so the sums are exact in any grouping)."""
        copies = np.asarray(copies, dtype=np.float64)  # small: converted before gathering
        w = np.zeros((copies.shape[0], self.a.size + 1))
        np.take(copies, self.a, axis=1, out=w[:, 1:])
        w[:, 1:] *= copies[:, self.b]
        wg = w * self.genuine
        np.cumsum(w, axis=1, out=w)
        np.cumsum(wg, axis=1, out=wg)
        if self.take is not None:
            w, wg = w[:, self.take], wg[:, self.take]
        w -= wg
        return wg, w

    def auc(self, copies: np.ndarray) -> np.ndarray:
        return weighted.auc_rows(*self.vertices(copies))

    def figures(
        self, copies: np.ndarray, far_targets: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(AUC, EER, [TAR at each FAR target]) per replicate row: ``weighted``'s figures, the
        EER crossing and TAR vertices found by bisection on the monotone rows, not by scans."""
        tp, fp = self.vertices(copies)
        rows = _DenseRows(tp, fp)
        return weighted.auc_rows(tp, fp), rows.eer(), [rows.tar(t) for t in far_targets]

    def fnmr_at(self, copies: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """(rows, grid) FNMR at the lowest threshold whose FMR <= each grid FMR; NaN rows
        where a replicate lacks a class."""
        return _DenseRows(*self.vertices(copies)).fnmr_at(grid)


def _first(
    holds: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...], top: int
) -> np.ndarray:
    """Per cell, the smallest k in [0, top] where ``holds(k)`` (false, then true along k);
    ``top`` where it never holds below. ``holds`` is only asked about k < top."""
    lo = np.zeros(shape, dtype=np.intp)
    hi = np.full(shape, top, dtype=np.intp)
    while (open_ := lo < hi).any():
        mid = (lo + hi) // 2
        ok = holds(np.minimum(mid, top - 1))
        hi = np.where(open_ & ok, mid, hi)
        lo = np.where(open_ & ~ok, mid + 1, lo)
    return lo


class _Monotone:
    """EER, TAR@FAR and DET points of replicate rows found by bisection: a subclass gives
    ``p`` and ``n`` (each row's total genuine and impostor weight), ``last`` (the last
    vertex) and the rows' cumulative weights ``tp(k)`` and ``fp(k)`` at vertices ``k``."""

    p: np.ndarray
    n: np.ndarray
    last: int

    def tp(self, k: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fp(self, k: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def gap(self, k: np.ndarray) -> np.ndarray:
        """(FNMR - FMR) * P * N at vertex k, as ``weighted.eer_crossing``: never increasing."""
        out: np.ndarray = (self.p - self.tp(k)) * self.n - self.fp(k) * self.p
        return out

    def eer(self) -> np.ndarray:
        """``weighted.eer_rows``: the crossing is found by bisection instead of a scan."""
        top = self.last + 1
        j = np.maximum(_first(lambda k: self.gap(k) <= 0, self.p.shape, top), 1)
        d0, d1, f0, f1 = self.gap(j - 1), self.gap(j), self.fp(j - 1), self.fp(j)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = (f0 + d0 / (d0 - d1) * (f1 - f0)) / self.n
        out[(self.p == 0) | (self.n == 0)] = np.nan
        return out

    def tar(self, target: float) -> np.ndarray:
        """``weighted.tar_rows``: the last vertex whose FP weight is allowed, by bisection."""
        allowed = np.floor(target * self.n + 1e-9)
        top = self.last + 1
        idx = _first(lambda k: self.fp(k) > allowed, self.p.shape, top) - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = self.tp(idx) / self.p
        out[(allowed < 1) | (self.p == 0)] = np.nan
        return out

    def fnmr_at(self, grid: np.ndarray) -> np.ndarray:
        p, n = self.p[:, None], self.n[:, None]
        limit = grid[None, :] + 1e-12
        shape = (self.p.size, grid.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            over = _first(lambda k: self.fp(k) / n > limit, shape, self.last + 1)
            out: np.ndarray = 1.0 - self.tp(over - 1) / p
        out[(self.p <= 0) | (self.n <= 0)] = np.nan
        return out


class _DenseRows(_Monotone):
    """Rows of cumulative weights held whole (``DenseReplicates.vertices``)."""

    def __init__(self, tp: np.ndarray, fp: np.ndarray):
        self._tp, self._fp = tp, fp
        self.p, self.n = tp[:, -1], fp[:, -1]
        self.last = tp.shape[1] - 1

    @staticmethod
    def _at(rows: np.ndarray, k: np.ndarray) -> np.ndarray:
        flat = np.take_along_axis(rows, k.reshape(k.shape[0], -1), axis=1)
        out: np.ndarray = flat.reshape(k.shape)
        return out

    def tp(self, k: np.ndarray) -> np.ndarray:
        return self._at(self._tp, k)

    def fp(self, k: np.ndarray) -> np.ndarray:
        return self._at(self._fp, k)


class _Curves(_Monotone):
    """The replicate rows' cumulative genuine (tp) and impostor (fp) weight at any vertex."""

    def __init__(self, tables: ClassReplicates, copies: np.ndarray):
        c = np.asarray(copies, dtype=np.float64)
        self.tables = tables
        self.wg = c[:, tables.g_a] * c[:, tables.g_b]  # each class's weight per replicate
        self.wi = c[:, tables.i_a] * c[:, tables.i_b]
        self.p = self.wg @ tables.gen[-1].astype(np.float64)
        self.n = self.wi @ tables.imp[-1].astype(np.float64)
        self.last = tables.last

    @staticmethod
    def _at(table: np.ndarray, w: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Row r's weight at vertex k[r, ...]: a sum of integers, exact in float64."""
        w = w.reshape(w.shape[0], *([1] * (k.ndim - 1)), w.shape[1])
        out: np.ndarray = (table[k] * w).sum(axis=-1)
        return out

    def tp(self, k: np.ndarray) -> np.ndarray:
        return self._at(self.tables.gen, self.wg, k)

    def fp(self, k: np.ndarray) -> np.ndarray:
        return self._at(self.tables.imp, self.wi, k)

    def auc(self) -> np.ndarray:
        area2 = ((self.wi @ self.tables.area) * self.wg).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = area2 / (2 * self.p * self.n)
        return out


class ClassReplicates:
    """Replicates counted per class of pairs (same two people, same label); see the module."""

    def __init__(self, ranked: RankedPairs, classes: np.ndarray, inverse: np.ndarray, n_ids: int):
        n_vertices = ranked.ends.size + 1  # the (0, 0) start and each distinct score
        vertex = np.searchsorted(ranked.ends, np.arange(ranked.order.size)) + 1
        q = classes.size
        counts = np.bincount(vertex * q + inverse, minlength=n_vertices * q)
        counts = counts.reshape(n_vertices, q).astype(np.int32)
        genuine = (classes & 1).astype(bool)
        self.g_a, self.g_b = np.divmod(classes[genuine] >> 1, n_ids)
        self.i_a, self.i_b = np.divmod(classes[~genuine] >> 1, n_ids)
        self.gen = np.cumsum(counts[:, genuine], axis=0, dtype=np.int32)
        self.imp = np.cumsum(counts[:, ~genuine], axis=0, dtype=np.int32)
        # area[i, g]: impostors of class i times the genuine pairs of class g ranked above
        # them, ties counting half (doubled to stay an integer): each replicate's doubled
        # trapezoidal area is wi @ area @ wg.
        # Integer-valued float64 below 2**53: exact, and a BLAS product is 30x an integer one.
        steps = counts[1:, ~genuine].astype(np.float64)
        self.area = steps.T @ (self.gen[:-1].astype(np.float64) + self.gen[1:])
        self.last = n_vertices - 1
        # Rows per chunk: a DET band bisects (rows, 64 grid points, classes) at once.
        self.chunk = max(1, CELLS_PER_CHUNK // (64 * q))

    @classmethod
    def build(
        cls, scores: np.ndarray, labels: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> ClassReplicates | None:
        """The class form, or None when its table would exceed ``CLASS_TABLE_CELLS``."""
        ranked = rank_pairs(scores, labels)
        lo, hi = np.minimum(a, b)[ranked.order], np.maximum(a, b)[ranked.order]
        n_ids = int(max(a.max(), b.max())) + 1
        key = ((lo.astype(np.int64) * n_ids + hi) << 1) | ranked.genuine.astype(np.int64)
        classes, inverse = np.unique(key, return_inverse=True)
        if (ranked.ends.size + 1) * classes.size > CLASS_TABLE_CELLS:
            return None
        return cls(ranked, classes, inverse, n_ids)

    def auc(self, copies: np.ndarray) -> np.ndarray:
        return _Curves(self, copies).auc()

    def figures(
        self, copies: np.ndarray, far_targets: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(AUC, EER, [TAR at each FAR target]) per replicate row, equal to ``weighted``'s
        on the dense curves."""
        curves = _Curves(self, copies)
        return curves.auc(), curves.eer(), [curves.tar(t) for t in far_targets]

    def fnmr_at(self, copies: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """As ``DenseReplicates.fnmr_at``."""
        return _Curves(self, copies).fnmr_at(grid)


def replicates(
    scores: np.ndarray, labels: np.ndarray, a: np.ndarray, b: np.ndarray
) -> ClassReplicates | DenseReplicates:
    """The cheaper way for this set: by class when its table is small, else dense."""
    return ClassReplicates.build(scores, labels, a, b) or DenseReplicates(scores, labels, a, b)
