"""Every model is one typed spec; built-ins and TOML-defined models share it.

The registry also answers "where are this model's weights?" in one documented
order, so a missing file produces a message naming every place looked.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from face_bench.core.config import Config
from face_bench.core.errors import ConfigError, UnknownModelError, WeightsMissingError
from face_bench.core.io import user_path
from face_bench.models.spec_bounds import (
    MAX_EMBEDDING,
    MAX_SIDE,
    check_spec,
    dlib_size_defaults,
    first_error,
)

DLIB_WEIGHTS_PACKAGE = "face_recognition_models"
DLIB_DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
PIPELINE_VERSION = 1  # bump when preprocessing code changes what an embedding is
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]


class ModelSpec(BaseModel):
    """How to load a model, prepare its input and compare its embeddings."""

    # NaN or infinity in any float (scale, mean, std, threshold, padding) is refused here.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str
    backend: Literal["dlib", "onnx"]
    path: str | None = Field(None, description="weights file (ONNX); dlib reads its package")
    weights_filename: str | None = Field(
        None, description="file name looked for in <cache dir>/models when no path is given"
    )
    source: str | None = Field(None, description="where users obtain the weights")
    input_size: tuple[Side, Side] = (224, 224)
    color_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = Field(1.0 / 255.0, gt=0)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    embedding_size: int | None = Field(None, ge=1, le=MAX_EMBEDDING)
    similarity: Literal["euclidean", "cosine"] = "cosine"
    threshold: float
    chip_size: Side | None = None
    chip_padding: float = Field(0.1, ge=0, le=4)
    num_jitters: int = Field(0, ge=0, le=1000)
    upsample: int = Field(1, ge=0, le=4)
    batch_size: int = Field(16, ge=1, le=1024)
    layout: Literal["NCHW", "NHWC"] = Field(
        "NCHW", description="input tensor layout; TensorFlow exports are usually NHWC"
    )
    input: str | None = Field(None, description="graph input to feed; default: the only one")
    output: str | None = Field(
        None, description="graph output holding the embedding; default: the only one"
    )
    normalize: bool = Field(False, description="L2-normalise each embedding before scoring")
    alignment: Literal["dlib_chip", "arcface"] = Field(
        "dlib_chip",
        description="chip template: dlib's get_face_chip(chip_size, chip_padding), or the "
        "ArcFace 5-point template scaled to chip_size",
    )
    runtime: Literal["onnx", "dlib"] = Field(
        "onnx",
        description="dlib models: onnxruntime on the graph converted from dlib's .dat, or "
        "dlib's own code (num_jitters > 1 always uses dlib's own code)",
    )
    description: str = ""
    default: bool = Field(
        True,
        description="run when no --model is given; false registers a model that runs only "
        "by name (--model NAME), so adding it changes neither make run nor the CI gate",
    )
    licence: str | None = Field(None, description="the weights' licence, as their source states")

    @model_validator(mode="after")
    def _runtime_fits_backend(self) -> ModelSpec:
        if self.backend == "onnx" and self.runtime != "onnx":
            raise ValueError("runtime = 'dlib' only applies to backend = 'dlib'")
        return self

    @model_validator(mode="before")
    @classmethod
    def _dlib_sizes_default_to_150(cls, data: Any) -> Any:
        return dlib_size_defaults(data)

    @model_validator(mode="after")
    def _values_in_range(self) -> ModelSpec:
        check_spec(self)
        return self

    @property
    def on_dlib_runtime(self) -> bool:
        """Whether dlib's own code computes the embedding (else onnxruntime does).

        dlib's jitter draws from a random generator kept inside its network object, so
        jittered descriptors are only reproducible on dlib's own runtime.
        """
        return self.backend == "dlib" and (self.runtime == "dlib" or self.num_jitters > 1)

    @field_validator("std")
    @classmethod
    def _std_positive(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(v <= 0 for v in value):
            raise ValueError("std values must be positive")
        return value

    @property
    def units(self) -> str:
        """What the model's threshold is measured in."""
        return "Euclidean distance" if self.similarity == "euclidean" else "cosine similarity"

    @property
    def distance_like(self) -> bool:
        """True when lower raw values mean 'same person' (scores are then negated)."""
        return self.similarity == "euclidean"

    def to_score(self, value: float) -> float:
        """Model units -> face-bench score (higher = same person)."""
        return -value if self.distance_like else value

    def from_score(self, value: float) -> float:
        """face-bench score -> model units."""
        return -value if self.distance_like else value

    def preprocessing(self) -> dict[str, Any]:
        """Settings that change an embedding; part of every cache key."""
        keys = (
            "backend",
            "input_size",
            "color_order",
            "scale",
            "mean",
            "std",
            "chip_size",
            "chip_padding",
            "num_jitters",
            "upsample",
            "output",
            "normalize",
            "alignment",
        )
        data = self.model_dump(include=set(keys))
        data["pipeline_version"] = PIPELINE_VERSION
        if self.backend == "dlib":  # the two runtimes' vectors differ by float rounding
            from face_bench.models.dlib_onnx import CONVERTER_VERSION

            data["runtime"] = "dlib" if self.on_dlib_runtime else f"onnx-c{CONVERTER_VERSION}"
        return json.loads(json.dumps(data))

    def finish(self, vectors: np.ndarray) -> np.ndarray:
        """Embeddings as scored: L2-normalised rows when ``normalize`` is set."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not self.normalize:
            return vectors
        norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (vectors / norms).astype(np.float32)


BUILTIN_MODELS: dict[str, ModelSpec] = {
    "dlib": ModelSpec(
        name="dlib",
        backend="dlib",
        source=f"the {DLIB_WEIGHTS_PACKAGE} package (pip install {DLIB_WEIGHTS_PACKAGE})",
        input_size=(150, 150),
        embedding_size=128,
        similarity="euclidean",
        threshold=0.6,
        chip_size=150,
        chip_padding=0.25,
        runtime="onnx",
        licence="public domain, as its author released it (github.com/davisking/dlib-models)",
        description="dlib ResNet face descriptor (HOG detector, 5-point alignment), 128-d",
    ),
    "japanese-face-v1": ModelSpec(
        name="japanese-face-v1",
        backend="onnx",
        weights_filename="JAPANESE_FACE_v1.onnx",
        source=(
            "https://github.com/yKesamaru/FACE01_trained_models (JAPANESE FACE v1; "
            "its licence forbids redistribution, so download it yourself)"
        ),
        input_size=(224, 224),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        embedding_size=512,
        similarity="cosine",
        threshold=0.4,
        chip_size=224,
        chip_padding=0.1,
        licence="its author's licence, which forbids redistribution",
        description="EfficientNetV2 + ArcFace fine-tuned on Japanese faces, 512-d",
    ),
}


def env_var_for(name: str) -> str:
    """Environment variable that points at a model's weights: FACE_BENCH_<NAME>."""
    return "FACE_BENCH_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def dlib_weight_path(filename: str) -> Path:
    """One of dlib's .dat files from the installed package (found without importing it)."""
    from face_bench.faces.alignment import dlib_model_path

    return dlib_model_path(filename)


@dataclass(frozen=True)
class ModelStatus:
    """Whether a model can run, and where its weights are (or were looked for)."""

    spec: ModelSpec
    state: Literal["ready", "weights missing", "bad shape", "bad file"]
    weights: Path | None
    looked: tuple[str, ...]
    message: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"


class Registry:
    """Built-in models plus those from the config file, with weights resolution."""

    def __init__(
        self,
        specs: dict[str, ModelSpec],
        config: Config,
        overrides: dict[str, Path],
        cache_dir: Path,
    ) -> None:
        self.specs = specs
        self.config = config
        self.overrides = overrides
        self.cache_dir = cache_dir

    def names(self) -> list[str]:
        return list(self.specs)

    def default_names(self) -> list[str]:
        """The models a run uses when none is named: those not marked ``default = false``."""
        return [name for name, spec in self.specs.items() if spec.default]

    def get(self, name: str) -> ModelSpec:
        if name not in self.specs:
            close = difflib.get_close_matches(name, self.specs, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownModelError(
                f"unknown model {name!r}; known: {', '.join(self.specs)}.{hint}"
            )
        return self.specs[name]

    def locate(self, name: str) -> tuple[Path | None, tuple[str, ...]]:
        """Weights path in precedence order: --weights, env, config [weights], spec path, cache dir.

        ``looked`` names every place with what was found there. A path the user typed
        (--weights or the environment variable) that does not exist stops the search:
        quietly running other weights instead would change what is measured.
        """
        spec = self.get(name)
        if spec.backend == "dlib":
            path = dlib_weight_path(DLIB_DESCRIPTOR_FILE)
            return path, (str(path),)
        env = env_var_for(name)
        explicit: list[tuple[str, Path | None, str]] = [
            (f"--weights {name}=PATH", self.overrides.get(name), "not given"),
            (
                f"${env}",
                user_path(os.environ[env], f"${env}", ConfigError) if os.environ.get(env) else None,
                "not set",
            ),
        ]
        # No square brackets in these labels: Rich would read "[weights]" as markup.
        config_place: tuple[str, Path | None, str]
        if self.config.path is None:
            config_place = ("config file", None, "none given and no ./face-bench.toml")
        else:
            config_place = (
                f"weights.{name} in {self.config.path}",
                self.config.weights.get(name),
                "not set",
            )
        filename = spec.weights_filename or f"{name}.onnx"
        defaults: list[tuple[str, Path | None, str]] = [config_place]
        if spec.path:
            defaults.append((f"models.{name}.path", Path(spec.path), ""))
        defaults.append(("the cache dir", self.cache_dir / "models" / filename, ""))
        looked: list[str] = []
        for where, candidate, absent in explicit + defaults:
            if candidate is None:
                looked.append(f"{where}: {absent}")
                continue
            if candidate.is_file():
                looked.append(f"{where}: {candidate}")
                return candidate, tuple(looked)
            _refuse_special(name, where, candidate)
            looked.append(f"{where}: {candidate} (not found)")
            if (where, candidate, absent) in explicit:
                looked.append("later places not tried, since a path was given explicitly")
                break
        return None, tuple(looked)

    def shareable_message(self, name: str) -> str:
        """Why a model did not run, for results.json: the places looked for its weights named
        without this machine's paths (the cache dir, the config file), so the file can be
        shared; ``face-bench models`` shows the paths themselves."""
        spec = self.get(name)
        filename = spec.weights_filename or f"{name}.onnx"
        places = [
            f"--weights {name}=PATH",
            f"${env_var_for(name)}",
            f"weights.{name} in the config file",
            *([f"models.{name}.path"] if spec.path else []),
            f"<cache dir>/models/{filename}",
        ]
        source = f" Obtain it from {spec.source}." if spec.source else ""
        return (
            f"weights not found (looked in: {', '.join(places)}; `face-bench models` shows "
            f"where on this machine).{source}"
        )

    def missing_message(self, name: str, looked: tuple[str, ...]) -> str:
        spec = self.get(name)
        places = "; ".join(looked)
        source = f" Obtain it from {spec.source}." if spec.source else ""
        height, width = spec.input_size
        shape = f"1x3x{height}x{width}" if spec.layout == "NCHW" else f"1x{height}x{width}x3"
        return (
            f"weights not found (looked in: {places}). "
            f"Expected an ONNX file with input {shape} float32 "
            f"and a {spec.embedding_size or 'N'}-d output.{source}"
        )

    def status(self, name: str, check_shape: bool = True) -> ModelStatus:
        """Find the weights and, for ONNX, check the graph's inputs and outputs."""
        spec = self.get(name)
        try:
            path, looked = self.locate(name)
        except WeightsMissingError as exc:
            return ModelStatus(spec, "weights missing", None, (), str(exc))
        if path is None:
            return ModelStatus(
                spec, "weights missing", None, looked, self.missing_message(name, looked)
            )
        if spec.backend == "onnx" and check_shape:
            from face_bench.core.errors import ModelFileError, ModelShapeError
            from face_bench.models.onnx_backend import inspect_onnx

            try:
                inspect_onnx(path, spec, self.cache_dir)
            except ModelShapeError as exc:
                return ModelStatus(spec, "bad shape", path, looked, str(exc))
            except ModelFileError as exc:
                return ModelStatus(spec, "bad file", path, looked, str(exc))
        return ModelStatus(spec, "ready", path, looked)


def _refuse_special(name: str, where: str, candidate: Path) -> None:
    """Something that is there but is no regular file (/dev/zero, a folder, a FIFO) is not
    "not found": reading it would never end or fail later, so it stops the run (exit 32)."""
    from face_bench.core.errors import InputFileError
    from face_bench.core.io import describe_kind

    try:
        kind = describe_kind(candidate)
    except OSError:
        return  # nothing there (or a dangling link): not found
    raise InputFileError(
        f"model {name!r}: {where}: {candidate} is {kind}, not a regular file; "
        "give the path of the weights file itself"
    )


def runtime_notes(specs: list[ModelSpec]) -> list[str]:
    """One line per dlib model whose jitter keeps it on dlib's own runtime."""
    return [
        f"{spec.name}: num_jitters = {spec.num_jitters} runs on dlib's own runtime "
        "(dlib's random jitter is not reproduced on onnxruntime)"
        for spec in specs
        if spec.backend == "dlib" and spec.runtime == "onnx" and spec.on_dlib_runtime
    ]


def build_registry(
    config: Config,
    overrides: dict[str, Path] | None = None,
    cache_dir: Path | None = None,
    dlib_runtime: str | None = None,
) -> Registry:
    """Built-in specs, then the config file's ``[models.NAME]`` tables (which may replace them).

    ``dlib_runtime`` ("onnx" or "dlib", from ``--dlib-runtime``) overrides the runtime of
    every dlib model.
    """
    from face_bench.core.io import default_cache_dir

    if dlib_runtime not in (None, "onnx", "dlib"):
        raise ConfigError(f"dlib runtime must be 'onnx' or 'dlib', got {dlib_runtime!r}")
    specs = dict(BUILTIN_MODELS)
    for name, table in config.models.items():
        if name in BUILTIN_MODELS and "backend" not in table:
            # A table without a backend adjusts a built-in (e.g. [models.dlib] runtime = "dlib").
            table = {**BUILTIN_MODELS[name].model_dump(exclude={"name"}), **table}
        try:
            specs[name] = ModelSpec(name=name, **table)
        except ValidationError as exc:
            raise ConfigError(f"{config.path}: [models.{name}] {first_error(exc)}") from None
        except TypeError as exc:
            raise ConfigError(f"{config.path}: [models.{name}]: {exc}") from None
    if dlib_runtime is not None:
        specs = {
            name: spec.model_copy(update={"runtime": dlib_runtime})
            if spec.backend == "dlib"
            else spec
            for name, spec in specs.items()
        }
    overrides = dict(overrides or {})
    # --weights yunet=PATH is the face detector's file (--detector yunet), not a model's.
    unknown = set(overrides) - set(specs) - {"yunet"}
    if unknown:
        name = sorted(unknown)[0]
        raise UnknownModelError(
            f"--weights names unknown model {name!r}; known: {', '.join(specs)}"
        )
    return Registry(specs, config, overrides, cache_dir or default_cache_dir())
