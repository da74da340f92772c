"""The comparison report: one HTML page holding every figure and table of a run.

Everything is computed from one ``Evaluation`` (nothing re-embedded), written beside
``results.json`` so the page and the machine-readable numbers always agree. The page
needs no network: images are embedded as data URIs by default, or linked relatively
so the folder can be moved as a whole. Every name and path reaches the HTML through
Jinja's autoescaping, since identities and file names come from user data.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from face_bench.report.text import p_value
from face_bench.results.contract import METRIC_DIRECTIONS, RunResults, far_key, flatten_metrics

REPORT_NAME = "report.html"
UMAP_MESSAGE = "projecting with UMAP (first use compiles numba, 10-20 s)"
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

Say = Callable[[str], None]


@dataclass
class ReportOutput:
    """What ``write_report`` produced."""

    html: Path
    written: list[Path]
    projections: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------- UMAP


def project_models(evaluation, say: Say | None = None, pool=None) -> tuple[list, list[str]]:
    """A UMAP layout per model over every sampled image, and a note per model left out.

    With ``pool`` (an executor) the layouts are only submitted, and the returned list holds
    futures; ``collect_projections`` waits for them. ``write_report`` uses this to let
    UMAP's numba compilation run on the second core while the figures are drawn.
    """
    from face_bench.report.projection import TooFewPointsError, project_umap

    (say or (lambda _m: None))(UMAP_MESSAGE)
    identities = evaluation.images["identity"].to_numpy()
    seed = evaluation.results.settings.seed
    projections, notes = [], []
    for name, embeddings in evaluation.embeddings.items():
        if pool is not None:
            projections.append(
                pool.submit(project_umap, embeddings.vectors, identities, model=name, seed=seed)
            )
            continue
        try:
            projections.append(project_umap(embeddings.vectors, identities, model=name, seed=seed))
        except TooFewPointsError as exc:
            notes.append(str(exc))
    return projections, notes


def collect_projections(futures: list) -> tuple[list, list[str]]:
    """Results of submitted layouts, with a note for each model that had too few points."""
    from face_bench.report.projection import TooFewPointsError

    projections, notes = [], []
    for future in futures:
        try:
            projections.append(future.result())
        except TooFewPointsError as exc:
            notes.append(str(exc))
    return projections, notes


def write_umap_csv(evaluation, projections, path: Path) -> Path:
    """One row per placed image: model, image, identity, x, y."""
    from face_bench.core.io import atomic_write_text

    paths = evaluation.images["path"].to_numpy()
    frames = [
        pd.DataFrame(
            {
                "model": p.model,
                "image": paths[p.rows],
                "identity": p.identities,
                "x": p.coords[:, 0],
                "y": p.coords[:, 1],
            }
        )
        for p in projections
    ]
    table = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["model", "image", "identity", "x", "y"])
    )
    from face_bench.core.text import spreadsheet_frame

    table = spreadsheet_frame(table)  # names are data: no cell may run as a formula
    atomic_write_text(path, table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    return path


def write_umap(evaluation, out: Path, say: Say | None = None) -> tuple[list[Path], list, list[str]]:
    """umap.png and umap.csv in ``out``; raises when no model has enough embedded images."""
    from face_bench.report import figures
    from face_bench.report.projection import TooFewPointsError

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    projections, notes = project_models(evaluation, say)
    if not projections:
        raise TooFewPointsError("; ".join(notes))
    written = [figures.umap_figure(projections, out), out / "umap.csv"]
    write_umap_csv(evaluation, projections, written[1])
    return written, projections, notes


# ------------------------------------------------------------- formatting


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _thr(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ci(metrics: dict, key: str, as_pct: bool) -> str:
    ci = (metrics.get("ci") or {}).get(key) or {}
    if ci.get("lower") is None or ci.get("upper") is None:
        return ""
    show = _pct if as_pct else _num
    return f"95% CI {show(ci['lower'])} – {show(ci['upper'])}"


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


def _headline(run, far_targets: list[float]) -> dict[str, Any]:
    """Rows are metrics, columns models, so the better model per metric is easy to mark."""
    flat = {m.name: flatten_metrics(m.metrics) for m in run.models}
    rows: list[dict[str, Any]] = []

    def add(key: str, label: str, cells: list[tuple[float | None, str, str]]) -> None:
        direction = METRIC_DIRECTIONS.get(key, +1)  # only TAR at an unusual FAR is missing
        best = _mark_best([c[0] for c in cells], direction)
        rows.append(
            {
                "key": key,
                "label": label,
                "direction": "higher is better" if direction > 0 else "lower is better",
                "cells": [
                    {"text": text, "detail": detail, "best": mark}
                    for (_v, text, detail), mark in zip(cells, best, strict=True)
                ],
            }
        )

    add(
        "roc_auc",
        "ROC-AUC",
        [
            (
                flat[m.name]["roc_auc"],
                _num(m.metrics.get("roc_auc")),
                _ci(m.metrics, "roc_auc", False),
            )
            for m in run.models
        ],
    )
    add(
        "eer",
        "EER",
        [
            (
                flat[m.name]["eer"],
                _pct(m.metrics.get("eer")),
                " · ".join(
                    t
                    for t in (
                        f"at {_thr(m.metrics.get('eer_threshold'))}",
                        _ci(m.metrics, "eer", True),
                    )
                    if t
                ),
            )
            for m in run.models
        ],
    )
    for target in far_targets:
        key = far_key(target)
        cells = []
        for m in run.models:
            point = next(
                (p for p in m.metrics.get("tar_at_far", []) if p["far_target"] == target), None
            )
            if point is None or not point.get("supported"):
                cells.append((None, "n/a", "too few impostor pairs for this FAR"))
                continue
            detail = " · ".join(
                t for t in (f"at {_thr(point.get('threshold'))}", _ci(m.metrics, key, True)) if t
            )
            cells.append((flat[m.name].get(key), _pct(point["tar"]), detail))
        add(key, f"TAR @ FAR {target:g}", cells)
    for key, label, block in (
        ("f1_at_default", "F1 at the default threshold", "at_default"),
        ("best_f1", "F1 at the best threshold", "best_f1"),
    ):
        points = {m.name: m.metrics.get(block) or {} for m in run.models}
        add(
            key,
            label,
            [
                (
                    flat[m.name][key],
                    _num(points[m.name].get("f1"), 3),
                    f"at {_thr(points[m.name].get('threshold'))}",
                )
                for m in run.models
            ],
        )
    for key, label, field_name in (
        ("fmr_at_default", "FMR at the default threshold", "fmr"),
        ("fnmr_at_default", "FNMR at the default threshold", "fnmr"),
    ):
        add(
            key,
            label,
            [
                (
                    flat[m.name][key],
                    _pct((m.metrics.get("at_default") or {}).get(field_name)),
                    "",
                )
                for m in run.models
            ],
        )
    add(
        "d_prime",
        "d′ (separation of genuine and impostor scores)",
        [(flat[m.name]["d_prime"], _num(m.metrics.get("d_prime"), 2), "") for m in run.models],
    )
    add(
        "failure_rate",
        "Failures to enrol",
        [
            (
                m.n_failures / m.n_images_attempted if m.n_images_attempted else None,
                f"{m.n_failures} of {m.n_images_attempted}",
                _pct(m.n_failures / m.n_images_attempted) if m.n_images_attempted else "",
            )
            for m in run.models
        ],
    )
    return {"models": [m.name for m in run.models], "rows": rows}


def _comparisons(run) -> list[dict[str, Any]]:
    out = []
    for c in run.comparisons:
        ci = c.get("ci") or {}
        p = c.get("delong_p")
        out.append(
            {
                "a": c["model_a"],
                "b": c["model_b"],
                "auc_a": _num(c.get("auc_a")),
                "auc_b": _num(c.get("auc_b")),
                "diff": "—" if c.get("auc_difference") is None else f"{c['auc_difference']:+.4f}",
                "z": "—" if c.get("delong_z") is None else f"{c['delong_z']:.2f}",
                "p": p_value(p, c.get("delong_log10_p")),
                "significant": p is not None and p < 0.05,
                "ci": (
                    f"{ci['lower']:+.4f} – {ci['upper']:+.4f}"
                    if ci.get("lower") is not None and ci.get("upper") is not None
                    else ""
                ),
            }
        )
    return out


def _differentials(diff: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not diff:
        return []

    def ratio(value: float | None, rate: float | None) -> str:
        if value is None:
            return "∞" if rate else "—"
        return f"{value:.2f}×"

    out = []
    for model, data in (diff.get("models") or {}).items():
        out.append(
            {
                "model": model,
                "threshold": _thr(data.get("threshold")),
                "units": data.get("units", ""),
                "rule": data.get("threshold_rule", ""),
                "fdr": _num(data.get("fdr")),
                "rows": [
                    {
                        "subset": row.get("subset", ""),
                        "fmr": _pct(row.get("fmr"), 3),
                        "fmr_ratio": ratio(row.get("fmr_ratio"), row.get("fmr")),
                        "fnmr": _pct(row.get("fnmr"), 3),
                        "fnmr_ratio": ratio(row.get("fnmr_ratio"), row.get("fnmr")),
                    }
                    for row in data.get("subsets", [])
                ],
            }
        )
    return out


# --------------------------------------------------------------- images


class _Sources:
    """``src`` values for files in the run folder: data URIs, or relative links."""

    def __init__(self, out: Path, self_contained: bool) -> None:
        self.out = out
        self.self_contained = self_contained

    def __call__(self, path: Path | None) -> str | None:
        if path is None:
            return None
        path = Path(path)
        if self.self_contained:
            mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
            return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        return quote(path.relative_to(self.out).as_posix())


def _figure(src: _Sources, path: Path | None, alt: str) -> dict[str, Any] | None:
    if path is None:
        return None
    return {"src": src(path), "alt": alt, "file": Path(path).name}


def _score_text(score) -> dict[str, Any]:
    if score.score is None:
        return {"model": score.model, "score": "—", "verdict": "no score"}
    return {
        "model": score.model,
        "score": f"{score.score:.3f}",
        "verdict": "accepted" if score.accepted else "rejected",
    }


def _gallery(galleries, thumbs: dict[str, Path | None], src: _Sources, k: int) -> list[dict]:
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
            f"{g.accept_rule}; the {len(g.genuines)} least similar shown"
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


# ------------------------------------------------------------------ page


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("face_bench.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(context: dict[str, Any]) -> str:
    """The page for a prepared context (see ``write_report``)."""
    return _environment().get_template("report.html").render(**context)


def _has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]", text))


def write_report(
    evaluation,
    out: Path,
    *,
    self_contained: bool = True,
    top_k: int = 8,
    say: Say | None = None,
) -> ReportOutput:
    """Write results.json, scores.csv, sweep.csv, every figure, thumbnails and report.html.

    ``evaluation`` must have been run with ``sweep=True`` so the sweep markers exist.
    """
    import multiprocessing

    from face_bench.core.io import atomic_write_text
    from face_bench.core.processes import stopping_pool

    out = Path(out)
    say = say or (lambda _m: None)
    # A fresh interpreter, not a fork: the parent may hold onnxruntime's threads.
    # Ended, not awaited, when the report fails or is interrupted: no orphan UMAP process.
    with stopping_pool(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending, notes = project_models(evaluation, say, pool)
        context, written, projections, notes = _write_parts(
            evaluation, out, pending, notes, self_contained, top_k
        )
    html = out / REPORT_NAME
    atomic_write_text(html, render_html(context))
    return ReportOutput(html, [*written, html], projections, notes)


def _write_parts(evaluation, out: Path, pending: list, notes: list[str], self_contained: bool,
                 top_k: int):  # fmt: skip
    """Every file of the report but the page, and the page's context."""
    from face_bench.report import figures, gallery, plots
    from face_bench.report.outputs import write_evaluation

    written = write_evaluation(evaluation, out, "threshold-sweep")
    # A JSON round trip turns every nested result object into plain dicts for the page.
    results = RunResults.model_validate(json.loads(evaluation.results.to_json()))
    names = [m.name for m in results.models]
    colors = plots.model_colors(names)
    subset_names = [s.name for s in evaluation.subsets]
    slugs = _slugs(subset_names)

    sweep_pngs = [p for p in written if p.suffix == ".png" and p.name.startswith("sweep")]
    sweeps = dict(zip(subset_names, sweep_pngs, strict=True))
    rocs = figures.roc_per_subset(evaluation, out, colors)
    histograms = figures.score_histograms(evaluation, out, colors)
    bars = figures.subset_bars(evaluation, out, colors) if len(subset_names) > 1 else None
    written += [*rocs.values(), *histograms.values()] + ([bars] if bars else [])

    projections, umap_notes = collect_projections(pending)
    notes += umap_notes
    umap_png = None
    if projections:
        umap_png = figures.umap_figure(projections, out)
        written += [umap_png, write_umap_csv(evaluation, projections, out / "umap.csv")]

    galleries = {s.name: gallery.select(s, top_k) for s in evaluation.subsets}
    images = set().union(*(g.images() for gs in galleries.values() for g in gs))
    thumbs = gallery.write_thumbnails(images, evaluation.dataset.root, out / "gallery")
    written += [p for p in thumbs.values() if p is not None]

    src = _Sources(out, self_contained)
    identities = [str(i) for i in evaluation.images["identity"].unique()]
    if plots.cjk_font_available() is None and any(_has_cjk(i) for i in identities):
        notes.append(
            "No CJK font is installed, so Japanese names in the figures show as boxes; the "
            "tables on this page show them correctly (Debian/Ubuntu: apt-get install "
            "fonts-noto-cjk)."
        )
    projection_rows = [
        {
            "model": p.model,
            "placed": p.n_points,
            "excluded": p.excluded,
            "identities": len(set(p.identities)),
        }
        for p in projections
    ]

    subsets = []
    for subset in evaluation.subsets:
        run = results.subset(subset.name)
        subsets.append(
            {
                "name": run.name,
                "slug": slugs[run.name],
                "definition": _definition(run.definition),
                "pool": run.pool_size,
                "sample": run.sample_size,
                "identities": run.n_identities,
                "genuine": run.pairs.n_genuine,
                "impostor": run.pairs.n_impostor,
                "excluded": run.pairs.excluded_images,
                "without_genuine": run.pairs.identities_without_genuine_pair,
                "notes": run.notes,
                "headline": _headline(run, results.settings.far_targets),
                "comparisons": _comparisons(run),
                "roc": _figure(src, rocs.get(run.name), f"ROC curves on {run.name}"),
                "sweep": _figure(src, sweeps.get(run.name), f"Threshold sweep on {run.name}"),
                "scores": _figure(
                    src, histograms.get(run.name), f"Genuine and impostor scores on {run.name}"
                ),
                "gallery": _gallery(galleries[run.name], thumbs, src, top_k),
                "failures": [
                    {"model": m.name, "items": [f.model_dump() for f in m.failures]}
                    for m in run.models
                    if m.failures
                ],
            }
        )

    settings = results.settings
    context = {
        "title": "face-bench report — " + " vs ".join(subset_names),
        "self_contained": self_contained,
        "run": {
            "dataset": results.dataset.path,
            "dataset_resolved": str(Path(evaluation.dataset.root).resolve()),
            "dataset_digest": results.dataset.digest[:12],
            "identity_source": results.dataset.identity_source,
            "sample": "all images"
            if settings.sample is None
            else f"{settings.sample:,} per subset",
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
            "generated_at": results.volatile.generated_at,
            "version": results.face_bench_version,
            "command": shlex.join(results.volatile.command) if results.volatile.command else "",
            "duration": f"{results.volatile.duration_s:.1f} s",
            "embeddings": [
                {
                    "model": name,
                    "computed": results.volatile.embeddings_computed.get(name, 0),
                    "cached": results.volatile.embeddings_cached.get(name, 0),
                }
                for name in names
            ],
        },
        "models": [
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
            }
            for m in results.models
        ],
        "subsets": subsets,
        "several": len(subsets) > 1,
        "det": _figure(src, out / "det.png", "DET curves of every model and subset"),
        "roc_all": _figure(src, out / "roc.png", "ROC curves of every model and subset"),
        "differentials": _differentials(results.subset_differentials),
        "bars": _figure(src, bars, "FMR and FNMR per subset at one global threshold"),
        "umap": _figure(src, umap_png, "UMAP projection of each model's embeddings"),
        "projections": projection_rows,
        "top_k": top_k,
        "files": sorted({p.relative_to(out).as_posix() for p in written if p.parent == out}),
        "thumbnails": sum(1 for p in thumbs.values() if p is not None),
        "notes": notes + list(evaluation.skipped),
    }
    return context, written, projections, notes
