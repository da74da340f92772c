"""The regression gate: compare a current results file with a baseline, metric by metric.

Library only: ``face-bench gate`` (face_bench/cli/gate_cmd.py) and ``roc --baseline`` call
``run_gate`` and render the ``GateReport`` with face_bench.gate.output. The contract is
documented in docs/ci-workflow.md: exit 0 within tolerance, 1 regression, 2 cannot tell.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from face_bench.core.errors import ConfigError, GateInputError, ResultsError
from face_bench.metrics.catalog import (
    DEFAULT_TOLERANCES,
    DIFFERENTIALS,
    MIN_SUPPORT_ERRORS,
    SUMMARY_METRICS,
    TAR_FAMILY,
    far_key,
    far_target,
    metric,
    order_names,
    tolerance_names,
)
from face_bench.results.blocks import ModelMetrics
from face_bench.results.contract import SCHEMA_VERSION, RunResults
from face_bench.results.legacy import VersionedResults, read_any_version

Verdict = Literal["pass", "regressed", "improved", "not comparable"]
Direction = Literal["higher", "lower"]

__all__ = ["DEFAULT_TOLERANCES", "TAR_FAMILY", "GateReport", "gate", "run_gate"]

GATE_CONFIG_KEYS = {"tolerances", "fail_outside_interval", "fail_outside_ci"}
# fail_outside_ci is the old name of fail_outside_interval ("CI" read as continuous integration).

# A move of exactly the tolerance passes; this only absorbs binary rounding of the delta.
_EPS = 1e-12


# ---------------------------------------------------------------- metric names and tolerances


def metric_direction(name: str) -> int | None:
    """+1 when higher is better, -1 when lower is better, None for a metric the gate skips."""
    info = metric(name)
    return info.direction if info is not None else None


def _is_tolerance_name(name: str) -> bool:
    return name == TAR_FAMILY or metric(name) is not None


def tolerance_for(name: str, overrides: Mapping[str, float] | None = None) -> float:
    """The tolerance of one metric: an exact override, the TAR@FAR family override, the default."""
    for table in (overrides or {}, DEFAULT_TOLERANCES):
        if name in table:
            return float(table[name])
        if name.startswith(TAR_FAMILY + "_") and TAR_FAMILY in table:
            return float(table[TAR_FAMILY])
    return 0.0


def validate_tolerances(values: Mapping[str, Any], source: str) -> dict[str, float]:
    """Check names and values so a typo cannot silently leave a default in place."""
    known = sorted(tolerance_names())
    out: dict[str, float] = {}
    for name, value in values.items():
        if not _is_tolerance_name(name):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
            raise GateInputError(f"{source}: unknown metric {name!r}{hint}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GateInputError(
                f"{source}: tolerance for {name!r} must be a number, got {value!r}"
            )
        if not math.isfinite(value) or value < 0:
            raise GateInputError(
                f"{source}: tolerance for {name!r} must be a finite number >= 0, got {value!r}"
            )
        out[name] = float(value)
    return out


def parse_tolerances(items: Iterable[str]) -> dict[str, float]:
    """``METRIC=VALUE`` strings from ``--tolerance`` into a checked mapping."""
    raw: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name or number is None:
            raise GateInputError(
                f"--tolerance expects METRIC=VALUE (e.g. roc_auc=0.01), got {item!r}"
            )
        if name in raw:  # the last would win silently, and which one was meant is unclear
            raise GateInputError(f"--tolerance gives {name!r} twice; give each metric once")
        raw[name] = number
    return validate_tolerances(raw, "--tolerance")


def merge_tolerances(
    cli: Mapping[str, float] | None, file: Mapping[str, float] | None
) -> dict[str, float]:
    """CLI over file (defaults apply underneath); a CLI family value beats file TAR@FAR keys."""
    merged = dict(file or {})
    for name, value in (cli or {}).items():
        if name == TAR_FAMILY:
            merged = {k: v for k, v in merged.items() if not k.startswith(TAR_FAMILY + "_")}
        merged[name] = value
    return merged


def gate_settings(
    gate_table: Mapping[str, Any], source: str
) -> tuple[dict[str, float], bool | None]:
    """``[gate]`` from the config file: its tolerances and ``fail_outside_ci`` (None = not set)."""
    unknown = set(gate_table) - GATE_CONFIG_KEYS
    if unknown:
        raise GateInputError(
            f"{source}: unknown key(s) {sorted(unknown)} in [gate]; "
            f"expected {sorted(GATE_CONFIG_KEYS)}"
        )
    tolerances = gate_table.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise GateInputError(f"{source}: [gate.tolerances] must be a table of METRIC = VALUE")
    key = "fail_outside_interval" if "fail_outside_interval" in gate_table else "fail_outside_ci"
    fail_outside_ci = gate_table.get(key)
    if fail_outside_ci is not None and not isinstance(fail_outside_ci, bool):
        raise GateInputError(f"{source}: [gate] {key} must be true or false")
    return validate_tolerances(tolerances, f"{source} [gate.tolerances]"), fail_outside_ci


# ---------------------------------------------------------------- the report


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


# ---------------------------------------------------------------- comparing


def gate(
    baseline: RunResults,
    current: RunResults,
    tolerances: dict[str, float] | None,
    allow_mismatch: bool = False,
    *,
    fail_outside_ci: bool = False,
) -> GateReport:
    """Compare ``current`` with ``baseline``.

    ``tolerances`` overrides DEFAULT_TOLERANCES per metric (or ``tar_at_far`` for every
    TAR@FAR target). Runs that do not measure the same thing get mismatches and no rows,
    unless ``allow_mismatch``; a baseline outside the current 95% CI on its better side is
    a warning, or a regression with ``fail_outside_ci``.
    """
    overrides = validate_tolerances(tolerances or {}, "tolerances")
    mismatches, notes = _compare_setup(baseline, current)
    rows: list[GateRow] = []
    mismatches += _check_differentials(baseline, current, notes)
    if allow_mismatch or not mismatches:
        rows = _compare_metrics(baseline, current, overrides, fail_outside_ci)
        rows += _compare_differentials(baseline, current, overrides, fail_outside_ci)
    return GateReport(
        baseline=RunInfo.of(baseline, "baseline"),
        current=RunInfo.of(current, "current"),
        rows=tuple(rows),
        mismatches=tuple(mismatches),
        notes=tuple(notes),
        tolerances=overrides,
        allow_mismatch=allow_mismatch,
        fail_outside_ci=fail_outside_ci,
    )


def _differs(scope: str, what: str, base: Any, cur: Any) -> list[Mismatch]:
    if base == cur:
        return []
    return [Mismatch(scope, f"{what} differs (baseline {base!r}, current {cur!r})")]


# Recorded beside a model's preprocessing but set by face-bench's own code, not by the
# model's settings: a change there is what the gate exists to measure, so it is noted and
# the figures are compared. (Both dlib runtimes give the same descriptors to 1e-5.)
_CODE_KEYS = frozenset(
    {"pipeline_version", "face_stage_version", "load_max_side", "crop_detect_side", "runtime"}
)


def _preprocessing(
    scope: str, base: dict[str, Any], cur: dict[str, Any], notes: list[str]
) -> list[Mismatch]:
    """The same weights fed other pixels (BGR for RGB, another chip) are another model.

    Only settings both files record are compared: a setting an older face-bench did not
    record yet is not a change.
    """
    changed = {
        key: f"{key} {base[key]!r} in baseline, {cur[key]!r} in current"
        for key in sorted(base.keys() & cur.keys())
        if base[key] != cur[key]
    }
    code = [text for key, text in changed.items() if key in _CODE_KEYS]
    if code:
        notes.append(
            f"{scope}: face-bench's own face or model stage differs ({'; '.join(code)}); "
            "compared, as a change in face-bench itself"
        )
    settings = [text for key, text in changed.items() if key not in _CODE_KEYS]
    return [Mismatch(scope, f"preprocessing differs: {'; '.join(settings)}")] if settings else []


def _short(digest: str) -> str:
    return digest[:12] + "…" if len(digest) > 12 else digest


def _compare_setup(baseline: RunResults, current: RunResults) -> tuple[list[Mismatch], list[str]]:
    """Everything that must be equal for the figures to be comparable, and what is just new."""
    mismatches: list[Mismatch] = []
    notes: list[str] = []
    _check_run(baseline, current, mismatches, notes)
    missing_models = _check_models(baseline, current, mismatches, notes)
    _check_subsets(baseline, current, missing_models, mismatches, notes)
    return mismatches, notes


def _check_run(b: RunResults, c: RunResults, mismatches: list[Mismatch], notes: list[str]) -> None:
    if b.dataset.digest != c.dataset.digest:
        mismatches.append(
            Mismatch(
                "run",
                f"dataset digest differs (baseline {_short(b.dataset.digest)}, "
                f"current {_short(c.dataset.digest)}): the manifest or image listing changed",
            )
        )
    mismatches += _differs(
        "run", "identity source", b.dataset.identity_source, c.dataset.identity_source
    )
    for what in ("seed", "sample", "pairs", "align", "multi_face", "detector", "on_fail"):
        mismatches += _differs("run", what, getattr(b.settings, what), getattr(c.settings, what))
    # A file from before --near-duplicates scored every pair, i.e. as ``keep`` does.
    mismatches += _differs(
        "run",
        "--near-duplicates",
        b.settings.near_duplicates or "keep",
        c.settings.near_duplicates or "keep",
    )
    if b.face_bench_version != c.face_bench_version:
        notes.append(
            f"baseline made by face-bench {b.face_bench_version}, current by {c.face_bench_version}"
        )


def _check_models(
    b: RunResults, c: RunResults, mismatches: list[Mismatch], notes: list[str]
) -> set[str]:
    """Model identities; returns the baseline models absent from the current run."""
    cur_models = {m.name: m for m in c.models}
    missing: set[str] = set()
    for model in b.models:
        scope = f"model {model.name!r}"
        other = cur_models.get(model.name)
        if other is None:
            missing.add(model.name)
            mismatches.append(Mismatch(scope, "missing from the current run"))
            continue
        if model.weights_sha256 != other.weights_sha256:
            mismatches.append(
                Mismatch(
                    scope,
                    f"weights differ (sha256 {_short(model.weights_sha256)} in baseline, "
                    f"{_short(other.weights_sha256)} in current)",
                )
            )
        mismatches += _differs(scope, "similarity", model.similarity, other.similarity)
        mismatches += _preprocessing(scope, model.preprocessing, other.preprocessing, notes)
    base_names = {m.name for m in b.models}
    notes += [
        f"model {name!r} is new in the current run (not gated)"
        for name in cur_models
        if name not in base_names
    ]
    return missing


def _check_subsets(
    b: RunResults,
    c: RunResults,
    missing_models: set[str],
    mismatches: list[Mismatch],
    notes: list[str],
) -> None:
    cur_subsets = {s.name: s for s in c.subsets}
    base_model_names = {m.name for m in b.models}
    for subset in b.subsets:
        scope = f"subset {subset.name!r}"
        other = cur_subsets.get(subset.name)
        if other is None:
            mismatches.append(Mismatch(scope, "missing from the current run"))
            continue
        mismatches += _differs(scope, "definition", subset.definition, other.definition)
        mismatches += _differs(scope, "sample size", subset.sample_size, other.sample_size)
        only_b = set(subset.images) - set(other.images)
        only_c = set(other.images) - set(subset.images)
        if only_b or only_c:
            mismatches.append(
                Mismatch(
                    scope,
                    f"sampled images differ ({len(only_b)} only in baseline, "
                    f"{len(only_c)} only in current)",
                )
            )
        mismatches += _differs(scope, "pairs mode", subset.pairs.mode, other.pairs.mode)
        mismatches += _pair_set(scope, subset.pairs, other.pairs, notes)
        counts_b = (subset.pairs.n_genuine, subset.pairs.n_impostor)
        counts_c = (other.pairs.n_genuine, other.pairs.n_impostor)
        if counts_b != counts_c:
            notes.append(
                f"subset {subset.name!r}: scored pairs differ (genuine/impostor "
                f"{counts_b[0]}/{counts_b[1]} in baseline, {counts_c[0]}/{counts_c[1]} in "
                "current), usually because failures to enrol changed"
            )
        cur_runs = {m.name for m in other.models}
        base_runs = {m.name for m in subset.models}
        mismatches += [
            Mismatch(f"{scope}, model {name!r}", "missing from the current run")
            for name in sorted(base_runs - cur_runs)
            if name not in missing_models
        ]
        notes += [
            f"subset {subset.name!r}: model {name!r} is new here (not gated)"
            for name in sorted(cur_runs - base_runs)
            if name in base_model_names
        ]
    base_subset_names = {s.name for s in b.subsets}
    notes += [
        f"subset {name!r} is new in the current run (not gated)"
        for name in cur_subsets
        if name not in base_subset_names
    ]


def _pair_set(scope: str, base: Any, cur: Any, notes: list[str]) -> list[Mismatch]:
    """Different pair files or pair sets are different tests: a mismatch, not a comparison."""
    out: list[Mismatch] = []
    digests = (
        (base.file_sha256, cur.file_sha256, "pairs file"),
        (base.pairs_sha256, cur.pairs_sha256, "pair set"),
    )
    for b, c, what in digests:
        if b is not None and c is not None and b != c:
            reason = f"{what} differs (sha256 {_short(b)} in baseline, {_short(c)} in current)"
            out.append(Mismatch(scope, f"{reason}: the runs scored different pairs"))
        elif (b is None) != (c is None) and base.mode != "all":
            notes.append(f"{scope}: {what} digest recorded in one run only; not compared")
    return out


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _metric_names(base: dict[str, Any], cur: dict[str, Any]) -> list[str]:
    """Every catalog metric either run has, in catalog order."""
    return order_names([*base, *cur])


def _interval(metrics: ModelMetrics, name: str) -> tuple[float, float] | None:
    ci = metrics.interval(name)
    bounds = ci.bounds() if ci is not None else None
    if bounds is None or not all(math.isfinite(v) for v in bounds):
        return None  # a NaN or infinite bound says nothing about where the baseline lies
    return bounds


def _compare_metrics(
    baseline: RunResults,
    current: RunResults,
    overrides: Mapping[str, float],
    fail_outside_ci: bool,
) -> list[GateRow]:
    rows: list[GateRow] = []
    cur_subsets = {s.name: s for s in current.subsets}
    for subset in baseline.subsets:
        other = cur_subsets.get(subset.name)
        if other is None:
            continue
        cur_runs = {m.name: m for m in other.models}
        for run in subset.models:
            cur_run = cur_runs.get(run.name)
            if cur_run is None:
                continue
            base_flat = run.metrics.values()
            cur_flat = cur_run.metrics.values()
            judged = _unsupported(run.metrics)
            for name in _metric_names(base_flat, cur_flat):
                row = _compare_one(
                    subset.name,
                    run.name,
                    name,
                    base_flat,
                    cur_flat,
                    _interval(cur_run.metrics, name),
                    tolerance_for(name, overrides),
                    fail_outside_ci,
                )
                if row.baseline is None and row.current is not None and name not in judged:
                    row = replace(row, baseline_unusable=True, note=_no_value(name, base_flat))
                elif row.verdict == "not comparable":
                    why = _unsupported_tar(name, run.metrics, cur_run.metrics)
                    row = replace(row, note=why or row.note)
                rows.append(row)
    return rows


def _unsupported_tar(name: str, base: ModelMetrics, cur: ModelMetrics) -> str | None:
    """Why a TAR@FAR row is not gated: too few impostor pairs for the target (the support
    rule of ``metrics.summary``), with the counts a reader needs to size the run."""
    target = far_target(name)
    if target is None:
        return None
    short = {
        side: metrics.n_impostor
        for side, metrics in (("baseline", base), ("current", cur))
        if (entry := metrics.tar(target)) is not None and not entry.supported
    }
    if not short:
        return None
    needed = math.ceil(MIN_SUPPORT_ERRORS / target - 1e-9)
    counts = set(short.values())
    has = (
        f"has {counts.pop():,}"
        if len(short) == 2 and len(counts) == 1
        else " and ".join(f"{side} has {n:,}" for side, n in short.items())
    )
    return (
        f"needs ≥ {needed:,} impostor pairs for FAR {target:g} "
        f"({MIN_SUPPORT_ERRORS} false accepts), {has}"
    )


def _unsupported(metrics: ModelMetrics) -> set[str]:
    """TAR@FAR targets the baseline judged too thin to report (its support rule): a
    deliberate "no value", not a broken baseline."""
    return {far_key(t.far_target) for t in metrics.tar_at_far if not t.supported}


def _no_value(name: str, flat: Mapping[str, Any]) -> str:
    if name not in flat:
        return "missing from the baseline"
    value = flat[name]
    return "null in the baseline" if value is None else f"{value!r} in the baseline"


def _require_number(value: Any, side: str, subset: str, model: str, name: str) -> None:
    """A metric is a number, null or absent; anything else means a malformed file (exit 2)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return
    raise GateInputError(
        f"{side}: subset {subset!r}, model {model!r}: metric {name!r} is "
        f"{type(value).__name__} {str(value)[:40]!r}, not a number: malformed results file"
    )


def _compare_one(
    subset: str,
    model: str,
    name: str,
    base_flat: dict[str, Any],
    cur_flat: dict[str, Any],
    ci: tuple[float, float] | None,
    tolerance: float,
    fail_outside_ci: bool,
) -> GateRow:
    sign = metric_direction(name) or +1
    for side, flat in (("baseline", base_flat), ("current", cur_flat)):
        _require_number(flat.get(name), side, subset, model, name)
    b, c = _finite(base_flat.get(name)), _finite(cur_flat.get(name))
    row = GateRow(
        subset=subset,
        model=model,
        metric=name,
        baseline=b,
        current=c,
        delta=None,
        tolerance=tolerance,
        direction="higher" if sign > 0 else "lower",
        verdict="not comparable",
        current_ci=ci,
    )
    if b is not None and c is None:
        # A gated metric that is missing, null, NaN or infinite in the current run cannot
        # pass: every headline metric NaN would otherwise read as "nothing to compare".
        shown = "missing" if name not in cur_flat else f"{cur_flat[name]!r}, not a finite number"
        return replace(row, verdict="regressed", note=f"current value {shown}")
    if b is None or c is None:
        why = [
            f"not in {side}" if name not in flat else f"no value in {side}"
            for side, flat, value in (("baseline", base_flat, b), ("current", cur_flat, c))
            if value is None
        ]
        return replace(row, note="; ".join(why))
    delta = c - b
    worse_by = -sign * delta
    if worse_by > tolerance + _EPS:
        verdict: Verdict = "regressed"
        note = f"worse by {abs(delta):.4g}, tolerance {tolerance:g}"
    elif -worse_by > tolerance + _EPS:
        verdict, note = "improved", f"better by {abs(delta):.4g}"
    else:
        verdict, note = "pass", ""
    outside = warning = False
    if ci is not None:
        lower, upper = ci
        outside = b < lower or b > upper
        warning = (b > upper) if sign > 0 else (b < lower)
        if warning and verdict == "pass":
            note = "baseline outside the current 95% CI"
            if fail_outside_ci:
                verdict = "regressed"
                note += " (--fail-outside-interval)"
    return replace(
        row, delta=delta, verdict=verdict, outside_ci=outside, ci_warning=warning, note=note
    )


# ---------------------------------------------------------------- differentials

Figures = dict[tuple[str, str], dict[str, tuple[float | None, tuple[float, float] | None]]]


def _bounds(lower: float | None, upper: float | None) -> tuple[float, float] | None:
    return (lower, upper) if lower is not None and upper is not None else None


def _ratio_value(ratio: Any) -> tuple[float | None, tuple[float, float] | None]:
    """A ratio's estimate, or its rule-of-three lower bound where the reference has no error."""
    if ratio is None:
        return None, None
    if ratio.estimate is None:
        return ratio.lower_bound, None
    return ratio.estimate, _bounds(ratio.lower, ratio.upper)


def differential_figures(results: RunResults) -> Figures:
    """(scope, model) -> {gate name: (value, 95% interval)} of ``results.differentials``.

    A group's scope is ``differentials <group>``; the summary measures' is
    ``differentials``.
    """
    diff = results.differentials
    out: Figures = {}
    if diff is None:
        return out
    for model, block in diff.models.items():
        for g in block.groups:
            out[(f"differentials {g.group}", model)] = {
                "group_fmr": (g.fmr.rate, _bounds(g.fmr.lower, g.fmr.upper)),
                "group_fnmr": (g.fnmr.rate, _bounds(g.fnmr.lower, g.fnmr.upper)),
                **({"fmr_ratio": _ratio_value(g.fmr_ratio)} if g.group != diff.reference else {}),
                **({"fnmr_ratio": _ratio_value(g.fnmr_ratio)} if g.group != diff.reference else {}),
            }
        out[("differentials", model)] = {
            SUMMARY_METRICS[m.name]: (m.estimate, _bounds(m.lower, m.upper))
            for m in block.summary
            if m.name in SUMMARY_METRICS
        }
    return out


def _check_differentials(b: RunResults, c: RunResults, notes: list[str]) -> list[Mismatch]:
    """Differentials are comparable only on the same groups, reference and threshold rule."""
    base, cur = b.differentials, c.differentials
    if base is None or not base.models:
        if cur is not None and cur.models:
            notes.append("differentials are new in the current run (not gated)")
        return []
    if cur is None or not cur.models:
        return [Mismatch("differentials", "missing from the current run")]
    out: list[Mismatch] = []
    for what in ("grouping", "groups", "reference", "threshold_rule"):
        out += _differs(
            "differentials", what.replace("_", " "), getattr(base, what), getattr(cur, what)
        )
    return out


def _compare_differentials(
    baseline: RunResults,
    current: RunResults,
    overrides: Mapping[str, float],
    fail_outside_ci: bool,
) -> list[GateRow]:
    """A row per group rate, ratio and summary measure the baseline has, per model."""
    base, cur = differential_figures(baseline), differential_figures(current)
    rows: list[GateRow] = []
    for (scope, model), figures in base.items():
        other = cur.get((scope, model))
        if other is None:
            continue
        for name in (m.name for m in DIFFERENTIALS):
            if name not in figures:
                continue
            b_flat = {name: figures[name][0]}
            c_flat = {name: other[name][0]} if name in other else {}
            ci = other[name][1] if name in other else None
            rows.append(
                _compare_one(
                    scope,
                    model,
                    name,
                    b_flat,
                    c_flat,
                    ci,
                    tolerance_for(name, overrides),
                    fail_outside_ci,
                )
            )
    return rows


# ---------------------------------------------------------------- from files


def _load(path: Path, role: str) -> VersionedResults:
    try:
        return read_any_version(Path(path))
    except ResultsError as exc:
        raise GateInputError(f"{role}: {exc}") from None


def _version_notes(*sides: tuple[str, VersionedResults]) -> list[str]:
    """Say when a side was read through the upgrade from an older schema_version."""
    return [
        f"{role} is a schema_version {read.schema_version} file "
        f"(read as version {SCHEMA_VERSION}; regenerate it to drop this note)"
        for role, read in sides
        if read.schema_version != SCHEMA_VERSION
    ]


def run_gate(
    baseline_path: Path,
    current_path: Path,
    tolerances: dict[str, float] | None = None,
    config_path: Path | None = None,
    allow_mismatch: bool = False,
    *,
    fail_outside_ci: bool | None = None,
) -> GateReport:
    """Read both results files and the config's ``[gate]`` table, then ``gate`` them.

    ``tolerances`` and ``fail_outside_ci`` are the command-line values (None = not given);
    they win over the config file, which wins over the defaults. Unusable inputs raise
    GateInputError; mismatched runs come back as a report whose ``exit_code`` is 2.
    """
    from face_bench.core.config import load_config

    try:
        config = load_config(Path(config_path) if config_path is not None else None)
    except ConfigError as exc:
        raise GateInputError(str(exc)) from None
    source = str(config.path) if config.path else "config"
    file_tolerances, file_fail = gate_settings(config.gate, source)
    cli = validate_tolerances(tolerances or {}, "--tolerance")
    merged = merge_tolerances(cli, file_tolerances)
    fail = fail_outside_ci if fail_outside_ci is not None else bool(file_fail)
    baseline = _load(baseline_path, "baseline")
    current = _load(current_path, "current")
    try:
        report = gate(
            baseline.results, current.results, merged, allow_mismatch, fail_outside_ci=fail
        )
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        # A file that passed the schema but whose metric blocks are not shaped as face-bench
        # writes them: "cannot tell" (2), never a traceback or "regression" (1).
        raise GateInputError(
            f"malformed metric block in {baseline_path} or {current_path}: "
            f"{type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    return replace(
        report,
        baseline=replace(
            report.baseline, label=str(baseline_path), schema_version=baseline.schema_version
        ),
        current=replace(
            report.current, label=str(current_path), schema_version=current.schema_version
        ),
        notes=(*_version_notes(("baseline", baseline), ("current", current)), *report.notes),
    )
