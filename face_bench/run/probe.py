"""Find an ONNX model's preprocessing from evidence: run the variants users get wrong.

An export rarely says whether it wants RGB or BGR, 0..1, 0..255 or ±1 pixels, or which face
crop it was trained on, and a wrong guess costs accuracy silently rather than failing. The
probe embeds one labelled sample under each variant of a model's spec, scores the same pairs
with every variant and ranks them by ROC-AUC with identity-bootstrap intervals.

The grid is pruned in two stages to stay small: colour order × pixel scaling with the
alignment as given, then the other alignment templates for the best of those. Each variant
is its own spec (``model_copy``), so each is its own embedding-cache entry, and the variant
that matches the spec as given shares its cache with ordinary runs of that model.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from face_bench.core.errors import ConfigError, ModelFileError, UnknownModelError
from face_bench.embedding.pipeline import Embeddings
from face_bench.metrics.uncertainty import (
    ConfidenceInterval,
    PairedDifference,
    ReplicateMemo,
    bootstrap_metrics,
    paired_auc_difference,
)
from face_bench.models.backends import backend_for, make_spec
from face_bench.models.choice import ModelChoice, choose_models
from face_bench.models.registry import BUILTIN_MODELS, ModelSpec
from face_bench.run.embed import embed_models, open_registry
from face_bench.run.plan import plan_run
from face_bench.run.request import EvaluationRequest
from face_bench.run.subset_scores import ScoreTable, SubsetScores, score_pairset

Progress = Callable[[str, int], Callable[[int], None]]

# Pixel scalings by name: input = (pixel × scale − mean) / std, pixels 0..255.
SCALINGS: dict[str, dict[str, Any]] = {
    "0..255": {"scale": 1.0, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)},
    "0..1": {"scale": 1.0 / 255.0, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)},
    "±1": {"scale": 1.0, "mean": (127.5, 127.5, 127.5), "std": (127.5, 127.5, 127.5)},
}
DLIB_PADDING = 0.25  # the padding dlib's own descriptor is trained with


@dataclass(frozen=True)
class Variant:
    """One way of feeding the model: a label per setting and the spec fields it changes."""

    color: str
    scaling: str
    alignment: str
    update: dict[str, Any]
    stage: int  # 1: colour × scaling, 2: alignment of stage 1's best

    @property
    def label(self) -> str:
        return f"{self.color}, {self.scaling}, {self.alignment}"

    def apply(self, spec: ModelSpec) -> ModelSpec:
        """The spec fed this way (validated, so a bad combination fails here)."""
        return ModelSpec.model_validate({**spec.model_dump(), **self.update})


@dataclass(frozen=True)
class ProbeRow:
    """One variant's figures on the probe's pairs."""

    variant: Variant
    spec: ModelSpec
    auc: ConfidenceInterval
    eer: ConfidenceInterval


@dataclass(frozen=True)
class ProbeResult:
    """Every variant tried, best first, and the pairs they were measured on."""

    base: ModelSpec
    weights: Path
    rows: list[ProbeRow]  # ranked: highest AUC first, then lowest EER
    n_images: int
    n_genuine: int
    n_impostor: int
    n_boot: int
    notes: list[str]
    gain: PairedDifference | None = None  # AUC(best) - AUC(as given), paired over people

    @property
    def best(self) -> ProbeRow:
        return self.rows[0]


def _scaling_name(spec: ModelSpec) -> str:
    """The name of a spec's scaling, or its values when it is none of the named ones."""
    for name, fields in SCALINGS.items():
        if all(_same(getattr(spec, key), value) for key, value in fields.items()):
            return name
    mean = "/".join(f"{v:g}" for v in spec.mean)
    std = "/".join(f"{v:g}" for v in spec.std)
    return f"scale {spec.scale:.6g}, mean {mean}, std {std}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple):
        return all(math.isclose(x, y, rel_tol=1e-9) for x, y in zip(a, b, strict=True))
    return math.isclose(a, b, rel_tol=1e-9)


def _alignment_name(spec: ModelSpec) -> str:
    if spec.alignment == "arcface":
        return "arcface"
    return f"dlib chip, padding {spec.chip_padding:g}"


def colour_scaling_grid(spec: ModelSpec) -> list[Variant]:
    """Stage 1: both colour orders × the spec's own scaling and the named ones, aligned
    as the spec says. The spec as given comes first."""
    own = _scaling_name(spec)
    scalings: list[tuple[str, dict[str, Any]]] = [(own, {})]
    scalings += [(name, fields) for name, fields in SCALINGS.items() if name != own]
    orders = [spec.color_order, "BGR" if spec.color_order == "RGB" else "RGB"]
    return [
        Variant(color, name, _alignment_name(spec), {"color_order": color, **fields}, 1)
        for color in orders
        for name, fields in scalings
    ]


def alignment_grid(spec: ModelSpec, best: Variant) -> list[Variant]:
    """Stage 2: stage 1's best fed through the alignments it was not tried with.

    The chip is always made at the model's input size (a chip of another size would not
    fit the graph), so ``chip_size`` is set to the input height.
    """
    size = spec.input_size[0]
    options = [
        ("arcface", {"alignment": "arcface", "chip_size": size}),
        (
            f"dlib chip, padding {DLIB_PADDING:g}",
            {"alignment": "dlib_chip", "chip_padding": DLIB_PADDING, "chip_size": size},
        ),
    ]
    return [
        Variant(best.color, best.scaling, name, {**best.update, **fields}, 2)
        for name, fields in options
        if name != best.alignment
    ]


def rank(rows: list[ProbeRow]) -> list[ProbeRow]:
    """Highest AUC first; ties go to the lower EER, then to the earlier variant."""

    def key(row: ProbeRow) -> tuple[float, float]:
        auc = row.auc.estimate if row.auc.estimate is not None else -math.inf
        eer = row.eer.estimate if row.eer.estimate is not None else math.inf
        return (-auc, eer)

    return sorted(rows, key=key)


def measure(
    table: ScoreTable, n_boot: int, seed: int, memo: ReplicateMemo | None = None
) -> tuple[ConfidenceInterval, ...]:
    """AUC and EER with their identity-bootstrap intervals (estimates only without one)."""
    if not table.per_pair:
        n_boot = 0  # scored in blocks: no identity codes per pair to resample
    boot = bootstrap_metrics(
        table.scores, table.labels, table.ids_a, table.ids_b, (), n_boot, seed, memo=memo
    )
    return boot.roc_auc, boot.eer


def probe_target(
    target: str, config_path: Path | None, weights: dict[str, Path], cache_dir: Path | None
) -> tuple[ModelSpec, Path]:
    """The spec to start from and its weights: a registered model, or an ONNX file by path.

    A file the registry does not know starts from the table ``models --inspect`` drafts for
    it (geometry from the graph, the usual guesses for the rest).
    """
    _config, registry = open_registry(config_path, weights, cache_dir)
    if target in registry.names():
        spec, path = choose_models(registry, (target,)).ready[0]
    elif Path(target).suffix.lower() == ".onnx" or Path(target).is_file():
        spec, path = _spec_from_file(Path(target), cache_dir)
    else:
        registry.get(target)  # raises with the known names and a close match
        raise UnknownModelError(target)
    if backend_for(spec).fixed_preprocessing:
        raise ConfigError(
            f"--probe {target}: probing applies to ONNX models; {spec.name!r} runs on dlib's "
            "fixed preprocessing"
        )
    return spec, path


def _spec_from_file(path: Path, cache_dir: Path | None) -> tuple[ModelSpec, Path]:
    import re
    import tomllib

    from face_bench.models.onnx_inspect import describe_onnx, suggest_toml

    if not path.is_file():
        raise ModelFileError(f"--probe {path}: no such file (give a registered name or a path)")
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-") or "model"
    if name in BUILTIN_MODELS:
        name += "-file"
    table = tomllib.loads(suggest_toml(describe_onnx(path), name))["models"][name]
    spec = make_spec(name, table)
    backend_for(spec).inspect(spec, path, cache_dir)  # wrong shapes stop here, not mid-run
    return spec, path


def _embed_variants(
    variants: list[Variant],
    base: ModelSpec,
    weights: Path,
    plan: Any,
    workers: int | None,
    progress: Progress | None,
) -> tuple[dict[str, Embeddings], dict[str, ModelSpec]]:
    """One embedding pass per variant, keyed by the variant's label."""
    embeddings: dict[str, Embeddings] = {}
    specs: dict[str, ModelSpec] = {}
    for variant in variants:
        spec = variant.apply(base)
        result, _identity = embed_models(
            [(spec, weights)], plan.paths, plan.hashes, plan.faces, plan.cache_dir,
            workers, progress, None, plan.aligns,
        )  # fmt: skip
        embeddings[variant.label] = result[spec.name]
        specs[variant.label] = spec
    return embeddings, specs


def _score(
    variants: list[Variant],
    embeddings: dict[str, Embeddings],
    specs: dict[str, ModelSpec],
    plan: Any,
    n_boot: int,
    seed: int,
    memo: ReplicateMemo | None = None,
) -> tuple[list[ProbeRow], SubsetScores]:
    """Every variant's AUC and EER on the same pairs: an image any variant lost is left out
    for all of them, so the ranking compares like with like."""
    subset = plan.subsets[0]
    scored = score_pairset(subset.name, plan.images, subset.pairs, embeddings, specs, plan.on_fail)
    rows = []
    for variant in variants:
        auc, eer = measure(scored.scores[variant.label], n_boot, seed, memo)
        rows.append(ProbeRow(variant, specs[variant.label], auc, eer))
    return rank(rows), scored


def probe_model(
    base: ModelSpec,
    weights: Path,
    request: EvaluationRequest,
    progress: Progress | None = None,
    on_message: Callable[[str], None] | None = None,
) -> ProbeResult:
    """Rank the variants of ``base`` on the request's sample (its first subset).

    Stage 1 runs colour order × scaling with the alignment as given and picks its best by
    AUC; stage 2 runs the other alignments for it. All variants are then scored together
    on one pair set, with the bootstrap, so every interval in the ranking is comparable.
    """
    say = on_message or (lambda _m: None)
    plan = plan_run(request, say, None, ModelChoice([(base, weights)], []))
    first = colour_scaling_grid(base)
    embeddings, specs = _embed_variants(first, base, weights, plan, request.embed.workers, progress)
    leader = _score(first, embeddings, specs, plan, 0, request.seed)[0][0].variant
    second = alignment_grid(base, leader)
    more, more_specs = _embed_variants(second, base, weights, plan, request.embed.workers, progress)
    embeddings.update(more)
    specs.update(more_specs)
    memo = ReplicateMemo()  # the ranking's replicate AUCs give the gain's paired difference
    rows, scored = _score(
        first + second, embeddings, specs, plan, request.bootstrap, request.seed, memo
    )
    notes = [
        f"stage 1: colour order × scaling, aligned as given ({first[0].alignment}); "
        f"stage 2: the other alignments for stage 1's best ({leader.label})",
    ]
    if len(plan.subsets) > 1:
        notes.append(f"ranked on subset {plan.subsets[0].name!r} only")
    labels = scored.labels
    return ProbeResult(
        base=base,
        weights=weights,
        rows=rows,
        n_images=len(scored.pairs.members),
        n_genuine=int(np.sum(labels)),
        n_impostor=int(len(labels) - np.sum(labels)),
        n_boot=rows[0].auc.n_boot,
        notes=notes,
        gain=_gain(rows, base, scored, rows[0].auc.n_boot, request.seed, memo),
    )


def _gain(
    rows: list[ProbeRow],
    base: ModelSpec,
    scored: SubsetScores,
    n_boot: int,
    seed: int,
    memo: ReplicateMemo | None = None,
) -> PairedDifference | None:
    """How much the best variant beats the spec as given, judged on people (the paired
    identity bootstrap): the evidence for changing a registered spec. None when the spec
    as given wins, or without a bootstrap."""
    given = next((r for r in rows if r.spec == base), None)
    best = rows[0]
    if given is None or given is best or n_boot == 0:
        return None
    a, b = scored.scores[best.variant.label], scored.scores[given.variant.label]
    return paired_auc_difference(
        a.scores, b.scores, a.labels, a.ids_a, a.ids_b, n_boot, seed, memo=memo
    )


# ------------------------------------------------------------------ the table to paste

TOML_ORDER = (
    "backend", "path", "weights_filename", "source", "licence", "layout", "input", "output",
    "input_size", "embedding_size", "color_order", "scale", "mean", "std", "alignment",
    "chip_size", "chip_padding", "normalize", "similarity", "threshold", "batch_size",
    "default", "description",
)  # fmt: skip


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def toml_table(spec: ModelSpec, threshold_note: str = "") -> str:
    """The ``[models.NAME]`` table that runs ``spec``, ready to paste into face-bench.toml.

    Every preprocessing field is written, even at its default, so the table says exactly
    what was measured; ``threshold_note`` comments the threshold line.
    """
    import re

    name = spec.name if re.fullmatch(r"[A-Za-z0-9_-]+", spec.name) else json.dumps(spec.name)
    data = spec.model_dump()
    lines = [f"[models.{name}]"]
    for key in TOML_ORDER:
        value = data.get(key)
        if value is None or (key == "description" and not value):
            continue
        if key == "chip_padding" and spec.alignment != "dlib_chip":
            continue
        if key == "default" and value:  # runs without --model unless said otherwise
            continue
        if key == "path":
            value = os.path.normpath(value)  # "a/../shared/m.onnx" as "shared/m.onnx"
        note = f"  # {threshold_note}" if key == "threshold" and threshold_note else ""
        lines.append(f"{key} = {_toml_value(value)}{note}")
    return "\n".join(lines)


def _interval_dict(ci: ConfidenceInterval) -> dict[str, float | None]:
    return {"estimate": ci.estimate, "lower": ci.lower, "upper": ci.upper}


def threshold_note(result: ProbeResult) -> str:
    """What the pasted threshold is worth: it was chosen for the spec as given."""
    if result.best.spec == result.base:
        return ""
    return "chosen for the spec as given: re-choose it (face-bench threshold-sweep)"


def result_dict(result: ProbeResult) -> dict[str, Any]:
    """The probe as JSON-ready data: ``face-bench models --probe ... --format json``."""
    gain = result.gain
    return {
        "model": result.base.name,
        "weights": str(result.weights),
        "images": result.n_images,
        "n_genuine": result.n_genuine,
        "n_impostor": result.n_impostor,
        "bootstrap": result.n_boot,
        "variants": [
            {
                "rank": i,
                "color_order": row.variant.color,
                "scaling": row.variant.scaling,
                "alignment": row.variant.alignment,
                "stage": row.variant.stage,
                "as_given": row.spec == result.base,
                "roc_auc": _interval_dict(row.auc),
                "eer": _interval_dict(row.eer),
            }
            for i, row in enumerate(result.rows, start=1)
        ],
        "best": result.best.variant.label,
        "gain_over_given": None
        if gain is None
        else {**_interval_dict(gain.ci), "p_value": gain.p_value},
        "toml": toml_table(result.best.spec, threshold_note(result)),
        "notes": result.notes,
    }
