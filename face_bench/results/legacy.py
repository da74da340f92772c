"""Reading results files of an older ``schema_version`` (for the gate's committed baselines).

Version 1 wrote the same figures as version 2 but kept every metric block an open dict:
a few keys were optional and unknown keys were allowed. :func:`upgrade_v1` fills the
optional keys with None (or their version-1 meaning), drops keys that version 1 allowed
but nothing reads, and judges TAR@FAR entries by today's support rule, so the result
validates as version 2 and every reader sees one typed shape. Anything version 1 itself
forbade stays an error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from face_bench.core.errors import ResultsError
from face_bench.results.blocks import (
    ConfidenceInterval,
    F1Point,
    ModelComparison,
    ModelMetrics,
    OperatingPoint,
    SweepMarker,
    TarAtFarEntry,
    ThresholdSweep,
)
from face_bench.results.contract import (
    LEGACY_KEYS,
    SCHEMA_VERSION,
    RunResults,
    read_json,
    unsupported_version,
)

READABLE_VERSIONS = (1, SCHEMA_VERSION)


@dataclass(frozen=True)
class VersionedResults:
    """A results file read as the current types, and the schema_version it was written in."""

    results: RunResults
    schema_version: int
    path: Path


def read_any_version(path: Path) -> VersionedResults:
    """Read a results file of any version in READABLE_VERSIONS as the current types."""
    data = read_json(path)
    version = data["schema_version"]
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ResultsError(f"{path}: {unsupported_version(version, READABLE_VERSIONS)}")
    if version == 1:
        try:
            data = upgrade_v1(data)
        except RecursionError:
            raise ResultsError(f"{path}: invalid results file: nested too deeply") from None
    return VersionedResults(RunResults.from_data(data, path), int(version), Path(path))


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def _closed(value: Any, model: type[BaseModel], fill: dict[str, Any] | None = None) -> Any:
    """An open version-1 object as ``model`` expects it: known keys kept, optional ones filled.

    Keys ``model`` requires but version 1 could omit get None (or the value in ``fill``);
    a value that is not an object is left for validation to reject.
    """
    if not isinstance(value, dict):
        return value
    known = _fields(model)
    out = {k: v for k, v in value.items() if k in known}
    for name, info in model.model_fields.items():
        if name not in out and info.is_required():
            out[name] = (fill or {}).get(name)
    return out


def _metrics_v1(metrics: Any, n_genuine: Any, n_impostor: Any) -> Any:
    if not isinstance(metrics, dict):
        return metrics
    out = _closed(
        metrics,
        ModelMetrics,
        {
            "tar_at_far": [],
            "n_genuine": n_genuine,
            "n_impostor": n_impostor,
            "failure_rate": 0.0,
            "auc_definition": "",
        },
    )
    if isinstance(out.get("tar_at_far"), list):
        out["tar_at_far"] = [
            _support_rule(_closed(t, TarAtFarEntry), out.get("n_impostor"))
            for t in out["tar_at_far"]
        ]
    out["best_f1"] = _closed(out.get("best_f1") or {}, F1Point)
    out["at_default"] = _closed(out.get("at_default") or {}, OperatingPoint)
    if isinstance(out.get("ci"), dict):
        out["ci"] = {k: _closed(v, ConfidenceInterval) for k, v in out["ci"].items()}
    return out


def _support_rule(entry: Any, n_impostor: Any) -> Any:
    """Judge a TAR@FAR entry by today's support rule, as the current run's entries are.

    Early version-1 files called a target supported from one allowed false accept; a
    baseline judged that way would make every thin TAR a "regression" against a run that
    flags it. The TAR itself is kept; only ``supported``/``reason`` are re-judged.
    """
    target = entry.get("far_target") if isinstance(entry, dict) else None
    if not isinstance(n_impostor, int) or not isinstance(target, int | float):
        return entry
    if entry.get("tar") is None:  # nothing to judge: no false accept was allowed at all
        return entry
    from face_bench.metrics.summary import support_verdict

    supported, reason = support_verdict(float(target), n_impostor)
    return {
        **entry,
        "supported": supported,
        "reason": reason,
        "expected_errors": target * n_impostor,
    }


def _sweep_v1(sweep: Any) -> Any:
    out = _closed(sweep, ThresholdSweep, {"units": "", "accept_rule": "", "markers": []})
    if isinstance(out, dict) and isinstance(out.get("markers"), list):
        out["markers"] = [_closed(m, SweepMarker) for m in out["markers"]]
    return out


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 results object rewritten as version 2 (a copy; ``data`` is not changed)."""
    out = copy.deepcopy(data)
    out["schema_version"] = SCHEMA_VERSION
    for key in LEGACY_KEYS:  # superseded figures, not carried into version 2
        out.pop(key, None)
    for subset in out.get("subsets") or []:
        if not isinstance(subset, dict):
            continue
        raw_pairs = subset.get("pairs")
        pairs: dict[str, Any] = raw_pairs if isinstance(raw_pairs, dict) else {}
        for run in subset.get("models") or []:
            if not isinstance(run, dict):
                continue
            run["metrics"] = _metrics_v1(
                run.get("metrics"), pairs.get("n_genuine"), pairs.get("n_impostor")
            )
            if run.get("threshold_sweep") is not None:
                run["threshold_sweep"] = _sweep_v1(run["threshold_sweep"])
        if isinstance(subset.get("comparisons"), list):
            subset["comparisons"] = [_closed(c, ModelComparison) for c in subset["comparisons"]]
            for comparison in subset["comparisons"]:
                if isinstance(comparison, dict) and isinstance(comparison.get("ci"), dict):
                    comparison["ci"] = _closed(comparison["ci"], ConfidenceInterval)
    return out
