"""Typed ``data_quality`` block of ``results.json``: what may bias the comparison itself.

Confounds between the compared groups, suspected label errors, perceptual near-duplicates,
and the differentials again within each stratum of a column and without the suspects. See
docs/data-quality.md for each check's rule and default.
"""

from __future__ import annotations

from pydantic import Field

from face_bench.results.blocks import Block
from face_bench.results.differentials import Differentials


class ConfoundCheck(Block):
    """One column compared across the run's subsets."""

    column: str
    kind: str = Field(description="categorical | numeric")
    measure: str = Field(description="cramers_v (categorical) | ks_distance (numeric)")
    strength: float | None
    warning_at: float = Field(description="the strength at or above which it is a warning")
    warn: bool
    counts: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="subset -> value -> images (categorical)"
    )
    five_numbers: dict[str, list[float]] = Field(
        default_factory=dict,
        description="subset -> [min, first quartile, median, third quartile, max] (numeric)",
    )


class ModelEvidence(Block):
    """One image under one model, in the model's units."""

    model: str
    threshold: float | None = Field(description="the model's threshold at its EER here")
    n_same: int
    median_same: float | None = Field(description="median score against its own identity")
    nearest_other: float | None
    nearest_other_image: str | None
    nearest_other_identity: str | None
    flagged: bool


class SuspectImage(Block):
    """An image at least one model places far from its own identity."""

    subset: str
    image: str
    identity: str
    flagged_by: list[str]
    agreed: bool = Field(description="flagged by every model run")
    evidence: list[ModelEvidence]


class LabelSuspects(Block):
    """Suspected label errors and how many each model flagged."""

    rule: str
    flagged: dict[str, int] = Field(description="model -> images flagged")
    agreed: int
    images: list[SuspectImage]
    note: str | None = None


class NearDuplicatePair(Block):
    """Two sampled images that are the same photo by their pixels."""

    subset: str
    image_a: str
    image_b: str
    identity_a: str
    identity_b: str
    hash_distance: int
    correlation: float
    excluded: bool


class NearDuplicates(Block):
    """Perceptual near-duplicates per subset and what ``--near-duplicates`` did."""

    policy: str
    rule: str
    n_genuine: int
    n_impostor: int
    excluded_pairs: int
    pairs: list[NearDuplicatePair]


class Stratum(Block):
    """The differentials on the pairs whose two images share one value of a column."""

    column: str
    value: str
    differentials: Differentials | None = None
    note: str | None = None


class DataQuality(Block):
    """Checks of the data behind a comparison, beside the figures they qualify."""

    confounds: list[ConfoundCheck] = Field(default_factory=list)
    near_duplicates: NearDuplicates | None = None
    suspects: LabelSuspects | None = None
    exclude_suspects: bool = False
    without_suspects: Differentials | None = Field(
        default=None, description="the differentials with the agreed suspects left out"
    )
    stratify_by: str | None = None
    strata: list[Stratum] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
