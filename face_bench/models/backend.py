"""What a backend is: the one protocol every way of running a model implements.

A spec (``models.spec``) says which backend runs it by name; ``models.backends`` maps the
name to a backend. The backend loads the model (``load``) into an ``Embedder`` that
embeds a batch of inputs, cuts a model's input from a located face (``chip``), and names
what besides the spec changes its embeddings (``identity``, part of every cache key).
Everything else a run asks of a backend has a default in ``BaseBackend``, so a new
backend implements what differs.

dlib's descriptor (``models.dlib_backend``) and ONNX models (``models.onnx_backend``) are
the built-in backends. A backend object must pickle (workers and Ray actors receive it),
so it holds settings only, never a loaded model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from face_bench.core.modes import DlibRuntime
from face_bench.models.inputs import aligned_input
from face_bench.models.spec import ModelSpec

if TYPE_CHECKING:
    from face_bench.faces.locate import Face


class Embedder(Protocol):
    """A loaded model: embeddings of a batch of its inputs."""

    @property
    def batch_size(self) -> int:
        """How many inputs one ``embed`` call takes at most."""
        ...

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """One finished (``ModelSpec.finish``) float32 row per input, in order."""
        ...


class Backend(Protocol):
    """How one kind of model is loaded, run and told apart in the cache."""

    name: str

    def load(self, spec: ModelSpec, files: Path, threads: int | None = None) -> Embedder:
        """The model of ``spec`` from ``files`` (what ``prepare`` returned), ready to embed."""
        ...

    def chip(self, spec: ModelSpec, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The uint8 RGB image ``spec``'s model is fed for ``face`` of the decoded ``rgb``."""
        ...

    def identity(self, spec: ModelSpec) -> dict[str, Any]:
        """What besides the spec's own settings changes this backend's embeddings (JSON)."""
        ...

    def defaults(self, table: dict[str, Any]) -> dict[str, Any]:
        """A config table with this backend's defaults filled in, before it is validated."""
        ...

    def check(self, spec: ModelSpec) -> None:
        """Refuse (``ValueError``, starting with the key to change) a spec it cannot run."""
        ...

    def packaged_weights(self, spec: ModelSpec) -> Path | None:
        """Weights shipped in an installed package (then never looked for), else None."""
        ...

    def inspect(self, spec: ModelSpec, weights: Path, cache_dir: Path | None) -> None:
        """Refuse weights of the wrong shape (``ModelShapeError``) or format
        (``ModelFileError``)."""
        ...

    def mended(self, weights: Path, digest: str, cache_dir: Path) -> tuple[str, ...]:
        """What loading changes in the weights as read (part of the model's identity)."""
        ...

    def prepare(self, spec: ModelSpec, weights: Path, cache_dir: Path) -> Path:
        """Once per run, before workers load: the file ``load`` reads (a conversion, cached)."""
        ...

    def with_runtime(self, spec: ModelSpec, runtime: str) -> ModelSpec:
        """``spec`` with ``--dlib-runtime`` applied (unchanged when it has no such choice)."""
        ...

    def runtime_note(self, spec: ModelSpec) -> str | None:
        """A line for the run's header when ``spec`` runs elsewhere than asked, else None."""
        ...

    def describe(self, spec: ModelSpec) -> str:
        """The backend as ``face-bench models`` shows it for ``spec``."""
        ...

    @property
    def fixed_preprocessing(self) -> bool:
        """True when the model's preprocessing is fixed, so ``--probe`` cannot vary it."""
        ...


class BaseBackend:
    """Defaults for what most backends do not need: subclass it and override what differs.

    ``load`` and ``name`` have no default.
    """

    name: str = ""

    def load(self, spec: ModelSpec, files: Path, threads: int | None = None) -> Embedder:
        raise NotImplementedError

    def chip(self, spec: ModelSpec, rgb: np.ndarray, face: Face) -> np.ndarray:
        return aligned_input(rgb, face, spec)

    def identity(self, spec: ModelSpec) -> dict[str, Any]:
        return {}

    def defaults(self, table: dict[str, Any]) -> dict[str, Any]:
        return table

    def check(self, spec: ModelSpec) -> None:
        if spec.runtime != DlibRuntime.ONNX:
            raise ValueError("runtime = 'dlib' only applies to backend = 'dlib'")

    def packaged_weights(self, spec: ModelSpec) -> Path | None:
        return None

    def inspect(self, spec: ModelSpec, weights: Path, cache_dir: Path | None) -> None:
        return None

    def mended(self, weights: Path, digest: str, cache_dir: Path) -> tuple[str, ...]:
        return ()

    def prepare(self, spec: ModelSpec, weights: Path, cache_dir: Path) -> Path:
        return weights

    def with_runtime(self, spec: ModelSpec, runtime: str) -> ModelSpec:
        return spec

    def runtime_note(self, spec: ModelSpec) -> str | None:
        return None

    def describe(self, spec: ModelSpec) -> str:
        return self.name

    @property
    def fixed_preprocessing(self) -> bool:
        return False
