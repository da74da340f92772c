"""The ``differentials`` block of results.json: groups at one reference threshold.

Every rate carries its counts and a 95 % interval (``method`` says which: identity
bootstrap, or the rule of three at zero errors); every ratio its interval, a lower bound
where the reference has no error, and a leave-one-person-out range. Nothing here is ever
infinite: an unbounded end is null with a flag saying so. See docs/differentials.md.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import Field

from face_bench.results.blocks import Block

if TYPE_CHECKING:
    from face_bench.metrics.group_analysis import DifferentialAnalysis


class Rate(Block):
    """errors / n with its 95 % interval; ``rate`` null when withheld or without pairs."""

    errors: int = Field(ge=0)
    n: int = Field(ge=0)
    rate: float | None
    lower: float | None
    upper: float | None
    method: str


class Ratio(Block):
    """A group's rate over the reference group's (see RatioEstimate in metrics)."""

    estimate: float | None
    lower: float | None
    upper: float | None
    upper_unbounded: bool
    lower_bound: float | None = Field(
        description="rule-of-three bound when the reference has no error"
    )
    loo_min: float | None
    loo_max: float | None
    loo_min_without: str | None
    loo_max_without: str | None
    loo_unbounded_without: str | None
    difference: float | None
    difference_lower: float | None
    difference_upper: float | None
    p_value: float | None = Field(
        description="identity bootstrap, two-sided, of the rate difference"
    )
    note: str | None


class GroupRow(Block):
    group: str
    n_people: int
    fmr: Rate
    fnmr: Rate
    fmr_ratio: Ratio | None
    fnmr_ratio: Ratio | None
    status: str | None


class MatrixCell(Block):
    group_a: str
    group_b: str
    fmr: Rate


class Measure(Block):
    name: str
    rate: str
    estimate: float | None
    lower: float | None
    upper: float | None
    zero_bounded: list[str]


class ZooPair(Block):
    person_a: str
    person_b: str
    errors: int
    pairs: int
    share: float


class ZooPerson(Block):
    person: str
    errors: int
    pairs: int
    share: float


class GroupZoo(Block):
    group: str
    false_match_pairs: list[ZooPair]
    false_match_people: list[ZooPerson]
    false_non_match_people: list[ZooPerson]
    warning: str | None


class ModelDifferentials(Block):
    """One model at its threshold (model units); ``note`` says why there are no figures."""

    threshold: float | None
    units: str
    groups: list[GroupRow] = Field(default_factory=list)
    matrix: list[MatrixCell] = Field(default_factory=list)
    summary: list[Measure] = Field(default_factory=list)
    zoo: list[GroupZoo] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    note: str | None = None

    def group(self, name: str) -> GroupRow | None:
        return next((g for g in self.groups if g.group == name), None)

    def measure(self, name: str) -> Measure | None:
        return next((m for m in self.summary if m.name == name), None)


class Differentials(Block):
    """Demographic differentials of every model against one reference group."""

    grouping: str
    groups: list[str]
    reference: str | None
    far_target: float
    threshold_rule: str
    min_people: int
    n_boot: int
    seed: int
    confidence: float
    models: dict[str, ModelDifferentials]
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def unavailable(cls, why: str, far_target: float, n_boot: int, seed: int) -> Differentials:
        """No comparison could be formed (one group, shared images, blocked pairs)."""
        return cls(
            grouping="none",
            groups=[],
            reference=None,
            far_target=far_target,
            threshold_rule="",
            min_people=0,
            n_boot=n_boot,
            seed=seed,
            confidence=0.95,
            models={},
            notes=[why],
        )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def model_block(analysis: DifferentialAnalysis, threshold: float, units: str) -> ModelDifferentials:
    """The typed block of one model's analysis (threshold already in the model's units)."""
    data: dict[str, Any] = {
        "threshold": _finite(float(threshold)),
        "units": units,
        "groups": [_group(g) for g in analysis.groups],
        "matrix": [
            {"group_a": c.group_a, "group_b": c.group_b, "fmr": vars(c.fmr)}
            for c in analysis.matrix
        ],
        "summary": [{**vars(m), "zero_bounded": list(m.zero_bounded)} for m in analysis.summary],
        "zoo": [
            {
                "group": z.group,
                "false_match_pairs": [vars(p) for p in z.false_match_pairs],
                "false_match_people": [vars(p) for p in z.false_match_people],
                "false_non_match_people": [vars(p) for p in z.false_non_match_people],
                "warning": z.warning,
            }
            for z in analysis.zoo
        ],
        "warnings": list(analysis.warnings),
    }
    if data["threshold"] is None:
        data["note"] = "no finite threshold meets the target on the reference group"
    return ModelDifferentials.model_validate(data)


def _group(g: Any) -> dict[str, Any]:
    return {
        "group": g.name,
        "n_people": g.n_people,
        "fmr": vars(g.fmr),
        "fnmr": vars(g.fnmr),
        "fmr_ratio": None if g.fmr_ratio is None else vars(g.fmr_ratio),
        "fnmr_ratio": None if g.fnmr_ratio is None else vars(g.fnmr_ratio),
        "status": g.status,
    }
