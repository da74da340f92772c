"""The optional TOML configuration file: extra models, subsets, weights and gate tolerances.

Only TOML is parsed and only data comes out of it: subsets are column/value
filters and models are typed specs, so nothing in a config file is ever executed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from face_bench.core.errors import ConfigError
from face_bench.core.io import MAX_CONFIG_BYTES, read_bounded, user_path
from face_bench.core.modes import Detector

DETECTORS = tuple(d.value for d in Detector)

DEFAULT_CONFIG_NAME = "face-bench.toml"
KNOWN_SECTIONS = {"models", "subsets", "weights", "gate"}
KNOWN_KEYS = {"data", "default_subsets", "detector"}  # top-level values, before any [section]


@dataclass(frozen=True)
class Config:
    """Parsed configuration; ``path`` is None when no file was used."""

    path: Path | None = None
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    subsets: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    weights: dict[str, Path] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    data: str | None = None  # as written: a folder (relative to the file) or a dataset name
    # The subsets a command evaluates when no --subset is given (empty: the built-in "all").
    default_subsets: tuple[str, ...] = ()
    detector: str | None = None  # the face detector when --detector is not given

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the file are relative to."""
        return self.path.parent if self.path else Path.cwd()


def _resolve(base: Path, value: str) -> Path:
    path = user_path(value, "a path in the config file", ConfigError)
    return path if path.is_absolute() else (base / path)


def load_config(path: Path | None = None) -> Config:
    """Read ``path`` or, when not given, ``./face-bench.toml`` if it exists."""
    if path is None:
        candidate = Path.cwd() / DEFAULT_CONFIG_NAME
        if not candidate.is_file():
            return Config()
        path = candidate
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    raw = read_bounded(path, MAX_CONFIG_BYTES, "config file", ConfigError)
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    unknown = set(data) - KNOWN_SECTIONS - KNOWN_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {sorted(unknown)}; expected {sorted(KNOWN_SECTIONS)} "
            f"and the key {', '.join(sorted(KNOWN_KEYS))}"
        )
    dataset = data.get("data")
    if dataset is not None and (not isinstance(dataset, str) or not dataset.strip()):
        raise ConfigError(f"{path}: data must be a folder path or a dataset name (a string)")
    default_subsets = _default_subsets(data.get("default_subsets", []), path)
    detector = data.get("detector")
    if detector is not None and detector not in DETECTORS:
        raise ConfigError(f"{path}: detector must be one of {', '.join(DETECTORS)}")
    base = path.resolve().parent
    models = _table_of_tables(data.get("models", {}), "models", path)
    for name, spec in models.items():
        if "path" in spec:
            if not isinstance(spec["path"], str):
                raise ConfigError(f"{path}: models.{name}.path must be a string")
            spec["path"] = str(_resolve(base, spec["path"]))
    subsets = {}
    for name, filters in _table_of_tables(data.get("subsets", {}), "subsets", path).items():
        subsets[name] = _subset_filters(name, filters, path)
    weights_table = data.get("weights", {})
    if not isinstance(weights_table, dict) or not all(
        isinstance(v, str) for v in weights_table.values()
    ):
        raise ConfigError(f"{path}: [weights] must map model names to file paths")
    weights = {name: _resolve(base, value) for name, value in weights_table.items()}
    gate = data.get("gate", {})
    if not isinstance(gate, dict):
        raise ConfigError(f"{path}: [gate] must be a table")
    return Config(
        path=path,
        models=models,
        subsets=subsets,
        weights=weights,
        gate=gate,
        data=dataset,
        default_subsets=default_subsets,
        detector=detector,
    )


def _default_subsets(value: Any, path: Path) -> tuple[str, ...]:
    """``default_subsets = ["ordinary", "young_women"]``: names, checked when a run uses them."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(
            f"{path}: default_subsets must be a list of subset names, e.g. "
            '["ordinary", "young_women"]'
        )
    return tuple(dict.fromkeys(value))


def _table_of_tables(value: Any, section: str, path: Path) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"{path}: [{section}] entries must be tables like [{section}.NAME]")
    return {name: dict(table) for name, table in value.items()}


def _subset_filters(name: str, filters: dict[str, Any], path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for column, allowed in filters.items():
        if isinstance(allowed, str | int | float | bool):
            allowed = [allowed]
        if not isinstance(allowed, list) or not allowed:
            raise ConfigError(
                f"{path}: subsets.{name}.{column} must be a value or a non-empty list of values"
            )
        # TOML true/false read as the manifest spells them, not Python's True/False.
        out[column] = [str(v).lower() if isinstance(v, bool) else str(v) for v in allowed]
    return out
