"""Compare a handful of photos directly: every pair, every model, a verdict each.

The quick "are these the same person?" check behind ``face-bench compare``. Embeddings
go through the same cache as evaluations (same model identity), so photos already
seen by a benchmark are not embedded again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from face_bench.core.errors import InputFileError
from face_bench.core.io import user_path
from face_bench.core.modes import AlignMode
from face_bench.data.pairset import every_pair_of
from face_bench.run.request import EmbedSettings

if TYPE_CHECKING:
    from face_bench.models.registry import ModelSpec
    from face_bench.run.calibration_apply import RunCalibration

PERCENT_MAPPING = {
    "cosine": "(s + 1) / 2 × 100 for cosine similarity s",
    "euclidean": "(1 − d / 2) × 100 for Euclidean distance d, clipped to 0–100",
}
PERCENT_NOTE = (
    "Similarity % is a display convenience, not a probability: cosine similarity s maps to "
    "(s + 1) / 2, Euclidean distance d to 1 − d / 2 (exact range for unit-length embeddings), "
    "both clipped to 0–100%. It is monotone within a model but not comparable across models; "
    "the verdict uses each model's threshold in its own units."
)


def similarity_percent(value: float, similarity: str) -> float:
    """A 0–100 display value for a score in model units; higher always means more alike."""
    if similarity == "cosine":
        fraction = (value + 1.0) / 2.0
    elif similarity == "euclidean":
        fraction = 1.0 - value / 2.0
    else:
        raise ValueError(f"unknown similarity {similarity!r}")
    return float(np.clip(fraction, 0.0, 1.0) * 100.0)


@dataclass(frozen=True)
class PairVerdict:
    """One model's answer for one pair; ``problem`` says why there is none."""

    image_a: str
    image_b: str
    model: str
    units: str
    threshold: float
    score: float | None
    percent: float | None
    same_person: bool | None
    problem: str = ""
    probability: float | None = None  # P(same person) from a calibration file, at its prior

    @property
    def verdict(self) -> str:
        if self.same_person is None:
            return "cannot compare"
        return "same person" if self.same_person else "different person"


@dataclass
class Comparison:
    """Every pair of the given images under every model that could run."""

    images: list[str]
    models: list[dict[str, Any]]
    pairs: list[PairVerdict]
    failures: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    calibration: dict[str, Any] | None = None  # the file, its digest and the prior used

    @property
    def complete(self) -> bool:
        return all(p.same_person is not None for p in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "models": self.models,
            "pairs": [{**asdict(p), "verdict": p.verdict} for p in self.pairs],
            "failures": {
                image: {m: {"reason": r, "detail": d} for m, (r, d) in by_model.items()}
                for image, by_model in self.failures.items()
            },
            "skipped_models": self.skipped,
            "similarity_percent": PERCENT_NOTE,
            "calibration": self.calibration,
        }


def _verdicts(spec, result, shown: list[str], pairs, scores: np.ndarray) -> list[PairVerdict]:
    """One model's verdict on every pair, or the problem that left it without a score."""
    out = []
    for k, (i, j) in enumerate(pairs):
        problems = [
            f"{shown[x]}: {result.failures[x][0]}"
            + (f" ({result.failures[x][1]})" if result.failures[x][1] else "")
            for x in (i, j)
            if x in result.failures
        ]
        common = {
            "image_a": shown[i],
            "image_b": shown[j],
            "model": spec.name,
            "units": spec.units,
            "threshold": spec.threshold,
        }
        if problems or not np.isfinite(scores[k]):
            problem = "; ".join(problems) or "no finite score"
            out.append(
                PairVerdict(**common, score=None, percent=None, same_person=None, problem=problem)
            )
            continue
        value = float(spec.from_score(scores[k]))
        out.append(
            PairVerdict(
                **common,
                score=value,
                percent=similarity_percent(value, spec.similarity),
                same_person=bool(scores[k] >= spec.to_score(spec.threshold)),
            )
        )
    return out


def compare_images(
    images: Sequence[Path | str],
    embed: EmbedSettings | None = None,
    *,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    calibration: Path | None = None,
    prior: float | None = None,
) -> Comparison:
    """Embed ``images`` with each model (cached) and score every unordered pair.

    ``embed`` chooses the models and how faces are found (default: every default model,
    ``align`` auto).

    With ``calibration`` (a file from ``face-bench calibrate``), each pair also gets
    P(same person) at ``prior`` (default: the file's fitting prior); a model the file
    has no map for (other weights or preprocessing) is refused.
    """
    from face_bench.run.calibration_apply import match_models
    from face_bench.run.embed import embed_files
    from face_bench.run.subset_scores import pair_values

    matched: list[RunCalibration] = []

    def match(chosen: list[tuple[ModelSpec, Path]]) -> None:
        if calibration is not None:  # another model's file stops before any embedding
            matched.append(match_models(calibration, chosen, prior))

    shown = [str(p) for p in images]
    paths = [user_path(p, "image", InputFileError) for p in images]
    settings = (embed or EmbedSettings()).aligned(AlignMode.AUTO)
    embedded = embed_files(paths, settings, progress=progress, before_embedding=match)
    calibrated = matched[0] if matched else None
    chosen, skipped, embeddings = embedded.chosen, embedded.skipped, embedded.embeddings
    pair_set = every_pair_of(len(paths))
    a, b = pair_set.rows()
    pairs = list(zip(a.tolist(), b.tolist(), strict=True))

    verdicts: list[PairVerdict] = []
    failures: dict[str, dict[str, tuple[str, str]]] = {}
    infos = []
    for spec, _weights in chosen:
        result = embeddings[spec.name]
        for index, reason in result.failures.items():
            failures.setdefault(shown[index], {})[spec.name] = reason
        scores = pair_values(pair_set, result.vectors, spec.similarity) if pairs else np.array([])
        infos.append(
            {
                "name": spec.name,
                "units": spec.units,
                "similarity": spec.similarity,
                "threshold": spec.threshold,
                "percent_mapping": PERCENT_MAPPING[spec.similarity],
            }
        )
        found = _verdicts(spec, result, shown, pairs, scores)
        if calibrated is not None:
            found = _calibrated(found, scores, calibrated, spec.name)
            infos[-1]["calibration"] = _calibration_info(calibrated, spec.name)
        verdicts += found
    about = (
        None if calibrated is None else {"file": str(calibrated.path), "sha256": calibrated.sha256}
    )
    return Comparison(shown, infos, verdicts, failures, skipped, about)


def _calibrated(
    verdicts: list[PairVerdict], scores: np.ndarray, calibrated: RunCalibration, name: str
) -> list[PairVerdict]:
    """The verdicts with P(same person) from the model's own map."""
    probability = calibrated.probability(name, scores) if len(scores) else np.array([])
    return [
        replace(v, probability=float(probability[k])) if v.score is not None else v
        for k, v in enumerate(verdicts)
    ]


def _calibration_info(calibrated: RunCalibration, name: str) -> dict[str, Any]:
    fitted = calibrated.file.fitted_on
    return {
        "method": calibrated.maps[name].method,
        "prior": calibrated.prior_of(name),
        "prior_source": "the fitting set's genuine fraction"
        if calibrated.prior is None
        else "--prior",
        "fitted_on": f"{fitted.subset} of {fitted.dataset}",
    }
