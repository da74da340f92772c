"""Verification protocols: LFW pairs.txt, pair-list CSVs and LFW-style k-fold accuracy.

Pure parsing and arithmetic on score arrays. Nothing here opens an image or a model, so
the protocol rules can be tested exactly and shared by every model.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_bench.core.errors import MetricError, PairsFileError, PathEscapeError
from face_bench.core.modes import LfwOnFail, parse_choice

# --------------------------------------------------------------------------- LFW pairs.txt


@dataclass(frozen=True)
class LfwPair:
    """One LFW pair; paths are relative to the images root, folds count from 1."""

    fold: int
    path_a: str
    path_b: str
    identity_a: str
    identity_b: str
    label: bool


def lfw_image_path(name: str, number: int) -> str:
    """LFW's fixed layout, so pairs.txt never has to spell out file names."""
    return f"{name}/{name}_{number:04d}.jpg"


def _lfw_shape(path, lines: list[str]) -> tuple[int, int]:
    """(n_folds, n_per_class) from the header line, and the body's length when implied."""
    counts = [int(t) if t.isascii() and t.isdigit() else 0 for t in (lines or [""])[0].split()]
    if len(counts) not in (1, 2) or min(counts) < 1:
        raise PairsFileError(
            f"{path} line 1: header must be 'n_folds n_per_class' or 'n_per_class' "
            f"(positive integers), got {(lines or [''])[0]!r}"
        )
    n_per = counts[-1]
    n_body = len(lines) - 1
    return (counts[0] if len(counts) == 2 else 1 if n_body == 2 * n_per else 10), n_per


def _lfw_line(where: str, line: str, i: int, n_per: int) -> LfwPair:
    """Pair line ``i`` of the body: same-person ``name n1 n2`` or ``name1 n1 name2 n2``."""
    fold, within = divmod(i, 2 * n_per)
    same = within < n_per
    fields = line.split()
    if len(fields) != (3 if same else 4):
        kind = "same-person 'name n1 n2'" if same else "different-person 'name1 n1 name2 n2'"
        raise PairsFileError(
            f"{where}: expected a {kind} line (fold {fold + 1}, pair {within + 1} of "
            f"{2 * n_per}), got {len(fields)} fields: {line!r}"
        )
    if same:
        fields = [fields[0], fields[1], fields[0], fields[2]]
    elif fields[0] == fields[2]:
        raise PairsFileError(f"{where}: different-person line names {fields[0]!r} twice")
    a = _lfw_path(fields[0], fields[1], where)
    b = _lfw_path(fields[2], fields[3], where)
    if a == b:
        raise PairsFileError(f"{where}: pairs image {a!r} with itself")
    return LfwPair(fold + 1, a, b, fields[0], fields[2], same)


def parse_lfw_pairs(path: str | Path) -> list[LfwPair]:
    """Read an LFW pairs file, checking every line against the header's counts.

    Header ``n_folds n_per_class``, or a single ``n_per_class``: then 10 folds are
    implied, except that a body of exactly 2 x n_per_class lines is read as one set
    (LFW's own pairsDevTrain.txt and pairsDevTest.txt look like that). Each fold holds
    n_per_class same-person lines then n_per_class different-person lines. A pair of
    an image with itself is an error here: the standard files never contain one.
    """
    lines = [line.rstrip("\r") for line in _read_text(path).split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    n_folds, n_per = _lfw_shape(path, lines)
    body = lines[1:]
    expected = 2 * n_per * n_folds
    pairs = [
        _lfw_line(f"{path} line {i + 2}", line, i, n_per) for i, line in enumerate(body[:expected])
    ]
    shape = f"{n_folds} fold(s) x ({n_per} same + {n_per} different)"
    if len(body) < expected:
        raise PairsFileError(
            f"{path} line {len(lines)}: file ends after {len(body)} pair lines but the "
            f"header promises {expected}: {shape}"
        )
    if len(body) > expected:
        raise PairsFileError(
            f"{path} line {expected + 2}: extra line after the {expected} pairs the header "
            f"promises: {shape}"
        )
    return pairs


def _lfw_path(name: str, number: str, where: str) -> str:
    if name in (".", "..") or "/" in name or "\\" in name:
        raise PathEscapeError(f"{where}: name {name!r} is not a plain folder name")
    if not (number.isascii() and number.isdigit()) or int(number) < 1:
        raise PairsFileError(f"{where}: image number {number!r} is not a positive integer")
    return lfw_image_path(name, int(number))


# --------------------------------------------------------------------------- pair-list CSV

_COLUMNS = {  # header cells compared lower-cased without spaces, '_' or '-'
    "image_a": {"imagea", "filex", "img1", "image1", "imga", "patha", "filea", "file1"},
    "image_b": {"imageb", "filey", "img2", "image2", "imgb", "pathb", "fileb", "file2"},
    "label": {"label", "decision", "issame", "target"},
}
_TRUE = {"1", "1.0", "true", "t", "yes", "y", "same", "match", "genuine"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "different", "nonmatch", "mismatch", "impostor"}
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ListedPair:
    """One pair from a pair-list CSV; ``line`` lets later errors point back at the file."""

    path_a: str
    path_b: str
    label: bool
    line: int


@dataclass(frozen=True)
class PairListSummary:
    """What the parser kept and dropped, so the CLI can say so instead of hiding it."""

    n_rows: int
    n_pairs: int
    n_genuine: int
    n_impostor: int
    n_duplicates: int
    n_self_pairs: int
    duplicate_lines: tuple[int, ...]
    self_pair_lines: tuple[int, ...]
    header: tuple[str, str, str] | None


@dataclass(frozen=True)
class PairList:
    pairs: list[ListedPair]
    summary: PairListSummary


def parse_label(text: str) -> bool | None:
    """Map the label spellings pair lists use to a bool; None when unrecognised."""
    word = re.sub(r"(?<=[a-z])[\s_-]+(?=[a-z])", "", text.strip().lower())
    return True if word in _TRUE else False if word in _FALSE else None


def _header(path, rows) -> tuple[tuple[int, int, int], tuple[str, str, str] | None, list]:
    """The label/path columns, the header row's names (None without one), the data rows."""
    first_ln, first = rows[0]
    cols = _find_columns(first, f"{path} line {first_ln}")
    if cols is not None:
        header = (first[cols[0]].strip(), first[cols[1]].strip(), first[cols[2]].strip())
        return cols, header, rows[1:]
    if len(first) == 3 and parse_label(first[2]) is not None:
        return (0, 1, 2), None, rows
    raise PairsFileError(
        f"{path} line {first_ln}: no header naming the columns image_a,image_b,label "
        f"(or file_x,file_y,Decision); found {','.join(first)!r}"
    )


def _pair_row(where: str, row: list[str], cols: tuple[int, int, int]) -> ListedPair:
    """One data row as a pair (line number filled in by the caller)."""
    if len(row) <= max(cols):
        raise PairsFileError(f"{where}: expected {max(cols) + 1} fields, found {len(row)}")
    a, b = _clean_path(row[cols[0]], where), _clean_path(row[cols[1]], where)
    label = parse_label(row[cols[2]])
    if label is None:
        raise PairsFileError(
            f"{where}: label {row[cols[2]]!r} is not one of 1/0, true/false, yes/no, "
            "y/n, same/different, match/non-match"
        )
    return ListedPair(a, b, label, 0)


def parse_pairs_csv(path: str | Path) -> PairList:
    """Read a pair-list CSV (``image_a,image_b,label`` or deepface's ``file_x,file_y,Decision``).

    The header is matched case-insensitively; extra columns are ignored; a file without
    a header is accepted when its first row is ``path,path,label``. Paths are trimmed,
    ``\\`` becomes ``/``, and they must stay inside the data root. The same unordered
    pair twice keeps the first and is counted (opposite labels are an error). An image
    paired with itself scores perfectly whatever the model, so it is skipped and its
    line recorded rather than allowed to inflate accuracy.
    """
    rows = [(ln, row) for ln, row in _csv_rows(path) if any(cell.strip() for cell in row)]
    if not rows:
        raise PairsFileError(f"{path}: the file has no rows")
    cols, header, rows = _header(path, rows)
    seen: dict[tuple[str, ...], tuple[int, bool]] = {}
    pairs: list[ListedPair] = []
    dups: list[int] = []
    selfs: list[int] = []
    for ln, row in rows:
        where = f"{path} line {ln}"
        pair = _pair_row(where, row, cols)
        key = tuple(sorted({_nfc(pair.path_a), _nfc(pair.path_b)}))
        if len(key) == 1:
            selfs.append(ln)
        elif key in seen:
            if seen[key][1] != pair.label:
                raise PairsFileError(
                    f"{where}: pair {pair.path_a!r}, {pair.path_b!r} repeats line "
                    f"{seen[key][0]} with the other label"
                )
            dups.append(ln)
        else:
            seen[key] = (ln, pair.label)
            pairs.append(ListedPair(pair.path_a, pair.path_b, pair.label, ln))
    if not pairs:
        raise PairsFileError(f"{path}: no usable pairs (only a header, or only self-pairs)")
    n_genuine = sum(p.label for p in pairs)
    summary = PairListSummary(
        n_rows=len(rows),
        n_pairs=len(pairs),
        n_genuine=n_genuine,
        n_impostor=len(pairs) - n_genuine,
        n_duplicates=len(dups),
        n_self_pairs=len(selfs),
        duplicate_lines=tuple(dups),
        self_pair_lines=tuple(selfs),
        header=header,
    )
    return PairList(pairs, summary)


def resolve_pair_paths(
    pairs: Sequence[ListedPair], known_paths: Sequence[str], source: str = "pairs file"
) -> list[tuple[int, int, bool]]:
    """Map each pair's names to indices into the dataset's image list.

    Tried in order: the exact relative path, then a basename that only one dataset
    image has (deepface's master.csv says ``img20.jpg`` where the manifest has
    ``images/<identity>/img20.jpg``), then a trailing run of folders that only one
    image has. Names are compared after Unicode NFC, so macOS-decomposed Japanese
    names still match. Unknown or ambiguous names fail together in one message.
    """
    exact: dict[str, int] = {}
    by_suffix: dict[str, list[int]] = {}
    for i, known in enumerate(known_paths):
        norm = _nfc(posixpath.normpath(known.replace("\\", "/")))
        exact.setdefault(norm, i)
        parts = norm.split("/")
        for k in range(len(parts)):
            by_suffix.setdefault("/".join(parts[k:]), []).append(i)

    index: dict[str, int] = {}
    unknown: list[str] = []
    ambiguous: list[str] = []
    for name in dict.fromkeys(n for p in pairs for n in (p.path_a, p.path_b)):
        norm = _nfc(name)
        base = by_suffix.get(norm.rsplit("/", 1)[-1], [])
        suffix = by_suffix.get(norm, [])
        if norm in exact:
            index[name] = exact[norm]
        elif len(base) == 1 or len(suffix) == 1:
            index[name] = base[0] if len(base) == 1 else suffix[0]
        else:
            (ambiguous if base else unknown).append(name)
    if unknown or ambiguous:
        problems = [
            f"{len(names)} name(s) {what} ({', '.join(names[:5])}{', ...' * (len(names) > 5)})"
            for names, what in ((unknown, "match no dataset image"), (ambiguous, "match several"))
            if names
        ]
        raise PairsFileError(f"{source}: " + "; ".join(problems))
    out = [(index[p.path_a], index[p.path_b], p.label) for p in pairs]
    for p, (ia, ib, _) in zip(pairs, out, strict=True):
        if ia == ib:
            raise PairsFileError(
                f"{source} line {p.line}: {p.path_a!r} and {p.path_b!r} "
                f"are the same dataset image {known_paths[ia]!r}"
            )
    return out


def _read_text(path: str | Path) -> str:
    """A regular file of bounded size: a FIFO or /dev/zero is an error, not a hang."""
    from face_bench.core.io import MAX_TABLE_BYTES, read_bounded_text

    return read_bounded_text(path, MAX_TABLE_BYTES, "pairs file", PairsFileError)


def _csv_rows(path: str | Path) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise PairsFileError(f"{path} line {reader.line_num}: unreadable CSV ({exc})") from None


def _find_columns(header: list[str], where: str) -> tuple[int, int, int] | None:
    names = [re.sub(r"[\s_-]+", "", cell.lower()) for cell in header]
    found = {role: [i for i, n in enumerate(names) if n in ok] for role, ok in _COLUMNS.items()}
    if not any(found.values()):
        return None
    for role, idx in found.items():
        if len(idx) != 1:
            problem = "no column" if not idx else "several columns"
            raise PairsFileError(f"{where}: header has {problem} for {role}: {','.join(header)!r}")
    return found["image_a"][0], found["image_b"][0], found["label"][0]


def _clean_path(raw: str, where: str) -> str:
    text = raw.strip().replace("\\", "/")
    if not text:
        raise PairsFileError(f"{where}: empty image path")
    if text.startswith("/") or _DRIVE.match(text):
        raise PathEscapeError(f"{where}: {raw!r} is absolute; paths are relative to the data root")
    norm = posixpath.normpath(text)
    if norm == ".." or norm.startswith("../"):
        raise PathEscapeError(f"{where}: {raw!r} leaves the data root")
    if norm == ".":
        raise PairsFileError(f"{where}: {raw!r} is not an image path")
    return norm


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --------------------------------------------------------------------------- k-fold accuracy

_SINGLE_FOLD_NOTE = (
    "cross-validation needs several folds; this threshold was chosen on the pairs it "
    "scores, so the accuracy is optimistic"
)


@dataclass(frozen=True)
class KFoldAccuracy:
    """LFW-style accuracy: a threshold per fold chosen on the other folds.

    ``std`` is ``np.std`` with ddof=0 over the fold accuracies, as the common LFW code
    reports it; it is None with a single fold, where nothing was cross-validated.
    """

    folds: tuple[int, ...]
    accuracies: tuple[float, ...]
    thresholds: tuple[float, ...]
    mean: float
    std: float | None
    ddof: int
    cross_validated: bool
    note: str | None
    n_pairs: int
    n_failed: int
    on_fail: LfwOnFail


def best_accuracy_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The threshold that maximises accuracy of the rule ``same = score > threshold``.

    Candidates are -inf, the midpoints between consecutive distinct scores, and +inf,
    which covers every distinct way of splitting these scores. Accuracy at all of them
    comes from one sort and cumulative counts. Ties go to the highest (strictest)
    threshold, as the common LFW code does when it sweeps distance thresholds upward and
    keeps the first maximum. Returns (threshold, accuracy).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if scores.size == 0:
        raise MetricError("cannot choose a threshold: no scored pairs")
    distinct, inverse = np.unique(scores, return_inverse=True)
    gen = np.bincount(inverse[labels], minlength=distinct.size)
    imp = np.bincount(inverse[~labels], minlength=distinct.size)
    gen_below = np.concatenate(([0], np.cumsum(gen)))
    imp_below = np.concatenate(([0], np.cumsum(imp)))
    correct = (gen.sum() - gen_below) + imp_below
    lo, hi = distinct[:-1], distinct[1:]
    mids = lo / 2 + hi / 2  # halves first: no overflow near the float limits
    mids = np.where((mids >= lo) & (mids < hi), mids, lo)
    candidates = np.concatenate(([-np.inf], mids, [np.inf]))
    best = correct.size - 1 - int(np.argmax(correct[::-1]))
    return float(candidates[best]), float(correct[best] / scores.size)


def kfold_accuracy(
    scores: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    pair_failed: np.ndarray | None = None,
    on_fail: LfwOnFail | str = LfwOnFail.ERROR,
) -> KFoldAccuracy:
    """Verification accuracy as the LFW literature computes it.

    For each fold the threshold comes from the other folds' pairs and is applied to
    the held-out fold. Pairs whose image failed to enrol (``pair_failed``) play no part
    in choosing thresholds; in the held-out accuracy they count as wrong, the LFW
    convention (``LfwOnFail.ERROR``), or are left out with ``LfwOnFail.EXCLUDE``. With one
    fold the threshold is chosen on the same pairs it scores, which flatters the model:
    the result says so.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    folds = np.asarray(folds)
    failed = np.zeros(scores.shape, bool) if pair_failed is None else np.asarray(pair_failed, bool)
    if not (scores.ndim == 1 and scores.shape == labels.shape == folds.shape == failed.shape):
        raise ValueError("scores, labels, folds and pair_failed must be 1-D and the same length")
    on_fail = parse_choice(LfwOnFail, on_fail, "on_fail (k-fold accuracy)")
    if scores.size == 0:
        raise MetricError("no pairs to score")
    ok = ~failed
    if not np.all(np.isfinite(scores[ok])):
        raise MetricError("a pair not marked as failed has a NaN or infinite score")

    fold_ids = np.unique(folds)
    several = fold_ids.size > 1
    accuracies, thresholds = [], []
    for fold in fold_ids:
        test = folds == fold
        train = (~test if several else test) & ok
        if not train.any():
            raise MetricError(f"fold {fold}: no enrolled pairs left to choose a threshold on")
        threshold, _ = best_accuracy_threshold(scores[train], labels[train])
        scored = test & ok
        correct = int(np.sum((scores[scored] > threshold) == labels[scored]))
        total = int(test.sum() if on_fail is LfwOnFail.ERROR else scored.sum())
        if total == 0:
            raise MetricError(f"fold {fold}: every pair failed to enrol; nothing left to score")
        accuracies.append(correct / total)
        thresholds.append(threshold)
    return KFoldAccuracy(
        folds=tuple(f.item() for f in fold_ids),
        accuracies=tuple(accuracies),
        thresholds=tuple(thresholds),
        mean=float(np.mean(accuracies)),
        std=float(np.std(accuracies, ddof=0)) if several else None,
        ddof=0,
        cross_validated=several,
        note=None if several else _SINGLE_FOLD_NOTE,
        n_pairs=int(scores.size),
        n_failed=int(failed.sum()),
        on_fail=on_fail,
    )
