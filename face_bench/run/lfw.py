"""The LFW verification protocol: pairs.txt in, k-fold accuracy per model out.

Reported the way the LFW literature reports it, so a figure here can be set next to a
published one: mean +- std of per-fold accuracy with each fold's threshold chosen on
the other folds, failed enrolments counted as errors unless excluded. ROC-AUC and EER
over all pairs come alongside, because accuracy at one threshold hides the trade-off.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from face_bench.core.errors import DatasetError, MetricError
from face_bench.core.modes import LFW_ALIGN, LfwOnFail, parse_choice
from face_bench.core.processes import start_worker_server
from face_bench.data.pairset import PairSet
from face_bench.data.protocols import LfwPair, kfold_accuracy, parse_lfw_pairs
from face_bench.embedding.ray_engine import RayOptions

SCORE_ORIENTATION = "higher = same person; Euclidean models' scores are negated distances"
THRESHOLD_RULE = "same person when score > threshold (distance < threshold for Euclidean models)"


@dataclass(frozen=True)
class LfwFailure:
    """An image a model could not enrol, and how many pairs it spoiled."""

    image: str
    reason: str
    detail: str
    n_pairs: int


@dataclass(frozen=True)
class LfwModelResult:
    """One model on the protocol; thresholds are in the model's own units."""

    name: str
    similarity: str
    units: str
    default_threshold: float
    accuracy: float
    accuracy_std: float | None
    fold_accuracies: tuple[float, ...]
    fold_thresholds: tuple[float | None, ...]
    cross_validated: bool
    accuracy_at_default: float
    roc_auc: float
    eer: float
    eer_threshold: float
    metrics_over: str
    n_pairs: int
    n_pairs_scored: int
    n_failed_images: int
    n_failed_pairs: int
    failures: tuple[LfwFailure, ...]
    embeddings_computed: int
    embeddings_cached: int
    note: str | None = None
    fallback_images: int = 0  # images only the fallback detector found a face in
    # Provenance: the weights' SHA-256 and, from the model's spec, their source and licence.
    weights_sha256: str | None = None
    source: str | None = None
    licence: str | None = None


@dataclass(frozen=True)
class LfwResult:
    """What ``lfw.json`` holds; ``scores`` (per model, aligned with ``pairs``) stays in memory."""

    pairs_file: str
    data: str
    images_root: str
    n_folds: int
    n_pairs: int
    n_genuine: int
    n_impostor: int
    n_images: int
    on_fail: LfwOnFail
    align: str
    multi_face: str
    std_ddof: int
    models: tuple[LfwModelResult, ...]
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    duration_s: float = 0.0
    fallback_detector: str | None = None
    detector: str = "hog"  # the face detector: hog, mmod or yunet
    pairs: tuple[LfwPair, ...] = field(default=(), repr=False)
    scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        from face_bench import __version__
        from face_bench.metrics.summary import json_float

        data = asdict(self)
        data.pop("pairs")
        data.pop("scores")
        for model in data["models"]:
            for key, value in model.items():
                if isinstance(value, float):
                    model[key] = json_float(value)
            model["fold_thresholds"] = [json_float(t) for t in model["fold_thresholds"]]
        return {
            "face_bench_version": __version__,
            "protocol": "lfw",
            "score_orientation": SCORE_ORIENTATION,
            "threshold_rule": THRESHOLD_RULE,
            **data,
        }


def find_images_root(root: Path, pairs: list[LfwPair]) -> Path:
    """``root`` itself (LFW's own layout) or ``root/images``, whichever holds the pairs' images.

    The folder holding more of them wins, ``root`` on a tie; images still missing
    then fail to enrol with reason ``missing`` instead of stopping the run.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"LFW folder not found: {root}")
    names = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    candidates = [root, root / "images"]
    found = [sum((c / n).is_file() for n in names) if c.is_dir() else 0 for c in candidates]
    if max(found) == 0:
        raise DatasetError(
            f"none of the {len(names)} images named in the pairs file is under {root} or "
            f"{root / 'images'} (expected <name>/<name>_0001.jpg)"
        )
    return candidates[int(np.argmax(found))]


def run_lfw(
    data: Path,
    pairs_file: Path,
    models: tuple[str, ...] = (),
    on_fail: LfwOnFail | str = LfwOnFail.ERROR,
    align: str = LFW_ALIGN.value,
    multi_face: str = "largest",
    fallback_detector: str | None = None,
    detector: str | None = None,
    config_path: Path | None = None,
    weights: dict[str, Path] | None = None,
    dlib_runtime: str | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    ray: RayOptions | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    on_message: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
) -> LfwResult:
    """Embed every distinct image of ``pairs_file`` once per model and score the protocol."""
    from face_bench.faces.locate import FaceSettings
    from face_bench.run.embed import embed_files

    on_fail = parse_choice(LfwOnFail, on_fail, "--on-fail (lfw)")
    started = time.perf_counter()
    if ray is None:
        start_worker_server(workers, cache_dir)  # overlaps reading the pairs, hashing
    say = on_message or (lambda _m: None)
    pairs = parse_lfw_pairs(pairs_file)
    images_root = find_images_root(Path(data), pairs)

    names = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    position = {name: i for i, name in enumerate(names)}
    embedded = embed_files(
        [images_root / name for name in names],
        tuple(models),
        FaceSettings(align, multi_face, fallback=fallback_detector),
        config_path=config_path,
        weights=weights,
        dlib_runtime=dlib_runtime,
        cache_dir=cache_dir,
        workers=workers,
        ray=ray,
        progress=progress,
        on_message=say,
        on_info=on_info,
        detector=detector,
    )
    n_missing = sum(h is None for h in embedded.hashes)
    if n_missing:
        say(
            f"{n_missing} image(s) named in {Path(pairs_file).name} are missing under {images_root}"
        )
    pair_set = protocol_pairs(pairs, position, str(pairs_file))
    labels = pair_set.label
    assert labels is not None and pair_set.fold is not None
    results, scores_by_model = _score_models(embedded, names, pair_set, on_fail)
    n_folds = int(np.unique(pair_set.fold).size)
    notes = _protocol_notes(results, fallback_detector, n_folds)
    return LfwResult(
        pairs_file=str(pairs_file),
        data=str(data),
        images_root=str(images_root),
        n_folds=n_folds,
        n_pairs=len(pairs),
        n_genuine=int(labels.sum()),
        n_impostor=int((~labels).sum()),
        n_images=len(names),
        on_fail=on_fail,
        align=align,
        multi_face=multi_face,
        std_ddof=0,
        fallback_detector=fallback_detector,
        detector=embedded.detector,
        models=tuple(results),
        skipped=tuple(embedded.skipped),
        notes=tuple(notes),
        duration_s=round(time.perf_counter() - started, 3),
        pairs=tuple(pairs),
        scores=scores_by_model,
    )


def _score_models(
    embedded, names: list[str], pair_set: PairSet, on_fail: LfwOnFail
) -> tuple[list[LfwModelResult], dict[str, np.ndarray]]:
    """Every chosen model's protocol figures, and its scores (NaN where an image failed)."""
    results: list[LfwModelResult] = []
    scores_by_model: dict[str, np.ndarray] = {}
    from face_bench.models.weights_files import weights_sha256

    for spec, weights in embedded.chosen:
        emb = embedded.embeddings[spec.name]
        scores, result = _score_model(spec, emb, names, pair_set, on_fail)
        scores_by_model[spec.name] = scores
        provenance = {
            "weights_sha256": weights_sha256(weights),
            "source": spec.source,
            "licence": spec.licence,
        }
        results.append(dataclasses.replace(result, fallback_images=len(emb.fallback), **provenance))
    return results, scores_by_model


def _protocol_notes(
    results: list[LfwModelResult], fallback_detector: str | None, n_folds: int
) -> list[str]:
    notes = [
        f"{r.name}: {r.fallback_images} image(s) found by the fallback detector "
        f"({fallback_detector}) where the detector found no face"
        for r in results
        if fallback_detector
    ]
    if n_folds == 1:
        notes.append(
            "one fold: cross-validation needs several folds, so each threshold was chosen on "
            "the pairs it scores and the accuracy is optimistic"
        )
    return notes


def protocol_pairs(pairs: list[LfwPair], position: dict[str, int], source: str) -> PairSet:
    """The protocol's pairs as a ``PairSet`` over the distinct images (``position``)."""
    a = np.array([position[p.path_a] for p in pairs], dtype=np.int64)
    b = np.array([position[p.path_b] for p in pairs], dtype=np.int64)
    return PairSet(
        members=np.arange(len(position), dtype=np.int64),
        a=a,
        b=b,
        label=np.array([p.label for p in pairs], dtype=bool),
        mode="lfw",
        source=source,
        fold=np.array([p.fold for p in pairs], dtype=np.int64),
    )


def _score_model(spec, emb, names, pair_set: PairSet, on_fail: LfwOnFail):
    """Scores (NaN where an image failed) and the model's protocol figures."""
    from face_bench.run.subset_scores import pair_values

    a, b, labels = pair_set.explicit()
    folds = pair_set.fold
    assert folds is not None  # the protocol's pairs always carry their folds
    scores = pair_values(pair_set, emb.vectors, spec.similarity)
    ok = emb.ok
    pair_failed = ~(ok[a] & ok[b])
    kfold = kfold_accuracy(scores, labels, folds, pair_failed, on_fail=on_fail)
    # At the default threshold: accept when score >= to_score(threshold), as metrics does.
    scored = ~pair_failed
    accepted = scores[scored] >= spec.to_score(spec.threshold)
    correct = int(np.sum(accepted == labels[scored]))
    total = len(labels) if on_fail == "error" else int(scored.sum())
    summary, over = _curve_figures(spec, scores, labels, scored, on_fail)
    failures = _failures(emb, names, a, b, pair_failed)
    result = LfwModelResult(
        name=spec.name,
        similarity=spec.similarity,
        units=spec.units,
        default_threshold=spec.threshold,
        accuracy=kfold.mean,
        accuracy_std=kfold.std,
        fold_accuracies=kfold.accuracies,
        fold_thresholds=tuple(spec.from_score(t) for t in kfold.thresholds),
        cross_validated=kfold.cross_validated,
        accuracy_at_default=correct / total,
        roc_auc=summary.roc_auc,
        eer=summary.eer,
        eer_threshold=spec.from_score(summary.eer_threshold),
        metrics_over=over,
        n_pairs=len(labels),
        n_pairs_scored=int(scored.sum()),
        n_failed_images=len(failures),
        n_failed_pairs=int(pair_failed.sum()),
        failures=failures,
        embeddings_computed=emb.computed,
        embeddings_cached=emb.cached,
        note=kfold.note,
    )
    return scores, result


def _curve_figures(spec, scores, labels, scored, on_fail: LfwOnFail):
    """AUC and EER over the pairs ``on_fail`` keeps, and a line saying which those are."""
    from face_bench.metrics.scoring import reject_failed
    from face_bench.metrics.summary import compute_all

    if on_fail == "error":
        # Failed pairs join the curve as non-matches at every threshold (bob's FTA rule).
        curve_scores, _floor = reject_failed(scores)
        curve_labels = labels
        over = "all pairs; failed pairs scored as non-matches at every threshold"
    else:
        curve_scores, curve_labels = scores[scored], labels[scored]
        over = "enrolled pairs only"
    try:
        return compute_all(curve_scores, curve_labels, far_targets=()), over
    except MetricError as exc:
        raise MetricError(f"model {spec.name!r}: {exc}") from None


def _failures(emb, names, a, b, pair_failed) -> tuple[LfwFailure, ...]:
    """Each image the model could not enrol, with the number of pairs it spoiled."""
    affected: dict[int, int] = {}
    for i in np.concatenate([a[pair_failed], b[pair_failed]]):
        if not emb.ok[i]:
            affected[int(i)] = affected.get(int(i), 0) + 1
    return tuple(
        LfwFailure(
            image=names[i],
            reason=emb.failures[i][0],
            detail=emb.failures[i][1],
            n_pairs=affected.get(i, 0),
        )
        for i in sorted(emb.failures)
    )


def write_lfw(result: LfwResult, out: Path) -> list[Path]:
    """``lfw.json`` and ``scores.csv`` (one score column per model, NaN for failed pairs)."""
    import pandas as pd

    from face_bench.core.io import atomic_write_text
    from face_bench.results.scorefile import SCORE_FILE, write_score_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "lfw.json"
    atomic_write_text(
        json_path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    )
    frame = pd.DataFrame(
        {
            "fold": [p.fold for p in result.pairs],
            "image_a": [p.path_a for p in result.pairs],
            "image_b": [p.path_b for p in result.pairs],
            "identity_a": [p.identity_a for p in result.pairs],
            "identity_b": [p.identity_b for p in result.pairs],
            "label": [int(p.label) for p in result.pairs],
        }
    )
    for name, scores in result.scores.items():
        frame[name] = scores
    csv_path = write_score_file(out / SCORE_FILE, frame)
    return [json_path, csv_path]
