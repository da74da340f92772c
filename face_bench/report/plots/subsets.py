"""subset-rates: FMR and FNMR per subset at each model's global threshold, with their counts.

A rate from 3 errors in 400 pairs and one from 300 in 40,000 read alike as bars; here each is
a point with its exact 95% interval as whiskers and ``errors/pairs`` written beside it. No
errors is a bound, not a zero: an open triangle at the one-sided 95% upper bound (the rule of
three), pointing down, labelled ``0/pairs`` and ``≤ bound``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from face_bench.metrics.rates import error_rate_interval
from face_bench.report.plots.style import (
    TITLE_WIDTH,
    label_colors,
    new_figure,
    note_cjk,
    pct_formatter,
    shown,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


Interval = tuple[float | None, float | None]


class SubsetRate(NamedTuple):
    """Error rates (fractions) of one model on one group at its one threshold, with the
    counts behind them (None: unknown, drawn without an interval) and, where the results
    give them, their identity-bootstrap intervals, drawn instead of the exact binomial one
    (pairs that share a person are not independent)."""

    subset: str
    model: str
    fmr: float
    fnmr: float
    fmr_errors: int | None = None
    n_impostor: int | None = None
    fnmr_errors: int | None = None
    n_genuine: int | None = None
    fmr_interval: Interval | None = None
    fnmr_interval: Interval | None = None


class _Point(NamedTuple):
    """One drawn rate: where, its interval (a bound when ``bound``), and its label."""

    x: float
    rate: float
    lower: float
    upper: float
    bound: bool
    label: str


_GREY = "#555555"
_LEGEND_POINT = "rate, 95% interval (errors/pairs beside it)"
_LEGEND_BOUND = "no errors: one-sided 95% upper bound"
_ANNOTATE_UP_TO = 24  # points per panel that still leave room for their labels


def _short(rate: float) -> str:
    """Two significant digits: the interval beside it is wider than any third."""
    return f"{rate * 100:.2g}%"


def _point(
    x: float, rate: float, errors: int | None, n: int | None, given: Interval | None = None
) -> _Point:
    """The point of one rate; the counts give its label, and its interval unless one is given."""
    if errors is None or not n:
        return _Point(x, rate, rate, rate, False, "0" if rate == 0 else _short(rate))
    lower, upper = error_rate_interval(errors, n)
    if given is not None and given[0] is not None and given[1] is not None:
        lower, upper = given
    if errors == 0:
        return _Point(x, upper, 0.0, upper, True, f"0/{n:,} ≤ {_short(upper)}")
    return _Point(x, errors / n, lower, upper, False, f"{errors:,}/{n:,} = {_short(errors / n)}")


def _points(rates: Sequence[SubsetRate], metric: str, subsets, models) -> dict[str, list]:
    """Each model's points of ``metric`` ('fmr' or 'fnmr'), side by side within a subset."""
    table = {(r.subset, r.model): r for r in rates}
    width = 0.8 / len(models)
    counts = {"fmr": ("fmr_errors", "n_impostor"), "fnmr": ("fnmr_errors", "n_genuine")}[metric]
    out: dict[str, list] = {}
    for j, model in enumerate(models):
        out[model] = []
        for i, subset in enumerate(subsets):
            r = table.get((subset, model))
            rate = None if r is None else getattr(r, metric)
            if rate is None or not math.isfinite(rate):
                continue
            errors, n = (getattr(r, name) for name in counts)
            given = r.fmr_interval if metric == "fmr" else r.fnmr_interval
            out[model].append(_point(i - 0.4 + width * (j + 0.5), rate, errors, n, given))
    return out


def _log_range(points: Sequence[_Point]) -> tuple[float, float]:
    """(floor, top) of the shared log axis: below every drawn value, two decades at least."""
    values = [v for p in points for v in (p.rate, p.lower, p.upper) if v > 0]
    floor = 10.0 ** math.floor(math.log10(min(values, default=1e-3) / 3))
    top = min(max(values, default=floor * 10) * 4, 1.0)
    return min(floor, 10.0 ** math.floor(math.log10(top / 100))), top


def _draw_point(ax: Axes, p: _Point, color: str, floor: float, label: bool, top: float) -> None:
    """A point with whiskers, or an open downward triangle at a bound; its label beside it."""
    y = max(p.rate, floor)
    if p.bound:
        ax.plot([p.x, p.x], [floor, y], color=color, linewidth=1.2, linestyle=(0, (2, 2)))
        ax.plot(p.x, y, marker="v", markersize=8, color=color, markerfacecolor="white",
                markeredgewidth=1.6, linestyle="none", zorder=4)  # fmt: skip
    else:
        below, above = y - max(p.lower, floor), max(p.upper - y, 0.0)
        ax.errorbar(p.x, y, yerr=[[below], [above]], color=color, marker="o", markersize=6,
                    capsize=3, linewidth=1.4, markeredgecolor="white", zorder=4)  # fmt: skip
    if label:
        # Upwards from points in the lower half of the axis, downwards from the upper half.
        low_half = math.log10(y / floor) < math.log10(top / floor) / 2
        ax.annotate(
            p.label,
            (p.x, y),
            xytext=(5, 0),
            textcoords="offset points",
            rotation=90,
            ha="left",
            va="bottom" if low_half else "top",
            fontsize=7.5,
            color="#222222",
            parse_math=False,
        )


@dataclass(frozen=True)
class _Layout:
    """What both panels share: order, colours, points and the log axis."""

    subsets: list[str]
    models: list[str]
    colors: dict[str, str]
    points: dict[str, dict[str, list[_Point]]]  # metric -> model -> points
    floor: float
    top: float


def _layout(rates, model_colors, title: str) -> _Layout:
    rates = [r if isinstance(r, SubsetRate) else SubsetRate(*r) for r in rates]
    if not rates:
        raise ValueError("plot_subset_rates needs at least one rate")
    subsets = list(dict.fromkeys(r.subset for r in rates))
    models = list(dict.fromkeys(r.model for r in rates))
    note_cjk([title, *subsets, *models])
    points = {metric: _points(rates, metric, subsets, models) for metric in ("fmr", "fnmr")}
    floor, top = _log_range([p for by in points.values() for ps in by.values() for p in ps])
    return _Layout(subsets, models, label_colors(models, model_colors), points, floor, top)


def _panel(ax: Axes, layout: _Layout, metric: str, title: str) -> None:
    from matplotlib.ticker import NullFormatter

    annotate = len(layout.subsets) * len(layout.models) <= _ANNOTATE_UP_TO
    for model, points in layout.points[metric].items():
        for p in points:
            _draw_point(ax, p, layout.colors[model], layout.floor, annotate, layout.top)
    ax.set_yscale("log")
    ax.set_ylim(layout.floor, layout.top)
    ax.yaxis.set_major_formatter(pct_formatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(-0.5, len(layout.subsets) - 0.5)
    ax.set_xticks(np.arange(len(layout.subsets)), [shown(s) for s in layout.subsets])
    for edge in np.arange(len(layout.subsets) - 1) + 0.5:  # subsets apart
        ax.axvline(edge, color="#cccccc", linewidth=0.8)
    ax.set_title(title)
    ax.set_xlabel("Subset")
    ax.grid(True, axis="y", which="major")
    ax.grid(False, axis="x")


def plot_subset_rates(
    rates: Sequence[SubsetRate | tuple],
    path: str | Path,
    title: str = "Error rates per subset at the global threshold",
    *,
    thresholds: Mapping[str, float] | None = None,
    model_colors: Mapping[str, str] | None = None,
) -> Path:
    """FMR and FNMR per subset, a point per model with its exact 95% interval, log scale.

    Shows whether one global threshold treats subsets (e.g. ``ordinary`` vs
    ``young_women``) alike, and how many pairs each rate rests on. ``thresholds``
    (model -> value) goes into the legend.
    """
    from matplotlib.lines import Line2D

    layout = _layout(rates, model_colors, title)
    width = max(9.0, 2.4 + 1.5 * len(layout.subsets) * 2 * max(1, len(layout.models) / 2))
    with new_figure(path, min(width, 30.0), 5.6, [title, *layout.subsets, *layout.models]) as fig:
        axes = fig.subplots(1, 2, sharey=True)
        _panel(axes[0], layout, "fmr", "False match rate (FMR)")
        _panel(axes[1], layout, "fnmr", "False non-match rate (FNMR)")
        axes[0].set_ylabel("Rate (log scale)")
        handles = []
        for model in layout.models:
            label = shown(model)
            if thresholds and model in thresholds:
                label = f"{label} @ {thresholds[model]:.3g}"
            handles.append(Line2D([], [], color=layout.colors[model], marker="o", label=label))
        handles.append(Line2D([], [], color=_GREY, marker="o", label=_LEGEND_POINT))
        bounds = [p for by in layout.points.values() for ps in by.values() for p in ps]
        if any(p.bound for p in bounds):
            handles.append(Line2D([], [], color=_GREY, marker="v", markerfacecolor="white",
                                  linestyle=(0, (2, 2)), label=_LEGEND_BOUND))  # fmt: skip
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=min(len(handles), 3),
            title="Model at its global threshold" if thresholds else "Model",
        )
        fig.suptitle(shown(title, TITLE_WIDTH))
    return Path(path)
