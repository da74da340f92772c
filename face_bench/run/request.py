"""What defines a run: the typed settings the CLI fills and the library reads.

The seam between the command line and the library: every option lands in one field of
``EmbedSettings`` (which models run and how faces reach them: shared by ``evaluate``,
``run_lfw`` and ``compare_images``) or of ``EvaluationRequest`` (what an evaluation
samples and computes), and nothing downstream reads the command line itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from face_bench.core.errors import ConfigError
from face_bench.core.modes import (
    AlignMode,
    Detector,
    DlibRuntime,
    Duplicates,
    FallbackDetector,
    IdentityFrom,
    MultiFacePolicy,
    NearDuplicatePolicy,
    OnFail,
    parse_choice,
)
from face_bench.embedding.ray_engine import RayOptions
from face_bench.faces.locate import FaceSettings

DEFAULT_FAR_TARGETS = (1e-2, 1e-3, 1e-4)


def _coerce(settings: Any, name: str, kind: type, option: str) -> None:
    """A choice given as a plain string (a library caller's) as its enum member."""
    value = getattr(settings, name)
    if value is not None and not isinstance(value, kind):
        object.__setattr__(settings, name, parse_choice(kind, value, option))


@dataclass(frozen=True)
class EmbedSettings:
    """Which models run and how faces reach them: every call that embeds takes one.

    Choices are the enums of ``core.modes``; plain strings (``align="detect"``) are
    accepted and checked. ``None`` means "the usual": for ``align`` the call's own default
    (``auto``; for the LFW protocol ``core.modes.LFW_ALIGN``, see docs/lfw.md), for ``detector``
    the config file's detector, else HOG, for ``dlib_runtime`` each dlib model's own.
    """

    models: tuple[str, ...] = ()  # empty: every registered model marked default
    align: AlignMode | None = None
    multi_face: MultiFacePolicy = MultiFacePolicy.LARGEST
    fallback_detector: FallbackDetector = FallbackDetector.NONE
    detector: Detector | None = None
    config_path: Path | None = None
    weights: Mapping[str, Path] = field(default_factory=dict)  # model name -> weights file
    dlib_runtime: DlibRuntime | None = None
    cache_dir: Path | None = None  # None: $XDG_CACHE_HOME/face-bench
    workers: int | None = None  # None: one per core
    ray: RayOptions | None = None  # None: the local engine

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "weights", dict(self.weights))
        _coerce(self, "align", AlignMode, "--align")
        _coerce(self, "multi_face", MultiFacePolicy, "--multi-face")
        _coerce(self, "fallback_detector", FallbackDetector, "--fallback-detector")
        _coerce(self, "detector", Detector, "--detector")
        _coerce(self, "dlib_runtime", DlibRuntime, "--dlib-runtime")

    def aligned(self, default: AlignMode) -> EmbedSettings:
        """These settings with ``align`` chosen: their own, else the call's ``default``."""
        return self if self.align is not None else replace(self, align=default)

    @property
    def fallback(self) -> str | None:
        """The second detector's name (None: none), as results and cache keys record it."""
        none = self.fallback_detector is FallbackDetector.NONE
        return None if none else self.fallback_detector.value

    @property
    def runtime(self) -> str | None:
        """``dlib_runtime`` as the registry takes it (None: each model's own setting)."""
        return None if self.dlib_runtime is None else self.dlib_runtime.value

    @property
    def chosen_align(self) -> AlignMode:
        """``align`` once chosen (``aligned``); a call that took the settings chose it."""
        if self.align is None:
            raise ValueError("align is not chosen yet: EmbedSettings.aligned(default)")
        return self.align

    def faces(self) -> FaceSettings:
        """How faces are found, before the detector is resolved (``run.embed``)."""
        return FaceSettings(self.chosen_align.value, self.multi_face.value, fallback=self.fallback)


@dataclass(frozen=True)
class EvaluationRequest:
    """Everything that defines a run; the CLI fills it from options."""

    data: Path
    data_origin: str = ""  # which setting chose the folder (--data, $FACE_BENCH_DATA, config)
    subsets: tuple[str, ...] = ("all",)
    subsets_origin: str = ""  # set when the config's default_subsets chose them
    embed: EmbedSettings = field(default_factory=EmbedSettings)  # align None: auto
    sample: int | None = 300
    seed: int = 0
    pairs: int | None = None
    pairs_file: Path | None = None
    on_fail: OnFail = OnFail.EXCLUDE
    identity_from: IdentityFrom = IdentityFrom.AUTO
    identity_pattern: str | None = None
    duplicates: Duplicates = Duplicates.EXCLUDE  # see run.duplicates
    far_targets: tuple[float, ...] = DEFAULT_FAR_TARGETS
    bootstrap: int = 0
    sweep: bool = False
    differential_threshold: str = "far:1e-3"  # on the reference group (see run.differentials)
    by: tuple[str, ...] = ()  # manifest columns whose values form the groups (--by)
    reference: str | None = None  # the reference group (--reference); None: see run.differentials
    threshold_from: str | None = None
    command: tuple[str, ...] = ()
    near_duplicates: NearDuplicatePolicy = NearDuplicatePolicy.EXCLUDE  # run.near_duplicates
    stratify_by: str | None = None  # a metadata column: differentials within each value
    exclude_suspects: bool = False  # differentials also without the agreed label suspects
    calibration: Path | None = None  # --calibration FILE: apply its maps to every subset
    calibration_prior: float | None = None  # --prior; None: each map's fitting prior

    def __post_init__(self) -> None:
        # Checked when the request is built, not when the differentials are computed: a bad
        # --threshold must stop the run before any image is embedded, with one subset or many.
        parse_far_rule(self.differential_threshold)
        object.__setattr__(self, "embed", self.embed.aligned(AlignMode.AUTO))
        _coerce(self, "on_fail", OnFail, "--on-fail")
        _coerce(self, "identity_from", IdentityFrom, "--identity-from")
        _coerce(self, "duplicates", Duplicates, "--duplicates")
        _coerce(self, "near_duplicates", NearDuplicatePolicy, "--near-duplicates")


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
