"""One evaluation run: plan -> embed -> score -> summarise, with typed values between steps.

``evaluate`` is the library function behind ``roc``, ``threshold-sweep``, ``umap`` and
``report``; it returns everything the writers and plots need, so no command re-embeds or
re-scores. The steps live beside it: ``plan`` (images and pairs), ``embed`` (models and
the cache), ``subset_scores`` (one ``ScoreTable`` per model and pair set) and ``analysis``
(metrics in each model's units); this module summarises them into ``RunResults``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from face_bench.core.modes import OnFail
from face_bench.core.version import __version__
from face_bench.data.datasets import Dataset
from face_bench.embedding.pipeline import Embeddings
from face_bench.embedding.server import start_worker_server
from face_bench.metrics.uncertainty import ReplicateMemo
from face_bench.models.registry import ModelSpec
from face_bench.results.contract import (
    DatasetInfo,
    Failure,
    ModelInfo,
    ModelRun,
    PairInfo,
    RunResults,
    RunSettings,
    SubsetRun,
    Volatile,
)
from face_bench.run import evidence, near_duplicates
from face_bench.run.analysis import compare_models, model_metrics
from face_bench.run.differentials import request_differentials
from face_bench.run.embed import embed_models
from face_bench.run.plan import RunPlan, SubsetPlan, finish_plan, plan_run
from face_bench.run.request import EvaluationRequest
from face_bench.run.subset_scores import BLOCKED_ABOVE, SubsetScores, score_pairset

if TYPE_CHECKING:
    from face_bench.results.calibration_file import CalibrationSection
    from face_bench.run.calibration_apply import RunCalibration

Progress = Callable[[str, int], Callable[[int], None]]


@dataclass
class Evaluation:
    """The outcome of ``evaluate``: results plus the arrays behind them.

    ``images`` is the one image list: every pair index and embedding row points into it.
    """

    results: RunResults
    subsets: list[SubsetScores]
    specs: dict[str, ModelSpec]
    embeddings: dict[str, Embeddings]
    images: pd.DataFrame
    skipped: list[str]
    dataset: Dataset
    cache_dir: Path | None = None  # where derived artefacts (UMAP layouts) may be reused
    calibration: RunCalibration | None = None  # --calibration: each model's map

    def scores_frame(self) -> pd.DataFrame:
        """One row per scored pair: subset, images, identities, label, a score column per model.

        Subsets scored in blocks (beyond ``BLOCKED_ABOVE`` pairs) have no rows here.
        """
        paths = self.images["path"].to_numpy()
        identities = self.images["identity"].to_numpy()
        frames = []
        for subset in self.subsets:
            if subset.pairs.implicit:
                continue  # scored in blocks: too many pairs for one row each
            a, b, label = subset.pairs.explicit()
            frame = pd.DataFrame(
                {
                    "subset": subset.name,
                    "image_a": paths[a],
                    "image_b": paths[b],
                    "identity_a": identities[a],
                    "identity_b": identities[b],
                    "label": label.astype(np.int8),
                }
            )
            for name, table in subset.scores.items():
                frame[name] = table.scores
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)


def _enrolment_notes(
    model: str, failures: list[Failure], multi_face: int, policy: str
) -> list[str]:
    """Printed and recorded lines saying which images a model lost and why, by reason."""
    notes = []
    if failures:
        reasons = pd.Series([f.reason for f in failures]).value_counts().sort_index()
        listed = ", ".join(f"{reason} {count}" for reason, count in reasons.items())
        notes.append(f"{model}: {len(failures)} image(s) not enrolled ({listed})")
    if multi_face:
        notes.append(f"{model}: {multi_face} image(s) with several faces (--multi-face {policy})")
    return notes


def _model_infos(
    plan: RunPlan, embeddings: dict[str, Embeddings], identities: dict[str, dict]
) -> list[ModelInfo]:
    """What results.json says about each model that ran."""
    return [
        ModelInfo(
            name=spec.name,
            backend=spec.backend,
            similarity=spec.similarity,
            units=spec.units,
            default_threshold=spec.threshold,
            weights_sha256=identities[spec.name]["weights_sha256"],
            weights_path=str(weights),
            embedding_size=int(embeddings[spec.name].vectors.shape[1]),
            preprocessing={
                **identities[spec.name]["preprocessing"],
                **identities[spec.name]["faces"],
            },
            source=spec.source,
            licence=spec.licence,
        )
        for spec, weights in plan.chosen
    ]


def _model_run(
    subset: SubsetPlan,
    scored: SubsetScores,
    name: str,
    result: Embeddings,
    request: EvaluationRequest,
    on_fail: OnFail,
    memo: ReplicateMemo,
) -> tuple[ModelRun, list[str]]:
    """One model's metrics block on one subset, and its enrolment notes."""
    members = subset.pairs.members
    paths = scored.images["path"].to_numpy()
    failures = [
        Failure(image=paths[row], reason=result.failures[row][0], detail=result.failures[row][1])
        for row in members.tolist()
        if row in result.failures
    ]
    fta = len(failures) / len(members)
    multi_face = sum(int(r) in result.multi_face for r in members)
    metrics, sweep = model_metrics(
        scored.scores[name],
        request.far_targets,
        request.bootstrap,
        request.seed,
        sweep=request.sweep,
        fta=fta if on_fail is OnFail.REJECT else None,
        multi_face_images=multi_face,
        memo=memo,
    )
    notes = _enrolment_notes(name, failures, multi_face, request.embed.multi_face.value)
    if request.embed.fallback:
        found = sum(int(r) in result.fallback for r in members)
        metrics.fallback_detector_images = found
        notes.append(
            f"{name}: {found} image(s) found by the fallback detector "
            f"({request.embed.fallback}) where the detector found no face"
        )
    run = ModelRun(
        name=name,
        n_images_attempted=len(members),
        n_failures=len(failures),
        failures=failures,
        metrics=metrics,
        threshold_sweep=sweep,
    )
    return run, notes


def _pair_info(subset: SubsetPlan, scored: SubsetScores, on_fail: OnFail) -> PairInfo:
    """How many pairs of each kind were scored, and what failures took away."""
    labels = scored.labels
    identities = scored.images["identity"].to_numpy()[subset.pairs.members]
    kept = identities[~scored.failed] if on_fail is OnFail.EXCLUDE else identities
    counts = pd.Series(kept).value_counts()
    return PairInfo(
        mode=subset.pairs.mode,
        requested=subset.pairs.requested,
        n_genuine=int(labels.sum()),
        n_impostor=int(len(labels) - labels.sum()),
        excluded_images=int(scored.failed.sum()) if on_fail is OnFail.EXCLUDE else 0,
        identities_without_genuine_pair=int((counts < 2).sum()),
        file_sha256=subset.pairs.source_sha256,
        pairs_sha256=subset.pairs.digest(),
    )


def summarise_subset(
    subset: SubsetPlan,
    scored: SubsetScores,
    embeddings: dict[str, Embeddings],
    request: EvaluationRequest,
    on_fail: OnFail,
    memo: ReplicateMemo | None = None,
) -> SubsetRun:
    """The ``subsets[]`` entry of results.json for one scored subset; ``memo`` is the run's
    bootstrap memo (the models' replicates serve their paired comparisons)."""
    memo = memo or ReplicateMemo()
    notes = [subset.note] if subset.note else []
    if subset.duplicates is not None and subset.duplicates.note:
        notes.append(subset.duplicates.note)
    notes += evidence.overlap_notes(subset.name, subset.overlaps)
    if subset.pairs.implicit:
        notes.append(
            f"{len(scored.labels):,} pairs scored in blocks: scores.csv rows, the failure "
            "gallery, bootstrap intervals and DeLong's test are skipped above "
            f"{BLOCKED_ABOVE:,} pairs"
        )
    model_runs = []
    for name, result in embeddings.items():
        run, enrol_notes = _model_run(subset, scored, name, result, request, on_fail, memo)
        model_runs.append(run)
        notes += enrol_notes
    from_file = subset.pairs.mode == "file"
    return SubsetRun(
        name=subset.name,
        definition=subset.definition,
        pool_size=subset.pool_size,
        sample_requested=None if from_file else request.sample,
        sample_size=subset.n_images,
        n_identities=subset.n_identities,
        images=list(scored.images["path"].to_numpy()[subset.pairs.members]),
        pairs=_pair_info(subset, scored, on_fail),
        models=model_runs,
        comparisons=compare_models(scored.scores, request.bootstrap, request.seed, memo),
        notes=notes,
        duplicates=subset.duplicates.groups if subset.duplicates is not None else [],
        identity_concentration=evidence.concentration(scored),
        overlaps=subset.overlaps,
    )


def _add_threshold_transfer(
    scored: list[SubsetScores], runs: list[SubsetRun], source: str | None
) -> None:
    """``--threshold-from``: thresholds chosen on one subset, applied to every subset."""
    if source is None:
        return
    transfers = evidence.transfer_thresholds(scored, source)
    for run in runs:
        for model_run in run.models:
            model_run.metrics.threshold_transfer = transfers[model_run.name][run.name]


def _settings(request: EvaluationRequest, on_fail: OnFail, detector: str) -> RunSettings:
    from_file = request.pairs_file is not None
    return RunSettings(
        seed=request.seed,
        sample=None if from_file else request.sample,
        pairs=request.pairs,
        pairs_file=str(request.pairs_file) if from_file else None,
        align=request.embed.chosen_align.value,
        multi_face=request.embed.multi_face.value,
        fallback_detector=request.embed.fallback,
        detector=detector,
        on_fail=on_fail.value,
        far_targets=list(request.far_targets),
        bootstrap=request.bootstrap,
        threshold_from=request.threshold_from,
        near_duplicates=request.near_duplicates.value,
    )


def _calibration(
    calibration: RunCalibration | None, scored: list[SubsetScores], request: EvaluationRequest
) -> CalibrationSection | None:
    if calibration is None:
        return None
    from face_bench.run.calibration_apply import calibration_section

    return calibration_section(calibration, scored, request.bootstrap, request.seed)


@contextlib.contextmanager
def _alongside(work: Callable[[], None] | None) -> Iterator[None]:
    """Run ``work`` on a daemon thread during the block, and wait for it at the block's end."""
    if work is None:
        yield
        return
    import threading

    def quietly() -> None:
        with contextlib.suppress(Exception):
            work()

    thread = threading.Thread(target=quietly, name="face-bench-alongside", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def evaluate(
    request: EvaluationRequest,
    progress: Progress | None = None,
    on_message: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
    while_embedding: Callable[[], None] | None = None,
) -> Evaluation:
    """Run the whole study; ``progress(label, total)`` returns a per-image tick callback.

    ``while_embedding`` runs on a thread of its own while the workers embed (the caller's
    imports for writing the results, which would otherwise wait for the embedding); what
    it raises is ignored, and it is done before anything after the embedding runs."""
    started = time.perf_counter()
    embed = request.embed
    if embed.ray is None:
        start_worker_server(embed.workers, embed.cache_dir)  # overlaps the planning
    say = on_message or (lambda _m: None)
    plan = plan_run(request, say, on_info, near_later=True)
    calibration = None
    if request.calibration is not None:  # another model's file stops the run before embedding
        from face_bench.run.calibration_apply import match_models

        calibration = match_models(request.calibration, plan.chosen, request.calibration_prior)
    paths = plan.paths
    # Near-duplicate fingerprints not cached yet come from the workers' own decode.
    prints = near_duplicates.stored_prints(plan.hashes, plan.cache_dir)
    asked = [digest for digest, found in prints.items() if found is None]
    with _alongside(while_embedding):
        embeddings, identities = embed_models(
            plan.chosen,
            paths,
            plan.hashes,
            plan.faces,
            plan.cache_dir,
            embed.workers,
            progress,
            embed.ray,
            plan.aligns,
            prints,
        )
    near_duplicates.remember_prints(prints, asked, plan.cache_dir)
    plan = finish_plan(plan, request, say, prints)
    specs = {spec.name: spec for spec, _ in plan.chosen}
    mapper = None
    if embed.ray is not None:
        from face_bench.embedding.ray_engine import RayMapper

        mapper = RayMapper(embed.ray)
    scored = [
        score_pairset(s.name, plan.images, s.pairs, embeddings, specs, plan.on_fail, mapper)
        for s in plan.subsets
    ]
    memo = ReplicateMemo()  # this run's bootstraps share ranked pairs and replicate AUCs
    subset_runs = [
        summarise_subset(s, data, embeddings, request, plan.on_fail, memo)
        for s, data in zip(plan.subsets, scored, strict=True)
    ]
    differentials = request_differentials(request, scored, embeddings, specs)
    _add_threshold_transfer(scored, subset_runs, request.threshold_from)
    from face_bench.run.quality import QualityContext, assess

    context = QualityContext(
        plan.dataset.root,
        [s.definition for s in plan.subsets],
        plan.near_duplicates,
        {r.name: {m.name: m.metrics.eer_threshold for m in r.models} for r in subset_runs},
    )
    quality = assess(scored, embeddings, specs, request, context, say)
    dataset = plan.dataset
    results = RunResults(
        face_bench_version=__version__,
        dataset=DatasetInfo(
            path=str(request.data), digest=dataset.digest, identity_source=dataset.identity_source
        ),
        settings=_settings(request, plan.on_fail, plan.faces.detector),
        models=_model_infos(plan, embeddings, identities),
        skipped_models=list(plan.choice.shareable),
        subsets=subset_runs,
        differentials=differentials,
        calibration=_calibration(calibration, scored, request),
        volatile=Volatile(
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            command=list(request.command),
            duration_s=round(time.perf_counter() - started, 3),
            embeddings_computed={name: e.computed for name, e in embeddings.items()},
            embeddings_cached={name: e.cached for name, e in embeddings.items()},
            dataset_root=str(Path(dataset.root).resolve()),
        ),
        data_quality=quality,
    )
    return Evaluation(
        results,
        scored,
        specs,
        embeddings,
        plan.images,
        plan.skipped,
        dataset,
        plan.cache_dir,
        calibration,
    )
