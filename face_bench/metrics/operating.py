"""Operating points a reviewer reads first: rates at one threshold with their error counts,
pyeer's ZeroFMR/ZeroFNMR, and how much of a subset's evidence comes from one person.

A rate without its counts hides how thin it is ("0.0 %" of 40 impostors is not "0.0 %" of
40,000), so every rate here travels with its numerator and denominator, as bob.measure
prints them: ``32.56 % (14022/43070)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from face_bench.metrics.confusion import check_scores, check_two_classes, counts_sorted

# Above this share of genuine pairs from one person, a subset's FNMR is mostly that person's.
CONCENTRATION_WARN_SHARE = 0.5
# Below this effective number of identities, resampling people has little to draw from.
CONCENTRATION_WARN_EFFECTIVE = 5.0


@dataclass(frozen=True)
class CountedRates:
    """FMR and FNMR at one threshold (accept when score >= threshold), with their counts:
    FMR = fmr_errors / n_impostor, FNMR = fnmr_errors / n_genuine.

    The one declaration of a counted rate: the results blocks that report rates at a
    threshold (target FMR, held-out folds, transferred thresholds) hold this record, and
    results.json writes its fields in place, flat. A rate is None when its class is absent
    (no impostor or no genuine pair).
    """

    # Read by pydantic where a results block holds the record: unknown keys are an error.
    __pydantic_config__: ClassVar[dict[str, str]] = {"extra": "forbid"}

    fmr: float | None
    fmr_errors: int
    n_impostor: int
    fnmr: float | None
    fnmr_errors: int
    n_genuine: int

    @classmethod
    def of(cls, fmr_errors: int, n_impostor: int, fnmr_errors: int, n_genuine: int) -> CountedRates:
        """The rates of these counts."""
        return cls(
            fmr=fmr_errors / n_impostor if n_impostor else None,
            fmr_errors=fmr_errors,
            n_impostor=n_impostor,
            fnmr=fnmr_errors / n_genuine if n_genuine else None,
            fnmr_errors=fnmr_errors,
            n_genuine=n_genuine,
        )

    @classmethod
    def pooled(cls, parts: Iterable[CountedRates]) -> CountedRates:
        """Errors and pairs summed over ``parts``: every pair weighs once in the rates."""
        parts = list(parts)
        return cls.of(
            sum(p.fmr_errors for p in parts),
            sum(p.n_impostor for p in parts),
            sum(p.fnmr_errors for p in parts),
            sum(p.n_genuine for p in parts),
        )

    @property
    def accepts_everything(self) -> bool:
        """Every pair accepted: 0 % FNMR bought with 100 % FMR is no achievement."""
        return self.fmr_errors == self.n_impostor and self.fnmr_errors == 0


def counted_rates(scores: Any, labels: Any, threshold: float) -> CountedRates:
    """FMR and FNMR with their counts when pairs scoring ``threshold`` or more are accepted."""
    s, y = check_scores(scores, labels)
    accepted = s >= np.float64(threshold)
    n_gen = int(np.count_nonzero(y))
    false_accepts = int(np.count_nonzero(accepted & ~y))
    false_rejects = n_gen - int(np.count_nonzero(accepted & y))
    return CountedRates.of(false_accepts, s.size - n_gen, false_rejects, n_gen)


@dataclass(frozen=True)
class ZeroRates:
    """pyeer's ZeroFMR and ZeroFNMR with the thresholds that reach them.

    ``zero_fmr``: the FNMR at the lowest threshold that accepts no impostor pair.
    ``zero_fnmr``: the FMR at the highest threshold that rejects no genuine pair.
    """

    zero_fmr: float
    zero_fmr_threshold: float
    zero_fnmr: float
    zero_fnmr_threshold: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def zero_rates(scores: Any, labels: Any) -> ZeroRates:
    s, y, n_pos, n_neg = check_two_classes(scores, labels, "ZeroFMR/ZeroFNMR")
    top_impostor = float(s[~y].max())
    above = s[y & (s > top_impostor)]
    # Lowest threshold with FMR 0: just above the highest impostor (the next genuine score).
    zfmr_thr = float(above.min()) if above.size else math.inf
    zero_fmr = 1.0 - above.size / n_pos
    low_genuine = float(s[y].min())
    zero_fnmr = int(np.count_nonzero(~y & (s >= low_genuine))) / n_neg
    return ZeroRates(zero_fmr, zfmr_thr, zero_fnmr, low_genuine)


@dataclass(frozen=True)
class IdentityConcentration:
    """How many people the genuine pairs really come from.

    ``effective_identities`` is the inverse Simpson index 1 / sum(p_i^2) of each person's
    share p_i of the genuine pairs: 8 people with equal shares give 8, one person holding
    72.5 % gives under 2. A warning is set when the largest share exceeds
    CONCENTRATION_WARN_SHARE or the effective number falls below
    CONCENTRATION_WARN_EFFECTIVE.
    """

    people: int
    people_with_genuine_pairs: int
    largest_identity: str | None
    largest_share: float | None
    effective_identities: float | None
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def identity_concentration(
    identities: Any, id_a: Any, labels: Any, names: Any | None = None
) -> IdentityConcentration:
    """``identities``: every sampled image's person; ``id_a``/``labels``: the scored pairs.

    For a genuine pair both sides are the same person, so ``id_a`` names it. ``names``
    maps codes to display names when ``id_a`` holds integer codes.
    """
    people = len(set(np.asarray(identities).tolist()))
    y = np.asarray(labels, dtype=bool)
    genuine = np.asarray(id_a)[y]
    if genuine.size == 0:
        return IdentityConcentration(people, 0, None, None, None, "no genuine pairs")
    codes, counts = np.unique(genuine, return_counts=True)
    shares = counts / counts.sum()
    top = int(np.argmax(shares))
    largest = codes[top]
    if names is not None:
        largest = np.asarray(names)[int(largest)]
    effective = float(1.0 / np.sum(shares**2))
    share = float(shares[top])
    warning = None
    if share > CONCENTRATION_WARN_SHARE or effective < CONCENTRATION_WARN_EFFECTIVE:
        warning = (
            f"{share:.1%} of the genuine pairs come from one person ({largest}); "
            f"effectively {effective:.1f} identities: FNMR and TAR mostly describe "
            "few people"
        )
    return IdentityConcentration(people, int(codes.size), str(largest), share, effective, warning)


def threshold_at_fmr(scores: Any, labels: Any, target: float) -> float | None:
    """The lowest distinct score whose FMR does not exceed ``target`` (TAR@FAR's rule).

    None when not one false accept is allowed; +inf when even the top score lets too
    many impostors through.
    """
    s, y, _n_pos, n_neg = check_two_classes(scores, labels, "a target-FMR threshold")
    allowed = math.floor(target * n_neg + 1e-9)
    if allowed < 1:
        return None
    c = counts_sorted(s, y)
    i = int(np.searchsorted(c.fp, allowed, side="right")) - 1
    return math.inf if i < 0 else float(c.thresholds[i])
