"""The page's context: every table and figure of report.html as plain, formatted data.

Built from a run folder read back (``report.source.RunData``) and the files
``report.render`` wrote; the template only lays it out. Order of the page: the headline
with error counts first, then what qualifies it (differentials, transferred and
cross-validated thresholds, identity concentration), the subsets, and the run's metadata
last.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from face_bench.metrics.catalog import MetricInfo, far_target, metrics_for
from face_bench.report import sections
from face_bench.report.quality import quality_context
from face_bench.report.sections import add_zero_rows
from face_bench.report.text import chance, counts, p_value
from face_bench.results.blocks import ConfidenceInterval
from face_bench.results.contract import ModelRun, RunResults, SubsetRun

if TYPE_CHECKING:
    from face_bench.report.source import RunData

_MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}


# ------------------------------------------------------------- formatting


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _thr(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ci(interval: ConfidenceInterval | None, as_pct: bool) -> str:
    bounds = interval.bounds() if interval is not None else None
    if bounds is None:
        return ""
    show = _pct if as_pct else _num
    return f"95% CI {show(bounds[0])} – {show(bounds[1])}"


def _slugs(names: list[str]) -> dict[str, str]:
    """HTML ids per subset: readable ASCII where possible, unique always."""
    out: dict[str, str] = {}
    for i, name in enumerate(names):
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or f"s{i + 1}"
        while slug in out.values():
            slug = f"{slug}-{i + 1}"
        out[name] = slug
    return out


def _definition(definition: dict[str, list[str]]) -> str:
    if not definition:
        return "every image"
    parts = [
        f"{column} ∈ {{{', '.join(values)}}}"
        for column, values in definition.items()
        if column != "not"
    ]
    if definition.get("not"):
        parts.append("not (" + " and ".join(definition["not"]) + ")")
    return "; ".join(parts)


# ---------------------------------------------------------------- tables


def _mark_best(values: list[float | None], direction: int) -> list[bool]:
    """Which cells hold the better value; nothing is marked for one model or a tie."""
    defined = [v for v in values if v is not None and np.isfinite(v)]
    if len(values) < 2 or len(set(defined)) < 2:
        return [False] * len(values)
    best = max(direction * v for v in defined)
    return [v is not None and np.isfinite(v) and direction * v == best for v in values]


Cell = tuple[float | None, str, str]
"""(value compared for the ▲, text, detail) of one metric of one model."""

# Figures read at a threshold of their own, which the page shows beside them.
_AT_THRESHOLD = ("eer", "best_f1", "f1_at_default")


def _cell(info: MetricInfo, m: ModelRun) -> Cell:
    """One catalog metric of one model, formatted for the page."""
    metrics = m.metrics
    if info.name == "failure_rate":  # what the reader wants is every failure, any policy
        return _failure_cell(m)
    target = far_target(info.name)
    if target is not None:
        point = metrics.tar(target)
        if point is None or point.tar is None:
            return None, "n/a", "too few impostor pairs for this FAR"
        if not point.supported:
            return None, _pct(point.tar), point.reason or "thin evidence"
    value = metrics.value(info.name)
    text = info.text(value, percent=True)
    if info.name in ("fmr_at_default", "fnmr_at_default"):
        return value, text, _at_default_detail(info, m)
    details = []
    if target is not None or info.name in _AT_THRESHOLD:
        details.append(f"at {_thr(metrics.threshold(info.name))}")
    details.append(_ci(metrics.interval(info.name), info.unit == "rate"))
    return value, text, " · ".join(d for d in details if d)


def _failure_cell(m: ModelRun) -> Cell:
    """Every image that failed, whatever the failure policy, since that is what the reader
    wants from this row."""
    rate = m.n_failures / m.n_images_attempted if m.n_images_attempted else None
    detail = _pct(rate) if rate is not None else ""
    return rate, f"{m.n_failures} of {m.n_images_attempted}", detail


def _at_default_detail(info: MetricInfo, m: ModelRun) -> str:
    """The error counts behind FMR or FNMR at the default threshold, so a rate is read with
    its evidence (and an accept-everything threshold is named)."""
    d = m.metrics.at_default
    errors, n = (
        (d.fmr_errors, d.n_impostor)
        if info.name == "fmr_at_default"
        else (d.fnmr_errors, d.n_genuine)
    )
    return counts(errors, n) + (" · accepts every pair" if d.accepts_everything else "")


def _headline(run: SubsetRun, far_targets: list[float]) -> dict[str, Any]:
    """Rows are metrics (the catalog's, in its order), columns models, so the better model
    per metric is easy to mark."""
    rows: list[dict[str, Any]] = []
    everything = {m.name for m in run.models if m.metrics.at_default.accepts_everything}

    def add(info: MetricInfo, cells: list[Cell]) -> None:
        """One row; the ▲ goes the catalog entry's way (``info.direction``), never by default."""
        key, prevalence = info.name, info.prevalence_dependent
        values = [c[0] for c in cells]
        if key.endswith("_at_default"):  # an accept-everything point wins nothing
            values = [
                None if m.name in everything else v for m, v in zip(run.models, values, strict=True)
            ]
        best = [False] * len(cells) if prevalence else _mark_best(values, info.direction)
        rows.append(
            {
                "key": key,
                "label": info.label + (" (prevalence-dependent)" if prevalence else ""),
                "prevalence": prevalence,
                "direction": (
                    "depends on the genuine/impostor mix: not comparable across subsets"
                    if prevalence
                    else f"{info.better} is better"
                ),
                "cells": [
                    {"text": text, "detail": detail, "best": mark}
                    for (_v, text, detail), mark in zip(cells, best, strict=True)
                ],
            }
        )

    for info in metrics_for(far_targets):
        add(info, [_cell(info, m) for m in run.models])
        if info.name == "fnmr_at_default":
            add_zero_rows(run, add)
    return {"models": [m.name for m in run.models], "rows": rows}


def _comparisons(run: SubsetRun) -> list[dict[str, Any]]:
    out = []
    for c in run.comparisons:
        bounds = c.ci.bounds() if c.ci is not None else None
        p = c.delong_p
        se_ratio = None
        if c.bootstrap_std_error is not None and c.delong_std_error:
            se_ratio = f"{c.bootstrap_std_error / c.delong_std_error:.1f}"
        out.append(
            {
                "a": c.model_a,
                "b": c.model_b,
                "auc_a": _num(c.auc_a),
                "auc_b": _num(c.auc_b),
                "diff": "—" if c.auc_difference is None else f"{c.auc_difference:+.4f}",
                "z": "—" if c.delong_z is None else f"{c.delong_z:.2f}",
                "p": p_value(p, c.delong_log10_p),
                # Judged on people: only the identity-bootstrap interval calls a difference.
                "significant": bounds is not None and (bounds[0] > 0 or bounds[1] < 0),
                "ci": f"{bounds[0]:+.4f} – {bounds[1]:+.4f}" if bounds else "",
                "bootstrap_p": None if c.bootstrap_p is None else f"{c.bootstrap_p:.2g}",
                "se_ratio": se_ratio,
            }
        )
    return out


# --------------------------------------------------------------- images


class _Sources:
    """``src`` values for files in the run folder: data URIs, or relative links."""

    def __init__(self, out: Path, self_contained: bool) -> None:
        self.out = out
        self.self_contained = self_contained

    def __call__(self, path: Path | bytes | None) -> str | None:
        if path is None:
            return None
        if isinstance(path, bytes):  # a thumbnail rendered in memory (JPEG)
            return "data:image/jpeg;base64," + base64.b64encode(path).decode("ascii")
        path = Path(path)
        if self.self_contained:
            mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
            return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        return quote(path.relative_to(self.out).as_posix())


def _figure(src: _Sources, path: Path | None, alt: str) -> dict[str, Any] | None:
    """An <img> for PNG and SVG; a PDF cannot be an image, so the page links it."""
    if path is None:
        return None
    name = Path(path).name
    if Path(path).suffix.lower() == ".pdf":
        return {"src": None, "href": quote(name), "alt": alt, "file": name}
    return {"src": src(path), "href": None, "alt": alt, "file": name}


def _score_text(score) -> dict[str, Any]:
    if score.score is None:
        return {"model": score.model, "score": "—", "verdict": "no score"}
    shown = f"{score.score:.3f}"
    if score.probability is not None:
        shown += f" (P(same) {chance(score.probability)})"
    return {
        "model": score.model,
        "score": shown,
        "verdict": "accepted" if score.accepted else "rejected",
    }


def _gallery(
    galleries, thumbs: dict[str, Path | bytes | None], src: _Sources, k: int
) -> list[dict]:
    def card(pair) -> dict[str, Any]:
        return {
            "a": {
                "src": src(thumbs.get(pair.image_a)),
                "identity": pair.identity_a,
                "path": pair.image_a,
            },
            "b": {
                "src": src(thumbs.get(pair.image_b)),
                "identity": pair.identity_b,
                "path": pair.image_b,
            },
            "mine": _score_text(pair.mine),
            "error": pair.error,
            "error_label": (
                ("false reject" if pair.genuine else "false accept") if pair.error else ""
            ),
            "others": [_score_text(o) for o in pair.others],
        }

    out = []
    for g in galleries:
        if g.n_false_accepts:
            impostor_title = (
                f"Most similar impostor pairs: {g.n_false_accepts:,} false accept(s) at "
                f"{g.accept_rule}; the {len(g.impostors)} most similar shown"
            )
        else:
            impostor_title = (
                f"No false accepts at {g.accept_rule}: the {len(g.impostors)} most similar "
                "impostor pairs"
            )
        genuine_title = (
            f"Least similar genuine pairs: {g.n_false_rejects:,} false reject(s) at "
            f"{sections.reject_rule(g.accept_rule)}; the {len(g.genuines)} least similar shown"
        )
        out.append(
            {
                "model": g.model,
                "units": g.units,
                "impostor_title": impostor_title,
                "genuine_title": genuine_title,
                "impostors": [card(p) for p in g.impostors],
                "genuines": [card(p) for p in g.genuines],
            }
        )
    return out


@dataclass
class Files:
    """What the report wrote (or rendered in memory) before the page."""

    written: list[Path]
    figures: dict[str, Any]
    projections: list
    notes: list[str]
    galleries: dict[str, Any]
    thumbs: dict[str, Path | bytes | None]
    timings: dict[str, float]


def _subset_context(run, data: RunData, files: Files, src, slug: str, top_k: int) -> dict:
    figures = files.figures
    subset = run.name
    return {
        "name": subset,
        "slug": slug,
        "definition": _definition(run.definition),
        "pool": run.pool_size,
        "sample": run.sample_size,
        "identities": run.n_identities,
        "genuine": run.pairs.n_genuine,
        "impostor": run.pairs.n_impostor,
        "excluded": run.pairs.excluded_images,
        "without_genuine": run.pairs.identities_without_genuine_pair,
        "notes": run.notes,
        "concentration": sections.concentration(run),
        "headline": _headline(run, data.results.settings.far_targets),
        "perfect": [m.name for m in run.models if m.metrics.roc_auc == 1.0],
        "comparisons": _comparisons(run),
        "cross_validated": sections.cross_validated(run),
        "sweep": _figure(src, figures["sweeps"].get(subset), f"Threshold sweep on {subset}"),
        "scores": _figure(
            src, figures["histograms"].get(subset), f"Genuine and impostor scores on {subset}"
        ),
        "gallery": _gallery(files.galleries[subset], files.thumbs, src, top_k),
        "failures": [
            {"model": m.name, "items": [f.model_dump() for f in m.failures]}
            for m in run.models
            if m.failures
        ],
    }


def _run_context(results: RunResults, data: RunData) -> dict[str, Any]:
    settings = results.settings
    return {
        "dataset": results.dataset.path,
        "dataset_resolved": str(data.dataset_root),
        "dataset_digest": results.dataset.digest[:12],
        "identity_source": results.dataset.identity_source,
        "sample": "all images" if settings.sample is None else f"{settings.sample:,} per subset",
        "seed": settings.seed,
        "pairs": (
            f"pairs from {settings.pairs_file}"
            if settings.pairs_file
            else (f"{settings.pairs:,} random pairs" if settings.pairs else "all pairs")
        ),
        "align": settings.align,
        "multi_face": settings.multi_face,
        "on_fail": settings.on_fail,
        "bootstrap": settings.bootstrap,
        "far_targets": ", ".join(f"{t:g}" for t in settings.far_targets),
        "threshold_from": settings.threshold_from,
        "generated_at": results.volatile.generated_at,
        "version": results.face_bench_version,
        "command": shlex.join(results.volatile.command) if results.volatile.command else "",
        "duration": f"{results.volatile.duration_s:.1f} s",
        "embeddings": [
            {
                "model": m.name,
                "computed": results.volatile.embeddings_computed.get(m.name, 0),
                "cached": results.volatile.embeddings_cached.get(m.name, 0),
            }
            for m in results.models
        ],
    }


def _model_rows(results, colors) -> list[dict[str, Any]]:
    return [
        {
            "name": m.name,
            "color": colors[m.name],
            "backend": m.backend,
            "units": m.units,
            "rule": ("distance ≤ " if m.similarity == "euclidean" else "similarity ≥ ")
            + f"{m.default_threshold:g}",
            "dim": m.embedding_size,
            "sha_short": m.weights_sha256[:12],
            "sha": m.weights_sha256,
            "path": m.weights_path,
            "source": m.source,
            "licence": m.licence,
        }
        for m in results.models
    ]


def _quality_warnings(results: RunResults) -> list[str]:
    """Confound and suspect warnings, at the top of the page beside the other notes."""
    dq = results.data_quality
    return [] if dq is None else [f"{w} (see Data quality)" for w in dq.warnings]


def _skipped(results: RunResults) -> list[str]:
    """One line for the registered models that did not run (weights not found)."""
    if not results.skipped_models:
        return []
    return ["not run: " + "; ".join(results.skipped_models)]


def build_context(data: RunData, out: Path, files: Files, self_contained: bool, top_k: int) -> dict:
    """The page's context: headline first, qualifications, subsets, run metadata last."""
    from face_bench.report import calibration_view, differentials_view, headline, plots

    results = data.results
    colors = plots.model_colors([m.name for m in results.models])
    names = [s.name for s in data.subsets]
    slugs = _slugs(names)
    src = _Sources(out, self_contained)
    figures = files.figures
    subsets = [_subset_context(results.subset(n), data, files, src, slugs[n], top_k) for n in names]
    return {
        "title": "face-bench report — " + " vs ".join(names),
        "self_contained": self_contained,
        "sentences": headline.sentences(results),
        "headline_rows": [r.__dict__ for r in headline.headline_rows(results)],
        "overlaps": [note for s in results.subsets for note in s.notes if "shares" in note],
        "run": _run_context(results, data),
        "models": _model_rows(results, colors),
        "subsets": subsets,
        "several": len(subsets) > 1,
        "det": _figure(src, figures["det"], "DET curves of every model and subset"),
        "roc_all": _figure(src, figures["roc"], "ROC curves of every model and subset"),
        "rates": _figure(src, figures["rates"], "FMR and FNMR against the threshold"),
        "perfect": any(s["perfect"] for s in subsets),
        **_differentials_context(results),
        "significance_rule": differentials_view.SIGNIFICANCE_RULE,
        "calibration": calibration_view.view(results.calibration),
        "matrix": _figure(src, figures["matrix"], "FMR between every two groups"),
        "transfers": sections.transfers(results),
        "quality": quality_context(results.data_quality),
        "bars": _figure(src, figures["bars"], "FMR and FNMR per subset at one global threshold"),
        "umap": _figure(src, figures["umap"], "UMAP projection of each model's embeddings"),
        "projections": _projection_rows(files.projections),
        "top_k": top_k,
        "files": _listed_files(out, files.written),
        "thumbnails": sum(1 for p in files.thumbs.values() if isinstance(p, Path)),
        "notes": files.notes + _skipped(results) + _quality_warnings(results),
    }


def _differentials_context(results: RunResults) -> dict[str, Any]:
    """The differentials' tables, notes and reference (empty or None in a run without
    differentials), together since all three read ``results.differentials``."""
    from face_bench.report import differentials_view

    return {
        "differentials": differentials_view.views(results.differentials),
        "differential_notes": results.differentials.notes if results.differentials else [],
        "differential_reference": results.differentials.reference
        if results.differentials
        else None,
    }


def _projection_rows(projections: list) -> list[dict[str, Any]]:
    """One row per UMAP projection, counting what the figure could and could not place."""
    return [
        {
            "model": p.model,
            "placed": p.n_points,
            "excluded": p.excluded,
            "identities": len(set(p.identities)),
        }
        for p in projections
    ]


def _listed_files(out: Path, written: list[Path]) -> list[str]:
    """The files directly in the report folder, sorted, since the page lists those (not the
    gallery's thumbnails)."""
    return sorted({p.relative_to(out).as_posix() for p in written if p.parent == out})
