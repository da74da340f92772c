"""The report's calibration section (``report --calibration FILE``): what the file's maps
claim against what happened, per model and subset, with the reliability bins as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from face_bench.results.calibration_file import CalibrationSection

MEASURES = (("cllr", "Cllr"), ("min_cllr", "minCllr"), ("brier", "Brier"), ("ece", "ECE"))


def _interval(ci: dict[str, Any]) -> str:
    text = f"{ci['estimate']:.3f}"
    if ci.get("lower") is not None and ci.get("upper") is not None:
        text += f" [{ci['lower']:.3f}, {ci['upper']:.3f}]"
    return text


def _bins(quality: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "range": f"{b['lower']:.1f}–{b['upper']:.1f}",
            "n": f"{b['n_pairs']:,}",
            "genuine": f"{b['n_genuine']:,}",
            "said": "—" if b["mean_probability"] is None else f"{b['mean_probability']:.3f}",
            "seen": "—" if b["observed_rate"] is None else f"{b['observed_rate']:.3f}",
        }
        for b in quality["reliability"]
    ]


def view(section: CalibrationSection | None) -> dict[str, Any] | None:
    """Template rows, or None without a calibration file."""
    if section is None:
        return None
    rows = [
        {
            "model": model,
            "subset": subset,
            "prior": f"{q['prior']:.4g}",
            "mean_p": f"{q['mean_probability']:.3f}",
            "observed": f"{q['observed_rate']:.3f}",
            "gap": f"{q['gap']:+.3f}",
            "measures": [_interval(q[key]) for key, _label in MEASURES],
            "bins": _bins(q),
        }
        for model, subsets in section.models.items()
        for subset, q in subsets.items()
    ]
    fitted = section.fitted_on
    return {
        "file": section.file,
        "sha256": section.sha256,
        "fitted_on": f"{fitted.subset} of {fitted.dataset} ({fitted.n_genuine:,} genuine, "
        f"{fitted.n_impostor:,} impostor pairs, {fitted.n_people} people)",
        "prior": "each map's fitting prior" if section.prior is None else f"{section.prior:g}",
        "labels": [label for _key, label in MEASURES],
        "rows": rows,
    }


def write_reliability_figure(rows: list[dict[str, Any]], path: Path) -> Path:
    """``calibrate``'s reliability diagram: rows as ``run.calibrate.summary_rows`` gives them."""
    from face_bench.report.plots.reliability import ReliabilityCurve, plot_reliability

    curves = []
    for row in rows:
        used = [b for b in row["reliability"] if b["n_pairs"]]
        curves.append(
            ReliabilityCurve(
                model=row["model"],
                label=row["set"],
                mean_probability=tuple(b["mean_probability"] for b in used),
                observed_rate=tuple(b["observed_rate"] for b in used),
                n_pairs=tuple(b["n_pairs"] for b in used),
            )
        )
    return plot_reliability(curves, path)
