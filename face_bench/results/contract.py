"""Typed, versioned results: what ``results.json`` holds and how it is read back.

The file is a contract for CI (see docs/results-schema.md and the JSON Schema in
``face_bench/schema``). Everything in it is deterministic for the same inputs and
seed except the ``volatile`` block (timestamp, command line, durations).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from face_bench.core.errors import ResultsError
from face_bench.core.io import MAX_JSON_BYTES, read_bounded
from face_bench.results.blocks import (
    IdentityConcentration,
    ModelComparison,
    ModelMetrics,
    SubsetOverlap,
    ThresholdSweep,
)
from face_bench.results.calibration_file import CalibrationSection
from face_bench.results.differentials import Differentials
from face_bench.results.quality import DataQuality

# 2: every metric block is a closed, typed object (1 left them open dicts).
SCHEMA_VERSION = 2
LEGACY_KEYS = frozenset({"subset_differentials"})
"""Top-level keys older files wrote that are no longer read (see ``RunResults.from_data``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Failure(_Strict):
    """An image a model could not embed (failure to enrol), with the reason."""

    image: str
    reason: str
    detail: str = ""


class ModelInfo(_Strict):
    """Identity of a model as run: enough to tell whether two runs are comparable."""

    name: str
    backend: str
    similarity: Literal["euclidean", "cosine"]
    units: str
    default_threshold: float
    weights_sha256: str
    weights_path: str
    embedding_size: int
    preprocessing: dict[str, Any]
    # Provenance, from the model's spec: where the weights come from and their licence.
    source: str | None = None
    licence: str | None = None


class ModelRun(_Strict):
    """One model on one subset."""

    name: str
    n_images_attempted: int
    n_failures: int
    failures: list[Failure]
    metrics: ModelMetrics
    threshold_sweep: ThresholdSweep | None = None


class PairInfo(_Strict):
    """How pairs were formed and how many of each kind were scored."""

    mode: Literal["all", "random", "file"]
    requested: int | None = None
    n_genuine: int
    n_impostor: int
    excluded_images: int = 0
    identities_without_genuine_pair: int = 0
    # What the gate needs to tell whether two runs scored the same pairs: the pairs file's
    # SHA-256 and a digest of the pair set drawn (image indices and labels, before failures
    # to enrol are excluded); None where not recorded (every pair of a large sample).
    file_sha256: str | None = None
    pairs_sha256: str | None = None


class SubsetRun(_Strict):
    """One subset: what was sampled, which pairs, and every model's figures."""

    name: str
    definition: dict[str, list[str]]
    pool_size: int
    sample_requested: int | None
    sample_size: int
    n_identities: int
    images: list[str]
    pairs: PairInfo
    models: list[ModelRun]
    comparisons: list[ModelComparison] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    identity_concentration: IdentityConcentration | None = Field(
        default=None,
        description="people, the largest person's share of genuine pairs, effective number "
        "of identities (inverse Simpson) and a warning when concentrated",
    )
    overlaps: list[SubsetOverlap] = Field(
        default_factory=list, description="other subsets of the run sharing sampled images"
    )
    duplicates: list[list[str]] = Field(
        default_factory=list,
        description="groups of sampled images with byte-identical content (same SHA-256); "
        "cross-identity pairs of them are left out of the impostors unless --duplicates keep",
    )


class DatasetInfo(_Strict):
    path: str
    digest: str
    identity_source: str


class RunSettings(_Strict):
    seed: int
    sample: int | None
    pairs: int | None
    pairs_file: str | None = None
    align: str
    multi_face: str
    fallback_detector: str | None = None
    # The face detector (--detector); files made before the choice existed used HOG.
    detector: str = "hog"
    on_fail: str
    far_targets: list[float]
    bootstrap: int = 0
    threshold_from: str | None = None
    near_duplicates: str | None = Field(
        default=None,
        description="--near-duplicates (exclude | keep); null in files written before the "
        "option existed, which scored every pair (keep)",
    )


class Volatile(_Strict):
    """The only fields that differ between identical runs."""

    generated_at: str
    command: list[str]
    duration_s: float
    embeddings_computed: dict[str, int] = Field(default_factory=dict)
    embeddings_cached: dict[str, int] = Field(default_factory=dict)
    dataset_root: str | None = Field(
        default=None,
        description="the dataset folder as resolved on the machine that ran (where a "
        "re-rendered report finds the images of its gallery)",
    )


class RunResults(_Strict):
    """The whole ``results.json``."""

    schema_version: int = SCHEMA_VERSION
    face_bench_version: str
    score_orientation: str = "higher = same person; Euclidean models' scores are negated distances"
    dataset: DatasetInfo
    settings: RunSettings
    models: list[ModelInfo]
    skipped_models: list[str] = Field(
        default_factory=list, description="why a requested model did not run (weights missing)"
    )
    subsets: list[SubsetRun]
    differentials: Differentials | None = None
    calibration: CalibrationSection | None = None
    data_quality: DataQuality | None = Field(
        default=None,
        description="confounds, suspected label errors, near-duplicates, strata "
        "(docs/data-quality.md)",
    )
    volatile: Volatile  # last: everything above it is the same for identical runs

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"

    def to_disk(self, path: Path) -> None:
        from face_bench.core.io import atomic_write_text

        atomic_write_text(path, self.to_json())

    @classmethod
    def from_disk(cls, path: Path) -> RunResults:
        """Read a results file of this version, refusing any other with a clear message."""
        data = read_json(path)
        version = data["schema_version"]
        if version != SCHEMA_VERSION:
            raise ResultsError(f"{path}: {unsupported_version(version)}")
        return cls.from_data(data, path)

    @classmethod
    def from_data(cls, data: dict[str, Any], path: Path | str) -> RunResults:
        """Validate parsed JSON, turning the first error into a one-line ResultsError.

        Strictly: a number written as a string or a boolean is a broken file, not a figure;
        so is a file naming one subset or model twice or whose counts contradict each other.
        ``subset_differentials`` of older files (subset rates at a pooled threshold, without
        intervals) is superseded by ``differentials`` and dropped on reading.
        """
        from face_bench.results.consistency import check_results

        data = {k: v for k, v in data.items() if k not in LEGACY_KEYS}
        try:
            results = cls.model_validate(data, strict=True)
        except RecursionError:
            raise ResultsError(f"{path}: invalid results file: nested too deeply") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ResultsError(f"{path}: invalid results file at {where}: {first['msg']}") from None
        return check_results(results, path)

    def subset(self, name: str) -> SubsetRun:
        for subset in self.subsets:
            if subset.name == name:
                return subset
        raise ResultsError(f"no subset {name!r} in results")


def read_json(path: Path) -> dict[str, Any]:
    """A results file's JSON object; errors name the file and say what is wrong."""
    from face_bench.results.consistency import DuplicateKeyError, reject_duplicate_keys

    text = read_bounded(path, MAX_JSON_BYTES, "results file", ResultsError)
    try:
        data = json.loads(text, object_pairs_hook=reject_duplicate_keys)
    except DuplicateKeyError as exc:
        raise ResultsError(f"{path}: malformed results file: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise ResultsError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", type(None): "null"}.get(type(data), "a number")
        raise ResultsError(f"{path}: not a face-bench results file (JSON {kind}, not an object)")
    if "schema_version" not in data:
        raise ResultsError(f"{path}: not a face-bench results file (no schema_version)")
    return data


def unsupported_version(version: Any, readable: tuple[int, ...] = (SCHEMA_VERSION,)) -> str:
    """Why a schema_version cannot be read, and what to do about it."""
    newer = isinstance(version, int) and not isinstance(version, bool) and version > max(readable)
    hint = "upgrade face-bench" if newer else "re-run the benchmark with this face-bench"
    reads = " or ".join(str(v) for v in readable)
    return (
        f"schema_version {version!r} is not supported "
        f"(this face-bench reads version {reads}); {hint}"
    )


# ---------------------------------------------------------------- JSON Schema

SCHEMA_FILE = Path(__file__).with_name("schema") / "results.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``results.json``, generated from ``RunResults``.

    The shipped copy in ``face_bench/schema/`` is checked against this by the tests, so the
    published contract cannot drift from the model that reads the files.
    """
    schema = RunResults.model_json_schema(mode="validation")
    schema["properties"]["schema_version"] = {
        "const": SCHEMA_VERSION,
        "description": "Format version; readers refuse any other value.",
        "title": "Schema Version",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "face-bench results.json",
        "description": f"face-bench results, schema_version {SCHEMA_VERSION}. "
        "See docs/results-schema.md.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def write_json_schema(path: Path = SCHEMA_FILE) -> Path:
    """Regenerate the shipped schema file (``python -m face_bench.results.contract``)."""
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_json_schema())
