"""One evaluation run: dataset -> subsets -> samples -> embeddings -> pair scores -> metrics.

``evaluate`` is the library function behind ``roc``, ``threshold-sweep``,
``umap`` and ``report``; it returns everything the writers and plots need, so
no command re-embeds or re-scores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from face_bench import __version__
from face_bench.core.config import Config, load_config
from face_bench.core.io import default_cache_dir, sha256_file
from face_bench.core.modes import IdentitySource, OnFail, parse_choice
from face_bench.data.datasets import (
    Dataset,
    Pairs,
    load_dataset,
    make_pairs,
    manifest_alignment,
    sample_images,
    select_subset,
    subset_spec,
)
from face_bench.embedding.cache import EmbeddingCache
from face_bench.embedding.pipeline import (
    Embeddings,
    ModelJob,
    embed_all,
    hash_images,
    merge_embeddings,
)
from face_bench.embedding.ray_engine import RayOptions
from face_bench.faces.locate import FaceSettings
from face_bench.models.choice import ModelChoice, choose_models
from face_bench.models.registry import ModelSpec, Registry, build_registry, runtime_notes
from face_bench.models.weights_files import weights_sha256
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
from face_bench.run.subset_scores import (
    BLOCKED_ABOVE,
    SubsetData,
    score_subset,
    use_blocks,
)

DEFAULT_FAR_TARGETS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True)
class EvaluationRequest:
    """Everything that defines a run; the CLI fills it from options."""

    data: Path
    data_origin: str = ""  # which setting chose the folder (--data, $FACE_BENCH_DATA, config)
    subsets: tuple[str, ...] = ("all",)
    models: tuple[str, ...] = ()
    sample: int | None = 300
    seed: int = 0
    pairs: int | None = None
    pairs_file: Path | None = None
    align: str = "auto"
    multi_face: str = "largest"
    fallback_detector: str | None = None
    on_fail: OnFail = OnFail.EXCLUDE
    identity_from: IdentitySource = IdentitySource.AUTO
    identity_pattern: str | None = None
    duplicates: str = "exclude"  # keep | exclude | error (see run.duplicates)
    far_targets: tuple[float, ...] = DEFAULT_FAR_TARGETS
    bootstrap: int = 0
    sweep: bool = False
    differential_threshold: str = "far:1e-3"
    threshold_from: str | None = None
    config_path: Path | None = None
    weights: dict[str, Path] = field(default_factory=dict)
    dlib_runtime: str | None = None  # overrides every dlib model's runtime ("onnx", "dlib")
    cache_dir: Path | None = None
    workers: int | None = None
    ray: RayOptions | None = None  # None: the local engine
    command: tuple[str, ...] = ()


@dataclass
class Evaluation:
    """The outcome of ``evaluate``: results plus the arrays behind them."""

    results: RunResults
    subsets: list[SubsetData]
    specs: dict[str, ModelSpec]
    embeddings: dict[str, Embeddings]
    images: pd.DataFrame
    skipped: list[str]
    dataset: Dataset

    def scores_frame(self) -> pd.DataFrame:
        """One row per scored pair: subset, images, identities, label, a score column per model.

        Subsets scored in blocks (beyond ``BLOCKED_ABOVE`` pairs) have no rows here.
        """
        frames = []
        for subset in self.subsets:
            if subset.pairs is None or subset.kept is None:
                continue  # scored in blocks: too many pairs for one row each
            kept = subset.kept
            a = subset.pairs.a[kept]
            b = subset.pairs.b[kept]
            table = subset.images
            frame = pd.DataFrame(
                {
                    "subset": subset.name,
                    "image_a": table["path"].to_numpy()[a],
                    "image_b": table["path"].to_numpy()[b],
                    "identity_a": table["identity"].to_numpy()[a],
                    "identity_b": table["identity"].to_numpy()[b],
                    "label": subset.pairs.label[kept].astype(np.int8),
                }
            )
            for name, model_scores in subset.scores.items():
                frame[name] = model_scores.scores
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)


def parse_far_rule(rule: str) -> float:
    """``far:1e-3`` -> 1e-3; ``default`` -> the usual 1e-3 (unused then)."""
    if rule == "default":
        return 1e-3
    name, _, value = rule.partition(":")
    try:
        target = float(value)
    except ValueError:
        target = -1.0
    if name != "far" or not 0 < target < 1:
        from face_bench.core.errors import ConfigError

        raise ConfigError(
            f"--threshold expects 'default' or 'far:TARGET' (e.g. far:1e-3), got {rule!r}"
        )
    return target


def open_registry(
    config_path: Path | None,
    weights: dict[str, Path],
    cache_dir: Path | None,
    dlib_runtime: str | None = None,
) -> tuple[Config, Registry]:
    """The config file and the model registry it extends."""
    config = load_config(config_path)
    return config, build_registry(config, weights, cache_dir, dlib_runtime)


def _model_identity(spec: ModelSpec, weights: Path, faces: FaceSettings, cache_dir: Path) -> dict:
    from face_bench.models.registry import DLIB_SHAPE_FILE, dlib_weight_path

    digest = weights_sha256(weights)  # with an ONNX model's external data files
    settings = dataclasses.replace(faces, upsample=spec.upsample)
    identity = {
        "name": spec.name,
        "weights_sha256": digest,
        "preprocessing": spec.preprocessing(),
        "faces": settings.identity(),
    }
    # Every model aligns with dlib's 5-point predictor, so it is part of every identity.
    identity["landmarks_sha256"] = sha256_file(dlib_weight_path(DLIB_SHAPE_FILE), cache_dir)
    if spec.alignment == "arcface":
        from face_bench.faces.chips import SHAPE_PREDICTOR_68

        identity["landmarks68_sha256"] = sha256_file(
            dlib_weight_path(SHAPE_PREDICTOR_68), cache_dir
        )
    return identity


def embed_models(
    chosen: list[tuple[ModelSpec, Path]],
    paths: list[Path],
    hashes: list[str | None],
    faces: FaceSettings,
    cache_dir: Path,
    workers: int | None = None,
    progress=None,
    ray: RayOptions | None = None,
    aligns: list[str | None] | None = None,
) -> tuple[dict[str, Embeddings], dict[str, dict]]:
    """Embeddings of ``paths`` for every chosen model (cached), and each model's identity.

    The one entry point for embedding: evaluations, LFW runs and ``compare`` share it,
    so they share cache entries too. ``aligns`` overrides ``faces.align`` per image
    (None keeps it): each group of images is located and cached under its own mode.
    """
    modes = [mode or faces.align for mode in aligns] if aligns else []
    if len(set(modes)) > 1:
        parts: dict[str, list] = {}
        for mode in dict.fromkeys(modes):
            index = [i for i, m in enumerate(modes) if m == mode]
            settings = dataclasses.replace(faces, align=mode)
            part, identities = embed_models(
                chosen, [paths[i] for i in index], [hashes[i] for i in index], settings,
                cache_dir, workers, progress, ray,
            )  # fmt: skip
            for name, result in part.items():
                parts.setdefault(name, []).append((index, result))
        merged = {name: merge_embeddings(p, len(paths)) for name, p in parts.items()}
        return merged, identities
    if modes:
        faces = dataclasses.replace(faces, align=modes[0])
    jobs: list[ModelJob] = []
    identities: dict[str, dict] = {}
    for spec, weights in chosen:
        identity = _model_identity(spec, weights, faces, cache_dir)
        identities[spec.name] = identity
        jobs.append(ModelJob(spec, weights, EmbeddingCache(cache_dir, identity)))
    landmarks_sha = next(iter(identities.values()))["landmarks_sha256"]

    def face_cache(settings: FaceSettings) -> EmbeddingCache:
        identity = {"stage": "faces", **settings.identity(), "landmarks_sha256": landmarks_sha}
        return EmbeddingCache(cache_dir, identity)

    embeddings = embed_all(jobs, paths, hashes, faces, face_cache, workers, progress, ray)
    return embeddings, identities


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


@dataclass
class FileEmbeddings:
    """Embeddings of a list of image files: what ``compare`` and ``lfw`` start from."""

    chosen: list[tuple[ModelSpec, Path]]
    skipped: list[str]
    hashes: list[str | None]
    embeddings: dict[str, Embeddings]


def embed_files(
    paths: list[Path],
    models: tuple[str, ...],
    faces: FaceSettings,
    *,
    config_path: Path | None = None,
    weights: dict[str, Path] | None = None,
    dlib_runtime: str | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress=None,
    on_message: Callable[[str], None] | None = None,
    ray: RayOptions | None = None,
    on_info: Callable[[str], None] | None = None,
) -> FileEmbeddings:
    """Choose the models, report skipped ones, and embed ``paths`` (cached) with each."""
    _config, registry = open_registry(config_path, dict(weights or {}), cache_dir, dlib_runtime)
    choice = choose_models(registry, models)
    skipped = announce_models(choice, cache_dir, on_message, on_info)
    for message in runtime_notes([spec for spec, _w in choice.ready]):
        if on_message:
            on_message(message)
    hashes = hash_images(paths)
    embeddings, _identities = embed_models(
        choice.ready, paths, hashes, faces, cache_dir or default_cache_dir(), workers, progress, ray
    )
    return FileEmbeddings(choice.ready, skipped, hashes, embeddings)


def announce_models(
    choice: ModelChoice,
    cache_dir: Path | None,
    on_message: Callable[[str], None] | None,
    on_info: Callable[[str], None] | None,
) -> list[str]:
    """The run header (each model's weights and SHA-256 prefix), then one line for the models
    left out; returns that line as the run's note (empty when every model runs)."""
    if on_info:
        for line in choice.header(cache_dir or default_cache_dir()):
            on_info(line)
    note = choice.note()
    if note and on_message:
        on_message(note)
    return [note] if note else []


def evaluate(
    request: EvaluationRequest,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    on_message: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
) -> Evaluation:
    """Run the whole study; ``progress(label, total)`` returns a per-image tick callback."""
    started = time.perf_counter()
    say = on_message or (lambda _m: None)
    config, registry = open_registry(
        request.config_path, request.weights, request.cache_dir, request.dlib_runtime
    )
    cache_dir = request.cache_dir or default_cache_dir()
    # Models first: a model asked for that cannot run stops the run before any data is read.
    choice = choose_models(registry, request.models)
    on_fail = parse_choice(OnFail, request.on_fail, "--on-fail")
    dataset = load_dataset(request.data, request.identity_from, request.identity_pattern)
    specs_by_subset = [subset_spec(name, config.subsets) for name in dict.fromkeys(request.subsets)]
    if request.threshold_from is not None and request.threshold_from not in request.subsets:
        from face_bench.core.errors import ConfigError

        raise ConfigError(
            f"--threshold-from {request.threshold_from!r} must be one of the run's subsets "
            f"({', '.join(request.subsets)})"
        )
    chosen = choice.ready
    faces = FaceSettings(request.align, request.multi_face, fallback=request.fallback_detector)

    sampled: list[tuple[str, dict[str, list[str]], int, pd.DataFrame, Pairs, str]] = []
    for spec in specs_by_subset:
        name = spec.name
        pool = select_subset(dataset, spec)
        if request.pairs_file is not None:
            from face_bench.data.pairing import pairs_from_file

            images, pairs, note = pairs_from_file(dataset, pool, request.pairs_file)
        else:
            images = sample_images(pool, request.sample, request.seed)
            pairs = (
                None
                if use_blocks(len(images), request.pairs, from_file=False)
                else make_pairs(images["identity"].to_numpy(), request.pairs, request.seed)
            )
            note = ""
            if request.sample is not None and len(pool) < request.sample:
                note = (
                    f"subset {name!r} has {len(pool)} images, fewer than "
                    f"--sample {request.sample}: using all of them"
                )
        if note:
            say(note)
        sampled.append(
            (name, spec.definition(list(dataset.table.columns)), len(pool), images, pairs, note)
        )

    union = (
        pd.concat([s[3] for s in sampled])
        .drop_duplicates("path")
        .sort_values("path", kind="mergesort")
        .reset_index(drop=True)
    )
    abs_paths = [dataset.root / p for p in union["path"]]
    # The header comes once the inputs are known to be usable, just before the work.
    if on_info:
        origin = f" ({request.data_origin})" if request.data_origin else ""
        on_info(f"data: {request.data}{origin}: {len(union)} of {len(dataset)} images used")
    skipped = announce_models(choice, cache_dir, say, on_info)
    for message in runtime_notes([spec for spec, _w in chosen]):
        say(message)
    hashes = hash_images(abs_paths)
    position = {p: i for i, p in enumerate(union["path"])}
    sampled, duplicate_reports = _settle_duplicates(sampled, hashes, position, request, say)
    from face_bench.run import evidence

    shared = evidence.overlaps({s[0]: s[3] for s in sampled})
    for name, rows in shared.items():
        for line in evidence.overlap_notes(name, rows):
            say(line)

    aligns = manifest_alignment(union)
    if aligns is not None:
        say(
            f"aligned column: {sum(a == 'none' for a in aligns)} image(s) taken as aligned "
            f"crops, {sum(a == 'detect' for a in aligns)} detected, the rest --align "
            f"{request.align}"
        )
    embeddings, identities = embed_models(
        chosen,
        abs_paths,
        hashes,
        faces,
        cache_dir,
        request.workers,
        progress,
        request.ray,
        aligns,
    )
    computed = {name: e.computed for name, e in embeddings.items()}
    cached = {name: e.cached for name, e in embeddings.items()}
    infos = [
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
        )
        for spec, weights in chosen
    ]

    from face_bench.run.analysis import compare_models, differentials_in_units, model_metrics

    specs = {spec.name: spec for spec, _ in chosen}
    mapper = None
    if request.ray is not None:
        from face_bench.embedding.ray_engine import RayMapper

        mapper = RayMapper(request.ray)
    subset_data: list[SubsetData] = []
    subset_runs: list[SubsetRun] = []
    for name, definition, pool_size, images, pairs, note in sampled:
        rows = np.array([position[p] for p in images["path"]], dtype=np.int64)
        data = score_subset(name, images, pairs, rows, embeddings, specs, on_fail, mapper)
        failed_any, labels, model_scores = data.failed_any, data.labels, data.scores
        model_runs: list[ModelRun] = []
        enrol_notes: list[str] = []
        if pairs is None:
            enrol_notes.append(
                f"{len(labels):,} pairs scored in blocks: scores.csv rows, the failure gallery, "
                "bootstrap intervals and DeLong's test are skipped above "
                f"{BLOCKED_ABOVE:,} pairs"
            )
        for spec_name, result in embeddings.items():
            failures = [
                Failure(
                    image=images["path"].iloc[i],
                    reason=result.failures[rows[i]][0],
                    detail=result.failures[rows[i]][1],
                )
                for i in range(len(images))
                if rows[i] in result.failures
            ]
            fta = len(failures) / len(images)
            metrics, sweep = model_metrics(
                model_scores[spec_name],
                request.far_targets,
                request.bootstrap,
                request.seed,
                sweep=request.sweep,
                fta=fta if on_fail is OnFail.REJECT else None,
            )
            metrics["multi_face_images"] = sum(int(r) in result.multi_face for r in rows)
            enrol_notes += _enrolment_notes(
                spec_name, failures, metrics["multi_face_images"], request.multi_face
            )
            if request.fallback_detector:
                found = sum(int(r) in result.fallback for r in rows)
                metrics["fallback_detector_images"] = found
                enrol_notes.append(
                    f"{spec_name}: {found} image(s) found by the fallback detector "
                    f"({request.fallback_detector}) where HOG found no face"
                )
            model_runs.append(
                ModelRun(
                    name=spec_name,
                    n_images_attempted=len(images),
                    n_failures=len(failures),
                    failures=failures,
                    metrics=metrics,
                    threshold_sweep=sweep,
                )
            )
        identities_kept = (
            images["identity"].to_numpy()[~failed_any]
            if on_fail is OnFail.EXCLUDE
            else images["identity"].to_numpy()
        )
        counts = pd.Series(identities_kept).value_counts()
        subset_runs.append(
            SubsetRun(
                name=name,
                definition=definition,
                pool_size=pool_size,
                sample_requested=request.sample if request.pairs_file is None else None,
                sample_size=len(images),
                n_identities=int(images["identity"].nunique()),
                images=list(images["path"]),
                pairs=PairInfo(
                    mode="file" if request.pairs_file else ("random" if request.pairs else "all"),
                    requested=request.pairs,
                    n_genuine=int(labels.sum()),
                    n_impostor=int(len(labels) - labels.sum()),
                    excluded_images=int(failed_any.sum()) if on_fail is OnFail.EXCLUDE else 0,
                    identities_without_genuine_pair=int((counts < 2).sum()),
                    file_sha256=pairs_file_sha256(request.pairs_file),
                    pairs_sha256=None if pairs is None else pair_set_digest(pairs),
                ),
                models=model_runs,
                comparisons=compare_models(model_scores, request.bootstrap, request.seed),
                notes=([note] if note else [])
                + ([duplicate_reports[name].note] if duplicate_reports[name].note else [])
                + evidence.overlap_notes(name, shared[name])
                + enrol_notes,
                duplicates=duplicate_reports[name].groups,
                identity_concentration=evidence.concentration(data),
                overlaps=shared[name],
            )
        )
        subset_data.append(data)

    differentials = None
    if len(subset_data) > 1:
        rule = request.differential_threshold
        differentials = differentials_in_units(
            subset_data,
            specs,
            far_target=parse_far_rule(rule),
            use_default=rule == "default",
        )
        evidence.matched_differentials(differentials, subset_data, specs)
    if request.threshold_from is not None:
        transfers = evidence.transfer_thresholds(subset_data, request.threshold_from)
        for run in subset_runs:
            for model_run in run.models:
                model_run.metrics["threshold_transfer"] = transfers[model_run.name][run.name]
    results = RunResults(
        face_bench_version=__version__,
        dataset=DatasetInfo(
            path=str(request.data), digest=dataset.digest, identity_source=dataset.identity_source
        ),
        settings=RunSettings(
            seed=request.seed,
            sample=request.sample if request.pairs_file is None else None,
            pairs=request.pairs,
            pairs_file=str(request.pairs_file) if request.pairs_file else None,
            align=request.align,
            multi_face=request.multi_face,
            fallback_detector=request.fallback_detector,
            on_fail=on_fail.value,
            far_targets=list(request.far_targets),
            bootstrap=request.bootstrap,
            threshold_from=request.threshold_from,
        ),
        models=infos,
        skipped_models=choice.messages,
        subsets=subset_runs,
        subset_differentials=differentials,
        volatile=Volatile(
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            command=list(request.command),
            duration_s=round(time.perf_counter() - started, 3),
            embeddings_computed=computed,
            embeddings_cached=cached,
        ),
    )
    return Evaluation(results, subset_data, specs, embeddings, union, skipped, dataset)


def pairs_file_sha256(path: Path | None) -> str | None:
    """SHA-256 of the pairs file's bytes: the gate refuses to compare different pair files."""
    if path is None:
        return None
    from face_bench.core.errors import PairsFileError
    from face_bench.core.io import MAX_TABLE_BYTES, read_bounded

    return hashlib.sha256(
        read_bounded(path, MAX_TABLE_BYTES, "pairs file", PairsFileError)
    ).hexdigest()


def pair_set_digest(pairs: Pairs) -> str:
    """A digest of which image pairs were drawn with which labels, independent of order."""
    a = np.minimum(pairs.a, pairs.b).astype("<i8")
    b = np.maximum(pairs.a, pairs.b).astype("<i8")
    label = np.asarray(pairs.label, dtype="<i8")
    order = np.lexsort((label, b, a))
    table = np.stack([a[order], b[order], label[order]], axis=1)
    return hashlib.sha256(np.ascontiguousarray(table).tobytes()).hexdigest()


def _settle_duplicates(sampled, hashes, position, request, say):
    """Each subset's pairs under ``--duplicates``, and its report of identical images."""
    from face_bench.run.duplicates import apply_policy

    settled, reports = [], {}
    for name, definition, pool_size, images, pairs, note in sampled:
        paths = list(images["path"])
        sample_hashes = [hashes[position[p]] for p in paths]
        pairs, report = apply_policy(
            name, paths, list(images["identity"]), sample_hashes, pairs, request.duplicates
        )
        if report.note:
            say(report.note)
        reports[name] = report
        settled.append((name, definition, pool_size, images, pairs, note))
    return settled, reports
