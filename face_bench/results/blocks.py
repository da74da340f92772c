"""Typed metric blocks of ``results.json``: one pydantic model per block, unknown keys refused.

Every reader (gate, report, CLI tables, figures) takes these objects; nothing downstream
walks a metrics dict. Thresholds are in the model's own units, rates are fractions, and a
figure that could not be computed is None (``null`` in the file).

Adding a figure: add a field here (with a default so that older files still read, or bump
``SCHEMA_VERSION`` if it must be required), regenerate the shipped JSON Schema
(``python -m face_bench.results.contract``) and name it in docs/results-schema.md. A field
listed in a block's ``OPTIONAL`` is written only when it was given (set by the builder, or
present in the file read), for figures that exist only under some settings (e.g.
``far``/``frr``/``fta`` with ``--on-fail reject``); every other field is always written.

Rates at a threshold are metrics' ``CountedRates`` record, held by each block that reports
one (its ``rates`` field) and written flat, its fields in the field's place: declared once,
read in results.json as ``fmr``, ``fmr_errors``, ``n_impostor``, ... beside the threshold.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue

from face_bench.metrics.catalog import far_key, far_target
from face_bench.metrics.operating import CountedRates


class Block(BaseModel):
    """Base of every block: unknown keys are an error, optional extras written only when given,
    and a record named in ``FLAT`` written (and read, and described) key by key in its place."""

    model_config = ConfigDict(extra="forbid")
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()
    FLAT: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def _flat_keys(cls, name: str) -> list[str]:
        record = cls.model_fields[name].annotation
        assert dataclasses.is_dataclass(record), f"{cls.__name__}.{name} is no record"
        return [f.name for f in dataclasses.fields(record)]

    @model_validator(mode="before")
    @classmethod
    def _gather_flat(cls, data: Any) -> Any:
        """A flat record's keys, as results.json holds them, gathered under its field."""
        if not cls.FLAT or not isinstance(data, dict):
            return data
        data = dict(data)
        for name in cls.FLAT - data.keys():
            found = {k: data.pop(k) for k in cls._flat_keys(name) if k in data}
            if found:
                data[name] = found
        return data

    @model_serializer(mode="wrap")
    def _omit_unset_extras(self, handler: SerializerFunctionWrapHandler) -> Any:
        """As results.json holds the block: unset optional extras left out, records flat."""
        data = handler(self)
        if self.OPTIONAL and isinstance(data, dict):
            for name in self.OPTIONAL - self.model_fields_set:
                data.pop(name, None)
        if self.FLAT and isinstance(data, dict):
            data = _spliced(data, self.FLAT)
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: Any, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        if cls.FLAT:
            target = handler.resolve_ref_schema(schema)
            records = {
                name: handler.resolve_ref_schema(target["properties"][name]) for name in cls.FLAT
            }
            target["properties"] = _spliced(
                target["properties"], cls.FLAT, {n: r["properties"] for n, r in records.items()}
            )
            target["required"] = [
                key
                for name in target.get("required", [])
                for key in (records[name]["required"] if name in records else [name])
            ]
        return schema


def _spliced(
    data: dict[str, Any], flat: frozenset[str], parts: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``data`` with each ``flat`` key replaced, in place, by the keys of its dict."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        part = (parts or data).get(key) if key in flat else None
        if isinstance(part, dict):
            out.update(part)
        else:
            out[key] = value
    return out


@functools.cache
def _field_adapters(record: type) -> dict[str, TypeAdapter[Any]]:
    hints = typing.get_type_hints(record)
    return {f.name: TypeAdapter(hints[f.name]) for f in dataclasses.fields(record)}


def _as_record(record: type) -> Callable[[Any], Any]:
    """A metrics record from the object results.json holds, each field checked strictly
    (pydantic's strict mode takes only instances of a plain dataclass, never a dict)."""

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # an instance, or something the dataclass check refuses
        adapters = _field_adapters(record)
        if unknown := sorted(value.keys() - adapters.keys()):
            raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))}")
        if missing := sorted(adapters.keys() - value.keys()):
            raise ValueError(f"missing key(s) {', '.join(missing)}")
        checked = {}
        for key, adapter in adapters.items():
            try:
                checked[key] = adapter.validate_python(value[key], strict=True)
            except ValidationError as exc:
                raise ValueError(f"{key}: {exc.errors()[0]['msg']}") from None
        return record(**checked)

    return convert


Counted = Annotated[CountedRates, BeforeValidator(_as_record(CountedRates))]
"""metrics' counted rates as a block field: read from a dict, written as one."""


class _HasRates(Protocol):
    @property
    def rates(self) -> CountedRates: ...


class RatesRead:
    """The flat names of a block's ``rates`` for readers (``block.fmr`` is ``block.rates.fmr``)."""

    @property
    def fmr(self: _HasRates) -> float | None:
        return self.rates.fmr

    @property
    def fmr_errors(self: _HasRates) -> int:
        return self.rates.fmr_errors

    @property
    def n_impostor(self: _HasRates) -> int:
        return self.rates.n_impostor

    @property
    def fnmr(self: _HasRates) -> float | None:
        return self.rates.fnmr

    @property
    def fnmr_errors(self: _HasRates) -> int:
        return self.rates.fnmr_errors

    @property
    def n_genuine(self: _HasRates) -> int:
        return self.rates.n_genuine


class ConfidenceInterval(Block):
    """A 95% percentile bootstrap interval over identities; bounds None when none formed."""

    estimate: float | None
    lower: float | None
    upper: float | None
    n_boot: int = Field(ge=0)
    seed: int
    confidence: float = Field(gt=0, lt=1)
    n_invalid: int = Field(0, ge=0, description="replicates where the metric was undefined")

    def bounds(self) -> tuple[float, float] | None:
        if self.lower is None or self.upper is None:
            return None
        return self.lower, self.upper


class TarAtFarEntry(Block):
    """TAR at one FAR target; ``tar`` is None when the impostor count cannot support it."""

    far_target: float = Field(gt=0)
    tar: float | None
    threshold: float | None
    achieved_far: float | None
    supported: bool
    reason: str | None = None
    expected_errors: float | None = Field(
        None, description="far_target x impostor pairs: the false accepts the target allows"
    )


class F1Point(Block):
    """The F1-optimal threshold (model units) and its rates."""

    threshold: float | None
    f1: float | None
    precision: float | None
    recall: float | None


class OperatingPoint(Block):
    """Rates at one threshold (model units) with bob's counts beside them
    (FMR = fmr_errors / n_impostor). F1, precision and accuracy depend on the genuine/impostor
    mix. ``far``/``frr``/``fta`` only with ``--on-fail reject``, where failures to enrol count
    as errors (ISO/IEC 19795-1)."""

    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"far", "frr", "fta"})

    threshold: float | None
    f1: float | None
    precision: float | None
    recall: float | None
    accuracy: float | None
    fmr: float | None
    fmr_errors: int | None = None
    n_impostor: int | None = None
    fnmr: float | None
    fnmr_errors: int | None = None
    n_genuine: int | None = None
    accepts_everything: bool | None = Field(
        None, description="every pair accepted: 0 FNMR bought with 100% FMR"
    )
    far: float | None = None
    frr: float | None = None
    fta: float | None = None


class TargetFmrPoint(RatesRead, Block):
    """The threshold reaching FMR <= target and the FNMR there, under TAR@FAR's support rule."""

    FLAT: ClassVar[frozenset[str]] = frozenset({"rates"})

    target_fmr: float
    threshold: float | None
    rates: Counted
    supported: bool
    reason: str | None


class ZeroFmr(Block):
    """pyeer's ZeroFMR: the FNMR at the lowest threshold that accepts no impostor pair."""

    fnmr: float | None
    threshold: float | None


class ZeroFnmr(Block):
    """pyeer's ZeroFNMR: the FMR at the highest threshold that rejects no genuine pair."""

    fmr: float | None
    threshold: float | None


class HeldOutFold(RatesRead, Block):
    """One identity-disjoint fold: the threshold chosen without it and its rates there."""

    FLAT: ClassVar[frozenset[str]] = frozenset({"rates"})

    fold: int
    threshold: float | None
    rates: Counted


class CrossValidatedThreshold(Block):
    """A threshold chosen on k-1 identity folds and judged on the held-out one, pooled."""

    criterion: str
    k: int
    threshold_mean: float | None
    threshold_min: float | None
    threshold_max: float | None
    held_out: Counted
    folds: list[HeldOutFold]


class CriterionNote(Block):
    """A threshold criterion that could not be applied, and why."""

    criterion: str
    note: str


class ThresholdTransfer(RatesRead, Block):
    """A threshold chosen on another subset (``from``) and the rates it gives here."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, serialize_by_alias=True)
    FLAT: ClassVar[frozenset[str]] = frozenset({"rates"})

    from_subset: str = Field(alias="from")
    criterion: str
    threshold: float | None
    rates: Counted


class ModelMetrics(Block):
    """One model's figures on one subset: the ``metrics`` block."""

    OPTIONAL: ClassVar[frozenset[str]] = frozenset(
        {"cross_validated", "ci", "fallback_detector_images", "threshold_transfer"}
    )

    roc_auc: float | None
    eer: float | None
    eer_threshold: float | None
    tar_at_far: list[TarAtFarEntry]
    best_f1: F1Point
    at_default: OperatingPoint
    d_prime: float | None
    genuine_mean: float | None
    genuine_std: float | None
    impostor_mean: float | None
    impostor_std: float | None
    n_genuine: int = Field(ge=0)
    n_impostor: int = Field(ge=0)
    failure_rate: float | None = Field(ge=0, le=1)
    auc_definition: str
    zero_fmr: ZeroFmr | None = None
    zero_fnmr: ZeroFnmr | None = None
    at_target_fmr: TargetFmrPoint | None = None
    cross_validated: list[CrossValidatedThreshold | CriterionNote] | None = Field(
        None, description="per-pair runs: thresholds chosen on identity-disjoint folds"
    )
    ci: dict[str, ConfidenceInterval] | None = Field(
        None, description="95% bootstrap intervals keyed by gate name; absent without --bootstrap"
    )
    multi_face_images: int = Field(0, ge=0)
    fallback_detector_images: int | None = Field(
        None, ge=0, description="with --fallback-detector: faces it found where HOG found none"
    )
    threshold_transfer: list[ThresholdTransfer | CriterionNote] | None = Field(
        None, description="with --threshold-from: thresholds chosen on that subset, applied here"
    )

    def tar(self, target: float) -> TarAtFarEntry | None:
        """The TAR@FAR entry of one target, None when the run did not use that target."""
        return next((t for t in self.tar_at_far if t.far_target == target), None)

    def value(self, name: str) -> float | None:
        """A gate-able figure by its catalog name; None when absent or not computable."""
        target = far_target(name)
        if target is not None:
            entry = self.tar(target)
            return entry.tar if entry is not None and entry.supported else None
        return self.values().get(name)

    def values(self) -> dict[str, float | None]:
        """Every gate-able figure by catalog name (the TAR family by each target's name)."""
        flat: dict[str, float | None] = {
            "roc_auc": self.roc_auc,
            "eer": self.eer,
            "d_prime": self.d_prime,
            "best_f1": self.best_f1.f1,
            "f1_at_default": self.at_default.f1,
            "fmr_at_default": self.at_default.fmr,
            "fnmr_at_default": self.at_default.fnmr,
            "failure_rate": self.failure_rate,
        }
        for entry in self.tar_at_far:
            flat[far_key(entry.far_target)] = entry.tar if entry.supported else None
        return flat

    def threshold(self, name: str) -> float | None:
        """The threshold (model units) a figure was read at, None for threshold-free ones."""
        target = far_target(name)
        if target is not None:
            entry = self.tar(target)
            return entry.threshold if entry is not None else None
        return {
            "eer": self.eer_threshold,
            "best_f1": self.best_f1.threshold,
            "f1_at_default": self.at_default.threshold,
            "fmr_at_default": self.at_default.threshold,
            "fnmr_at_default": self.at_default.threshold,
        }.get(name)

    def interval(self, name: str) -> ConfidenceInterval | None:
        """The bootstrap interval of a figure, when the run computed one."""
        return (self.ci or {}).get(name)


class _Named(Block):
    name: str


class SweepMarker(OperatingPoint, _Named):
    """One marked threshold of the sweep (default, best F1, EER) and its rates (name first)."""


class ThresholdSweep(Block):
    """``threshold-sweep``'s marked thresholds; the full sweep is in sweep.csv."""

    units: str
    accept_rule: str
    markers: list[SweepMarker]


class ModelComparison(Block):
    """Two models' AUCs on the same pairs.

    With bootstrap, ``ci``, ``bootstrap_p`` and ``bootstrap_std_error`` come from the paired
    identity bootstrap (people resampled, both models on the same draws): the primary
    inference. DeLong's z and p assume independent pairs, which pairs sharing a person are
    not; ``delong_std_error`` beside ``bootstrap_std_error`` shows by how much it understates.
    """

    OPTIONAL: ClassVar[frozenset[str]] = frozenset(
        {"ci", "bootstrap_p", "bootstrap_std_error", "delong_std_error"}
    )

    model_a: str
    model_b: str
    auc_a: float | None
    auc_b: float | None
    auc_difference: float | None
    delong_z: float | None
    delong_p: float | None
    delong_log10_p: float | None = Field(
        None, description="log10 of the p-value, exact where delong_p underflows to 0"
    )
    ci: ConfidenceInterval | None = None
    bootstrap_p: float | None = Field(
        None, description="paired identity bootstrap, two-sided p-value of ΔAUC = 0"
    )
    bootstrap_std_error: float | None = None
    delong_std_error: float | None = None


class IdentityConcentration(Block):
    """How many people a subset's genuine pairs really come from (inverse Simpson index)."""

    people: int
    people_with_genuine_pairs: int
    largest_identity: str | None
    largest_share: float | None
    effective_identities: float | None
    warning: str | None


class SubsetOverlap(Block):
    """Another subset of the run sharing sampled images with this one."""

    subset: str
    shared_images: int
    of_images: int
    shared_people: int
