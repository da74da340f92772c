"""Figures read against a threshold: metric sweep and score histograms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from face_bench.report.plots.style import (
    TITLE_WIDTH,
    as_array,
    check_same_length,
    label_colors,
    new_figure,
    note_cjk,
    panel_grid,
    panel_size,
    shown,
    thin_indices,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

# Colour is the model's everywhere; within a sweep panel the metrics differ by line style
# and width (F1, prevalence-dependent, the thick one), in a histogram the classes by fill.
_METRIC_STYLES = {
    "precision": {"linestyle": "--", "linewidth": 1.5},
    "recall": {"linestyle": ":", "linewidth": 2.0},
    "F1": {"linestyle": "-", "linewidth": 2.4},
    "accuracy": {"linestyle": "-.", "linewidth": 1.3},
}
_IMPOSTOR_EDGE = "#333333"
_MARKER_STYLES = (("default", "--"), ("f1", ":"), ("eer", "-."))
_EXTRA_MARKER_STYLES = ((0, (5, 2, 1, 2, 1, 2)), (0, (1, 4)), (0, (8, 3)))


class Marker(NamedTuple):
    """A threshold worth pointing at (default, F1-optimal, EER), in the model's units."""

    name: str
    threshold: float
    f1: float | None = None


@dataclass(frozen=True)
class SweepPanel:
    """Metrics of one model over its own threshold range.

    ``lower_is_same`` only adds a hint to the axis label, since a distance and a
    similarity read in opposite directions.
    """

    model: str
    units: str
    threshold: ArrayLike
    precision: ArrayLike
    recall: ArrayLike
    f1: ArrayLike
    accuracy: ArrayLike
    markers: Sequence[Marker | tuple[Any, ...]] = ()
    lower_is_same: bool | None = None


@dataclass(frozen=True)
class ScorePanel:
    """Genuine and impostor scores of one model, in the model's own units."""

    model: str
    units: str
    genuine: ArrayLike
    impostor: ArrayLike
    markers: Sequence[Marker | tuple[Any, ...]] = ()
    lower_is_same: bool | None = None


# -------------------------------------------------------------------- markers


def _markers(raw: Sequence[Marker | tuple[Any, ...]]) -> list[Marker]:
    return [m if isinstance(m, Marker) else Marker(*m) for m in raw]


def _marker_style(name: str, extra: int) -> Any:
    key = name.lower()
    for fragment, style in _MARKER_STYLES:
        if fragment in key:
            return style
    return _EXTRA_MARKER_STYLES[extra % len(_EXTRA_MARKER_STYLES)]


def _threshold_decimals(markers: Sequence[Marker]) -> int:
    """Two decimals for round values like 0.60, more when needed to show the value or
    to keep distinct markers from looking equal."""
    values = [float(m.threshold) for m in markers]
    for decimals in (2, 3):
        exact = all(abs(v - round(v, decimals)) < 1e-9 for v in values)
        distinct = len({f"{v:.{decimals}f}" for v in values}) == len(set(values))
        if exact and distinct:
            return decimals
    return 3 if len({f"{v:.3f}" for v in values}) == len(set(values)) else 4


def _draw_markers(ax: Axes, markers: Sequence[Marker]) -> None:
    decimals = _threshold_decimals(markers)
    f1s = [float(m.f1) for m in markers if m.f1 is not None and np.isfinite(m.f1)]
    # A third decimal only when two different F1 values would otherwise read the same.
    f1_decimals = 2 if len({f"{f:.2f}" for f in f1s}) == len(set(f1s)) else 3
    extra = 0
    for m in markers:
        style = _marker_style(m.name, extra)
        if style in _EXTRA_MARKER_STYLES:
            extra += 1
        label = f"{shown(m.name)} {m.threshold:.{decimals}f}"
        if m.f1 is not None and np.isfinite(m.f1):
            label += f" (F1 {m.f1:.{f1_decimals}f})"
        ax.axvline(m.threshold, color="#222222", linestyle=style, linewidth=1.5, label=label)


def _axis_units(units: str, lower_is_same: bool | None) -> str:
    if lower_is_same is None:
        return shown(units)
    return f"{shown(units)} ({'lower' if lower_is_same else 'higher'} = same person)"


def _legend_below(ax: Axes, ncol: int = 2) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, frameon=False)


# -------------------------------------------------------------------- sweep


def _label_panel(ax, panel, colors: Mapping[str, str], ylabel: str) -> None:
    """Axis labels in the model's units, the model as a coloured title, legend below."""
    ax.set_xlabel(_axis_units(panel.units, panel.lower_is_same))
    ax.set_ylabel(ylabel)
    ax.set_title(shown(panel.model), color=colors[panel.model], fontweight="bold")
    _legend_below(ax)


def plot_sweep(
    panels: Sequence[SweepPanel],
    path: str | Path,
    title: str = "Threshold sweep",
    *,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """Precision, recall, F1 and accuracy against each model's own threshold.

    One panel per model because thresholds are not comparable across models (a
    Euclidean distance vs a cosine similarity). Metric arrays are fractions aligned
    with ``threshold``; NaN (e.g. precision with nothing accepted) leaves a gap.
    """
    if not panels:
        raise ValueError("plot_sweep needs at least one panel")
    colors = label_colors([p.model for p in panels], model_colors)
    note_cjk([title, *(p.model for p in panels), *(p.units for p in panels)])
    with new_figure(path, *panel_size(len(panels), 5.8, 5.6)) as fig:
        for ax, panel in zip(panel_grid(fig, len(panels)), panels, strict=True):
            threshold = as_array(panel.threshold, f"{panel.model} threshold")
            series = {
                "precision": as_array(panel.precision, f"{panel.model} precision"),
                "recall": as_array(panel.recall, f"{panel.model} recall"),
                "F1": as_array(panel.f1, f"{panel.model} f1"),
                "accuracy": as_array(panel.accuracy, f"{panel.model} accuracy"),
            }
            check_same_length(panel.model, threshold, *series.values())
            order = np.argsort(threshold, kind="stable")
            threshold = threshold[order]
            keep = thin_indices([threshold, *(v[order] for v in series.values())])
            for name, values in series.items():
                ax.plot(
                    threshold[keep],
                    values[order][keep],
                    color=colors[panel.model],
                    label=name,
                    **_METRIC_STYLES[name],
                )
            _draw_markers(ax, _markers(panel.markers))
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlim(threshold[0], threshold[-1])
            _label_panel(ax, panel, colors, "Metric value")
        fig.suptitle(shown(title, TITLE_WIDTH))
    return Path(path)


# ---------------------------------------------------------------- histograms


def _densities(panel: ScorePanel, bins: int) -> tuple[np.ndarray, dict, dict[str, int]]:
    """Bin edges shared by both classes (so their densities compare), each non-empty
    class's density, genuine first, and its count of finite scores."""
    scores = {}
    for name in ("genuine", "impostor"):
        values = np.asarray(getattr(panel, name), dtype=float).ravel()
        scores[name] = values[np.isfinite(values)]
    both = np.concatenate(list(scores.values()))
    if both.size == 0:
        raise ValueError(f"{panel.model}: no finite scores")
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counted = {name: v for name, v in scores.items() if v.size}
    densities = {name: np.histogram(v, bins=edges, density=True)[0] for name, v in counted.items()}
    return edges, densities, {name: v.size for name, v in counted.items()}


def _draw_densities(ax, edges, densities, sizes, color: str, floor: float | None) -> None:
    """Genuine filled in the model's colour, impostor hatched; ``floor`` (log axis only) is
    where empty bins sit, since a density of 0 has no place on it."""
    base = 0.0 if floor is None else floor
    for name, density in densities.items():
        values = density if floor is None else np.maximum(density, floor)
        label = f"{name} pairs (n={sizes[name]:,})"
        if name == "genuine":
            ax.stairs(values, edges, baseline=base, fill=True, alpha=0.45, color=color,
                      label=label)  # fmt: skip
            ax.stairs(values, edges, baseline=base, color=color, linewidth=1.2)
        else:
            ax.stairs(values, edges, baseline=base, fill=False, hatch="///",
                      color=_IMPOSTOR_EDGE, linewidth=1.2, label=label)  # fmt: skip


def _name_markers(ax: Axes, markers: Sequence[Marker]) -> None:
    """Each threshold's name and value written along its line, at the top of the axes."""
    decimals = _threshold_decimals(markers)
    for i, m in enumerate(sorted(markers, key=lambda m: m.threshold)):
        ax.text(
            m.threshold,
            0.98 - 0.3 * (i % 2),  # close thresholds: labels at two heights
            f" {shown(m.name)} {m.threshold:.{decimals}f}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="left",
            va="top",
            fontsize=8.5,
            color="#222222",
            parse_math=False,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0},
        )


def _histogram_axes(fig, n: int, log_density: bool) -> list[tuple[Axes, Axes | None]]:
    """Per model its linear-density axes and, below it, the log-density one (or None)."""
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    rows = 2 if log_density else 1
    ratios = [1.0, 0.8] * nrows if log_density else None
    grid = fig.subplots(nrows * rows, ncols, squeeze=False, height_ratios=ratios)
    pairs = []
    for k in range(nrows * ncols):
        r, c = divmod(k, ncols)
        top, low = grid[r * rows][c], grid[r * rows + 1][c] if log_density else None
        if k >= n:
            for ax in (top, low):
                if ax is not None:
                    ax.set_visible(False)
            continue
        if low is not None:
            low.sharex(top)
        pairs.append((top, low))
    return pairs


def plot_score_histograms(
    panels: Sequence[ScorePanel],
    path: str | Path,
    title: str = "Genuine vs impostor scores",
    *,
    bins: int = 80,
    log_density: bool = True,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """Genuine and impostor score densities per model, with its thresholds marked and named.

    The overlap of the two shapes is where errors happen; bins are shared within a panel
    so the two densities are comparable. On a linear axis the impostor tail past a
    threshold (the false matches) is too thin to see, so ``log_density`` adds below each
    panel the same densities on a log axis.
    """
    if not panels:
        raise ValueError("plot_score_histograms needs at least one panel")
    colors = label_colors([p.model for p in panels], model_colors)
    note_cjk([title, *(p.model for p in panels), *(p.units for p in panels)])
    width, height = panel_size(len(panels), 5.8, 8.6 if log_density else 4.9)
    with new_figure(path, width, height) as fig:
        axes = _histogram_axes(fig, len(panels), log_density)
        for (top, low), panel in zip(axes, panels, strict=True):
            edges, densities, sizes = _densities(panel, bins)
            markers = _markers(panel.markers)
            color = colors[panel.model]
            _draw_densities(top, edges, densities, sizes, color, None)
            _draw_markers(top, markers)
            _name_markers(top, markers)
            if low is None:
                _label_panel(top, panel, colors, "Density")
                continue
            positive = [d[d > 0].min() for d in densities.values() if (d > 0).any()]
            floor = min(positive, default=1e-3) / 3
            _draw_densities(low, edges, densities, sizes, color, floor)
            _draw_markers(low, markers)
            low.set_yscale("log")
            low.set_ylim(floor, max(float(d.max()) for d in densities.values()) * 3)
            top.set_ylabel("Density")
            top.set_title(shown(panel.model), color=color, fontweight="bold")
            _label_panel(low, panel, colors, "Density, log scale")
            low.set_title("")
        fig.suptitle(shown(title, TITLE_WIDTH))
    return Path(path)
