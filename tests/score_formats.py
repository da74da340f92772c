"""Reading pyeer and bob.measure score files the way those tools do, to check face-bench's
exports by a round trip (face-bench itself only writes these formats)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BobScore:
    """One line of a bob.measure four-column file; bob calls it genuine when ids match."""

    reference_id: str
    probe_id: str
    probe_key: str
    score: float

    @property
    def genuine(self) -> bool:
        return self.reference_id == self.probe_id


def read_pyeer(path: str | Path) -> np.ndarray:
    """A pyeer score file read as pyeer's command line does (last token per line)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return np.array([float(line.strip().split(" ")[-1]) for line in lines if line.strip()])


def read_bob(path: str | Path) -> list[BobScore]:
    """A four-column file read as bob does: whitespace-split, ``#`` lines are comments."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        assert len(fields) == 4, line
        out.append(BobScore(fields[0], fields[1], fields[2], float(fields[3])))
    return out
