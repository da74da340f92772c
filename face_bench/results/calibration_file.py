"""The calibration file: score -> P(same person) maps, each tied to the model it was fitted for.

A map only means something for the scores of the model it was fitted on: the same weights
(SHA-256) and the same preprocessing. ``map_for`` refuses any other model with one line
(``CalibrationMismatchError``), whatever the model is called.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from face_bench.core.errors import CalibrationFileError, CalibrationMismatchError
from face_bench.core.io import read_bounded
from face_bench.metrics.calibration_maps import CalibrationMap, Method


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FittedOn(_Strict):
    """The labelled pairs a map was fitted on."""

    dataset: str
    dataset_digest: str
    subset: str
    pairs_sha256: str
    n_genuine: int
    n_impostor: int
    n_people: int


class ModelMap(_Strict):
    """One model's map, the model identity it belongs to and its held-out quality."""

    name: str
    weights_sha256: str
    preprocessing: dict[str, Any]
    faces: dict[str, Any]
    similarity: Literal["euclidean", "cosine"]
    units: str
    method: Method
    prior: float
    parameters: dict[str, Any]
    held_out: dict[str, Any]
    applied: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}  # "<set> · <column>=<value>": the same measures

    def calibration_map(self) -> CalibrationMap:
        return CalibrationMap.from_parameters(self.method, self.prior, self.parameters)


class CalibrationFile(_Strict):
    format: Literal["face-bench-calibration"] = "face-bench-calibration"
    version: Literal[1] = 1
    face_bench_version: str
    score: str = "face-bench score: higher = same person (minus the distance for Euclidean models)"
    fitted_on: FittedOn
    cross_fitting: dict[str, Any]
    models: list[ModelMap]

    def text(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def load_calibration(path: Path) -> tuple[CalibrationFile, str]:
    """The file and the SHA-256 of its bytes; a malformed file is one line (exit 52)."""
    data = read_bounded(path, what="calibration file")
    try:
        parsed = CalibrationFile.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise CalibrationFileError(
            f"{path} is not a face-bench calibration file ({where}: {first['msg']})"
        ) from None
    return parsed, hashlib.sha256(data).hexdigest()


def map_for(
    calibration: CalibrationFile,
    path: Path,
    name: str,
    weights_sha256: str,
    preprocessing: dict[str, Any],
) -> ModelMap:
    """The map fitted for exactly this model (weights and preprocessing), else refused."""
    for entry in calibration.models:
        if entry.weights_sha256 == weights_sha256 and entry.preprocessing == preprocessing:
            return entry
    fitted = ", ".join(f"{m.name} (sha256 {m.weights_sha256[:12]})" for m in calibration.models)
    same_name = any(m.name == name for m in calibration.models)
    why = "other weights or preprocessing" if same_name else "another model"
    raise CalibrationMismatchError(
        f"{path} was fitted for {fitted}, not {name} (sha256 {weights_sha256[:12]}): "
        f"a map is only valid for the model it was fitted on ({why}); "
        f"fit one with face-bench calibrate --model {name}"
    )


class CalibrationSection(_Strict):
    """results.json's ``calibration``: the file a run applied (``--calibration``) and, per
    model and subset, the calibration measures of its map on the run's pairs."""

    file: str
    sha256: str
    fitted_on: FittedOn
    prior: float | None  # the stated prior (--prior); None: each model's own fitting prior
    models: dict[str, dict[str, dict[str, Any]]]  # model -> subset -> measures
