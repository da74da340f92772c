"""Turn an evaluation into the PNG figures (the drawing itself lives in ``plots``)."""

from __future__ import annotations

from pathlib import Path

from face_bench.core.text import display, unique_slugs

NAME_WIDTH = 40  # names in titles and legends are shortened to this; files keep them whole


def _slug(evaluation, name: str) -> str:
    """The subset's file-name part: distinct for every subset of the run (``x y`` / ``x_y``)."""
    return unique_slugs([s.name for s in evaluation.subsets])[name]


def _label(model: str, subset: str, several: bool) -> str:
    model = display(model, NAME_WIDTH)
    return f"{model} · {display(subset, NAME_WIDTH)}" if several else model


def roc_and_det(evaluation, out: Path) -> list[Path]:
    """roc.png and det.png: one curve per model (and per subset when there are several)."""
    from face_bench.report import plots
    from face_bench.run.analysis import curve_points

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
    title = display(" vs ".join(display(s.name, NAME_WIDTH) for s in evaluation.subsets), 120)
    return [
        plots.plot_roc(roc_curves, out / "roc.png", f"ROC — {title}"),
        plots.plot_det(det_curves, out / "det.png", f"DET — {title}"),
    ]


def sweep_panels(evaluation, subset):
    """One SweepPanel per model of ``subset`` with its marked thresholds."""
    from face_bench.report import plots
    from face_bench.run.analysis import sweep_frame

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
    from face_bench.report import plots

    written = []
    several = len(evaluation.subsets) > 1
    for subset in evaluation.subsets:
        name = f"sweep-{_slug(evaluation, subset.name)}.png" if several else "sweep.png"
        written.append(
            plots.plot_sweep(
                sweep_panels(evaluation, subset),
                out / name,
                f"Threshold sweep — {display(subset.name, NAME_WIDTH)}",
            )
        )
    return written


# ----------------------------------------------------------- report figures


def _metrics_by_model(evaluation, subset_name: str) -> dict:
    run = evaluation.results.subset(subset_name)
    return {m.name: m.metrics for m in run.models}


def roc_per_subset(evaluation, out: Path, colors=None) -> dict[str, Path]:
    """roc-<subset>.png: the models of one subset overlaid, one figure per subset."""
    from face_bench.report import plots
    from face_bench.run.analysis import curve_points

    written = {}
    for subset in evaluation.subsets:
        metrics = _metrics_by_model(evaluation, subset.name)
        curves = []
        for name, scores in subset.scores.items():
            fpr, tpr = curve_points(scores)
            curves.append(plots.RocCurve(name, fpr, tpr, metrics[name]["roc_auc"]))
        written[subset.name] = plots.plot_roc(
            curves,
            out / f"roc-{_slug(evaluation, subset.name)}.png",
            f"ROC — {display(subset.name, NAME_WIDTH)}",
            model_colors=colors,
        )
    return written


def score_histograms(evaluation, out: Path, colors=None) -> dict[str, Path]:
    """scores-<subset>.png: genuine vs impostor scores per model in its own units.

    The default and F1-optimal thresholds are drawn so the overlap they cut is visible.
    """
    import numpy as np

    from face_bench.report import plots

    written = {}
    for subset in evaluation.subsets:
        metrics = _metrics_by_model(evaluation, subset.name)
        panels = []
        for name, ms in subset.scores.items():
            spec = ms.spec
            units = np.asarray(ms.scores, dtype=float) * (-1.0 if spec.distance_like else 1.0)
            labels = np.asarray(ms.labels, dtype=bool)
            m = metrics[name]
            markers = [
                plots.Marker("default", spec.threshold, (m.get("at_default") or {}).get("f1"))
            ]
            best = m.get("best_f1") or {}
            if best.get("threshold") is not None:
                markers.append(plots.Marker("best F1", best["threshold"], best.get("f1")))
            panels.append(
                plots.ScorePanel(
                    model=name,
                    units=spec.units,
                    genuine=units[labels],
                    impostor=units[~labels],
                    markers=markers,
                    lower_is_same=spec.distance_like,
                )
            )
        written[subset.name] = plots.plot_score_histograms(
            panels,
            out / f"scores-{_slug(evaluation, subset.name)}.png",
            f"Genuine vs impostor scores — {display(subset.name, NAME_WIDTH)}",
            model_colors=colors,
        )
    return written


def subset_bars(evaluation, out: Path, colors=None) -> Path | None:
    """subset-rates.png: each subset's FMR and FNMR at one global threshold per model."""
    from face_bench.report import plots

    differentials = evaluation.results.subset_differentials
    if not differentials:
        return None
    rates, thresholds = [], {}
    for model, data in (differentials.get("models") or {}).items():
        data = data.to_dict() if hasattr(data, "to_dict") else data
        if data.get("threshold") is not None:
            thresholds[model] = data["threshold"]
        for row in data.get("subsets", []):
            if row.get("fmr") is None or row.get("fnmr") is None:
                continue
            rates.append(plots.SubsetRate(row["subset"], model, row["fmr"], row["fnmr"]))
    if not rates:
        return None
    return plots.plot_subset_bars(
        rates, out / "subset-rates.png", thresholds=thresholds, model_colors=colors
    )


def umap_figure(projections, out: Path) -> Path:
    """umap.png: one panel per model, points coloured by identity."""
    from face_bench.report import plots

    panels = [plots.EmbeddingPanel(p.model, p.coords, list(p.identities)) for p in projections]
    return plots.plot_umap(panels, out / "umap.png")
