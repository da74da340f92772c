"""Tests for face_bench.models.registry and ``face-bench models``: specs, weights lookup, status."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import corpus
import pytest
from conftest import TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.config import Config, load_config
from face_bench.core.errors import ConfigError, UnknownModelError
from face_bench.models.backends import preprocessing
from face_bench.models.registry import (
    BUILTIN_MODELS,
    ModelSpec,
    build_registry,
    env_var_for,
)

runner = CliRunner()
JF1 = "japanese-face-v1"
ENV = "FACE_BENCH_JAPANESE_FACE_V1"


def test_builtin_models():
    assert list(BUILTIN_MODELS) == ["dlib", JF1]
    dlib, jf1 = BUILTIN_MODELS["dlib"], BUILTIN_MODELS[JF1]
    assert (dlib.backend, dlib.similarity, dlib.threshold, dlib.embedding_size) == (
        "dlib", "euclidean", 0.6, 128
    )  # fmt: skip
    assert dlib.distance_like and dlib.to_score(0.5) == -0.5 and dlib.from_score(-0.5) == 0.5
    assert (jf1.backend, jf1.similarity, jf1.input_size, jf1.embedding_size) == (
        "onnx", "cosine", (224, 224), 512
    )  # fmt: skip
    assert jf1.weights_filename == "JAPANESE_FACE_v1.onnx"
    assert "pipeline_version" in preprocessing(jf1) and "threshold" not in preprocessing(jf1)


def test_dlib_is_ready_from_its_package(tmp_path):
    status = build_registry(Config(), {}, tmp_path).status("dlib")
    assert status.ready and status.weights.name == "dlib_face_recognition_resnet_model_v1.dat"


def test_env_var_names():
    assert env_var_for(JF1) == ENV
    assert env_var_for("my model.v2") == "FACE_BENCH_MY_MODEL_V2"


@needs_shared
def test_toml_models_are_typed_specs(tmp_path, standin_config):
    registry = build_registry(load_config(standin_config), {}, tmp_path)
    assert registry.names() == ["dlib", JF1, "standin"]
    spec = registry.get("standin")
    assert isinstance(spec, ModelSpec) and spec.path == str(TINY_ONNX)
    assert spec.mean == (0.485, 0.456, 0.406) and spec.embedding_size == 512
    status = registry.status("standin")
    assert status.ready and status.weights == TINY_ONNX


def test_toml_model_can_replace_a_builtin(tmp_path):
    config = tmp_path / "face-bench.toml"
    config.write_text('[models.dlib]\nbackend = "dlib"\nthreshold = 0.5\n', encoding="utf-8")
    assert build_registry(load_config(config), {}, tmp_path).get("dlib").threshold == 0.5


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ('backend = "onnx"\nthreshold = 0.4\ncolour = "RGB"\n', "colour: Extra inputs"),
        ('backend = "onnx"\n', "threshold: Field required"),
        ('backend = "onnx"\nthreshold = 0.4\nstd = [1, 0, 1]\n', "std: Value error"),
        ('backend = "onnx"\nthreshold = 0.4\nbatch_size = 0\n', "batch_size: Input should be"),
        ('backend = "onnx"\nthreshold = "high"\n', "threshold: Input should be a valid number"),
    ],
)
def test_invalid_toml_models_name_file_model_and_field(tmp_path, table, where):
    config = tmp_path / "face-bench.toml"
    config.write_text(f"[models.mine]\n{table}", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        build_registry(load_config(config), {}, tmp_path)
    message = str(info.value)
    assert message.startswith(f"{config}: [models.mine] ") and where in message


ONNX_TABLE = 'backend = "onnx"\n'


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ("threshold = 0.4\ninput_size = [100000, 100000]", "input_size.0: Input should be less"),
        ("threshold = 0.4\ninput_size = [0, 0]", "input_size.0: Input should be greater"),
        ("threshold = 0.4\nchip_size = 200000", "chip_size: Input should be less"),
        ("threshold = 0.4\nchip_size = 0", "chip_size: Input should be greater"),
        ("threshold = 0.4\nscale = nan", "scale: Input should be a finite number"),
        ("threshold = 0.4\nscale = 0", "scale: Input should be greater than 0"),
        ("threshold = nan", "threshold: Input should be a finite number"),
        ("threshold = inf", "threshold: Input should be a finite number"),
        ("threshold = 7", "threshold: a cosine similarity threshold must be between -1 and 1"),
        ("threshold = 0.4\nmean = [0, nan, 0]", "mean.1: Input should be a finite number"),
        ("threshold = 0.4\nstd = [1, inf, 1]", "std.1: Input should be a finite number"),
        ("threshold = 0.4\nstd = [1, -1, 1]", "std: Value error, std values must be positive"),
        ("threshold = 0.4\nchip_padding = -1", "chip_padding: Input should be greater"),
        ("threshold = 0.4\nchip_padding = nan", "chip_padding: Input should be a finite"),
        ("threshold = 0.4\nembedding_size = 0", "embedding_size: Input should be greater"),
        ("threshold = 0.4\nbatch_size = 1024\ninput_size = [512, 512]", "batch_size: 1024 inputs"),
    ],
)
def test_out_of_range_values_are_refused_when_the_config_is_read(tmp_path, table, where):
    config = tmp_path / "face-bench.toml"
    config.write_text(f"[models.mine]\n{ONNX_TABLE}{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        build_registry(load_config(config), {}, tmp_path)
    message = str(info.value)
    assert message.startswith(f"{config}: [models.mine] {where}") and "\n" not in message


def test_a_builtin_adjusted_out_of_range_is_refused(tmp_path):
    config = tmp_path / "face-bench.toml"
    config.write_text("[models.dlib]\nthreshold = -0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[models\.dlib\] threshold: a Euclidean distance"):
        build_registry(load_config(config), {}, tmp_path)
    config.write_text("[models.dlib]\nchip_size = 200000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[models\.dlib\] chip_size: "):
        build_registry(load_config(config), {}, tmp_path)


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ("chip_size = 100", "chip_size: dlib's network takes 150-pixel chips, got 100"),
        ("input_size = [224, 224]", "input_size: dlib's network takes 150x150 inputs, got 224x224"),
    ],
)
def test_a_dlib_model_of_another_chip_size_is_refused(tmp_path, table, where):
    config = tmp_path / "face-bench.toml"
    config.write_text(f"[models.dlib]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        build_registry(load_config(config), {}, tmp_path)
    assert str(info.value) == f"{config}: [models.dlib] {where}"


def test_a_dlib_table_without_sizes_gets_dlibs_150(tmp_path):
    config = tmp_path / "face-bench.toml"
    config.write_text(
        '[models.mine]\nbackend = "dlib"\nsimilarity = "euclidean"\nthreshold = 0.6\n',
        encoding="utf-8",
    )
    spec = build_registry(load_config(config), {}, tmp_path).get("mine")
    assert spec.input_size == (150, 150) and spec.chip_size == 150
    assert preprocessing(spec)["chip_size"] == 150


def test_the_widest_values_still_allowed_build_a_spec(tmp_path):
    config = tmp_path / "face-bench.toml"
    config.write_text(
        f"[models.mine]\n{ONNX_TABLE}threshold = -1\ninput_size = [4096, 4096]\n"
        "batch_size = 8\nchip_size = 4096\nchip_padding = 0\n",
        encoding="utf-8",
    )
    spec = build_registry(load_config(config), {}, tmp_path).get("mine")
    assert spec.input_size == (4096, 4096) and spec.threshold == -1


def test_cli_names_the_out_of_range_key_in_one_line_with_exit_4(tmp_path):
    config = tmp_path / "face-bench.toml"
    config.write_text(f"[models.mine]\n{ONNX_TABLE}threshold = nan\n", encoding="utf-8")
    result = runner.invoke(app, ["models", "--config", str(config)])
    assert result.exit_code == 4
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"face-bench: error: {config}: [models.mine] threshold: Input should be a finite "
        "number (got nan)"
    ]


def test_unknown_model_suggests_a_close_name(tmp_path):
    registry = build_registry(Config(), {}, tmp_path)
    with pytest.raises(UnknownModelError, match="Did you mean 'japanese-face-v1'") as info:
        registry.get("japanese-face")
    assert info.value.exit_code == 21
    with pytest.raises(UnknownModelError, match="--weights names unknown model 'nope'"):
        build_registry(Config(), {"nope": Path("x.onnx")}, tmp_path)


# ---------------------------------------------------------------- weights precedence


@pytest.fixture
def four_copies(tmp_path: Path) -> dict[str, Path]:
    """The same weights in each place the registry looks, so the winner can be told apart."""
    places = {}
    model = corpus.embedding_onnx(tmp_path)
    for place in ("flag", "env", "config", "cache"):
        folder = tmp_path / place / ("models" if place == "cache" else "")
        folder.mkdir(parents=True, exist_ok=True)
        places[place] = folder / "JAPANESE_FACE_v1.onnx"
        shutil.copyfile(model, places[place])
    return places


def registry_for(tmp_path, places, monkeypatch, *, flag=True, env=True, config=True):
    monkeypatch.delenv(ENV, raising=False)
    if env:
        monkeypatch.setenv(ENV, str(places["env"]))
    cfg = Config(
        path=tmp_path / "face-bench.toml", weights={JF1: places["config"]} if config else {}
    )
    overrides = {JF1: places["flag"]} if flag else {}
    return build_registry(cfg, overrides, tmp_path / "cache")


def test_weights_precedence_flag_env_config_cache(tmp_path, four_copies, monkeypatch):
    p = four_copies
    order = [
        ({}, "flag"),
        ({"flag": False}, "env"),
        ({"flag": False, "env": False}, "config"),
        ({"flag": False, "env": False, "config": False}, "cache"),
    ]
    for switches, winner in order:
        registry = registry_for(tmp_path, p, monkeypatch, **switches)
        path, looked = registry.locate(JF1)
        assert path == p[winner], (switches, looked)
        assert registry.status(JF1).ready


def test_config_weights_come_before_the_models_own_path(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    own, configured = tmp_path / "own.onnx", tmp_path / "configured.onnx"
    for path in (own, configured):
        shutil.copyfile(corpus.embedding_onnx(tmp_path), path)
    config = tmp_path / "face-bench.toml"
    config.write_text(
        f'[models.mine]\nbackend = "onnx"\npath = "{own}"\nthreshold = 0.4\n'
        f'[weights]\nmine = "{configured}"\n',
        encoding="utf-8",
    )
    registry = build_registry(load_config(config), {}, tmp_path)
    assert registry.locate("mine")[0] == configured
    configured.unlink()
    path, looked = registry.locate("mine")
    assert path == own
    assert looked[-2:] == (f"weights.mine in {config}: {configured} (not found)",
                           f"models.mine.path: {own}")  # fmt: skip


def test_a_given_path_that_is_missing_is_not_replaced(tmp_path, four_copies, monkeypatch):
    p = four_copies
    p["flag"].unlink()
    registry = registry_for(tmp_path, p, monkeypatch)
    path, looked = registry.locate(JF1)
    assert path is None
    assert looked == (
        f"--weights {JF1}=PATH: {p['flag']} (not found)",
        "later places not tried, since a path was given explicitly",
    )
    status = registry.status(JF1)
    assert status.state == "weights missing" and str(p["flag"]) in status.message
    p["env"].unlink()
    assert registry_for(tmp_path, p, monkeypatch, flag=False).locate(JF1)[0] is None


def test_missing_weights_message_names_every_place(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    registry = build_registry(Config(), {}, tmp_path / "cache")
    status = registry.status(JF1)
    assert status.state == "weights missing" and status.weights is None
    cached = tmp_path / "cache" / "models" / "JAPANESE_FACE_v1.onnx"
    assert status.looked == (
        f"--weights {JF1}=PATH: not given",
        f"${ENV}: not set",
        "config file: none given and no ./face-bench.toml",
        f"the cache dir: {cached} (not found)",
    )
    assert status.message == (
        f"weights not found (looked in: {'; '.join(status.looked)}). "
        "Expected an ONNX file with input 1x3x224x224 float32 and a 512-d output. Obtain it "
        "from https://github.com/yKesamaru/FACE01_trained_models (JAPANESE FACE v1; its licence "
        "forbids redistribution, so download it yourself)."
    )
    assert "[" not in status.message  # Rich would take square brackets for markup


def test_bad_files_are_told_apart_from_missing_ones(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    wrong = corpus.wrong_shape_onnx(tmp_path)
    text = tmp_path / "text.onnx"
    text.write_text("not a model")
    shape = build_registry(Config(), {JF1: wrong}, tmp_path).status(JF1)
    assert shape.state == "bad shape" and "expects [N, 3, 224, 224]" in shape.message
    bad = build_registry(Config(), {JF1: text}, tmp_path).status(JF1)
    assert bad.state == "bad file" and "not a loadable ONNX model" in bad.message
    unchecked = build_registry(Config(), {JF1: text}, tmp_path).status(JF1, check_shape=False)
    assert unchecked.ready


# ---------------------------------------------------------------- face-bench models


@needs_shared
def test_models_command_table(tmp_path, standin_config, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    result = runner.invoke(
        app, ["models", "--config", str(standin_config), "--cache-dir", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
            if line.count("│") > 3}  # fmt: skip
    assert "ready" in rows["dlib"] and "euclidean" in rows["dlib"] and "0.6" in rows["dlib"]
    assert "ready" in rows["standin"] and "512" in rows["standin"]
    assert "weights missing" in rows[JF1]
    # Weights paths follow the table, each whole on a line of its own.
    assert f"standin weights: {os.path.normpath(TINY_ONNX)}" in result.stdout.splitlines()
    message = " ".join(result.stdout.split())
    assert f"{JF1}: weights not found (looked in:" in message
    assert f"weights.{JF1} in {standin_config}: not set" in message


def test_models_command_json(tmp_path, standin_config, monkeypatch):
    wrong = corpus.wrong_shape_onnx(tmp_path)
    monkeypatch.delenv(ENV, raising=False)
    result = runner.invoke(
        app,
        ["models", "--config", str(standin_config), "--format", "json", "--weights",
         f"standin={wrong}", "--cache-dir", str(tmp_path / "c")],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert [rows[n]["status"] for n in ("dlib", JF1, "standin")] == [
        "ready", "weights missing", "bad shape"
    ]  # fmt: skip
    assert rows["standin"]["weights"] == str(wrong)
    assert rows["standin"]["looked"][0] == f"--weights standin=PATH: {wrong}"
    assert rows[JF1]["spec"]["embedding_size"] == 512
    assert rows[JF1]["looked"][-1].startswith("the cache dir: ")


def test_models_command_rejects_malformed_weights_option():
    result = runner.invoke(app, ["models", "--weights", "no-equals-sign"])
    assert result.exit_code == 4
    assert result.stderr.strip() == (
        "face-bench: error: --weights expects NAME=PATH, got 'no-equals-sign'"
    )


def _two_models(tmp_path: Path) -> Config:
    """The tiny stand-in twice: once run by default, once registered to run by name only."""
    path = tmp_path / "face-bench.toml"
    weights = TINY_ONNX.as_posix()
    table = f'backend = "onnx"\npath = "{weights}"\nembedding_size = 512\nthreshold = 0.4\n'
    path.write_text(
        f"[models.usual]\n{table}\n[models.by-name]\n{table}default = false\n", encoding="utf-8"
    )
    return load_config(path)


@needs_shared
def test_a_model_marked_not_default_runs_only_when_named(tmp_path, monkeypatch):
    from face_bench.models.choice import choose_models

    config = _two_models(tmp_path)
    registry = build_registry(config, cache_dir=tmp_path)
    assert "by-name" in registry.names() and "by-name" not in registry.default_names()
    unnamed = [spec.name for spec, _ in choose_models(registry, ()).ready]
    assert "usual" in unnamed and "by-name" not in unnamed
    named = [spec.name for spec, _ in choose_models(registry, ("by-name",)).ready]
    assert named == ["by-name"]
    given = build_registry(config, {"by-name": TINY_ONNX}, cache_dir=tmp_path)
    assert "by-name" in [spec.name for spec, _ in choose_models(given, ()).ready]
    monkeypatch.setenv(env_var_for("by-name"), str(TINY_ONNX))
    assert "by-name" in [spec.name for spec, _ in choose_models(registry, ()).ready]


REPO = Path(__file__).resolve().parents[1]
REAL_NETWORKS = ("sface", "mobilefacenet-192", "mobilefacenet-512", "effb0-arcface", "hse-faceres")


def test_the_repository_config_registers_the_real_networks_with_provenance():
    registry = build_registry(load_config(REPO / "face-bench.toml"))
    assert set(REAL_NETWORKS) <= set(registry.names())
    # A run without --model (make run, the CI gate): dlib, SFace and JAPANESE FACE v1.
    assert registry.default_names() == ["dlib", JF1, "sface"]
    for name in REAL_NETWORKS:
        spec = registry.get(name)
        assert spec.source and spec.licence and spec.description, name
        assert spec.alignment == "arcface" and spec.similarity == "cosine", name
        assert spec.path and (REPO / spec.path).name.endswith(".onnx"), name
    # HSE FaceRec scores higher on LFW fold 1 fed BGR than RGB (README, face-bench.toml).
    assert registry.get("hse-faceres").color_order == "BGR"
    # The as-shipped SFace file is the cleaned one's twin: same preprocessing, by name only.
    shipped, clean = registry.get("sface-as-shipped"), registry.get("sface")
    assert preprocessing(shipped) == preprocessing(clean) and not shipped.default


@needs_shared
def test_the_repository_configs_real_networks_are_ready():
    registry = build_registry(load_config(REPO / "face-bench.toml"))
    for name in (*REAL_NETWORKS, "sface-as-shipped"):
        status = registry.status(name)
        assert status.ready, f"{name}: {status.message}"


@needs_shared
def test_models_command_says_which_models_run_by_name(tmp_path):
    config = _two_models(tmp_path)
    result = runner.invoke(
        app, ["models", "--config", str(config.path), "--cache-dir", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
            if line.count("│") > 3}  # fmt: skip
    assert "by name" in rows["by-name"] and "by default" in rows["usual"]
