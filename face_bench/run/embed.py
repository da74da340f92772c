"""The embed step: choose the models, then embed a list of image files with each (cached).

The one entry point for embedding: evaluations, LFW runs and ``compare`` share it, so they
share cache entries too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from face_bench.core.config import Config, load_config
from face_bench.core.io import default_cache_dir, sha256_file
from face_bench.core.modes import Detector, parse_choice
from face_bench.data.near_duplicates import Fingerprint
from face_bench.embedding.cache import EmbeddingCache, FaceCache
from face_bench.embedding.pipeline import (
    Embeddings,
    ModelJob,
    embed_all,
    hash_images,
    merge_embeddings,
)
from face_bench.embedding.ray_engine import RayOptions
from face_bench.faces.locate import FaceSettings
from face_bench.models.backends import backend_for, preprocessing
from face_bench.models.choice import ModelChoice, choose_models
from face_bench.models.registry import ModelSpec, Registry, build_registry, runtime_notes
from face_bench.models.weights_files import weights_sha256
from face_bench.run.request import EmbedSettings


def open_embedding(settings: EmbedSettings) -> tuple[Config, Registry, FaceSettings]:
    """The config file, the model registry it extends and how faces are found, detector
    resolved (``settings.align`` must be chosen: ``EmbedSettings.aligned``)."""
    weights = dict(settings.weights)
    config, registry = open_registry(
        settings.config_path, weights, settings.cache_dir, settings.runtime
    )
    detector = None if settings.detector is None else settings.detector.value
    faces = resolve_detector(settings.faces(), detector, config, weights, settings.cache_dir)
    return config, registry, faces


def open_registry(
    config_path: Path | None,
    weights: dict[str, Path],
    cache_dir: Path | None,
    dlib_runtime: str | None = None,
) -> tuple[Config, Registry]:
    """The config file and the model registry it extends."""
    config = load_config(config_path)
    return config, build_registry(config, weights, cache_dir, dlib_runtime)


def resolve_detector(
    faces: FaceSettings,
    detector: str | None,
    config: Config,
    weights: dict[str, Path],
    cache_dir: Path | None,
) -> FaceSettings:
    """``faces`` with its detector: ``--detector``, else the config's ``detector``, else HOG;
    YuNet's weights are found here, before any work (see ``faces.yunet.find_weights``)."""
    chosen = parse_choice(Detector, detector or config.detector or Detector.HOG, "--detector")
    path = None
    if chosen is Detector.YUNET:
        from face_bench.faces.yunet import check_weights, find_weights

        found = find_weights(weights, config.weights, cache_dir or default_cache_dir())
        check_weights(found)
        path = str(found)
    return dataclasses.replace(faces, detector=chosen.value, detector_weights=path)


def _model_identity(spec: ModelSpec, weights: Path, faces: FaceSettings, cache_dir: Path) -> dict:
    from face_bench.models.registry import DLIB_SHAPE_FILE, dlib_weight_path

    digest = weights_sha256(weights)  # with an ONNX model's external data files
    settings = dataclasses.replace(faces, upsample=spec.upsample)
    identity = {
        "name": spec.name,
        "weights_sha256": digest,
        "preprocessing": preprocessing(spec),
        "faces": settings.identity(),
    }
    changes = backend_for(spec).mended(weights, digest, cache_dir)
    if changes:  # an export mended in memory: what was changed is part of it
        identity["graph_changes"] = list(changes)
    # Every model aligns with dlib's 5-point predictor, so it is part of every identity.
    identity["landmarks_sha256"] = sha256_file(dlib_weight_path(DLIB_SHAPE_FILE), cache_dir)
    if spec.alignment == "arcface":
        from face_bench.faces.chips import SHAPE_PREDICTOR_68

        identity["landmarks68_sha256"] = sha256_file(
            dlib_weight_path(SHAPE_PREDICTOR_68), cache_dir
        )
    return identity


def _embed_by_align(chosen, paths, hashes, faces, modes, cache_dir, workers, progress, ray,
                    fingerprints=None):  # fmt: skip
    """Each group of images that shares an align mode embedded (and cached) under it."""
    parts: dict[str, list] = {}
    identities: dict[str, dict] = {}
    for mode in dict.fromkeys(modes):
        index = [i for i, m in enumerate(modes) if m == mode]
        settings = dataclasses.replace(faces, align=mode)
        part, identities = embed_models(
            chosen, [paths[i] for i in index], [hashes[i] for i in index], settings,
            cache_dir, workers, progress, ray, fingerprints=fingerprints,
        )  # fmt: skip
        for name, result in part.items():
            parts.setdefault(name, []).append((index, result))
    merged = {name: merge_embeddings(p, len(paths)) for name, p in parts.items()}
    return merged, identities


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
    fingerprints: dict[str, Fingerprint | None] | None = None,
) -> tuple[dict[str, Embeddings], dict[str, dict]]:
    """Embeddings of ``paths`` for every chosen model (cached), and each model's identity.

    The one entry point for embedding: evaluations, LFW runs and ``compare`` share it,
    so they share cache entries too. ``aligns`` overrides ``faces.align`` per image
    (None keeps it): each group of images is located and cached under its own mode.
    ``fingerprints``: near-duplicate fingerprints asked of the workers
    (``embedding.pipeline.embed_all``).
    """
    modes = [mode or faces.align for mode in aligns] if aligns else []
    if len(set(modes)) > 1:
        return _embed_by_align(chosen, paths, hashes, faces, modes, cache_dir, workers,
                               progress, ray, fingerprints)  # fmt: skip
    if modes:
        faces = dataclasses.replace(faces, align=modes[0])
    jobs: list[ModelJob] = []
    identities: dict[str, dict] = {}
    for spec, weights in chosen:
        identity = _model_identity(spec, weights, faces, cache_dir)
        identities[spec.name] = identity
        cache = EmbeddingCache(cache_dir, identity)
        cache.sweep()  # a killed run's half-written entries, left by no live writer
        jobs.append(ModelJob(spec, weights, cache))
    landmarks_sha = next(iter(identities.values()))["landmarks_sha256"]

    def face_cache(settings: FaceSettings) -> FaceCache:
        identity = {"stage": "faces", **settings.identity(), "landmarks_sha256": landmarks_sha}
        cache = FaceCache(cache_dir, identity)
        cache.sweep()
        return cache

    embeddings = embed_all(
        jobs, paths, hashes, faces, face_cache, workers, progress, ray, fingerprints
    )
    return embeddings, identities


@dataclass
class FileEmbeddings:
    """Embeddings of a list of image files: what ``compare`` and ``lfw`` start from."""

    chosen: list[tuple[ModelSpec, Path]]
    skipped: list[str]
    hashes: list[str | None]
    embeddings: dict[str, Embeddings]
    detector: str = "hog"  # the face detector the run used (--detector, else the config's)


def embed_files(
    paths: list[Path],
    settings: EmbedSettings,
    *,
    progress=None,
    on_message: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
    before_embedding: Callable[[list[tuple[ModelSpec, Path]]], None] | None = None,
) -> FileEmbeddings:
    """Choose the models, report skipped ones, and embed ``paths`` (cached) with each.

    ``settings.align`` must be chosen (``EmbedSettings.aligned``). ``before_embedding``
    sees the chosen models first and may refuse them (a calibration file for other
    models), so nothing is embedded for a run that cannot finish.
    """
    _config, registry, faces = open_embedding(settings)
    cache_dir = settings.cache_dir
    choice = choose_models(registry, settings.models)
    if before_embedding is not None:
        before_embedding(choice.ready)
    skipped = announce_models(choice, cache_dir, on_info)
    for message in runtime_notes([spec for spec, _w in choice.ready]):
        if on_message:
            on_message(message)
    hashes = hash_images(paths)
    embeddings, _identities = embed_models(
        choice.ready, paths, hashes, faces, cache_dir or default_cache_dir(), settings.workers,
        progress, settings.ray,
    )  # fmt: skip
    return FileEmbeddings(choice.ready, skipped, hashes, embeddings, faces.detector)


def announce_models(
    choice: ModelChoice,
    cache_dir: Path | None,
    on_info: Callable[[str], None] | None,
) -> list[str]:
    """The run header (each model's weights and SHA-256 prefix); returns the line naming the
    registered models left out for want of weights as the run's note (empty when every model
    runs). That line is not printed: nobody asked for those models, ``face-bench models``
    says once where their weights go, and results.json records them (``skipped_models``)."""
    if on_info:
        for line in choice.header(cache_dir or default_cache_dir()):
            on_info(line)
    note = choice.note()
    return [note] if note else []
