"""PNG figures for face-bench reports.

Every function here takes plain arrays and small typed records, draws one figure
and writes it to a PNG path. Nothing is computed for reporting: the numbers in
legends (AUC, EER, F1 at a threshold) arrive from the metrics layer, so a figure
can never disagree with the tables. Curves are only thinned for drawing.

matplotlib is imported lazily so that ``import face_bench.report.plots`` stays cheap for
commands that write no figures. Figures are built with ``Figure`` and the Agg
canvas, never pyplot, and styling is applied through ``rc_context`` so that no
global matplotlib state changes between calls or leaks into a host program.

Modules: ``style`` (rc, fonts, colours, saving, thinning), ``curves`` (ROC, DET), ``limits``
(1/N on log FMR axes), ``rates`` (FMR/FNMR vs threshold), ``thresholds`` (sweep, histograms),
``subsets`` (error rates per subset with their counts), ``embedding`` (UMAP).
"""

from face_bench.report.plots.curves import (
    DetBand,
    DetSeries,
    OperatingMark,
    RocSeries,
    plot_det,
    plot_roc,
)
from face_bench.report.plots.embedding import MAX_LEGEND_IDENTITIES, EmbeddingPanel, plot_umap
from face_bench.report.plots.rates import RateCurve, plot_error_rates
from face_bench.report.plots.style import (
    DPI,
    FIGURE_FORMATS,
    MAX_PLOT_POINTS,
    cjk_font_available,
    model_colors,
    subset_styles,
)
from face_bench.report.plots.subsets import SubsetRate, plot_subset_rates
from face_bench.report.plots.thresholds import (
    Marker,
    ScorePanel,
    SweepPanel,
    plot_score_histograms,
    plot_sweep,
)

__all__ = [
    "DPI",
    "FIGURE_FORMATS",
    "MAX_LEGEND_IDENTITIES",
    "MAX_PLOT_POINTS",
    "DetBand",
    "DetSeries",
    "EmbeddingPanel",
    "Marker",
    "OperatingMark",
    "RateCurve",
    "RocSeries",
    "ScorePanel",
    "SubsetRate",
    "SweepPanel",
    "cjk_font_available",
    "model_colors",
    "plot_det",
    "plot_error_rates",
    "plot_roc",
    "plot_score_histograms",
    "plot_subset_rates",
    "plot_sweep",
    "plot_umap",
    "subset_styles",
]
