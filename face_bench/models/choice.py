"""Which models a run uses: the ones asked for must run, the others run when they can.

A model the user named (``--model``, ``--weights NAME=PATH`` or ``$FACE_BENCH_<NAME>``)
whose weights are missing stops the run before any work: quietly running the others
instead would answer a different question than the one asked. A registered model nobody
asked for is left out without a word on the terminal (results.json lists it under
``skipped_models``); ``face-bench models`` says where its weights are looked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from face_bench.core.errors import ModelFileError, ModelShapeError, NoUsableModelError
from face_bench.models.registry import ModelSpec, ModelStatus, Registry, env_var_for
from face_bench.models.weights_files import weights_sha256


@dataclass(frozen=True)
class ModelChoice:
    """The models to run (spec, weights) and the registered ones left out for want of weights."""

    ready: list[tuple[ModelSpec, Path]]
    skipped: list[ModelStatus]

    shareable: tuple[str, ...] = ()  # why each left-out model did not run, without paths

    def note(self) -> str | None:
        """One line for all left-out models, or None when every registered model runs."""
        if not self.skipped:
            return None
        names = ", ".join(s.spec.name for s in self.skipped)
        return f"not run (weights not found): {names}; `face-bench models` shows where to put them"

    def header(self, cache_dir: Path | None = None) -> list[str]:
        """One line per model to run: its weights file and the start of its SHA-256.

        So a reader sees which file ran under a name such as ``japanese-face-v1``.
        """
        lines = []
        for spec, weights in self.ready:
            digest = weights_sha256(weights)
            shown = os.path.normpath(weights)  # "a/../shared/m.onnx" as "shared/m.onnx"
            lines.append(f"model {spec.name}: {shown} (sha256 {digest[:12]})")
        return lines


def required_models(registry: Registry, requested: tuple[str, ...]) -> set[str]:
    """Models the user named: with --model, with --weights, or with their environment variable."""
    named = set(requested) | set(registry.overrides)
    named |= {n for n in registry.names() if os.environ.get(env_var_for(n))}
    return named


def choose_models(registry: Registry, requested: tuple[str, ...]) -> ModelChoice:
    """The ready models to run; an error when a model asked for cannot run.

    Weights present but of the wrong shape or not ONNX are an error for any model:
    running without it would silently change what is compared.
    """
    required = required_models(registry, requested)
    # Without --model: the default models, and any other whose weights were given by name.
    names = list(dict.fromkeys(requested)) or [
        *registry.default_names(),
        *(n for n in registry.names() if n in required and n not in registry.default_names()),
    ]
    ready: list[tuple[ModelSpec, Path]] = []
    skipped: list[ModelStatus] = []
    for name in names:
        status = registry.status(name)
        if status.state == "weights missing":
            if name in required:
                raise NoUsableModelError(
                    f"model {name!r} was asked for but cannot run: {status.message}"
                )
            skipped.append(status)
            continue
        if not status.ready:
            error = ModelShapeError if status.state == "bad shape" else ModelFileError
            raise error(status.message)
        assert status.weights is not None
        ready.append((status.spec, status.weights))
    if not ready:
        raise NoUsableModelError(
            "no model can run: "
            + " | ".join(f"model {s.spec.name!r}: {s.message}" for s in skipped)
        )
    shareable = tuple(
        f"model {s.spec.name!r}: {registry.shareable_message(s.spec.name)}" for s in skipped
    )
    return ModelChoice(ready, skipped, shareable)
