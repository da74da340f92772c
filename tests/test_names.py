"""Names are data: any identity, subset, model or file name works, prints safely, and can
neither collide in file names nor run as a spreadsheet formula."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from conftest import JP_FACES, needs_shared
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.text import (
    FORMULA_TRIGGERS,
    display,
    display_line,
    from_spreadsheet_cell,
    spreadsheet_cell,
    unique_slugs,
)

runner = CliRunner()


# --- display: control and bidi characters escaped, long names shortened -------------------


@pytest.mark.parametrize(
    "name", ["\x1b[2J\x1b[31mred", "abc\u202egpj.exe", "a\rb\nc", "zero\u200bwidth", "\x07bell"]
)
def test_display_escapes_invisible_characters(name):
    shown = display(name)
    assert shown.isprintable() and "\n" not in shown
    assert all(c not in shown for c in "\x1b\u202e\r\u200b\x07")


def test_display_shortens_long_names_only_for_display():
    name = "x" * 5000
    assert len(display(name)) <= 121 and "…" in display(name)
    assert display("山田花子") == "山田花子"


@given(st.text())
def test_display_line_is_one_printable_line(message):
    import unicodedata

    line = display_line(message)
    hidden = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    assert not [c for c in line if unicodedata.category(c) in hidden]


# --- CSV formula injection -------------------------------------------------------------------


@given(st.text())
def test_spreadsheet_cells_round_trip_and_never_start_a_formula(value):
    cell = spreadsheet_cell(value)
    assert not str(cell).startswith(FORMULA_TRIGGERS)
    assert from_spreadsheet_cell(cell) == value


# --- collision-free file names ----------------------------------------------------------------


@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=8, unique=True))
def test_unique_slugs_never_collide(names):
    slugs = unique_slugs(names)
    assert len({s.lower() for s in slugs.values()}) == len(names)
    assert all("/" not in s and s not in ("", ".", "..") for s in slugs.values())


def test_readable_slugs_stay_readable():
    assert unique_slugs(["young_women", "ordinary"]) == {
        "young_women": "young_women",
        "ordinary": "ordinary",
    }
    slugs = unique_slugs(["x y", "x_y"])
    assert slugs["x y"] != slugs["x_y"]


# --- end to end: hostile names through a real run ----------------------------------------------

HOSTILE_IDENTITY = '=HYPERLINK("http://x","y")'
PEOPLE = {HOSTILE_IDENTITY: "尾野真千子", "+1\u202eevil": "麻生久美子", "@me": "Audrey Hepburn"}


@pytest.fixture
def hostile_set(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    rows = ["path,identity,grp"]
    for k, (identity, source) in enumerate(PEOPLE.items()):
        for j, image in enumerate(sorted((JP_FACES / "images" / source).glob("*.png"))[:3]):
            name = f"-{k}{j}=cmd.png" if j == 0 else f"{k}{j}.png"
            shutil.copy(image, root / name)
            grp = "a" if j < 2 else "b"
            rows.append(f'"{name}","{identity.replace(chr(34), chr(34) * 2)}",{grp}')
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def _config(tmp_path: Path, standin_config: Path) -> Path:
    text = standin_config.read_text(encoding="utf-8")
    text += '\n[subsets."x y"]\ngrp = ["a"]\n\n[subsets."x_y"]\ngrp = ["a", "b"]\n'
    text += '\n[subsets."\\u001b[2J\\u202eevil"]\ngrp = ["a", "b"]\n'
    path = tmp_path / "names.toml"
    path.write_text(text, encoding="utf-8")
    return path


@needs_shared
def test_hostile_names_through_a_run(tmp_path, hostile_set, standin_config):
    config = _config(tmp_path, standin_config)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["threshold-sweep", "--data", str(hostile_set), "--model", "standin", "--align", "none",
         "--subset", "x y", "--subset", "x_y", "--subset", "\x1b[2J\u202eevil",
         "--bootstrap", "0", "--workers", "1", "--config", str(config), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "\x1b[2J" not in result.output and "\u202e" not in result.output
    sweeps = sorted(p.name for p in out.glob("sweep-*.png"))
    assert len(sweeps) == 3  # x y, x_y and the hostile name: three distinct files
    with (out / "scores.csv").open(encoding="utf-8", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_TRIGGERS)]
    assert "'" + HOSTILE_IDENTITY in cells

    exported = runner.invoke(app, ["export-scores", str(out), "--to", "csv"])
    assert exported.exit_code == 0, exported.output
    for path in (out / "export-csv").rglob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert not [c for row in rows for c in row if c.startswith(FORMULA_TRIGGERS)]

    bob = runner.invoke(app, ["export-scores", str(out), "--to", "bob"])
    assert bob.exit_code == 0, bob.output
    text = "\n".join(p.read_text(encoding="utf-8") for p in (out / "export-bob").rglob("*.txt"))
    assert HOSTILE_IDENTITY.split(",")[0] in text  # machine formats keep names exact
    assert "'=" not in text


@needs_shared
@pytest.mark.slow
def test_mathtext_and_huge_identities_through_a_report(tmp_path, standin_config):
    from PIL import Image

    people = {r"$\undefinedmacro{x}$": "尾野真千子", "x" * 10_000: "麻生久美子", "$a$": "北川景子"}
    root = tmp_path / "data"
    rows = ["path,identity"]
    for k, (identity, source) in enumerate(people.items()):
        for j, image in enumerate(sorted((JP_FACES / "images" / source).glob("*.png"))[:3]):
            (root / f"{k}").mkdir(parents=True, exist_ok=True)
            shutil.copy(image, root / f"{k}" / f"{j}.png")
            rows.append(f'"{k}/{j}.png","{identity}"')
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["report", "--data", str(root), "--model", "standin", "--align", "none",
         "--bootstrap", "0", "--workers", "1", "--config", str(standin_config),
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for figure in out.glob("*.png"):
        with Image.open(figure) as image:
            assert image.width <= 5000 and image.height <= 5000, (figure.name, image.size)
    assert (out / "umap.png").exists()
