"""Names are data: identities, subsets, models and file names may hold any character.

Three uses, three rules:

- ``display``: for the terminal and one-line messages. Control characters (which could
  move the cursor or clear the screen), bidirectional overrides and other invisible
  format characters (which can make ``gpj.exe`` read as ``exe.jpg``) are shown as
  ``\\u`` escapes; over-long names are shortened in the middle. Display only: files and
  results always keep the exact name.
- ``file_slug``: a file name derived from a name. Readable ASCII where possible, plus a
  short hash of the exact name, so ``x y`` and ``x_y`` never share a figure.
- ``spreadsheet_cell`` / ``from_spreadsheet_cell``: CSV files meant for spreadsheets
  (``scores.csv``, ``umap.csv``, ``sweep.csv``, ``export-scores --to csv``) prefix a cell
  that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR with ``'`` (OWASP's rule against
  formula injection), and a cell already starting with ``'`` gets one more, so reading
  the file back restores every name exactly. Machine formats (pyeer, bob) are exact.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

DISPLAY_LIMIT = 120
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _escape(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else (f"\\U{code:08x}")
    )


def display(name: object, limit: int = DISPLAY_LIMIT) -> str:
    """``name`` safe to print on one terminal line (see the module docstring)."""
    text = "".join(_escape(c) if unicodedata.category(c) in _INVISIBLE else c for c in str(name))
    if len(text) > limit:
        keep = max(1, (limit - 1) // 2)
        text = f"{text[:keep]}…{text[-keep:]}"
    return text


def display_line(message: str, limit: int = 4000) -> str:
    """A whole message on one safe line: every name in it escaped, length bounded."""
    return display(" ".join(str(message).split("\n")), limit)


def file_slug(name: str, width: int = 40) -> str:
    """A collision-free, portable file-name part for ``name``."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:width] or "x"
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}-{digest}"


def spreadsheet_cell(value: object) -> object:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    if isinstance(value, str) and value.startswith((*FORMULA_TRIGGERS, "'")):
        return "'" + value
    return value


def from_spreadsheet_cell(value: object) -> object:
    """The exact value written by ``spreadsheet_cell``."""
    if (
        isinstance(value, str)
        and value.startswith("'")
        and value[1:].startswith((*FORMULA_TRIGGERS, "'"))
    ):
        return value[1:]
    return value


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a DataFrame with every text cell passed through ``spreadsheet_cell``."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(spreadsheet_cell)
    out.columns = [spreadsheet_cell(c) for c in out.columns]
    return out


def unique_slugs(names: list[str], width: int = 60) -> dict[str, str]:
    """File-name parts for several names: readable, and distinct even when names differ only
    in characters a file name cannot keep (``x y`` / ``x_y``); those get a hash suffix."""
    readable = {n: re.sub(r"[^\w.-]+", "_", n).strip("._")[:width] for n in dict.fromkeys(names)}
    counts: dict[str, int] = {}
    for slug in readable.values():
        counts[slug.lower()] = counts.get(slug.lower(), 0) + 1
    return {
        name: slug if slug and counts[slug.lower()] == 1 else file_slug(name, width)
        for name, slug in readable.items()
    }
