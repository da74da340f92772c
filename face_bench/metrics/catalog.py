"""Flat metric names shared by results.json and the bootstrap CIs.

Kept free of numpy and pydantic so that both the metrics layer and the results
schema (and the numpy-free gate) can import it.
"""

from __future__ import annotations


def far_key(target: float) -> str:
    """Flat metric name for TAR at a FAR target: 1e-3 -> ``tar_at_far_1e-3``."""
    return "tar_at_far_" + f"{target:.0e}".replace("e-0", "e-").replace("e+0", "e+")
