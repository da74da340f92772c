"""The backends by name: the one place a spec's ``backend`` string is looked up.

``dlib`` and ``onnx`` are built in; ``register_backend`` adds another (an object
implementing ``models.backend.Backend``), after which specs naming it validate, load,
embed and cache like the built-in ones. Whatever else asks what a model's backend does
goes through ``backend_for(spec)``, never through the name.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from face_bench.models.backend import Backend
from face_bench.models.dlib_backend import DlibBackend
from face_bench.models.onnx_backend import OnnxBackend
from face_bench.models.spec import ModelSpec

if TYPE_CHECKING:
    from face_bench.faces.locate import Face

_BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend, *, replace: bool = False) -> None:
    """Make ``backend`` available to specs as ``backend = "<its name>"``.

    A name already taken is an error unless ``replace`` (two backends answering to one
    name would make a spec's meaning depend on import order).
    """
    if not backend.name:
        raise ValueError("a backend needs a name")
    if backend.name in _BACKENDS and not replace:
        raise ValueError(f"backend {backend.name!r} is already registered")
    _BACKENDS[backend.name] = backend


def unregister_backend(name: str) -> None:
    """Forget a backend added by ``register_backend`` (the built-ins stay)."""
    if name not in {backend.name for backend in BUILTIN_BACKENDS}:
        _BACKENDS.pop(name, None)


def get_backend(name: str) -> Backend:
    """The backend registered as ``name``; an error naming the known ones otherwise."""
    try:
        return _BACKENDS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"backend: unknown backend {name!r}; known: {', '.join(_BACKENDS)}"
        ) from None


def backend_for(spec: ModelSpec) -> Backend:
    """The backend that runs ``spec``."""
    return get_backend(spec.backend)


def make_spec(name: str, table: dict[str, Any]) -> ModelSpec:
    """A spec from a config table, with its backend's defaults and checks.

    Raises pydantic's ``ValidationError`` for a field, ``ValueError`` for what a backend
    refuses (its message starts with the key to change).
    """
    backend = get_backend(table["backend"]) if "backend" in table else None
    spec = ModelSpec(name=name, **(backend.defaults(table) if backend else table))
    backend_for(spec).check(spec)
    return spec


def preprocessing(spec: ModelSpec) -> dict[str, Any]:
    """Settings that change an embedding (the spec's and its backend's); part of every
    cache key, and what a calibration map is matched against."""
    data = spec.preprocessing_fields()
    data.update(backend_for(spec).identity(spec))
    return json.loads(json.dumps(data))


def model_input(rgb: np.ndarray, face: Face, spec: ModelSpec) -> np.ndarray:
    """The image ``spec``'s model is fed for ``face`` of the decoded image ``rgb``."""
    return backend_for(spec).chip(spec, rgb, face)


BUILTIN_BACKENDS: tuple[Backend, ...] = (DlibBackend(), OnnxBackend())
for _backend in BUILTIN_BACKENDS:
    register_backend(_backend)
