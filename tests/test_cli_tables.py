"""The roc tables on a narrow terminal: stacked and folded, never cut to '0.9…'."""

import io

from rich.console import Console

from face_bench.cli.tables import console_width, stacked_table, wide_table

COLUMNS = ["model", "images", "ROC-AUC", "EER @ thr", "TAR@FAR 0.001", "best F1 @ thr"]
ROWS = [
    ["dlib", "300", "0.9990 [0.9978, 0.9999]", "0.0151 @ 0.461", "0.8790", "0.940 @ 0.421"],
    ["hse-faceres", "300", "0.9907 [0.9790, 0.9969]", "0.0482 @ 0.629", "0.6601", "0.837 @ 0.697"],
]


def _render(table, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def test_narrow_terminal_stacks_and_keeps_every_digit():
    text = _render(stacked_table("ordinary", COLUMNS, ROWS), 80)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "0.9990 [0.9978, 0.9999]" in text and "hse-faceres" in text


def test_wide_table_folds_instead_of_cutting():
    text = _render(wide_table("ordinary", COLUMNS, ROWS), 60)
    assert "…" not in text and "0.9990" in text


def test_logs_use_columns_or_160(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False, raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    assert console_width() == 100
    monkeypatch.delenv("COLUMNS")
    assert console_width() == 160


def test_a_name_in_a_column_header_is_shown_safely():
    rows = [
        ["evil\x1b[2J\u202emodel", "300", "0.9990", "0.0151 @ 0.461", "0.8790", "0.940 @ 0.421"]
    ]
    text = _render(stacked_table("ordinary", COLUMNS, rows), 80)
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b" in text and "\\u202e" in text
