"""Tests for face_bench.core.config: what a TOML file may hold, one clear error when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.config import Config, load_config
from face_bench.core.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "face-bench.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == Config() and config.path is None and config.base_dir == tmp_path


def test_face_bench_toml_in_the_working_folder_is_used(tmp_path, monkeypatch):
    write(tmp_path, '[subsets.men]\nsex = "M"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.path == tmp_path / "face-bench.toml"
    assert config.subsets == {"men": {"sex": ["M"]}}


def test_every_section(tmp_path):
    path = write(
        tmp_path,
        """
[models.mine]
backend = "onnx"
path = "models/mine.onnx"
threshold = 0.5

[subsets.elders]
age_group = ["older", "adult"]
japanese = true
year = 1990

[weights]
japanese-face-v1 = "w/jf1.onnx"
other = "/abs/other.onnx"

[gate]
tolerance = 0.01
""",
    )
    config = load_config(path)
    assert config.models["mine"]["path"] == str(tmp_path / "models" / "mine.onnx")
    assert config.subsets["elders"] == {
        "age_group": ["older", "adult"],
        "japanese": ["true"],
        "year": ["1990"],
    }
    assert config.weights == {
        "japanese-face-v1": tmp_path / "w" / "jf1.onnx",
        "other": Path("/abs/other.onnx"),
    }
    assert config.gate == {"tolerance": 0.01}


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "face-bench.toml"
    path.write_bytes(b'\xef\xbb\xbf[subsets.x]\nsex = ["F"]\n')
    assert load_config(path).subsets == {"x": {"sex": ["F"]}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[subsets.x\nsex = 1\n", "not valid TOML"),
        ('title = "x"\n', r"unknown section\(s\) \['title'\]"),
        ("models = 3\n", r"\[models\] entries must be tables"),
        ("[models]\nx = 1\n", r"\[models\] entries must be tables"),
        ("[models.x]\npath = 3\n", "models.x.path must be a string"),
        ("[subsets.x]\nsex = []\n", "subsets.x.sex must be a value or a non-empty list"),
        ("[subsets.x]\nsex = { a = 1 }\n", "subsets.x.sex must be a value or a non-empty list"),
        ("[weights]\nx = 3\n", r"\[weights\] must map model names to file paths"),
        ('gate = "strict"\n', r"\[gate\] must be a table"),
        ('default_subsets = "ordinary"\n', "default_subsets must be a list of subset names"),
        ("default_subsets = [1]\n", "default_subsets must be a list of subset names"),
    ],
)
def test_invalid_files_name_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value) and info.value.exit_code == 4


def test_default_subsets_sit_beside_subset_tables(tmp_path):
    """A top-level list naming subsets, built-in or from [subsets.NAME], in order, once each."""
    text = (
        'default_subsets = ["young_men", "ordinary", "young_men"]\n[subsets.young_men]\nsex = "M"\n'
    )
    config = load_config(write(tmp_path, text))
    assert config.default_subsets == ("young_men", "ordinary")
    assert config.subsets == {"young_men": {"sex": ["M"]}}


def test_repository_config_defaults_to_the_headline_comparison():
    from conftest import REPO

    config = load_config(REPO / "face-bench.toml")
    assert config.default_subsets == ("ordinary", "young_women")


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "face-bench.toml"
    path.write_bytes("[subsets.x]\nsex = 'é'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_a_bad_config_in_one_line_with_exit_4(tmp_path):
    path = write(tmp_path, "[subsets.x\n")
    result = CliRunner().invoke(app, ["models", "--config", str(path)])
    assert result.exit_code == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"face-bench: error: {path}: not valid TOML")


def test_cli_reports_a_missing_config_with_exit_4(tmp_path):
    result = CliRunner().invoke(app, ["models", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 4
    assert (
        result.stderr.strip() == f"face-bench: error: config file not found: {tmp_path}/nope.toml"
    )


def test_invalid_model_table_names_file_and_field(tmp_path):
    path = write(tmp_path, '[models.mine]\nbackend = "tensorflow"\nthreshold = 0.5\n')
    result = CliRunner().invoke(app, ["models", "--config", str(path)])
    assert result.exit_code == 4
    assert result.stderr.startswith(f"face-bench: error: {path}: [models.mine] backend: ")


@pytest.mark.parametrize(
    "nesting", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b = " * 3000 + "1" + "}" * 3000]
)
def test_deeply_nested_toml_is_one_config_error(tmp_path, nesting):
    path = write(tmp_path, nesting)
    assert path.stat().st_size < 20_000
    with pytest.raises(ConfigError, match="nested too deeply") as info:
        load_config(path)
    assert info.value.exit_code == 4
    result = CliRunner().invoke(app, ["models", "--config", str(path)])
    assert result.exit_code == 4
    assert result.stderr.strip() == f"face-bench: error: {path}: not valid TOML: nested too deeply"
