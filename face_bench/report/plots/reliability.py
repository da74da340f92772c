"""reliability: what a calibration map claims against what happened, one panel per model.

Each set (held-out people, another subset, a ``--by`` group) is a line through its bins:
x the mean probability the map gave the bin's pairs, y the rate of genuine pairs observed
there; the marker's area grows with the bin's pair count and the count is written beside
it, so a bin of 3 pairs does not read like one of 3,000. The diagonal is a perfect map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_bench.report.plots.style import new_figure, note_cjk


@dataclass(frozen=True)
class ReliabilityCurve:
    """One set's bins: (mean probability, observed rate, pairs), empty bins left out."""

    model: str
    label: str
    mean_probability: tuple[float, ...]
    observed_rate: tuple[float, ...]
    n_pairs: tuple[int, ...]


def plot_reliability(curves: Sequence[ReliabilityCurve], path: str | Path) -> Path:
    """One panel per model, one line per set, the diagonal for reference."""
    models = list(dict.fromkeys(c.model for c in curves))
    texts = [*models, *(c.label for c in curves)]
    note_cjk(texts)
    width = 4.2 * max(1, len(models))
    with new_figure(path, width, 4.4, texts) as fig:
        axes = np.atleast_1d(fig.subplots(1, max(1, len(models)), squeeze=False)[0])
        for ax, model in zip(axes, models, strict=False):
            ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1, label="perfect")
            for curve in (c for c in curves if c.model == model):
                counts = np.asarray(curve.n_pairs, dtype=float)
                sizes = 12 + 120 * np.sqrt(counts / max(counts.max(), 1.0))
                line = ax.plot(curve.mean_probability, curve.observed_rate, linewidth=1.2,
                               label=curve.label)[0]  # fmt: skip
                ax.scatter(curve.mean_probability, curve.observed_rate, s=sizes,
                           color=line.get_color(), alpha=0.6, zorder=3)  # fmt: skip
                for x, y, n in zip(curve.mean_probability, curve.observed_rate, curve.n_pairs,
                                   strict=True):  # fmt: skip
                    ax.annotate(f"{n:,}", (x, y), textcoords="offset points", xytext=(4, -9),
                                fontsize=6, color=line.get_color())  # fmt: skip
            ax.set(xlim=(0, 1), ylim=(0, 1), title=model, aspect="equal")
            ax.set_xlabel("P(same person) given (bin mean)")
            ax.set_ylabel("same-person rate observed")
            ax.legend(fontsize=7, loc="upper left")
    return Path(path)
