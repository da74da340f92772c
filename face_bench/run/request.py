"""What defines a run: the typed request the CLI fills and the library reads.

The seam between the command line and the library: every option lands in one field of
``EvaluationRequest``, and nothing downstream reads the command line itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from face_bench.core.errors import ConfigError
from face_bench.core.modes import IdentityFrom, OnFail
from face_bench.embedding.ray_engine import RayOptions

DEFAULT_FAR_TARGETS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True)
class EvaluationRequest:
    """Everything that defines a run; the CLI fills it from options."""

    data: Path
    data_origin: str = ""  # which setting chose the folder (--data, $FACE_BENCH_DATA, config)
    subsets: tuple[str, ...] = ("all",)
    subsets_origin: str = ""  # set when the config's default_subsets chose them
    models: tuple[str, ...] = ()
    sample: int | None = 300
    seed: int = 0
    pairs: int | None = None
    pairs_file: Path | None = None
    align: str = "auto"
    multi_face: str = "largest"
    fallback_detector: str | None = None
    detector: str | None = None  # "hog", "mmod", "yunet"; None: the config's, else HOG
    on_fail: OnFail = OnFail.EXCLUDE
    identity_from: IdentityFrom = IdentityFrom.AUTO
    identity_pattern: str | None = None
    duplicates: str = "exclude"  # keep | exclude | error (see run.duplicates)
    far_targets: tuple[float, ...] = DEFAULT_FAR_TARGETS
    bootstrap: int = 0
    sweep: bool = False
    differential_threshold: str = "far:1e-3"  # on the reference group (see run.differentials)
    by: tuple[str, ...] = ()  # manifest columns whose values form the groups (--by)
    reference: str | None = None  # the reference group (--reference); None: see run.differentials
    threshold_from: str | None = None
    config_path: Path | None = None
    weights: dict[str, Path] = field(default_factory=dict)
    dlib_runtime: str | None = None  # overrides every dlib model's runtime ("onnx", "dlib")
    cache_dir: Path | None = None
    workers: int | None = None
    ray: RayOptions | None = None  # None: the local engine
    command: tuple[str, ...] = ()
    near_duplicates: str = "exclude"  # keep | exclude (see run.near_duplicates)
    stratify_by: str | None = None  # a metadata column: differentials within each value
    exclude_suspects: bool = False  # differentials also without the agreed label suspects
    calibration: Path | None = None  # --calibration FILE: apply its maps to every subset
    calibration_prior: float | None = None  # --prior; None: each map's fitting prior

    def __post_init__(self) -> None:
        # Checked when the request is built, not when the differentials are computed: a bad
        # --threshold must stop the run before any image is embedded, with one subset or many.
        parse_far_rule(self.differential_threshold)


def parse_far_rule(rule: str) -> float:
    """``far:1e-3`` or ``pooled:1e-3`` -> 1e-3; ``default`` -> the usual 1e-3 (unused then).

    ``far:`` fixes the differentials' threshold on the reference group's impostors,
    ``pooled:`` on all groups' impostors together (see ``run.differentials``).
    """
    if rule == "default":
        return 1e-3
    name, _, value = rule.partition(":")
    try:
        target = float(value)
    except ValueError:
        target = -1.0
    if name not in ("far", "pooled") or not 0 < target < 1:
        raise ConfigError(
            "--threshold expects far:TARGET (FMR on the reference group's impostors, e.g. "
            f"far:1e-3), pooled:TARGET (on all groups' impostors) or default, got {rule!r}"
        )
    return target
