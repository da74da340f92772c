"""How faces are found: the choices shared by the library and the command line.

A module of its own, free of heavy imports, so the CLI can offer these choices
without loading numpy or Pillow for ``--help``.
"""

from enum import StrEnum


class AlignMode(StrEnum):
    """How to find the face; ``face_bench.faces.alignment`` documents the exact rules."""

    AUTO = "auto"
    DETECT = "detect"
    NONE = "none"


class MultiFacePolicy(StrEnum):
    """What to do when the detector finds more than one face."""

    LARGEST = "largest"
    FAIL = "fail"
    SKIP = "skip"


class Engine(StrEnum):
    """Where embedding and all-pairs scoring run: this machine, or a Ray cluster."""

    LOCAL = "local"
    RAY = "ray"
