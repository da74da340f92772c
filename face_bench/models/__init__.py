"""Model specs (typed registry entries) and the backends that turn a face into a vector.

May import: ``face_bench.core``, ``face_bench.faces``; never ``data``, ``metrics`` or
``results``. Backends import dlib or onnxruntime lazily, inside the functions that run a model.
"""

from face_bench.models.registry import (
    BUILTIN_MODELS,
    ModelSpec,
    ModelStatus,
    Registry,
    build_registry,
)

__all__ = ["BUILTIN_MODELS", "ModelSpec", "ModelStatus", "Registry", "build_registry"]
