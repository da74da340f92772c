"""The score step: one ``PairSet`` and the embeddings in, one ``ScoreTable`` per model out.

Every protocol scores through :func:`score_pairset`. Up to ``BLOCKED_ABOVE`` pairs, pairs
are explicit index arrays and every per-pair
output (scores.csv, the failure gallery, bootstrap over identities, DeLong) is
available. Beyond that, "all pairs" is scored block by block straight from the
embedding matrix, so 13,000 images (84 million pairs) fit in memory: only the
float32 scores and labels are kept, and the per-pair outputs are skipped with a
note saying so.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from face_bench.core.errors import ModelError
from face_bench.core.modes import OnFail
from face_bench.data.pairset import PairSet
from face_bench.embedding.pipeline import Embeddings
from face_bench.metrics.allpairs import (
    Mapper,
    SortedScores,
    all_pair_scores,
    summarise_all_pairs,
)
from face_bench.metrics.operating import (
    CountedRates,
    ZeroRates,
    counted_rates,
    threshold_at_fmr,
    zero_rates,
)
from face_bench.metrics.rates import Rates, rates_at_threshold
from face_bench.metrics.scoring import (
    block_bounds,
    pair_scores_blocked,
    reject_failed,
    score_pairs,
)
from face_bench.metrics.summary import VerificationSummary
from face_bench.models.registry import ModelSpec

BLOCKED_ABOVE = 5_000_000


@dataclass
class ScoreTable:
    """One model's scores on the scored pairs of a ``PairSet`` (higher = same person).

    ``ids_a``/``ids_b`` are the pairs' identity codes for the identity bootstrap; None when
    every pair of a large sample was scored in blocks.
    """

    spec: ModelSpec
    scores: np.ndarray
    labels: np.ndarray
    ids_a: np.ndarray | None
    ids_b: np.ndarray | None
    # Blocked runs: the blocks' spans in ``scores`` (d' is summed block by block), and the
    # engine that computes the exact figures from per-block counts (None: from the arrays).
    chunk_bounds: list[tuple[int, int]] | None = None
    remote: Callable[[tuple[float, ...]], VerificationSummary] | None = None

    def summarise(self, far_targets: tuple[float, ...]) -> VerificationSummary:
        """The exact headline figures; every engine gives the same bits."""
        if self.remote is not None:
            return self.remote(far_targets)
        if self.sorted is not None:
            return self.sorted.summary(far_targets)
        from face_bench.metrics.summary import compute_all

        return compute_all(self.scores, self.labels, far_targets, chunk_bounds=self.chunk_bounds)

    @property
    def per_pair(self) -> bool:
        return self.ids_a is not None

    @functools.cached_property
    def sorted(self) -> SortedScores | None:
        """Blocked runs: the scores sorted once, read by every figure below (None: per-pair
        runs, whose figures come from the arrays)."""
        return None if self.per_pair else SortedScores(self.scores, self.labels, self.chunk_bounds)

    @functools.cached_property
    def genuine_sweep(self):
        """Rates at each distinct genuine score: the figures of a blocked run come from it."""
        if self.sorted is not None:
            return self.sorted.sweep()
        from face_bench.metrics.summary import sweep_at_genuine_scores

        return sweep_at_genuine_scores(self.scores, self.labels)

    def rates_at(self, threshold: float) -> Rates:
        """Every rate at one threshold (on the scores' orientation)."""
        if self.sorted is not None:
            return self.sorted.rates(threshold)
        return rates_at_threshold(self.scores, self.labels, threshold)

    def counted_rates(self, threshold: float) -> CountedRates:
        if self.sorted is not None:
            return self.sorted.counted_rates(threshold)
        return counted_rates(self.scores, self.labels, threshold)

    def zero_rates(self) -> ZeroRates:
        return (
            self.sorted.zero_rates()
            if self.sorted is not None
            else zero_rates(self.scores, self.labels)
        )

    def threshold_at_fmr(self, target: float) -> float | None:
        if self.sorted is not None:
            return self.sorted.threshold_at_fmr(target)
        return threshold_at_fmr(self.scores, self.labels, target)


@dataclass
class SubsetScores:
    """A subset's planned pairs, the pairs scored, and each model's ``ScoreTable``.

    ``images`` is the one image list every index of ``planned`` and ``pairs`` points into;
    ``failed`` marks the members (``planned.members``) that some model could not enrol.
    """

    name: str
    images: pd.DataFrame
    planned: PairSet
    pairs: PairSet
    scores: dict[str, ScoreTable]
    failed: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return next(iter(self.scores.values())).labels

    @property
    def sample(self) -> pd.DataFrame:
        """The subset's own images (its members), in sample order."""
        return self.images.iloc[self.planned.members].reset_index(drop=True)


def use_blocks(n_images: int, requested_pairs: int | None, from_file: bool) -> bool:
    """All pairs of a large sample are scored in blocks instead of as index arrays."""
    return (
        not from_file
        and requested_pairs is None
        and n_images * (n_images - 1) // 2 > (BLOCKED_ABOVE)
    )


def _failed_rows(embeddings: dict[str, Embeddings], n_images: int) -> np.ndarray:
    """Image-list rows that at least one model could not enrol."""
    failed = np.zeros(n_images, dtype=bool)
    for result in embeddings.values():
        failed |= ~result.ok
    return failed


def pair_values(pairs: PairSet, vectors: np.ndarray, similarity: str) -> np.ndarray:
    """Scores of listed pairs, gathered row by row from the image list's embeddings.

    NaN where an image failed to enrol: each protocol decides what such a pair counts as.
    The one scorer of listed pairs: subsets, LFW and ``compare`` all come through here.
    """
    a, b = pairs.rows()
    return score_pairs(vectors, a, b, similarity)


def score_pairset(
    name: str,
    images: pd.DataFrame,
    planned: PairSet,
    embeddings: dict[str, Embeddings],
    specs: dict[str, ModelSpec],
    on_fail: OnFail | str,
    mapper: Mapper | None = None,
) -> SubsetScores:
    """Every model's scores on ``planned``, excluding or rejecting failures to enrol.

    ``exclude`` scores the pairs that touch no image any model failed on, so every model
    is measured on the same pairs; ``reject`` scores all of them, a failed pair below every
    real score. Listed pairs are gathered row by row; every pair of a large sample is
    scored in blocks (``_score_all_pairs``).
    """
    on_fail = OnFail(on_fail)
    failed_rows = _failed_rows(embeddings, len(images))
    members = planned.members
    codes = np.full(len(images), -1, dtype=np.int64)
    codes[members] = pd.factorize(images["identity"].to_numpy()[members])[0]
    pairs = planned.without(failed_rows) if on_fail is OnFail.EXCLUDE else planned
    scores: dict[str, ScoreTable] = {}
    if pairs.implicit:
        if len(pairs.members) < 2:
            raise ModelError(
                f"subset {name!r}: fewer than two images left after failures"
                + _who_failed(planned.members, embeddings)
            )
        for model, result in embeddings.items():
            vectors = result.vectors[pairs.members]
            table = _score_all_pairs(vectors, codes[pairs.members], specs[model], on_fail, mapper)
            scores[model] = table
    else:
        a, b, labels = pairs.explicit()
        if not len(a):
            raise ModelError(
                f"subset {name!r}: no pair left after excluding failures to enrol"
                + _who_failed(planned.members, embeddings)
            )
        for model, result in embeddings.items():
            values = pair_values(pairs, result.vectors, specs[model].similarity)
            if on_fail is OnFail.REJECT:
                values, _floor = reject_failed(values)
            scores[model] = ScoreTable(specs[model], values, labels, codes[a], codes[b])
    return SubsetScores(name, images, planned, pairs, scores, failed_rows[members])


def _who_failed(members: np.ndarray, embeddings: dict[str, Embeddings]) -> str:
    """``: model 'x' failed on 12 of 12 image(s) (reason: detail)`` for each model that lost
    images of the subset, with its most common reason: a model whose every embedding is NaN
    or zero must be named, not hidden behind "no pair left"."""

    parts = []
    for model, result in embeddings.items():
        lost = [result.failures[row] for row in members.tolist() if row in result.failures]
        if not lost:
            continue
        (reason, detail), _count = Counter(lost).most_common(1)[0]
        why = f"{reason}: {detail}" if detail else reason
        mixed = ", the most common reason" if len(set(lost)) > 1 else ""
        parts.append(
            f"model {model!r} failed on {len(lost)} of {len(members)} image(s) ({why}{mixed})"
        )
    return ": " + "; ".join(parts) if parts else ""


def _score_all_pairs(
    vectors: np.ndarray, codes: np.ndarray, spec: ModelSpec, on_fail: OnFail, mapper: Mapper | None
) -> ScoreTable:
    """Every pair of a large sample, scored in blocks here or by another engine's mapper.

    With a mapper (the Ray engine) the blocks are scored on the cluster and the exact
    figures come from per-block counts there; the driver keeps the score arrays only for the
    figures. Rejected failures (NaN rows) are scored here: they need the whole array.
    """
    bounds = block_bounds(len(vectors))
    if mapper is None or on_fail is OnFail.REJECT:
        values, labels = pair_scores_blocked(vectors, codes, spec.similarity)
        if on_fail is OnFail.REJECT:
            values, _floor = reject_failed(values)
        return ScoreTable(spec, values, labels, None, None, chunk_bounds=bounds)
    values, labels = all_pair_scores(vectors, codes, spec.similarity, mapper)

    def remote(far_targets: tuple[float, ...]) -> VerificationSummary:
        return summarise_all_pairs(
            vectors, codes, spec.similarity, far_targets, mapper=mapper
        ).summary

    return ScoreTable(spec, values, labels, None, None, chunk_bounds=bounds, remote=remote)
