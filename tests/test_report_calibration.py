"""The report's calibration section and the gallery's calibrated probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_cli_calibrate import _file

from face_bench.report import calibration_view
from face_bench.report.context import _score_text
from face_bench.report.gallery import _pair_score
from face_bench.results.calibration_file import CalibrationFile, CalibrationSection
from face_bench.run.calibration_apply import RunCalibration


class _Spec:
    """The two things a gallery score needs of a model: its units and its threshold."""

    threshold = 0.6
    distance_like = True

    def from_score(self, value: float) -> float:
        return -value

    def to_score(self, value: float) -> float:
        return -value


def _quality(prior: float) -> dict:
    ci = {"estimate": 0.25, "lower": 0.2, "upper": 0.3}
    bins = [
        {"lower": b / 10, "upper": (b + 1) / 10, "n_pairs": 0, "n_genuine": 0,
         "mean_probability": None, "observed_rate": None}
        for b in range(10)
    ]  # fmt: skip
    bins[9].update(n_pairs=4, n_genuine=3, mean_probability=0.95, observed_rate=0.75)
    return {"prior": prior, "mean_probability": 0.4, "observed_rate": 0.3, "gap": 0.1,
            "cllr": ci, "min_cllr": ci, "brier": ci, "ece": ci, "reliability": bins}  # fmt: skip


def test_view_shows_claim_against_observation_with_bins() -> None:
    file = CalibrationFile.model_validate(_file())
    section = CalibrationSection(
        file="c.json", sha256="f" * 64, fitted_on=file.fitted_on, prior=None,
        models={"dlib": {"young_women": _quality(0.3)}},
    )  # fmt: skip
    view = calibration_view.view(section)
    assert view is not None and view["prior"] == "each map's fitting prior"
    (row,) = view["rows"]
    assert (row["mean_p"], row["observed"], row["gap"]) == ("0.400", "0.300", "+0.100")
    assert row["measures"][0] == "0.250 [0.200, 0.300]"
    assert row["bins"][9]["n"] == "4" and row["bins"][9]["seen"] == "0.750"
    assert row["bins"][0]["said"] == "—"
    assert calibration_view.view(None) is None


def test_gallery_scores_carry_the_calibrated_probability(tmp_path: Path) -> None:
    file = CalibrationFile.model_validate(_file())
    calibration = RunCalibration(
        tmp_path / "c.json", file, "0" * 64, {"dlib": file.models[0]}, None
    )
    score = _pair_score(_Spec(), "dlib", -0.5, calibration)  # distance 0.5: slope 10, 5
    assert score.probability == pytest.approx(0.5)
    assert _score_text(score)["score"] == "0.500 (P(same) 50.0%)"
    plain = _pair_score(_Spec(), "dlib", -0.5)
    assert plain.probability is None and _score_text(plain)["score"] == "0.500"
    at = RunCalibration(tmp_path / "c.json", file, "0" * 64, {"dlib": file.models[0]}, 0.01)
    assert at.probability("dlib", np.array([-0.5]))[0] < 0.5 and at.prior_of("dlib") == 0.01


def test_reliability_figure_is_written(tmp_path: Path) -> None:
    rows = [{"model": "dlib", "set": name, **_quality(0.3)} for name in ("ordinary", "young_women")]
    path = calibration_view.write_reliability_figure(rows, tmp_path / "reliability.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    svg = calibration_view.write_reliability_figure(rows, tmp_path / "reliability.svg")
    text = svg.read_text(encoding="utf-8")
    assert "young_women" in text and "perfect" in text
