"""A run folder read back: everything the report draws, from files alone.

bob.measure's lesson: plots come from score files, not from a live evaluation. A run
folder holds ``results.json`` (every figure and setting), ``scores.csv`` (one row per
pair, every model's score) and ``umap.csv`` (each model's 2-D layout); this module reads
them into plain arrays so that the report is a pure function of the folder. The report
written at the end of a run and ``face-bench report --from`` both go through here.

What the score file does not hold is rebuilt from what results.json records: each
pair's identity codes for the bootstrap bands (numbered in the subset's sample order,
``subsets[].images``, as the run numbered them), each model's threshold and units, and
the calibration maps from the file results.json names and fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from face_bench.core.errors import (
    CalibrationFileError,
    FaceBenchError,
    ResultsError,
    RunFolderError,
)
from face_bench.core.orientation import ScoreOrientation
from face_bench.core.text import from_spreadsheet_cell
from face_bench.report.projection import MIN_POINTS
from face_bench.results.contract import ModelInfo, RunResults
from face_bench.results.scorefile import SCORE_FILE, read_score_file

RESULTS_FILE = "results.json"
UMAP_FILE = "umap.csv"
INPUTS = (RESULTS_FILE, SCORE_FILE, UMAP_FILE)
"""The run folder's own files: what the report is rendered from (every other file is drawn)."""


@dataclass(frozen=True)
class ModelScale(ScoreOrientation):
    """A model's threshold and units as results.json records them (``ModelInfo``)."""

    name: str
    similarity: str
    threshold: float

    @classmethod
    def of(cls, info: ModelInfo) -> ModelScale:
        return cls(info.name, info.similarity, info.default_threshold)


@dataclass
class PairScores:
    """One model's scores on one subset's pairs (higher = same person), from scores.csv."""

    spec: ModelScale
    scores: np.ndarray
    labels: np.ndarray
    ids_a: np.ndarray
    ids_b: np.ndarray
    per_pair: bool = True


@dataclass(frozen=True)
class ListedPairs:
    """The subset's scored pairs as rows of its image list (``SubsetData.images``)."""

    a: np.ndarray
    b: np.ndarray
    labels: np.ndarray
    implicit: bool = False

    def explicit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.a, self.b, self.labels


@dataclass
class SubsetData:
    """One subset: its image list, its pairs and each model's scores (empty when the run
    scored it in blocks and wrote no per-pair rows)."""

    name: str
    images: pd.DataFrame
    pairs: ListedPairs
    scores: dict[str, PairScores]


@dataclass(frozen=True)
class Layout:
    """One model's UMAP layout as umap.csv holds it."""

    model: str
    coords: np.ndarray
    images: np.ndarray
    identities: np.ndarray
    excluded: int

    @property
    def n_points(self) -> int:
        return len(self.coords)


@dataclass
class RunData:
    """Everything the report draws, read from one run folder."""

    folder: Path
    results: RunResults
    subsets: list[SubsetData]
    projections: list[Layout]
    umap_csv: bool  # umap.csv was in the folder (a run whose UMAP failed has none)
    calibration: Calibration | None
    notes: list[str] = field(default_factory=list)

    @property
    def dataset_root(self) -> Path:
        """Where the dataset's images were (thumbnails are made from them)."""
        recorded = self.results.volatile.dataset_root
        return Path(recorded if recorded is not None else self.results.dataset.path)

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.results.models]

    def subset(self, name: str) -> SubsetData:
        return next(s for s in self.subsets if s.name == name)


@dataclass(frozen=True)
class Calibration:
    """The maps of the calibration file results.json names, for P(same) in the gallery."""

    maps: dict
    prior: float | None

    def probability(self, model: str, scores: np.ndarray) -> np.ndarray:
        return np.asarray(self.maps[model].calibration_map().probability(scores, self.prior))


# ------------------------------------------------------------------ reading


def read_run_folder(folder: Path) -> RunData:
    """The run folder's results, scores and layouts; a folder that is not a run is one line."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise RunFolderError(f"run folder {folder} {what}")
    results_path = folder / RESULTS_FILE
    if not results_path.is_file():
        raise RunFolderError(
            f"{folder} holds no {RESULTS_FILE}: not a face-bench run folder "
            "(give a folder that `face-bench report`, `roc` or `threshold-sweep` wrote)"
        )
    results = RunResults.from_disk(results_path)
    models = [m.name for m in results.models]
    score_path = folder / SCORE_FILE
    frame = read_score_file(score_path, models)[0] if score_path.is_file() else None
    scales = {m.name: ModelScale.of(m) for m in results.models}
    subsets = [_subset(run, frame, scales, score_path) for run in results.subsets]
    notes = []
    blocked = ", ".join(s.name for s in subsets if not s.scores)
    if blocked:
        why = "scored in blocks" if frame is not None else f"no {SCORE_FILE} in the run folder"
        notes.append(
            f"no per-pair scores for {blocked} ({why}): its curves, sweep, histograms and "
            "gallery are not drawn"
        )
    umap_path = folder / UMAP_FILE
    projections = _layouts(umap_path, results) if umap_path.is_file() else []
    if not umap_path.is_file():  # layouts come from embeddings, which a run folder lacks
        notes.append(
            f"no {UMAP_FILE} in the run folder: the UMAP section has no layouts "
            "(`face-bench report` and `face-bench umap` write them)"
        )
    calibration, unusable = _calibration(results)
    if unusable:
        notes.append(unusable)
    return RunData(folder, results, subsets, projections, umap_path.is_file(), calibration, notes)


def _subset(run, frame: pd.DataFrame | None, scales: dict, path: Path) -> SubsetData:
    """One subset's pairs from the score file, as rows of its own image list."""
    rows = frame.loc[frame["subset"] == run.name] if frame is not None else None
    if rows is None or rows.empty:
        empty = np.zeros(0, dtype=np.int64)
        images = pd.DataFrame({"path": pd.Series([], dtype=object), "identity": []})
        return SubsetData(run.name, images, ListedPairs(empty, empty, empty.astype(bool)), {})
    identity = dict(zip(rows["image_a"], rows["identity_a"], strict=True))
    identity.update(zip(rows["image_b"], rows["identity_b"], strict=True))
    # The sample order results.json records, then any image only the pairs name.
    paths = [p for p in run.images if p in identity]
    listed = set(paths)
    paths += [p for p in identity if p not in listed]
    images = pd.DataFrame({"path": paths, "identity": [identity[p] for p in paths]})
    index = pd.Index(images["path"])
    a = index.get_indexer(rows["image_a"])
    b = index.get_indexer(rows["image_b"])
    # Identity codes numbered by first appearance in sample order, as the run numbered them:
    # the bootstrap draws people by code, so the same codes give the same replicates.
    codes = pd.factorize(images["identity"].to_numpy())[0].astype(np.int64)
    labels = rows["label"].to_numpy(dtype=bool)
    scores = {}
    for name, scale in scales.items():
        values = rows[name].to_numpy(dtype=np.float64)
        scores[name] = PairScores(scale, values, labels, codes[a], codes[b])
    people = images["identity"].to_numpy()
    if not np.array_equal(labels, people[a] == people[b]):
        raise ResultsError(
            f"{path}: subset {run.name!r} has a label that disagrees with its identities"
        )
    return SubsetData(run.name, images, ListedPairs(a, b, labels), scores)


def _layouts(path: Path, results: RunResults) -> list[Layout]:
    """umap.csv's rows per model, in the file's order (the run's model order)."""
    from face_bench.core.io import MAX_TABLE_BYTES, read_bounded_text

    text = read_bounded_text(path, MAX_TABLE_BYTES, "UMAP layout file", ResultsError)
    import io

    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        table = table.map(from_spreadsheet_cell)
        x = table["x"].astype(np.float64).to_numpy()
        y = table["y"].astype(np.float64).to_numpy()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError, ValueError) as exc:
        raise ResultsError(f"{path}: not a face-bench UMAP layout file ({exc})") from None
    failed = _failed_images(results)
    out = []
    for name in pd.unique(table["model"]):
        keep = (table["model"] == name).to_numpy()
        out.append(
            Layout(
                str(name),
                np.column_stack([x[keep], y[keep]]),
                table["image"].to_numpy()[keep],
                table["identity"].to_numpy()[keep],
                failed.get(str(name), 0),
            )
        )
    return out


def _failed_images(results: RunResults) -> dict[str, int]:
    """Per model, the sampled images it could not embed (left out of its layout)."""
    out: dict[str, set[str]] = {}
    for run in results.subsets:
        for model in run.models:
            out.setdefault(model.name, set()).update(f.image for f in model.failures)
    return {name: len(images) for name, images in out.items()}


def umap_notes(data: RunData) -> list[str]:
    """Why a model has no layout: too few embedded images (the run's own words)."""
    if not data.umap_csv:
        return []
    placed = {p.model for p in data.projections}
    sampled = len({p for run in data.results.subsets for p in run.images})
    failed = _failed_images(data.results)
    notes = []
    for name in data.model_names:
        if name not in placed:
            n = max(0, sampled - failed.get(name, 0))
            notes.append(
                f"{name}: {n} embedded image(s); a 2-D projection needs at least {MIN_POINTS}"
            )
    return notes


def _calibration(results: RunResults) -> tuple[Calibration | None, str | None]:
    """The maps of the run's calibration file, checked against the SHA-256 it recorded.

    Each model's map is the file's entry for its weights whose preprocessing the run
    recorded (results.json adds the face settings to it), as the run matched it."""
    section = results.calibration
    if section is None:
        return None, None
    from face_bench.results.calibration_file import load_calibration

    path = Path(section.file)
    try:
        file, digest = load_calibration(path)
    except (CalibrationFileError, FaceBenchError, OSError) as exc:
        return None, f"calibration file {path} unreadable ({exc}): gallery without P(same)"
    if digest != section.sha256:
        return None, f"calibration file {path} changed since the run: gallery without P(same)"
    maps = {}
    for model in results.models:
        recorded = model.preprocessing
        for entry in file.models:
            same = all(recorded.get(k) == v for k, v in entry.preprocessing.items())
            if entry.weights_sha256 == model.weights_sha256 and same:
                maps[model.name] = entry
                break
        else:
            return (
                None,
                f"calibration file {path} has no map for {model.name}: gallery without P(same)",
            )
    return Calibration(maps, section.prior), None
