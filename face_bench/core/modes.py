"""The vocabularies of face-bench's choices, shared by the library and the command line.

Each choice has one enum here and nowhere else: the library takes these values and the
CLI offers exactly them. A module of its own, free of heavy imports, so the CLI can list
the choices without loading numpy or Pillow for ``--help``.
"""

from enum import StrEnum
from typing import TypeVar

from face_bench.core.errors import ConfigError

Choice = TypeVar("Choice", bound=StrEnum)


def parse_choice(kind: type[Choice], value: str, option: str) -> Choice:
    """``value`` as a member of ``kind``; a one-line ConfigError naming the choices if not.

    For library callers that pass plain strings; the CLI already hands over members.
    """
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in kind)
        raise ConfigError(f"{option} must be one of {choices}, not {value!r}") from None


class AlignMode(StrEnum):
    """How to find the face; ``face_bench.faces.alignment`` documents the exact rules."""

    AUTO = "auto"
    DETECT = "detect"
    NONE = "none"


# ``face-bench lfw``'s alignment: LFW's 250 px photos count as crops, so HOG searches them
# without upsampling and a photo where it finds no face is taken whole instead of failing.
# On fold 1 that is faster than ``detect`` and loses no pair (docs/lfw.md has the figures).
LFW_ALIGN = AlignMode.AUTO


class MultiFacePolicy(StrEnum):
    """What to do when the detector finds more than one face."""

    LARGEST = "largest"
    FAIL = "fail"
    SKIP = "skip"


class FallbackDetector(StrEnum):
    """A second face detector tried where the first (HOG) finds no face."""

    NONE = "none"
    MMOD = "mmod"  # dlib's CNN detector: slower, finds more faces


class Detector(StrEnum):
    """The face detector: dlib's HOG, dlib's CNN (MMOD) or OpenCV Zoo's YuNet (ONNX)."""

    HOG = "hog"
    MMOD = "mmod"
    YUNET = "yunet"


class Engine(StrEnum):
    """Where embedding and all-pairs scoring run: this machine, or a Ray cluster."""

    LOCAL = "local"
    RAY = "ray"


class DlibRuntime(StrEnum):
    """What runs dlib's face descriptor: onnxruntime on its converted graph, or dlib itself."""

    ONNX = "onnx"
    DLIB = "dlib"


class OnFail(StrEnum):
    """An image a model cannot enrol, in a sampled or pair-file evaluation."""

    EXCLUDE = "exclude"  # left out for every model, so all models score the same pairs
    REJECT = "reject"  # kept; its pairs score as non-matches for the model that failed


class LfwOnFail(StrEnum):
    """An LFW pair with an image a model cannot enrol."""

    ERROR = "error"  # counted as a wrong decision: the LFW convention
    EXCLUDE = "exclude"  # left out of that model's accuracy


class IdentityFrom(StrEnum):
    """Where a folder dataset without a manifest takes each image's identity from."""

    AUTO = "auto"
    MANIFEST = "manifest"
    FOLDER = "folder"
    FILENAME = "filename"


class ExportFormat(StrEnum):
    """Score-file formats other tools read (``export-scores --to``)."""

    PYEER = "pyeer"
    BOB = "bob"
    CSV = "csv"


class FigureFormat(StrEnum):
    """File format of every figure a run writes."""

    PNG = "png"  # embedded in report.html
    SVG = "svg"  # vector, for papers; the page links them
    PDF = "pdf"


class Duplicates(StrEnum):
    """Byte-identical images under different identities (``run.duplicates``)."""

    KEEP = "keep"  # their impostor pairs are scored
    EXCLUDE = "exclude"  # their impostor pairs are left out
    ERROR = "error"  # the run is refused


class NearDuplicatePolicy(StrEnum):
    """Perceptually near-identical images, the same photo re-encoded (``run.near_duplicates``)."""

    KEEP = "keep"
    EXCLUDE = "exclude"
