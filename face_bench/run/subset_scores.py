"""Scores of one subset's pairs for every model, explicit or blocked.

Up to ``BLOCKED_ABOVE`` pairs, pairs are explicit index arrays and every per-pair
output (scores.csv, the failure gallery, bootstrap over identities, DeLong) is
available. Beyond that, "all pairs" is scored block by block straight from the
embedding matrix, so 13,000 images (84 million pairs) fit in memory: only the
float32 scores and labels are kept, and the per-pair outputs are skipped with a
note saying so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from face_bench.core.errors import ModelError
from face_bench.data.datasets import Pairs
from face_bench.embedding.pipeline import Embeddings
from face_bench.metrics.allpairs import Mapper, all_pair_scores, summarise_all_pairs
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
class ModelScores:
    """One model's scores on a subset's pairs; ids are None for blocked runs."""

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
        from face_bench.metrics.summary import compute_all

        return compute_all(self.scores, self.labels, far_targets, chunk_bounds=self.chunk_bounds)

    @property
    def per_pair(self) -> bool:
        return self.ids_a is not None

    @functools.cached_property
    def genuine_sweep(self):
        """Rates at each distinct genuine score: the figures of a blocked run come from it."""
        from face_bench.metrics.summary import sweep_at_genuine_scores

        return sweep_at_genuine_scores(self.scores, self.labels)


@dataclass
class SubsetData:
    """A subset's sample, its pairs (None when scored in blocks) and each model's scores."""

    name: str
    images: pd.DataFrame
    pairs: Pairs | None
    kept: np.ndarray | None
    scores: dict[str, ModelScores]
    failed_any: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return next(iter(self.scores.values())).labels


def use_blocks(n_images: int, requested_pairs: int | None, from_file: bool) -> bool:
    """All pairs of a large sample are scored in blocks instead of as index arrays."""
    return (
        not from_file
        and requested_pairs is None
        and n_images * (n_images - 1) // 2 > (BLOCKED_ABOVE)
    )


def score_subset(
    name: str,
    images: pd.DataFrame,
    pairs: Pairs | None,
    rows: np.ndarray,
    embeddings: dict[str, Embeddings],
    specs: dict[str, ModelSpec],
    on_fail: str,
    mapper: Mapper | None = None,
) -> SubsetData:
    """Every model's scores on the subset, excluding or rejecting failures to enrol."""
    failed_any = np.zeros(len(images), dtype=bool)
    for result in embeddings.values():
        failed_any |= ~result.ok[rows]
    codes = pd.factorize(images["identity"])[0]
    scores: dict[str, ModelScores] = {}
    if pairs is None:
        keep = ~failed_any if on_fail == "exclude" else np.ones(len(images), dtype=bool)
        if keep.sum() < 2:
            raise ModelError(f"subset {name!r}: fewer than two images left after failures")
        for model, result in embeddings.items():
            vectors = result.vectors[rows][keep]
            scores[model] = _score_all_pairs(vectors, codes[keep], specs[model], on_fail, mapper)
        return SubsetData(name, images, None, None, scores, failed_any)
    if on_fail == "exclude":
        kept = ~(failed_any[pairs.a] | failed_any[pairs.b])
    else:
        kept = np.ones(len(pairs), dtype=bool)
    if not kept.any():
        raise ModelError(f"subset {name!r}: no pair left after excluding failures to enrol")
    a, b, labels = pairs.a[kept], pairs.b[kept], pairs.label[kept]
    for model, result in embeddings.items():
        values = score_pairs(result.vectors[rows], a, b, specs[model].similarity)
        if on_fail == "reject":
            values, _floor = reject_failed(values)
        scores[model] = ModelScores(specs[model], values, labels, codes[a], codes[b])
    return SubsetData(name, images, pairs, kept, scores, failed_any)


def _score_all_pairs(
    vectors: np.ndarray, codes: np.ndarray, spec: ModelSpec, on_fail: str, mapper: Mapper | None
) -> ModelScores:
    """Every pair of a large sample, scored in blocks here or by another engine's mapper.

    With a mapper (the Ray engine) the blocks are scored on the cluster and the exact
    figures come from per-block counts there; the driver keeps the score arrays only for the
    figures. Rejected failures (NaN rows) are scored here: they need the whole array.
    """
    bounds = block_bounds(len(vectors))
    if mapper is None or on_fail == "reject":
        values, labels = pair_scores_blocked(vectors, codes, spec.similarity)
        if on_fail == "reject":
            values, _floor = reject_failed(values)
        return ModelScores(spec, values, labels, None, None, chunk_bounds=bounds)
    values, labels = all_pair_scores(vectors, codes, spec.similarity, mapper)

    def remote(far_targets: tuple[float, ...]) -> VerificationSummary:
        return summarise_all_pairs(
            vectors, codes, spec.similarity, far_targets, mapper=mapper
        ).summary

    return ModelScores(spec, values, labels, None, None, chunk_bounds=bounds, remote=remote)
