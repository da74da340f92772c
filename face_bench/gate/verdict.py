"""The regression gate: compare a current results file with a baseline, metric by metric.

Library only: ``face-bench gate`` (face_bench/cli/gate_cmd.py) and ``roc --baseline`` call
``run_gate`` and render the ``GateReport`` with face_bench.gate.output. The contract is
documented in docs/ci-workflow.md: exit 0 within tolerance, 1 regression, 2 cannot tell.
Whether the runs are comparable is ``gate.comparable``; the rows are ``gate.rows``; the
tolerances ``gate.tolerances``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from face_bench.core.errors import ConfigError, GateInputError, ResultsError
from face_bench.gate.comparable import compare_differential_setup, compare_setup
from face_bench.gate.records import GateReport, GateRow, RunInfo
from face_bench.gate.rows import differential_rows, metric_rows
from face_bench.gate.tolerances import gate_settings, merge_tolerances, validate_tolerances
from face_bench.results.contract import SCHEMA_VERSION, RunResults
from face_bench.results.legacy import VersionedResults, read_any_version

__all__ = ["GateReport", "gate", "run_gate"]


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
    mismatches, notes = compare_setup(baseline, current)
    rows: list[GateRow] = []
    mismatches += compare_differential_setup(baseline, current, notes)
    if allow_mismatch or not mismatches:
        rows = metric_rows(baseline, current, overrides, fail_outside_ci)
        rows += differential_rows(baseline, current, overrides, fail_outside_ci)
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
