"""Model registry and backends (dlib, ONNX); backends import their runtimes lazily."""

from face_bench.models.registry import (
    BUILTIN_MODELS,
    ModelSpec,
    ModelStatus,
    Registry,
    build_registry,
)

__all__ = ["BUILTIN_MODELS", "ModelSpec", "ModelStatus", "Registry", "build_registry"]
