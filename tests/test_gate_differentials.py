"""The gate on fairness: group rates at the reference threshold, ratios and summary measures
are gated like any metric, so a worse differential fails CI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_differentials import _toy
from test_gate import invoke, make_results, row_for, write

from face_bench.metrics.differentials import reference_threshold
from face_bench.metrics.group_analysis import analyse
from face_bench.results.contract import RunResults
from face_bench.results.differentials import Differentials, model_block


def _with_differentials(results: RunResults, shift: float = 1.0) -> RunResults:
    pairs = _toy(shift=shift)
    analysis = analyse(pairs, reference_threshold(pairs, 0, 0.05), 0, n_boot=100, min_people=2)
    out = results.model_copy(deep=True)
    out.differentials = Differentials(
        grouping="subsets",
        groups=["A", "B"],
        reference="A",
        far_target=0.05,
        threshold_rule="FMR <= 0.05 on group 'A''s impostors",
        min_people=2,
        n_boot=100,
        seed=0,
        confidence=0.95,
        models={m.name: model_block(analysis, analysis.threshold, m.units) for m in out.models},
    )
    return out


def test_a_worse_fmr_ratio_fails_the_gate_and_names_the_differential(tmp_path: Path):
    baseline = _with_differentials(make_results())
    current = baseline.model_copy(deep=True)
    model = current.models[0].name
    group = current.differentials.models[model].group("B")
    group.fmr_ratio.estimate += 5.0
    result = invoke(
        "--baseline",
        write(baseline, tmp_path / "b.json"),
        "--current",
        write(current, tmp_path / "c.json"),
    )
    assert result.exit_code == 1, result.stdout
    row = row_for(result.stdout, "differentials B", model, "fmr_ratio")
    assert "regressed" in row or "❌" in row
    # identical files pass, with the differential rows compared
    same = invoke("--baseline", tmp_path / "b.json", "--current", tmp_path / "b.json")
    assert same.exit_code == 0, same.stdout
    assert "differentials B" in same.stdout


def test_summary_measures_are_gated_in_their_direction(tmp_path: Path):
    baseline = _with_differentials(make_results())
    current = baseline.model_copy(deep=True)
    model = current.models[1].name
    fdr = current.differentials.models[model].measure("FDR")
    fdr.estimate -= 0.1  # FDR: higher is better
    result = invoke(
        "--baseline",
        write(baseline, tmp_path / "b.json"),
        "--current",
        write(current, tmp_path / "c.json"),
    )
    assert result.exit_code == 1
    row_for(result.stdout, "differentials", model, "fdr")


def test_a_different_reference_group_is_a_mismatch(tmp_path: Path):
    baseline = _with_differentials(make_results())
    current = baseline.model_copy(deep=True)
    current.differentials.reference = "B"
    result = invoke(
        "--baseline",
        write(baseline, tmp_path / "b.json"),
        "--current",
        write(current, tmp_path / "c.json"),
    )
    assert result.exit_code == 2
    assert "reference differs" in result.stdout + result.stderr


def test_differentials_missing_from_the_current_run_cannot_pass(tmp_path: Path):
    baseline = _with_differentials(make_results())
    current = make_results()
    result = invoke(
        "--baseline",
        write(baseline, tmp_path / "b.json"),
        "--current",
        write(current, tmp_path / "c.json"),
    )
    assert result.exit_code == 2
    assert "differentials: missing from the current run" in result.stdout + result.stderr


def test_every_gated_differential_has_no_infinite_value():
    results = _with_differentials(make_results(), shift=3.0)
    text = results.to_json()
    assert "Infinity" not in text and "inf" not in text.lower().replace("info", "")
    assert np.isfinite(results.differentials.models["dlib"].threshold)
