"""The report's ▲ goes to the better model on every row, the way the metric catalog says:
higher for AUC and TAR, lower for error rates, ZeroFMR and ZeroFNMR included."""

from __future__ import annotations

from pathlib import Path

import pytest

from face_bench.metrics.catalog import CATALOG, ZERO_ERROR_POINTS, metric
from face_bench.report.context import _headline
from face_bench.results.contract import RunResults, SubsetRun

BASELINE = Path(__file__).resolve().parent / "baselines" / "young_women-40.json"


def _run(reverse: bool) -> tuple[SubsetRun, list[float]]:
    """The committed two-model run, its models in either order (the ▲ follows values)."""
    results = RunResults.from_disk(BASELINE)
    run = results.subsets[0]
    if reverse:
        run.models.reverse()
    return run, [t.far_target for t in run.models[0].metrics.tar_at_far]


def _values(run: SubsetRun, key: str) -> list[float | None]:
    out = []
    for m in run.models:
        if key == "zero_fmr":
            out.append(m.metrics.zero_fmr.fnmr if m.metrics.zero_fmr else None)
        elif key == "zero_fnmr":
            out.append(m.metrics.zero_fnmr.fmr if m.metrics.zero_fnmr else None)
        elif key == "failure_rate":
            out.append(m.n_failures / m.n_images_attempted)
        else:
            out.append(m.metrics.value(key))
    return out


@pytest.mark.parametrize("reverse", [False, True])
def test_every_marked_cell_is_the_better_value_by_the_catalog(reverse: bool) -> None:
    run, targets = _run(reverse)
    rows = _headline(run, targets)["rows"]
    keys = [row["key"] for row in rows]
    families = {"tar_at_far" if k.startswith("tar_at_far_") else k for k in keys}
    assert families == {m.name for m in (*CATALOG, *ZERO_ERROR_POINTS)}
    checked = 0
    zero_error = {m.name: m for m in ZERO_ERROR_POINTS}
    for row in rows:
        info = metric(row["key"]) or zero_error.get(row["key"])
        assert info is not None, row["key"]
        marks = [cell["best"] for cell in row["cells"]]
        values = _values(run, row["key"])
        assert row["direction"].startswith(info.better) or info.prevalence_dependent
        defined = [v for v in values if v is not None]
        if info.prevalence_dependent or len(set(defined)) < 2:
            assert not any(marks), row["key"]
            continue
        best = max(info.direction * v for v in defined)
        expected = [v is not None and info.direction * v == best for v in values]
        assert marks == expected, (row["key"], values, marks)
        checked += 1
    assert checked >= 5  # the committed run separates the models on most rows


def test_zero_error_points_mark_the_lower_rate() -> None:
    run, targets = _run(False)
    rows = {row["key"]: row for row in _headline(run, targets)["rows"]}
    for key in ("zero_fmr", "zero_fnmr"):
        values = _values(run, key)
        assert None not in values and values[0] != values[1]
        lower = values.index(min(v for v in values if v is not None))
        assert [c["best"] for c in rows[key]["cells"]] == [i == lower for i in range(len(values))]
        assert rows[key]["direction"] == "lower is better"
