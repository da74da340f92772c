"""``--calibration FILE`` on an evaluation: the file's maps applied to every subset's pairs.

The file is read and every model matched to its map (by weights and preprocessing) before
any image is embedded, so a file for another model stops the run at once; after scoring,
each model's map is judged on each subset with the same measures as ``calibrate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.calibration import calibration_quality
from face_bench.models.backends import preprocessing
from face_bench.models.registry import ModelSpec
from face_bench.models.weights_files import weights_sha256
from face_bench.results.calibration_file import (
    CalibrationFile,
    CalibrationSection,
    ModelMap,
    load_calibration,
    map_for,
)
from face_bench.run.subset_scores import SubsetScores


@dataclass(frozen=True)
class RunCalibration:
    """The file a run applies and each model's map in it."""

    path: Path
    file: CalibrationFile
    sha256: str
    maps: dict[str, ModelMap]
    prior: float | None

    def probability(self, model: str, scores: np.ndarray) -> np.ndarray:
        """P(same person) for a model's scores at the run's prior (default: the map's)."""
        return self.maps[model].calibration_map().probability(scores, self.prior)

    def prior_of(self, model: str) -> float:
        return self.maps[model].prior if self.prior is None else self.prior


def match_models(
    path: Path, chosen: list[tuple[ModelSpec, Path]], prior: float | None
) -> RunCalibration:
    """Read the file and find every chosen model's map; one missing is refused (exit 53)."""
    file, digest = load_calibration(path)
    maps = {
        spec.name: map_for(file, path, spec.name, weights_sha256(weights), preprocessing(spec))
        for spec, weights in chosen
    }
    return RunCalibration(path, file, digest, maps, prior)


def calibration_section(
    calibration: RunCalibration, scored: list[SubsetScores], n_boot: int, seed: int
) -> CalibrationSection:
    """Every model's calibration measures on every subset scored pair by pair."""
    models: dict[str, dict[str, dict]] = {}
    for subset in scored:
        for name, table in subset.scores.items():
            if table.ids_a is None or table.ids_b is None:
                continue  # scored in blocks: no per-pair identities to resample
            mapped = calibration.maps[name].calibration_map()
            scores = table.scores.astype(np.float64)
            try:
                quality = calibration_quality(
                    scores, table.labels, mapped.llr(scores),
                    calibration.probability(name, scores), (table.ids_a, table.ids_b),
                    calibration.prior_of(name), n_boot, seed,
                )  # fmt: skip
            except MetricError:
                continue  # one class only: nothing to judge
            models.setdefault(name, {})[subset.name] = quality.to_dict()
    return CalibrationSection(
        file=str(calibration.path),
        sha256=calibration.sha256,
        fitted_on=calibration.file.fitted_on,
        prior=calibration.prior,
        models=models,
    )
