"""The models a run can use: the built-in specs and the config file's, by name.

The registry answers "where are this model's weights?" in one documented order, so a
missing file produces a message naming every place looked, and "can it run?" by asking
the model's backend (``models.backends``) to check the file. The specs themselves are
data (``models.spec``).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from face_bench.core.config import Config
from face_bench.core.errors import (
    ConfigError,
    InputFileError,
    ModelFileError,
    ModelShapeError,
    UnknownModelError,
    WeightsMissingError,
)
from face_bench.core.io import default_cache_dir, describe_kind, user_path
from face_bench.core.modes import DlibRuntime
from face_bench.models.backends import backend_for, make_spec
from face_bench.models.dlib_backend import (
    DLIB_DESCRIPTOR_FILE,
    DLIB_SHAPE_FILE,
    dlib_weight_path,
)
from face_bench.models.spec import BUILTIN_MODELS, DLIB_WEIGHTS_PACKAGE, ModelSpec
from face_bench.models.spec_bounds import first_error

__all__ = [
    "BUILTIN_MODELS",
    "DLIB_DESCRIPTOR_FILE",
    "DLIB_SHAPE_FILE",
    "DLIB_WEIGHTS_PACKAGE",
    "ModelSpec",
    "ModelStatus",
    "Registry",
    "build_registry",
    "dlib_weight_path",
    "env_var_for",
    "runtime_notes",
]


def env_var_for(name: str) -> str:
    """Environment variable that points at a model's weights: FACE_BENCH_<NAME>."""
    return "FACE_BENCH_" + "".join(c if c.isalnum() else "_" for c in name).upper()


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
        packaged = backend_for(spec).packaged_weights(spec)
        if packaged is not None:
            return packaged, (str(packaged),)
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
        """Find the weights and have the model's backend check them (an ONNX graph's inputs
        and outputs)."""
        spec = self.get(name)
        try:
            path, looked = self.locate(name)
        except WeightsMissingError as exc:
            return ModelStatus(spec, "weights missing", None, (), str(exc))
        if path is None:
            return ModelStatus(
                spec, "weights missing", None, looked, self.missing_message(name, looked)
            )
        if check_shape:
            try:
                backend_for(spec).inspect(spec, path, self.cache_dir)
            except ModelShapeError as exc:
                return ModelStatus(spec, "bad shape", path, looked, str(exc))
            except ModelFileError as exc:
                return ModelStatus(spec, "bad file", path, looked, str(exc))
        return ModelStatus(spec, "ready", path, looked)


def _refuse_special(name: str, where: str, candidate: Path) -> None:
    """Something that is there but is no regular file (/dev/zero, a folder, a FIFO) is not
    "not found": reading it would never end or fail later, so it stops the run (exit 32)."""
    try:
        kind = describe_kind(candidate)
    except OSError:
        return  # nothing there (or a dangling link): not found
    raise InputFileError(
        f"model {name!r}: {where}: {candidate} is {kind}, not a regular file; "
        "give the path of the weights file itself"
    )


def runtime_notes(specs: list[ModelSpec]) -> list[str]:
    """One line per model that runs elsewhere than asked (dlib's jitter on dlib's own code)."""
    notes = (backend_for(spec).runtime_note(spec) for spec in specs)
    return [note for note in notes if note is not None]


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
    if dlib_runtime is not None and dlib_runtime not in set(DlibRuntime):
        raise ConfigError(f"dlib runtime must be 'onnx' or 'dlib', got {dlib_runtime!r}")
    specs = dict(BUILTIN_MODELS)
    for name, table in config.models.items():
        if name in BUILTIN_MODELS and "backend" not in table:
            # A table without a backend adjusts a built-in (e.g. [models.dlib] runtime = "dlib").
            table = {**BUILTIN_MODELS[name].model_dump(exclude={"name"}), **table}
        try:
            specs[name] = make_spec(name, table)
        except ValidationError as exc:
            raise ConfigError(f"{config.path}: [models.{name}] {first_error(exc)}") from None
        except ValueError as exc:  # what the model's backend refuses
            raise ConfigError(f"{config.path}: [models.{name}] {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{config.path}: [models.{name}]: {exc}") from None
    if dlib_runtime is not None:
        specs = {
            name: backend_for(spec).with_runtime(spec, dlib_runtime) for name, spec in specs.items()
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
