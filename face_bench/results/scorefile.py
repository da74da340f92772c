"""Score files: face-bench's ``scores.csv`` and the formats of pyeer and bob.measure.

``scores.csv`` is the interchange artifact (bob.measure's lesson): ``roc``, ``report``,
``lfw`` and ``export-scores --to csv`` all write it with :func:`write_score_file`, and
:func:`read_score_file` is the one reader, so other tools can recompute every figure
without re-embedding. Scores are always oriented higher = more likely the same person,
which is what pyeer (``ds_scores=False``, its default) and bob.measure both assume, so they
are written as they are; the tests read each export back the way pyeer and bob do.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from face_bench.core.errors import ResultsError

if TYPE_CHECKING:
    import pandas as pd
from face_bench.core.io import atomic_write_text
from face_bench.core.text import from_spreadsheet_cell, spreadsheet_cell


@dataclass(frozen=True)
class ScoreRow:
    """One scored pair: everything needed to redo metrics without re-embedding."""

    path_a: str
    path_b: str
    identity_a: str
    identity_b: str
    label: bool
    score: float
    fold: int | None = None


def write_pyeer(
    directory: str | Path,
    model: str,
    genuine_scores: Sequence[float] | np.ndarray,
    impostor_scores: Sequence[float] | np.ndarray,
) -> tuple[Path, Path]:
    """Write ``<model>_genuine.txt`` and ``<model>_impostor.txt``, one score per line.

    pyeer's command line reads the last space-separated token of each line as a float;
    every score is written with ``repr`` so it reads back bit for bit. Run it as
    ``geteerinf -p DIR -g <model>_genuine.txt -i <model>_impostor.txt`` (no ``-ds``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("._") or "model"
    paths = (directory / f"{stem}_genuine.txt", directory / f"{stem}_impostor.txt")
    for path, scores, kind in zip(
        paths, (genuine_scores, impostor_scores), ("genuine", "impostor"), strict=True
    ):
        values = [float(s) for s in np.asarray(scores, dtype=np.float64).ravel()]
        if not values:
            raise ValueError(f"no {kind} scores: pyeer needs both kinds")
        _require_finite(values, "pyeer")
        atomic_write_text(path, "".join(f"{v!r}\n" for v in values), stream_ok=True)
    return paths


def bob_token(text: str) -> str:
    """Make a name safe for bob's score loaders.

    Older bob.measure splits each line on any whitespace and skips lines starting with
    ``#``; newer versions read it with ``csv.reader(delimiter=" ")``, where a leading
    ``"`` opens a quoted field, while guessing the column count with a plain split.
    Quoting therefore cannot work for both, so each whitespace run becomes ``_`` and a
    leading ``#`` or ``"`` gets a ``_`` in front.
    """
    token = re.sub(r"\s+", "_", text) or "_"
    return "_" + token if token[0] in '#"' else token


def write_bob(path: str | Path, rows: Iterable[ScoreRow]) -> Path:
    """Write bob.measure's four-column ``reference_id probe_id probe_key score`` file.

    reference_id is image_a's identity, probe_id image_b's, probe_key image_b's path.
    bob decides genuine versus impostor by comparing the first two columns, so a row
    whose label disagrees with its identities, or two identities that the safe-name
    rule (:func:`bob_token`) would merge, is refused rather than silently relabelled.
    """
    tokens: dict[str, str] = {}
    owners: dict[str, str] = {}
    lines = []
    for row in rows:
        if row.label != (row.identity_a == row.identity_b):
            raise ValueError(
                f"pair {row.path_a!r}, {row.path_b!r}: label {row.label} disagrees with its "
                "identities, and bob derives the label from them"
            )
        _require_finite([row.score], "bob")
        ids = []
        for identity in (row.identity_a, row.identity_b):
            token = tokens.setdefault(identity, bob_token(identity))
            other = owners.setdefault(token, identity)
            if other != identity:
                raise ValueError(
                    f"identities {other!r} and {identity!r} both become {token!r} in bob's format"
                )
            ids.append(token)
        lines.append(f"{ids[0]} {ids[1]} {bob_token(row.path_b)} {float(row.score)!r}\n")
    path = Path(path)
    atomic_write_text(path, "".join(lines), stream_ok=True)
    return path


# ---------------------------------------------------------------- scores.csv

SCORE_FILE = "scores.csv"
PAIR_COLUMNS = ("image_a", "image_b", "identity_a", "identity_b", "label")
"""Every scores.csv has these, after the optional ``subset`` and ``fold`` columns and before
one score column per model (higher = same person; empty = no score, an image failed)."""
GROUP_COLUMNS = ("subset", "fold")


def write_score_file(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write face-bench's score file: one row per pair, a score column per model.

    Columns: ``subset`` (runs of several subsets), ``fold`` (LFW), then PAIR_COLUMNS with
    ``label`` 1/0, then the models. Scores get 17 significant digits, so they read back bit
    for bit; cells that a spreadsheet would run as formulas are neutralised (names are data).
    """
    columns = [c for c in frame.columns if c not in GROUP_COLUMNS]
    if tuple(columns[: len(PAIR_COLUMNS)]) != PAIR_COLUMNS:
        raise ValueError(f"a score file starts with {', '.join(PAIR_COLUMNS)}, got {columns}")
    path = Path(path)
    atomic_write_text(path, score_file_text(frame))
    return path


def score_file_text(frame: pd.DataFrame) -> str:
    """The CSV text of a score table: the bytes pandas' ``to_csv(float_format="%.17g")``
    writes after ``spreadsheet_frame``, built column by column.

    Tens of thousands of pairs repeat a few hundred names, so each distinct name is
    neutralised and CSV-quoted once (by the csv module pandas itself writes with), and the
    rows are joined from those cells. Columns of another kind (rare: not text, integers,
    booleans or float64) take pandas' path.
    """
    cells = [_column_cells(frame[name]) for name in frame.columns]
    if any(c is None for c in cells) or frame.columns.has_duplicates or not len(frame.columns):
        from face_bench.core.text import spreadsheet_frame

        csv_text: str = spreadsheet_frame(frame).to_csv(
            index=False, float_format="%.17g", lineterminator="\n"
        )
        return csv_text
    header = ",".join(_csv_fields([str(spreadsheet_cell(c)) for c in frame.columns]))
    rows = "".join(f"{line}\n" for line in map(",".join, zip(*cells, strict=True)))
    return f"{header}\n{rows}"


def _csv_fields(values: list[str]) -> list[str]:
    """Each value as the csv module writes it inside a row of several fields (quoted only
    when it holds a comma, a quote or a line break)."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    out = []
    for value in values:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([value, ""])  # never a row of one empty field, which csv quotes
        out.append(buffer.getvalue()[: -len(",\n")])
    return out


def _column_cells(column: pd.Series) -> list[str] | None:
    """One column's CSV cells as pandas writes them, or None for a kind left to pandas."""
    values = column.to_numpy()
    kind = values.dtype.kind
    if kind == "f" and values.dtype == np.float64:
        return ["" if v != v else f"{v:.17g}" for v in values.tolist()]  # NaN: empty
    if kind in "iub":
        return [str(v) for v in values.tolist()]
    if kind != "O":
        return None
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if not all(isinstance(u, str) for u in uniques):
        return None
    shown = _csv_fields([str(spreadsheet_cell(u)) for u in uniques])
    return [shown[c] for c in codes.tolist()]


def read_score_file(
    path: str | Path, models: Sequence[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """A score file as a DataFrame (``label`` bool, float scores, NaN = no score) and its models.

    ``models`` are the score columns the caller expects (from results.json); by default every
    column after ``label``. A file without ``subset`` gets one (``lfw``: one pair set).
    """
    import pandas as pd

    from face_bench.core.io import MAX_TABLE_BYTES, read_bounded_text

    text = read_bounded_text(path, MAX_TABLE_BYTES, "score file", ResultsError)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ResultsError(f"{path}: not a readable CSV ({exc})") from None
    # scores.csv is written for spreadsheets (formula-like cells prefixed with '): undo that.
    frame.columns = [from_spreadsheet_cell(c) for c in frame.columns]
    _refuse_repeated_columns(text, path)
    frame = _unquote_cells(frame)
    if models is None:
        after = list(frame.columns).index("label") + 1 if "label" in frame.columns else 0
        models = [c for c in frame.columns[after:] if c not in GROUP_COLUMNS]
    names = list(models)
    missing = [c for c in (*PAIR_COLUMNS, *names) if c not in frame.columns]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}")
    if "subset" not in frame.columns:  # lfw writes one pair set and a fold column instead
        frame.insert(0, "subset", "lfw")
    bad = ~frame["label"].isin(["0", "1"])
    if bad.any():
        raise ResultsError(f"{path} line {int(np.argmax(bad)) + 2}: label must be 0 or 1")
    frame["label"] = frame["label"] == "1"
    for name in names:
        column = frame[name]
        try:
            values = column.replace("", "nan").astype(np.float64)
        except ValueError:
            raise ResultsError(f"{path}: column {name!r} holds a non-number") from None
        # face-bench writes an unscored pair as an empty cell; "nan" or "inf" written out
        # is a damaged or foreign file, not a failure to enrol.
        corrupt = (column != "").to_numpy() & ~np.isfinite(values.to_numpy())
        if corrupt.any():
            row = int(np.argmax(corrupt))
            raise ResultsError(
                f"{path} line {row + 2}: column {name!r} holds {column.iloc[row]!r}, "
                "not a finite score (an unscored pair is an empty cell)"
            )
        frame[name] = values
    return frame, names


def _unquote_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """``from_spreadsheet_cell`` on every cell, asked only of the cells that start with a
    quote (the only ones it changes): a score file has hundreds of thousands of cells."""
    frame = frame.copy()
    for column in frame.columns:  # distinct: repeated names were refused before
        cells = frame[column]
        quoted = cells.str.startswith("'").fillna(False).astype(bool)
        if quoted.any():
            cells = cells.copy()
            cells[quoted] = cells[quoted].map(from_spreadsheet_cell)
            frame[column] = cells
    return frame


def _refuse_repeated_columns(text: str, path: str | Path) -> None:
    """pandas renames a repeated header to ``name.1`` and readers take the first copy: two
    score columns for one model (or two label columns) make the file ambiguous, so refuse."""
    import csv

    header = next(csv.reader(io.StringIO(text)), [])  # the first record only
    seen: set[str] = set()
    for cell in header:
        name = str(from_spreadsheet_cell(cell))
        if name in seen:
            raise ResultsError(f"{path}: column {name!r} appears twice in the header")
        seen.add(name)


def _require_finite(values: Sequence[float], fmt: str) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{fmt} scores must be finite: leave failed pairs out of this export")
