"""Labelled face sets: loading, named subsets, seeded samples and pairs.

A dataset is a table of images (``path`` relative to the root, ``identity`` and
any metadata columns). Every path is checked to stay inside the root, so a
manifest cannot make face-bench read files elsewhere.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from face_bench.core.errors import (
    DatasetError,
    EmptySubsetError,
    ManifestError,
    UnknownSubsetError,
)
from face_bench.core.io import MAX_TABLE_BYTES, read_bounded
from face_bench.core.modes import IdentityFrom
from face_bench.data.paths import PathGuard

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".pgm"}
# A folder holding one of these is a face-bench run (reports/...), never part of a face set.
RUN_OUTPUT_FILES = frozenset(
    {"results.json", "lfw.json", "report.html", "umap.csv", ".face-bench-run"}
)
MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class Dataset:
    """A loaded face set: one row per image, paths relative to ``root``."""

    root: Path
    table: pd.DataFrame
    digest: str
    identity_source: str

    def __len__(self) -> int:
        return len(self.table)


def _digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ``--identity-from filename``: the file name without its extension and without a trailing
# image number (``Abel_Pacheco_0001`` -> ``Abel_Pacheco``, ``尾野真千子_1`` -> ``尾野真千子``,
# ``alice`` -> ``alice``). ``--identity-pattern REGEX`` replaces it: the regex is searched in
# the file name without extension and its group ``identity`` (else group 1, else the whole
# match) is the identity.
DEFAULT_IDENTITY_PATTERN = r"^(?P<identity>.*?)(?:[ _.-]*\d+)?$"


def load_dataset(
    root: Path,
    identity_from: IdentityFrom | str = IdentityFrom.AUTO,
    identity_pattern: str | None = None,
) -> Dataset:
    """Load a face set from ``root``.

    ``auto`` uses ``manifest.csv`` when present and folders otherwise. ``folder``: the
    identity is the top-level folder under ``root`` (``person/2019/x.png`` is ``person``),
    so sub-folders never split or merge people. ``filename``: the identity comes from the
    file name by ``identity_pattern`` (default ``DEFAULT_IDENTITY_PATTERN``). An empty
    identity is refused.
    """
    identity_from = IdentityFrom(identity_from)
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    if identity_pattern is not None and identity_from not in ("auto", "filename"):
        raise DatasetError("--identity-pattern applies to --identity-from filename only")
    manifest = root / MANIFEST_NAME
    if identity_pattern is None and identity_from in ("auto", "manifest") and manifest.is_file():
        return _load_manifest(root, manifest)
    if identity_from == "manifest":
        raise DatasetError(f"no {MANIFEST_NAME} in {root}")
    if identity_pattern is not None:
        identity_from = IdentityFrom.FILENAME
    return _load_listing(root, IdentityFrom(identity_from), identity_pattern)


def _identity_rule(pattern: str | None):
    """A function from a file name (no extension) to its identity, per the pattern."""
    try:
        compiled = re.compile(pattern or DEFAULT_IDENTITY_PATTERN)
    except re.error as exc:
        raise DatasetError(f"--identity-pattern {pattern!r} is not a valid regex: {exc}") from None

    def identity(stem: str, relative: str) -> str:
        match = compiled.search(stem)
        if match is None:
            raise DatasetError(
                f"file name {relative!r} does not match --identity-pattern {compiled.pattern!r}"
            )
        groups = match.groupdict()
        if "identity" in groups:
            value = groups["identity"]
        else:
            value = match.group(1) if compiled.groups else match.group(0)
        # The default rule also drops separators left at either end (``_x_`` is ``x``).
        return (value or "").strip(" _.-" if pattern is None else None)

    return identity


def _read_manifest_rows(manifest: Path, raw: bytes) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and each row's line number; a row with the wrong field count is an error.

    The csv module is used rather than pandas, which would quietly turn surplus leading
    fields into an index and shift every column.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{manifest}: not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row:
                continue  # a blank line
            if header is None:
                header = [c.strip() for c in row]
                continue
            if len(row) != len(header):
                raise ManifestError(
                    f"{manifest}, line {reader.line_num}: {len(row)} field(s), "
                    f"the header has {len(header)}"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise ManifestError(f"{manifest}, line {reader.line_num}: cannot parse: {exc}") from None
    if header is None:
        raise ManifestError(f"{manifest}: empty file, expected a header with path,identity")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ManifestError(f"{manifest}: repeated column(s) {repeated}")
    return header, rows, lines


ALIGNED_COLUMN = "aligned"
# The optional ``aligned`` column: yes = an aligned crop (--align none for that image),
# no = a photo whose face must be detected (--align detect), empty = the run's --align.
_ALIGNED_MODES = {"yes": "none", "no": "detect", "": ""}


def _aligned_values(manifest: Path, lines: list[int], values: pd.Series) -> list[str]:
    """The column normalised to yes / no / empty; anything else names its line."""
    out = []
    for line, value in zip(lines, values, strict=True):
        value = value.strip().lower()
        if value not in _ALIGNED_MODES:
            raise ManifestError(
                f"{manifest}, line {line}: column {ALIGNED_COLUMN!r} is {value!r}; "
                "expected yes, no or empty"
            )
        out.append(value)
    return out


def manifest_alignment(table: pd.DataFrame) -> list[str | None] | None:
    """Per-image ``--align`` overrides from the ``aligned`` column, or None without one.

    Mixed sets (full photos beside aligned crops) then run in one go: each image is
    located under its own mode, the others under the run's ``--align``.
    """
    if ALIGNED_COLUMN not in table.columns:
        return None
    return [_ALIGNED_MODES[v] or None for v in table[ALIGNED_COLUMN].fillna("")]


def _load_manifest(root: Path, manifest: Path) -> Dataset:
    raw = read_bounded(manifest, MAX_TABLE_BYTES, "manifest", ManifestError)
    header, rows, lines = _read_manifest_rows(manifest, raw)
    missing = [c for c in ("path", "identity") if c not in header]
    if missing:
        raise ManifestError(f"{manifest}: missing column(s) {missing}; found {header}")
    table = pd.DataFrame(rows, columns=header, dtype=str)
    for column in ("path", "identity"):
        blank = [line for line, v in zip(lines, table[column], strict=True) if not v.strip()]
        if blank:
            raise ManifestError(f"{manifest}: empty {column!r} on line {blank[0]}")
    paths = []
    guard = PathGuard(root)
    for line, value in zip(lines, table["path"], strict=True):
        try:
            paths.append(guard.check(value))
        except DatasetError as exc:
            raise type(exc)(f"{manifest}, line {line}: {exc}") from None
    table["path"] = paths
    if ALIGNED_COLUMN in table.columns:
        table[ALIGNED_COLUMN] = _aligned_values(manifest, lines, table[ALIGNED_COLUMN])
    duplicated = table["path"].duplicated()
    if duplicated.any():
        first = table.loc[duplicated, "path"].iloc[0]
        raise ManifestError(
            f"{manifest}: {int(duplicated.sum())} duplicate path(s), first {first!r}"
        )
    table = table.sort_values("path", kind="mergesort").reset_index(drop=True)
    return Dataset(root=root, table=table, digest=_digest_bytes(raw), identity_source="manifest")


def _listed_images(root: Path) -> list[Path]:
    """Image files under ``root``, sorted; hidden folders and face-bench's own runs skipped.

    So ``--data .`` in a checkout cannot enrol ``reports/<run>/roc.png`` as a face, nor
    walk ``.venv`` or ``.git``. Symlinked folders are not followed (as ``rglob``).
    """
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        here = Path(folder)
        if here != root and RUN_OUTPUT_FILES.intersection(files):
            dirs[:] = []
            continue
        found += [here / f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(p for p in found if p.is_file())


def _load_listing(root: Path, identity_from: IdentityFrom, pattern: str | None = None) -> Dataset:
    rows = []
    by_name = _identity_rule(pattern) if identity_from == "filename" else None
    guard = PathGuard(root)
    for path in _listed_images(root):
        relative = path.relative_to(root).as_posix()
        guard.check(relative)
        parts = path.relative_to(root).parts
        if by_name is not None:
            identity = by_name(path.stem, relative)
        else:
            if len(parts) < 2:
                continue
            identity = parts[0].strip()
        if not identity:
            how = "the file name" if by_name is not None else "its folder"
            raise DatasetError(
                f"{relative!r}: {how} gives an empty identity; rename it, or use "
                "--identity-pattern / a manifest.csv"
            )
        rows.append((relative, identity))
    if not rows:
        raise DatasetError(
            f"no images found in {root} (expected {MANIFEST_NAME} or <identity>/<image> folders)"
        )
    table = pd.DataFrame(rows, columns=["path", "identity"])
    listing = "\n".join(f"{p}\t{i}" for p, i in rows).encode()
    source = "filename" if by_name is not None else "folder"  # the digest covers identities
    return Dataset(root=root, table=table, digest=_digest_bytes(listing), identity_source=source)


@dataclass(frozen=True)
class SubsetSpec:
    """A named population: column -> allowed values; ``optional`` columns may be absent."""

    name: str
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    description: str = ""
    # Rows matching every one of these filters are left out (applied when all its columns
    # exist): ``ordinary`` leaves out the rows ``young_women`` selects.
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def definition(self, columns: list[str]) -> dict[str, list[str]]:
        """The filters actually applied to a table with ``columns``.

        An exclusion is recorded under the key ``"not"`` as ``column=value`` terms (all
        must hold for a row to be left out)."""
        out = {
            c: list(v) for c, v in self.filters.items() if c in columns or c not in self.optional
        }
        if self.exclude and all(c in columns for c in self.exclude):
            out["not"] = [f"{c}={'|'.join(v)}" for c, v in self.exclude.items()]
        return out


BUILTIN_SUBSETS: dict[str, SubsetSpec] = {
    "all": SubsetSpec("all", description="every image"),
    "ordinary": SubsetSpec(
        "ordinary",
        {"japanese": ("yes",)},
        optional=frozenset({"japanese"}),
        description="Japanese people who are not young women (japanese = yes where that "
        "column exists; rows with sex = F and age_group = young left out where those "
        "columns exist), so that it shares no image with young_women",
        exclude={"sex": ("F",), "age_group": ("young",)},
    ),
    "young_women": SubsetSpec(
        "young_women",
        {"sex": ("F",), "age_group": ("young",), "japanese": ("yes",)},
        optional=frozenset({"japanese"}),
        description="women in their teens and twenties (Japanese where the column exists)",
    ),
}


def subset_spec(
    name: str, user_subsets: dict[str, dict[str, list[str]]] | None = None
) -> SubsetSpec:
    """Find a subset by name: the config file's definitions win over built-ins."""
    user_subsets = user_subsets or {}
    if name in user_subsets:
        filters = {k: tuple(v) for k, v in user_subsets[name].items()}
        return SubsetSpec(name, filters, description="defined in the config file")
    if name in BUILTIN_SUBSETS:
        return BUILTIN_SUBSETS[name]
    known = sorted(set(BUILTIN_SUBSETS) | set(user_subsets))
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownSubsetError(f"unknown subset {name!r}; known: {', '.join(known)}.{hint}")


def select_subset(dataset: Dataset, spec: SubsetSpec) -> pd.DataFrame:
    """Rows of ``dataset`` matching ``spec``; an empty result is an error."""
    table = dataset.table
    mask = np.ones(len(table), dtype=bool)
    for column, allowed in spec.filters.items():
        if column not in table.columns:
            if column in spec.optional:
                continue
            raise EmptySubsetError(
                f"subset {spec.name!r} filters on column {column!r}, "
                f"which {dataset.root / MANIFEST_NAME} does not have"
            )
        mask &= table[column].isin(allowed).to_numpy()
    if spec.exclude and all(c in table.columns for c in spec.exclude):
        excluded = np.ones(len(table), dtype=bool)
        for column, values in spec.exclude.items():
            excluded &= table[column].isin(values).to_numpy()
        mask &= ~excluded
    selected = table.loc[mask].reset_index(drop=True)
    if selected.empty:
        raise EmptySubsetError(
            f"subset {spec.name!r} selects no images in {dataset.root} "
            f"(filters: {spec.definition(list(table.columns))})"
        )
    return selected


def sample_images(table: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of ``size`` images (all of them when the pool is smaller)."""
    if seed < 0:
        raise DatasetError(f"the seed must be 0 or more, got {seed}")
    if size is not None and size < len(table):
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(table), size=size, replace=False))
        table = table.iloc[chosen]
    return table.sort_values("path", kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class Pairs:
    """Index pairs into an image list with their same-person labels."""

    a: np.ndarray
    b: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    @property
    def n_genuine(self) -> int:
        return int(self.label.sum())

    @property
    def n_impostor(self) -> int:
        return int(len(self.label) - self.label.sum())


def _unrank_pairs(ranks: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Map ranks of the i<j pairs (row-major) back to (i, j) without enumerating them."""
    ranks = ranks.astype(np.int64)
    # Row i starts at offset i*n - i*(i+1)/2; invert the quadratic, then fix rounding.
    i = np.floor((2 * n - 1 - np.sqrt((2 * n - 1) ** 2 - 8.0 * ranks)) / 2).astype(np.int64)
    start = i * n - i * (i + 1) // 2
    too_far = start > ranks
    i[too_far] -= 1
    start = i * n - i * (i + 1) // 2
    next_start = (i + 1) * n - (i + 1) * (i + 2) // 2
    behind = ranks >= next_start
    i[behind] += 1
    start = i * n - i * (i + 1) // 2
    j = ranks - start + i + 1
    return i, j


def make_pairs(identities: np.ndarray, n_pairs: int | None = None, seed: int = 0) -> Pairs:
    """All i<j pairs of the images, or ``n_pairs`` distinct ones drawn with ``seed``."""
    if seed < 0:
        raise DatasetError(f"the seed must be 0 or more, got {seed}")
    identities = np.asarray(identities)
    n = len(identities)
    total = n * (n - 1) // 2
    if total == 0:
        raise EmptySubsetError(f"{n} image(s) make no pair")
    if n_pairs is None or n_pairs >= total:
        a, b = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        ranks = np.sort(rng.choice(total, size=n_pairs, replace=False))
        a, b = _unrank_pairs(ranks, n)
    a = a.astype(np.int64)
    b = b.astype(np.int64)
    return Pairs(a=a, b=b, label=identities[a] == identities[b])
