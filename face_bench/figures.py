"""Turn an evaluation into the PNG figures (the drawing itself lives in ``plots``)."""

from __future__ import annotations

import re
from pathlib import Path


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name)


def _label(model: str, subset: str, several: bool) -> str:
    return f"{model} · {subset}" if several else model


def roc_and_det(evaluation, out: Path) -> list[Path]:
    """roc.png and det.png: one curve per model (and per subset when there are several)."""
    from face_bench import plots
    from face_bench.analysis import curve_points

    several = len(evaluation.subsets) > 1
    roc_curves, det_curves = [], []
    for subset in evaluation.subsets:
        run = evaluation.results.subset(subset.name)
        metrics = {m.name: m.metrics for m in run.models}
        for name, scores in subset.scores.items():
            fpr, tpr = curve_points(scores)
            label = _label(name, subset.name, several)
            roc_curves.append(plots.RocCurve(label, fpr, tpr, metrics[name]["roc_auc"]))
            det_curves.append(plots.DetCurve(label, fpr, 1.0 - tpr, metrics[name]["eer"]))
    title = " vs ".join(s.name for s in evaluation.subsets)
    return [
        plots.plot_roc(roc_curves, out / "roc.png", f"ROC — {title}"),
        plots.plot_det(det_curves, out / "det.png", f"DET — {title}"),
    ]


def sweep_panels(evaluation, subset):
    """One SweepPanel per model of ``subset`` with its marked thresholds."""
    from face_bench import plots
    from face_bench.analysis import sweep_frame

    run = evaluation.results.subset(subset.name)
    panels = []
    for model in run.models:
        scores = subset.scores[model.name]
        frame = sweep_frame(scores)
        markers = [
            plots.Marker(m["name"], m["threshold"], m["f1"])
            for m in (model.threshold_sweep or {}).get("markers", [])
        ]
        panels.append(
            plots.SweepPanel(
                model=model.name,
                units=scores.spec.units,
                threshold=frame["threshold"].to_numpy(),
                precision=frame["precision"].to_numpy(),
                recall=frame["recall"].to_numpy(),
                f1=frame["f1"].to_numpy(),
                accuracy=frame["accuracy"].to_numpy(),
                markers=markers,
                lower_is_same=scores.spec.distance_like,
            )
        )
    return panels


def sweeps(evaluation, out: Path) -> list[Path]:
    """sweep.png (one subset) or sweep-<subset>.png (several): a panel per model."""
    from face_bench import plots

    written = []
    several = len(evaluation.subsets) > 1
    for subset in evaluation.subsets:
        name = f"sweep-{_safe(subset.name)}.png" if several else "sweep.png"
        written.append(
            plots.plot_sweep(
                sweep_panels(evaluation, subset), out / name, f"Threshold sweep — {subset.name}"
            )
        )
    return written
