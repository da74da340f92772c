"""Error types for face-bench.

Every user-facing failure is a ``FaceBenchError`` subclass carrying its own exit
code, so the CLI can map all of them in one place to a one-line message. A signal that
stops a run (SIGINT, SIGTERM, SIGHUP) is a ``StoppedRunError`` instead, derived from
``BaseException`` as ``KeyboardInterrupt`` is: no ``except Exception`` (face-bench's or a
library's) can catch it and let the run go on or report it as another failure.
"""

from __future__ import annotations


class FaceBenchError(Exception):
    """Base class: a problem with the user's input, not a bug in face-bench."""

    exit_code: int = 3


class ConfigError(FaceBenchError):
    """The TOML configuration file is missing, unreadable or invalid."""

    exit_code = 4


class MissingDependencyError(FaceBenchError):
    """A Python package face-bench imports is not installed (a partial install, an extra left
    out); the message names the ``pip install`` command that adds it."""

    exit_code = 5


class DatasetError(FaceBenchError):
    """The dataset folder is missing or unusable."""

    exit_code = 10


class ManifestError(DatasetError):
    """manifest.csv is malformed (missing column, duplicate path, bad encoding)."""

    exit_code = 11


class PathEscapeError(DatasetError):
    """A path in the data points outside the dataset root."""

    exit_code = 12


class EmptySubsetError(DatasetError):
    """A subset selects no images, or too few to form any pair."""

    exit_code = 13


class UnknownSubsetError(DatasetError):
    """The requested subset is neither built in nor defined in the config."""

    exit_code = 14


class PairsFileError(DatasetError):
    """A pairs file (CSV or LFW pairs.txt) is malformed or names unknown images."""

    exit_code = 15


class FetchError(DatasetError):
    """A dataset download failed: offline, HTTP, checksum, size, deadline or a bad mirror URL."""

    exit_code = 16


class ModelError(FaceBenchError):
    """A model cannot be used."""

    exit_code = 20


class UnknownModelError(ModelError):
    """The requested model is not in the registry."""

    exit_code = 21


class WeightsMissingError(ModelError):
    """The model's weights file was not found in any of the places looked."""

    exit_code = 22


class ModelShapeError(ModelError):
    """The ONNX model's inputs or outputs do not match its spec."""

    exit_code = 23


class ModelFileError(ModelError):
    """The weights file exists but cannot be loaded (not ONNX, corrupt)."""

    exit_code = 24


class NoUsableModelError(ModelError):
    """A model the user asked for cannot run, or no model can; raised before any work."""

    exit_code = 25


class OutputError(FaceBenchError):
    """An output path cannot be written: a folder, a special file, read-only, or a full disk.

    Checked before any embedding work starts, so a long run never ends in an unwritable folder.
    """

    exit_code = 30


class CacheDirError(OutputError):
    """The cache folder is unusable (a file, unwritable, or an unexpanded ``~``)."""

    exit_code = 31


class InputFileError(FaceBenchError):
    """A file the user named is not a regular file, is too large, or cannot be read."""

    exit_code = 32


class UnguardedMainError(FaceBenchError):
    """A script starts face-bench's worker processes outside ``if __name__ == "__main__":``."""


class EngineError(FaceBenchError):
    """The execution engine (a Ray cluster) is missing, unreachable or failed."""

    exit_code = 35


class ImageError(FaceBenchError):
    """One image cannot be used; normally recorded as a failure to enrol."""

    exit_code = 40


class ResultsError(FaceBenchError):
    """A results file is missing, invalid, or of an unsupported schema version."""

    exit_code = 50


class RunFolderError(ResultsError):
    """A run folder to render a report from is missing or holds no results.json, or the
    report's folder would lie inside it."""

    exit_code = 51


class GateInputError(FaceBenchError):
    """The gate cannot compare: a results file or setting is unusable, or the runs differ.

    Exit 2 keeps the gate's CI contract simple: 0 pass, 1 regression, 2 cannot tell.
    """

    exit_code = 2


class CalibrationFileError(FaceBenchError):
    """A calibration file is not one ``face-bench calibrate`` wrote (malformed, other format)."""

    exit_code = 52


class CalibrationMismatchError(CalibrationFileError):
    """A calibration file was fitted for another model (weights or preprocessing differ):
    its probabilities would be meaningless for this model's scores."""

    exit_code = 53


class MetricError(FaceBenchError):
    """A metric is undefined for the given scores (e.g. only one class)."""

    exit_code = 60


class StoppedRunError(BaseException):
    """A signal stopped the run; finished embeddings are already in the cache.

    Not an ``Exception``: a handler for errors must never swallow a stop request (the run
    would finish and exit 0) or report it as something else (an unloadable model, a
    failed image cached as such).
    """

    exit_code: int = 130
    signal_name: str = "SIGINT"


class InterruptedRunError(StoppedRunError):
    """The user pressed Ctrl-C (SIGINT): exit 128 + 2."""


class TerminatedRunError(StoppedRunError):
    """SIGTERM (a supervisor, ``kill``, ``timeout``): handled like Ctrl-C, exit 128 + 15."""

    exit_code = 143
    signal_name = "SIGTERM"


class HangupRunError(StoppedRunError):
    """SIGHUP (the terminal or SSH session closed): handled like Ctrl-C, exit 128 + 1."""

    exit_code = 129
    signal_name = "SIGHUP"
