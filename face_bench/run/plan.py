"""The plan step: which images and which pairs a run measures, before anything is embedded.

Each subset is sampled (or its pairs read from a pair file), then the samples are merged
into ONE image list, sorted by path, that is embedded once per model. Every subset's pairs
become a :class:`~face_bench.data.pairset.PairSet` of rows of that list, so from here on an
image has one index everywhere: embeddings, pairs, failures and the report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from face_bench.core.config import Config
from face_bench.core.errors import (
    ConfigError,
    EmptySubsetError,
    PairsFileError,
    UnknownSubsetError,
)
from face_bench.core.io import MAX_TABLE_BYTES, default_cache_dir, read_bounded
from face_bench.core.modes import OnFail, parse_choice
from face_bench.data.datasets import (
    Dataset,
    Pairs,
    SubsetSpec,
    load_dataset,
    make_pairs,
    manifest_alignment,
    sample_images,
    select_subset,
    subset_spec,
)
from face_bench.data.named import require_folder
from face_bench.data.near_duplicates import Fingerprint
from face_bench.data.pairset import PairMode, PairSet, from_local
from face_bench.embedding.pipeline import hash_images
from face_bench.faces.locate import FaceSettings
from face_bench.models.choice import ModelChoice, choose_models
from face_bench.models.registry import ModelSpec, runtime_notes
from face_bench.results.blocks import SubsetOverlap
from face_bench.results.quality import NearDuplicates
from face_bench.run import evidence
from face_bench.run.duplicates import DuplicateReport
from face_bench.run.embed import announce_models, open_embedding
from face_bench.run.request import EvaluationRequest
from face_bench.run.subset_scores import use_blocks


@dataclass(frozen=True)
class SubsetPlan:
    """One subset: what defines it, its pool, and the pairs to score."""

    name: str
    definition: dict[str, list[str]]
    pool_size: int
    n_images: int
    n_identities: int
    pairs: PairSet  # rows of RunPlan.images
    note: str
    overlaps: list[SubsetOverlap] = field(default_factory=list)  # images shared with others
    duplicates: DuplicateReport | None = None  # byte-identical images and what was done


@dataclass(frozen=True)
class RunPlan:
    """Everything decided before embedding: models, face settings and the one image list."""

    config: Config
    dataset: Dataset
    choice: ModelChoice
    skipped: list[str]  # the one line saying which models were left out, if any
    faces: FaceSettings
    on_fail: OnFail
    cache_dir: Path
    images: pd.DataFrame  # the one image list, sorted by path
    subsets: tuple[SubsetPlan, ...]
    hashes: list[str | None] = field(default_factory=list)  # content hash per image (None: missing)
    aligns: list[str | None] | None = None  # the manifest's per-image --align override
    near_duplicates: NearDuplicates | None = None  # perceptual near-duplicates, what was done
    pending: _Pending | None = None  # subsets whose near-duplicates are settled later

    @property
    def chosen(self) -> list[tuple[ModelSpec, Path]]:
        """The models that run, with their weights."""
        return self.choice.ready

    @property
    def paths(self) -> list[Path]:
        """Absolute paths of the image list, in its order."""
        return [self.dataset.root / p for p in self.images["path"]]


@dataclass(frozen=True)
class _Pending:
    """What ``finish_plan`` needs to settle near-duplicates and build the subsets."""

    samples: list[_Sample]
    position: dict[str, int]
    duplicates: dict[str, DuplicateReport]
    shared: dict[str, list[SubsetOverlap]]


@dataclass(frozen=True)
class _Sample:
    """A subset's images and pairs in its own positions, before the image list exists."""

    spec: SubsetSpec
    pool_size: int
    images: pd.DataFrame
    pairs: Pairs | None  # None: every pair, scored in blocks
    mode: PairMode
    note: str


def _sample(request: EvaluationRequest, dataset: Dataset, spec: SubsetSpec) -> _Sample:
    """Sample one subset and choose its pairs: a pair file, N random pairs, or all pairs."""
    pool = select_subset(dataset, spec)
    if request.pairs_file is not None:
        from face_bench.data.pairing import pairs_from_file

        images, listed, note = pairs_from_file(dataset, pool, request.pairs_file)
        return _Sample(spec, len(pool), images, listed, "file", note)
    images = sample_images(pool, request.sample, request.seed)
    _check_people(spec.name, images["identity"])
    blocked = use_blocks(len(images), request.pairs, from_file=False)
    identities = images["identity"].to_numpy()
    pairs: Pairs | None = None
    if not blocked:
        pairs = make_pairs(identities, request.pairs, request.seed)
    note = ""
    if request.sample is not None and len(pool) < request.sample:
        note = (
            f"subset {spec.name!r} has {len(pool)} images, fewer than "
            f"--sample {request.sample}: using all of them"
        )
    return _Sample(spec, len(pool), images, pairs, "random" if request.pairs else "all", note)


@contextlib.contextmanager
def _naming_origin(origin: str) -> Iterator[None]:
    """A subset the config chose by default that does not fit the data says where it came
    from, and how to choose others."""
    try:
        yield
    except (EmptySubsetError, UnknownSubsetError) as exc:
        if not origin:
            raise
        raise type(exc)(f"{exc} (subsets from {origin}; --subset chooses others)") from None


def _check_people(name: str, identities: pd.Series) -> None:
    """Refuse, before any embedding, a subset whose images cannot give both kinds of pair.

    Impostor pairs need two people and genuine pairs a person with two images; without
    both, ROC-AUC and every rate are undefined, which used to surface only after embedding.
    """
    counts = identities.value_counts()
    if len(counts) == 1:
        person, n = next(iter(counts.items()))
        raise EmptySubsetError(
            f"subset {name!r} has 1 person ({person!r}, {n} images): impostor pairs need "
            "at least 2 people; widen the subset's filters"
        )
    if counts.max() < 2:
        shown = ", ".join(repr(person) for person in counts.index[:5])
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        raise EmptySubsetError(
            f"subset {name!r} has {len(counts)} people with one image each ({shown}{more}): "
            "a genuine pair needs a person with at least 2 images"
        )


def _image_list(samples: list[_Sample]) -> pd.DataFrame:
    """The union of the samples, one row per distinct path, sorted by path."""
    return (
        pd.concat([s.images for s in samples])
        .drop_duplicates("path")
        .sort_values("path", kind="mergesort")
        .reset_index(drop=True)
    )


def _settle_duplicates(samples, hashes, position, request, say):
    """Each subset's pairs under ``--duplicates``, and its report of identical images."""
    from face_bench.run.duplicates import apply_policy

    settled, reports = [], {}
    for sample in samples:
        name = sample.spec.name
        paths = list(sample.images["path"])
        sample_hashes = [hashes[position[p]] for p in paths]
        identities = list(sample.images["identity"])
        pairs, report = apply_policy(
            name, paths, identities, sample_hashes, sample.pairs, request.duplicates.value
        )
        if report.note:
            say(report.note)
        reports[name] = report
        settled.append(dataclasses.replace(sample, pairs=pairs))
    return settled, reports


def pairs_file_sha256(path: Path | None) -> str | None:
    """SHA-256 of the pairs file's bytes: the gate refuses to compare different pair files."""
    if path is None:
        return None
    data = read_bounded(path, MAX_TABLE_BYTES, "pairs file", PairsFileError)
    return hashlib.sha256(data).hexdigest()


def _subset_plan(
    sample: _Sample,
    dataset: Dataset,
    position: dict[str, int],
    request: EvaluationRequest,
    overlaps: list[SubsetOverlap],
    duplicates: dict[str, DuplicateReport],
) -> SubsetPlan:
    rows = np.array([position[p] for p in sample.images["path"]], dtype=np.int64)
    source = str(request.pairs_file) if request.pairs_file is not None else None
    digest = pairs_file_sha256(request.pairs_file)
    return SubsetPlan(
        name=sample.spec.name,
        definition=sample.spec.definition(list(dataset.table.columns)),
        pool_size=sample.pool_size,
        n_images=len(sample.images),
        n_identities=int(sample.images["identity"].nunique()),
        pairs=from_local(sample.pairs, rows, sample.mode, request.pairs, source, digest),
        note=sample.note,
        overlaps=overlaps,
        duplicates=duplicates[sample.spec.name],
    )


def _check_threshold_from(request: EvaluationRequest) -> None:
    if request.threshold_from is not None and request.threshold_from not in request.subsets:
        raise ConfigError(
            f"--threshold-from {request.threshold_from!r} must be one of the run's subsets "
            f"({', '.join(request.subsets)})"
        )


def plan_run(
    request: EvaluationRequest,
    say: Callable[[str], None] = lambda _m: None,
    on_info: Callable[[str], None] | None = None,
    choice: ModelChoice | None = None,
    near_later: bool = False,
) -> RunPlan:
    """Choose the models, open the dataset and plan every subset's pairs.

    Models come first: a model asked for that cannot run stops the run before any data is
    read. The header (data, models) is printed once the inputs are known to be usable.
    ``choice`` is a caller's own choice of models (the probe's model, which may be a file
    the registry does not know); None chooses ``request.embed.models`` from the registry.
    With ``near_later`` the near-duplicate check, which only decides which pairs are
    scored, is left to ``finish_plan`` (after embedding, from fingerprints the workers
    compute from the decode they do anyway): the plan then has no subsets yet.
    """
    config, registry, faces = open_embedding(request.embed)
    cache_dir = request.embed.cache_dir or default_cache_dir()
    if choice is None:
        choice = choose_models(registry, request.embed.models)
    on_fail = parse_choice(OnFail, request.on_fail, "--on-fail")
    require_folder(request.data, request.data_origin)
    dataset = load_dataset(request.data, request.identity_from, request.identity_pattern)
    _check_threshold_from(request)
    if request.stratify_by is not None:
        from face_bench.run.quality import check_stratify_column

        check_stratify_column(request.stratify_by, list(dataset.table.columns))
    samples = _samples(request, dataset, config, say)
    images = _image_list(samples)
    if on_info:
        _announce_data(request, len(images), len(dataset), on_info)
    skipped = announce_models(choice, cache_dir, on_info)
    for message in runtime_notes([spec for spec, _w in choice.ready]):
        say(message)
    position = {p: i for i, p in enumerate(images["path"])}
    hashes = hash_images([dataset.root / p for p in images["path"]])
    samples, duplicates = _settle_duplicates(samples, hashes, position, request, say)
    shared = evidence.overlaps({s.spec.name: s.images for s in samples})
    plan = RunPlan(
        config=config,
        dataset=dataset,
        choice=choice,
        skipped=skipped,
        faces=faces,
        on_fail=on_fail,
        cache_dir=cache_dir,
        images=images,
        subsets=(),
        hashes=hashes,
        pending=_Pending(samples, position, duplicates, shared),
    )
    if not near_later:
        plan = finish_plan(plan, request, say)
    for name, rows in shared.items():
        for line in evidence.overlap_notes(name, rows):
            say(line)
    aligns = manifest_alignment(images)
    if aligns is not None:
        say(_alignment_note(aligns, request.embed.chosen_align.value))
    return dataclasses.replace(plan, aligns=aligns)


def finish_plan(
    plan: RunPlan,
    request: EvaluationRequest,
    say: Callable[[str], None],
    known: dict[str, Fingerprint | None] | None = None,
) -> RunPlan:
    """The plan with its near-duplicates settled and its subsets built (a plan made with
    ``near_later``; ``known``: fingerprints by content hash already at hand)."""
    from face_bench.run import near_duplicates

    pending = plan.pending
    if pending is None:
        return plan
    digests = dict(zip(plan.images["path"], plan.hashes, strict=True))
    samples, near = near_duplicates.settle(
        pending.samples, plan.dataset.root, request.near_duplicates.value, say, digests,
        Path(plan.cache_dir), known,
    )  # fmt: skip
    shared, position = pending.shared, pending.position
    subsets = tuple(
        _subset_plan(s, plan.dataset, position, request, shared[s.spec.name], pending.duplicates)
        for s in samples
    )
    return dataclasses.replace(plan, subsets=subsets, near_duplicates=near, pending=None)


def _samples(
    request: EvaluationRequest, dataset: Dataset, config: Config, say: Callable[[str], None]
) -> list[_Sample]:
    """Each subset of the request sampled from the dataset, its sampling note said."""
    samples = []
    with _naming_origin(request.subsets_origin):
        specs = [subset_spec(name, config.subsets) for name in dict.fromkeys(request.subsets)]
        for spec in specs:
            samples.append(_sample(request, dataset, spec))
            if samples[-1].note:
                say(samples[-1].note)
    return samples


def _announce_data(
    request: EvaluationRequest, used: int, total: int, on_info: Callable[[str], None]
) -> None:
    origin = f" ({request.data_origin})" if request.data_origin else ""
    on_info(f"data: {request.data}{origin}: {used} of {total} images used")
    if request.subsets_origin:
        on_info(f"subsets: {', '.join(request.subsets)} ({request.subsets_origin})")


def _alignment_note(aligns: Sequence[str | None], align: str) -> str:
    return (
        f"aligned column: {sum(a == 'none' for a in aligns)} image(s) taken as aligned "
        f"crops, {sum(a == 'detect' for a in aligns)} detected, the rest --align {align}"
    )
