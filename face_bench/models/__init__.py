"""Model specs (typed metadata, ``spec``), the backends that turn a face into a vector
(one ``Backend`` protocol, ``backend``; ``dlib_backend`` and ``onnx_backend`` implement it;
``backends`` finds one by name) and the registry of the models a run can use.

May import: ``face_bench.core``, ``face_bench.faces``; never ``data``, ``metrics`` or
``results``. Backends import dlib or onnxruntime lazily, inside the functions that run a model.
"""

from face_bench.models.backend import Backend, BaseBackend, Embedder
from face_bench.models.backends import backend_for, register_backend
from face_bench.models.registry import ModelStatus, Registry, build_registry
from face_bench.models.spec import BUILTIN_MODELS, ModelSpec

__all__ = [
    "BUILTIN_MODELS",
    "Backend",
    "BaseBackend",
    "Embedder",
    "ModelSpec",
    "ModelStatus",
    "Registry",
    "backend_for",
    "build_registry",
    "register_backend",
]
