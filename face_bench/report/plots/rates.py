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
    from matplotlib.ticker import NullFormatter

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
                        color=colors[model],
                        linestyle=styles[c.subset],
                        label=shown(c.subset),
                    )
                ax.set_yscale("log")
                ax.set_ylim(max(floor / 2, 1e-7), 1.2)
                ax.yaxis.set_major_formatter(pct_formatter())
                ax.yaxis.set_minor_formatter(NullFormatter())
                default = mine[0].default
                if default is not None:
                    ax.axvline(
                        default,
                        color="#888888",
                        linestyle="-",
                        linewidth=1.2,
                        label=f"default {default:g}",
                    )
                ax.set_ylabel(f"{name} (log scale)")
                if row == 0:
                    ax.set_title(shown(model), color=colors[model], fontweight="bold")
                else:
                    hint = ""
                    if mine[0].lower_is_same is not None:
                        hint = " (lower = same person)" if mine[0].lower_is_same else ""
                    ax.set_xlabel(f"threshold, {shown(mine[0].units)}{hint}")
                    ax.legend(
                        loc="upper center",
                        bbox_to_anchor=(0.5, -0.2),
                        ncol=3,
                        frameon=False,
                        title="line style = subset",
                    )
        if title:
            fig.suptitle(shown(title, TITLE_WIDTH))
    return Path(path)
