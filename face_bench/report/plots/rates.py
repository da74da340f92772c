"""FMR and FNMR against the threshold: where a threshold puts both error rates, per subset.

The threshold sweep CSV has every value; this is its picture (bob's ``bob bio hist`` read
as rates). One panel per model, because thresholds are in each model's own units; colour
is the model, line style the subset, and FMR / FNMR sit in two rows so neither needs a
colour of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from face_bench.report.plots.style import (
    TITLE_WIDTH,
    as_array,
    check_same_length,
    label_colors,
    new_figure,
    note_cjk,
    pct_formatter,
    shown,
    subset_styles,
    thin_indices,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


@dataclass(frozen=True)
class RateCurve:
    """One model on one subset: FMR and FNMR (fractions) at each threshold (model units)."""

    model: str
    subset: str
    units: str
    threshold: ArrayLike
    fmr: ArrayLike
    fnmr: ArrayLike
    default: float | None = None
    lower_is_same: bool | None = None


def plot_error_rates(curves: Sequence[RateCurve], path: str | Path, title: str = "") -> Path:
    """Rows FMR and FNMR (log scale), a column per model; the default threshold dashed."""
    if not curves:
        raise ValueError("plot_error_rates needs at least one curve")
    models = list(dict.fromkeys(c.model for c in curves))
    colors = label_colors(models, None)
    styles = subset_styles([c.subset for c in curves])
    note_cjk([title, *models, *(c.subset for c in curves)])
    ncols = len(models)
    with new_figure(path, 5.2 * ncols + 0.6, 7.4) as fig:
        axes = fig.subplots(2, ncols, squeeze=False, sharex="col")
        for col, model in enumerate(models):
            mine = [c for c in curves if c.model == model]
            for row, (field, name) in enumerate((("fmr", "FMR"), ("fnmr", "FNMR"))):
                ax = axes[row][col]
                _draw_rates(ax, mine, field, colors[model], styles)
                _mark_default(ax, mine[0].default)
                ax.set_ylabel(f"{name} (log scale)")
                if row == 0:
                    ax.set_title(shown(model), color=colors[model], fontweight="bold")
                else:
                    _label_bottom(ax, mine[0])
        if title:
            fig.suptitle(shown(title, TITLE_WIDTH))
    return Path(path)


def _draw_rates(ax, mine: list[RateCurve], field: str, color: str, styles: dict) -> None:
    """One model's ``field`` rate per subset on a log axis reaching just below the smallest
    non-zero rate, since a rate of 0 has no place on a log scale."""
    from matplotlib.ticker import NullFormatter

    model = mine[0].model
    floor = 1.0
    for c in mine:
        thr = as_array(c.threshold, f"{model} threshold")
        rate = as_array(getattr(c, field), f"{model} {field}")
        check_same_length(model, thr, rate)
        order = np.argsort(thr, kind="stable")
        thr, rate = thr[order], rate[order]
        positive = rate[rate > 0]
        if positive.size:
            floor = min(floor, float(positive.min()))
        keep = thin_indices([thr, np.log10(np.clip(rate, 1e-9, None))])
        ax.plot(
            thr[keep],
            np.clip(rate[keep], 1e-9, None),
            color=color,
            linestyle=styles[c.subset],
            label=shown(c.subset),
        )
    ax.set_yscale("log")
    ax.set_ylim(max(floor / 2, 1e-7), 1.2)
    ax.yaxis.set_major_formatter(pct_formatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def _mark_default(ax, default: float | None) -> None:
    """The model's default threshold as a vertical line, so its two error rates read off
    where the line crosses the curves."""
    if default is not None:
        ax.axvline(
            default,
            color="#888888",
            linestyle="-",
            linewidth=1.2,
            label=f"default {default:g}",
        )


def _label_bottom(ax, first: RateCurve) -> None:
    """The threshold's units and direction, and the subsets' legend, under the lower panel
    only, since the two rows share their x axis."""
    hint = ""
    if first.lower_is_same is not None:
        hint = " (lower = same person)" if first.lower_is_same else ""
    ax.set_xlabel(f"threshold, {shown(first.units)}{hint}")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncol=3,
        frameon=False,
        title="line style = subset",
    )
