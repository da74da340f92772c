"""What the gate decided: one row per comparison, the runs' identities and the verdict.

Plain frozen records, read by the renderers (``gate.output``) and by callers through
``GateReport.exit_code``: 0 within tolerance, 1 regression, 2 cannot tell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from face_bench.results.contract import SCHEMA_VERSION, RunResults

Verdict = Literal["pass", "regressed", "improved", "not comparable"]
Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class RunInfo:
    """Which run a side of the comparison is, for the report header."""

    label: str
    face_bench_version: str
    generated_at: str
    dataset_digest: str
    seed: int
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def of(cls, results: RunResults, label: str, schema_version: int = SCHEMA_VERSION) -> RunInfo:
        return cls(
            label=label,
            face_bench_version=results.face_bench_version,
            generated_at=results.volatile.generated_at,
            dataset_digest=results.dataset.digest,
            seed=results.settings.seed,
            schema_version=schema_version,
        )


@dataclass(frozen=True)
class GateRow:
    """One subset × model × metric comparison.

    ``outside_ci`` is set when the baseline lies outside the current run's 95% bootstrap
    interval on either side; ``ci_warning`` only when it lies on the better side, i.e. the
    current run is credibly worse even if the move is within tolerance.
    """

    subset: str
    model: str
    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    tolerance: float
    direction: Direction
    verdict: Verdict
    outside_ci: bool = False
    ci_warning: bool = False
    current_ci: tuple[float, float] | None = None
    note: str = ""
    baseline_unusable: bool = False


@dataclass(frozen=True)
class Mismatch:
    """A reason the two runs do not measure the same thing."""

    scope: str
    reason: str

    def __str__(self) -> str:
        return f"{self.scope}: {self.reason}"


@dataclass(frozen=True)
class GateReport:
    """Everything the gate decided; renderers and callers read ``exit_code`` and ``rows``."""

    baseline: RunInfo
    current: RunInfo
    rows: tuple[GateRow, ...]
    mismatches: tuple[Mismatch, ...] = ()
    notes: tuple[str, ...] = ()
    tolerances: dict[str, float] = field(default_factory=dict)
    allow_mismatch: bool = False
    fail_outside_ci: bool = False

    def _with(self, verdict: Verdict) -> tuple[GateRow, ...]:
        return tuple(r for r in self.rows if r.verdict == verdict)

    @property
    def regressions(self) -> tuple[GateRow, ...]:
        return self._with("regressed")

    @property
    def improvements(self) -> tuple[GateRow, ...]:
        return self._with("improved")

    @property
    def passes(self) -> tuple[GateRow, ...]:
        return self._with("pass")

    @property
    def not_comparable(self) -> tuple[GateRow, ...]:
        return self._with("not comparable")

    @property
    def ci_warnings(self) -> tuple[GateRow, ...]:
        return tuple(r for r in self.rows if r.ci_warning)

    @property
    def unusable(self) -> tuple[GateRow, ...]:
        """Gated metrics the current run has but the baseline holds no finite value for."""
        return tuple(r for r in self.rows if r.baseline_unusable)

    @property
    def compared(self) -> tuple[GateRow, ...]:
        return tuple(r for r in self.rows if r.verdict != "not comparable")

    @property
    def problem(self) -> str | None:
        """Why the gate cannot give a verdict (exit 2), or None."""
        if self.mismatches and not self.allow_mismatch:
            reasons = "; ".join(str(m) for m in self.mismatches)
            return (
                f"runs are not comparable: {reasons} (pass --allow-mismatch to compare them anyway)"
            )
        if self.unusable:
            first = self.unusable[0]
            more = f" and {len(self.unusable) - 1} more" if len(self.unusable) > 1 else ""
            return (
                f"unusable baseline: subset {first.subset!r}, model {first.model!r}, "
                f"{first.metric}: {first.note}{more}; the current run has a value, so the "
                "baseline cannot hold it to anything (regenerate the baseline)"
            )
        if not self.compared:
            return "no metric could be compared between the two runs"
        return None

    @property
    def status(self) -> Literal["passed", "regressed", "not comparable"]:
        if self.problem:
            return "not comparable"
        return "regressed" if self.regressions else "passed"

    @property
    def exit_code(self) -> int:
        """0 all within tolerance, 1 at least one regression, 2 the runs cannot be gated."""
        return {"passed": 0, "regressed": 1, "not comparable": 2}[self.status]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--format json``; stable keys, rows in table order."""
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "problem": self.problem,
            "counts": {
                "compared": len(self.compared),
                "pass": len(self.passes),
                "improved": len(self.improvements),
                "regressed": len(self.regressions),
                "not_comparable": len(self.not_comparable),
                "unusable_baseline": len(self.unusable),
                "ci_warnings": len(self.ci_warnings),
            },
            "baseline": asdict(self.baseline),
            "current": asdict(self.current),
            "allow_mismatch": self.allow_mismatch,
            "fail_outside_ci": self.fail_outside_ci,
            "tolerance_overrides": dict(self.tolerances),
            "mismatches": [asdict(m) for m in self.mismatches],
            "notes": list(self.notes),
            "rows": [
                {**asdict(r), "current_ci": list(r.current_ci) if r.current_ci else None}
                for r in self.rows
            ],
        }
