"""How a model's raw comparison values become face-bench scores (higher = same person).

One rule for the model spec (``models.spec.ModelSpec``) and for a model as a run folder
records it (``report.source.ModelScale``): Euclidean distances are negated, cosine
similarities kept, and a threshold converts between the two with the same sign.
"""

from __future__ import annotations

from typing import TYPE_CHECKING


class ScoreOrientation:
    """Units and score conversions of anything with a ``similarity`` ("cosine" or
    "euclidean"); mixed into the classes that hold one."""

    if TYPE_CHECKING:  # a field of the class it is mixed into
        similarity: str

    @property
    def units(self) -> str:
        """What the model's threshold is measured in."""
        return "Euclidean distance" if self.similarity == "euclidean" else "cosine similarity"

    @property
    def distance_like(self) -> bool:
        """True when lower raw values mean 'same person' (scores are then negated)."""
        return self.similarity == "euclidean"

    def to_score(self, value: float) -> float:
        """Model units -> face-bench score (higher = same person)."""
        return -value if self.distance_like else value

    def from_score(self, value: float) -> float:
        """face-bench score -> model units."""
        return -value if self.distance_like else value
