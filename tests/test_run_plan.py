"""Planning refuses, before any embedding, a subset that cannot give both kinds of pair."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import pattern
from typer.testing import CliRunner

from face_bench.cli.app import app

runner = CliRunner()

# The README's own example subset, on data where it selects one person (as it does on
# jp_faces_dev: one young man).
CONFIG = """
[subsets.young_men]
sex = ["M"]
age_group = ["young"]

[subsets.one_each]
age_group = ["older"]
"""
PEOPLE = {  # identity: (sex, age_group, images)
    "Aoi Yamada": ("F", "young", 3),
    "Ken Sato": ("M", "young", 4),
    "Jiro Abe": ("M", "older", 1),
    "Emi Ito": ("F", "older", 1),
    "Goro Ono": ("M", "adult", 2),
}


def dataset(root: Path) -> Path:
    rows = ["path,identity,sex,age_group"]
    for k, (person, (sex, age, n)) in enumerate(PEOPLE.items()):
        for i in range(n):
            path = f"images/{person}/{i}.png"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            pattern(60 + 4 * k + i, 48).save(root / path)
            rows.append(f"{path},{person},{sex},{age}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root.parent / "face-bench.toml").write_text(CONFIG, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("subset", "words"),
    [
        ("young_men", "subset 'young_men' has 1 person ('Ken Sato', 4 images)"),
        ("one_each", "subset 'one_each' has 2 people with one image each ('Emi Ito', 'Jiro Abe')"),
    ],
)
def test_subset_without_both_kinds_of_pair_stops_before_embedding(
    tmp_path: Path, subset: str, words: str
) -> None:
    data = dataset(tmp_path / "faces")
    cache = tmp_path / "cache"
    args = ["roc", "--data", str(data), "--config", str(tmp_path / "face-bench.toml")]
    args += ["--subset", "all", "--subset", subset, "--model", "dlib", "--cache-dir", str(cache)]
    result = runner.invoke(app, [*args, "--sample", "0", "--out", str(tmp_path / "out")])
    assert result.exit_code == 13, result.output
    assert result.stderr.count("\n") == 1 and words in result.stderr
    assert not (cache / "embeddings").exists()


def test_a_default_subset_that_does_not_fit_says_it_came_from_the_config(tmp_path: Path) -> None:
    data = dataset(tmp_path / "faces")
    config = tmp_path / "face-bench.toml"
    config.write_text('default_subsets = ["all", "young_men"]\n' + CONFIG, encoding="utf-8")
    args = ["roc", "--data", str(data), "--config", str(config), "--model", "dlib"]
    args += ["--sample", "0", "--cache-dir", str(tmp_path / "cache")]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 13, result.output
    assert "subset 'young_men' has 1 person ('Ken Sato', 4 images)" in result.stderr
    assert f"(subsets from default_subsets in {config}; --subset chooses others)" in result.stderr
