"""FMR resolution limits on log axes: N impostor pairs cannot show an FMR below 1/N.

A curve point with FMR = 0 has no place on a log (or normal-deviate) axis; clipping it to the
axis edge draws a flat line that looks like data. ROC and DET curves stop at 1/N instead, and
a dotted line labelled with it says where the pairs' resolution ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class FmrLimit(NamedTuple):
    """One FMR resolution limit to mark: 1/N for the curves scored on the same N impostors."""

    fmr: float
    color: str
    label: str


_LIMIT_GREY = "#444444"
_LIMIT_LEGEND = "1/N: smallest FMR that N impostor pairs show"


def fmr_limit(fmr: np.ndarray, n_impostor: int | None) -> float | None:
    """1/N: below it (FMR = 0) a log axis has nothing to draw. Without N, the smallest
    positive FMR given stands in; None when the curve has none."""
    if n_impostor:
        return 1.0 / n_impostor
    positive = fmr[fmr > 0]
    return float(positive.min()) if positive.size else None


def fmr_limits(curves, arrays, colors) -> list[FmrLimit]:
    """One limit per distinct N: in the model's colour when a single model has it, grey when
    several share it; named after its subset (or model) when the figure has several."""
    groups: dict[float, list] = {}
    for c, (fmr, _) in zip(curves, arrays, strict=True):
        limit = fmr_limit(fmr, c.n_impostor)
        if limit is not None:
            groups.setdefault(limit, []).append(c)
    limits = []
    for limit, members in sorted(groups.items()):
        models = {c.model or c.label for c in members}
        subsets = {c.subset for c in members}
        text = f"1/N = {limit * 100:.2g}%"
        if members[0].n_impostor:
            text += f" (N = {members[0].n_impostor:,})"
        if len(groups) > 1 and len(subsets) == 1 and members[0].subset:
            text += f" · {members[0].subset}"
        elif len(groups) > 1 and len(models) == 1:
            text += f" · {members[0].model or members[0].label}"
        color = colors[members[0].label] if len(models) == 1 else _LIMIT_GREY
        limits.append(FmrLimit(limit, color, text))
    return limits


def draw_limits(ax, limits: Sequence[FmrLimit], x_of, x_lo: float) -> None:
    """A dotted vertical line at each 1/N, labelled along it on its empty (left) side."""
    for i, limit in enumerate(limits):
        if limit.fmr <= x_lo:
            continue
        x = x_of(limit.fmr)
        ax.axvline(x, color=limit.color, linestyle=":", linewidth=1.5, zorder=1.5)
        ax.text(
            x,
            0.985 - 0.49 * (i % 2),  # neighbouring labels at two heights
            limit.label,
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="right",
            va="top",
            fontsize=8,
            color=limit.color,
            parse_math=False,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0},
        )
    if limits:
        ax.plot([], [], color=_LIMIT_GREY, linestyle=":", linewidth=1.5, label=_LIMIT_LEGEND)


def log_low(limits: Sequence[FmrLimit], default: float) -> float:
    """Half of the smallest 1/N, so its line never sits on the axis edge."""
    return min((limit.fmr / 2 for limit in limits), default=default)
