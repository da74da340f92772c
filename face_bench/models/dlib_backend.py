"""The dlib backend: dlib's ResNet face descriptor, on onnxruntime or on dlib's own code.

By default its network runs on onnxruntime, as a graph converted once from dlib's own
``.dat`` file (``models.dlib_onnx``) into the cache. ``runtime = "dlib"`` (or jitter,
whose random draws only dlib's own code reproduces) runs dlib itself. The weights come
from the ``face_recognition_models`` package, never from a path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from face_bench.core.modes import DlibRuntime
from face_bench.models.backend import BaseBackend, Embedder
from face_bench.models.dlib_onnx import CONVERTER_VERSION, ensure_converted, graph_spec
from face_bench.models.onnx_backend import OnnxModel
from face_bench.models.spec import ModelSpec

DLIB_DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
DLIB_CHIP = 150  # dlib's face descriptor network is input_rgb_image_sized<150>


def dlib_weight_path(filename: str) -> Path:
    """One of dlib's .dat files from the installed package (found without importing it)."""
    from face_bench.faces.alignment import dlib_model_path

    return dlib_model_path(filename)


def on_own_runtime(spec: ModelSpec) -> bool:
    """Whether dlib's own code computes the embedding (else onnxruntime does).

    dlib's jitter draws from a random generator kept inside its network object, so
    jittered descriptors are only reproducible on dlib's own runtime.
    """
    return spec.runtime == DlibRuntime.DLIB or spec.num_jitters > 1


class DlibDescriptor:
    """dlib's 128-d face descriptor on aligned 150x150 chips, computed by dlib itself."""

    def __init__(self, spec: ModelSpec, weights: Path) -> None:
        import dlib

        self.spec = spec
        self.net = dlib.face_recognition_model_v1(str(weights))

    @property
    def batch_size(self) -> int:
        return self.spec.batch_size

    def describe(self, chip: np.ndarray) -> np.ndarray:
        """The descriptor of an aligned chip.

        ``num_jitters`` > 0 averages descriptors of randomly jittered copies, as dlib's
        published LFW figure did.
        """
        vector = self.net.compute_face_descriptor(chip, self.spec.num_jitters)
        return self.spec.finish(np.asarray(vector, dtype=np.float32))

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self.describe(chip) for chip in chips])


class DlibOnOnnx:
    """dlib's descriptor on onnxruntime: the graph converted from dlib's network."""

    def __init__(self, spec: ModelSpec, graph: Path, threads: int | None = None) -> None:
        self.spec = spec
        self.model = OnnxModel(graph_spec(spec), graph, threads=threads)

    @property
    def batch_size(self) -> int:
        return self.spec.batch_size

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        return self.model.embed(chips)


class DlibBackend(BaseBackend):
    """dlib's face descriptor (``backend = "dlib"``)."""

    name = "dlib"

    def load(self, spec: ModelSpec, files: Path, threads: int | None = None) -> Embedder:
        if on_own_runtime(spec):
            return DlibDescriptor(spec, files)
        return DlibOnOnnx(spec, files, threads)

    def identity(self, spec: ModelSpec) -> dict[str, Any]:
        # The two runtimes' vectors differ by float rounding.
        runtime = "dlib" if on_own_runtime(spec) else f"onnx-c{CONVERTER_VERSION}"
        return {"runtime": runtime}

    def defaults(self, table: dict[str, Any]) -> dict[str, Any]:
        """A dlib table without sizes gets dlib's 150, not the ONNX default of 224."""
        return {"input_size": (DLIB_CHIP, DLIB_CHIP), "chip_size": DLIB_CHIP, **table}

    def check(self, spec: ModelSpec) -> None:
        """dlib's network takes 150x150 chips only: any other size fails inside a worker."""
        if spec.chip_size not in (None, DLIB_CHIP):
            raise ValueError(
                f"chip_size: dlib's network takes {DLIB_CHIP}-pixel chips, got {spec.chip_size}"
            )
        if spec.input_size != (DLIB_CHIP, DLIB_CHIP):
            height, width = spec.input_size
            raise ValueError(
                f"input_size: dlib's network takes {DLIB_CHIP}x{DLIB_CHIP} inputs, "
                f"got {height}x{width}"
            )

    def packaged_weights(self, spec: ModelSpec) -> Path | None:
        return dlib_weight_path(DLIB_DESCRIPTOR_FILE)

    def prepare(self, spec: ModelSpec, weights: Path, cache_dir: Path) -> Path:
        """onnxruntime runs the graph converted from ``weights``: convert it once, here."""
        return weights if on_own_runtime(spec) else ensure_converted(weights, cache_dir)

    def with_runtime(self, spec: ModelSpec, runtime: str) -> ModelSpec:
        return spec.model_copy(update={"runtime": runtime})

    def runtime_note(self, spec: ModelSpec) -> str | None:
        """A model asked to run on onnxruntime whose jitter keeps it on dlib's own code."""
        if spec.runtime == DlibRuntime.DLIB or not on_own_runtime(spec):
            return None
        return (
            f"{spec.name}: num_jitters = {spec.num_jitters} runs on dlib's own runtime "
            "(dlib's random jitter is not reproduced on onnxruntime)"
        )

    def describe(self, spec: ModelSpec) -> str:
        return "dlib (dlib's own code)" if on_own_runtime(spec) else "dlib (onnxruntime)"

    @property
    def fixed_preprocessing(self) -> bool:
        return True
