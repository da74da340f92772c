"""A newcomer's first commands: version and help, where the data comes from, fetching LFW,
and models that were asked for. None of these needs ../shared."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import corpus
import pytest
from conftest import REPO
from lfw_mirror import PEOPLE, build_files, point_fetch_at, serve
from typer.testing import CliRunner

from face_bench import __version__
from face_bench.cli.app import app
from face_bench.core.config import Config, load_config
from face_bench.core.errors import DatasetError
from face_bench.data.named import resolve_data

runner = CliRunner()


def one_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def tiny_folder_dataset(root: Path) -> Path:
    for person in ("ann", "bob"):
        (root / person).mkdir(parents=True)
        for n in (1, 2):
            corpus.pattern(64 + n, 48).save(root / person / f"{n}.png")
    return root


@pytest.fixture
def nowhere(tmp_path, monkeypatch) -> Path:
    """An empty working directory with no face-bench.toml and no $FACE_BENCH_DATA."""
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("FACE_BENCH_DATA", raising=False)
    return folder


# ------------------------------------------------------------ version, help, completion


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    result = runner.invoke(app, [flag])
    assert result.exit_code == 0 and result.stdout == f"face-bench {__version__}\n"


@pytest.mark.parametrize(
    "args", [["-h"], ["--help"], ["roc", "-h"], ["fetch", "-h"], ["lfw", "-h"], ["gate", "-h"]]
)
def test_short_and_long_help_everywhere(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Usage: ")


def test_shell_completion_is_offered():
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


# ------------------------------------------------------------ where --data comes from


def test_no_dataset_anywhere_is_one_line_naming_every_source(nowhere):
    result = runner.invoke(app, ["roc", "--subset", "young_women"])
    assert result.exit_code == 10
    line = one_line(result)
    for wanted in ("--data", "$FACE_BENCH_DATA", "face-bench.toml", "--config", "fetch lfw"):
        assert wanted in line


def test_flag_then_environment_then_config(tmp_path, monkeypatch):
    config_file = tmp_path / "conf" / "face-bench.toml"
    config_file.parent.mkdir()
    config_file.write_text('data = "../faces"\n', encoding="utf-8")
    config = load_config(config_file)
    monkeypatch.setenv("FACE_BENCH_DATA", "/from/env")
    assert resolve_data(Path("given"), config).folder == Path("given")
    assert resolve_data(None, config).folder == Path("/from/env")
    assert resolve_data(None, config).origin == "$FACE_BENCH_DATA"
    monkeypatch.delenv("FACE_BENCH_DATA")
    source = resolve_data(None, config)
    assert source.folder == tmp_path / "faces"  # relative to the TOML file
    assert source.origin == f"data in {config_file}"
    with pytest.raises(DatasetError, match="no dataset given"):
        resolve_data(None, Config())


def test_config_data_drives_a_run_from_another_folder(tmp_path, nowhere):
    tiny_folder_dataset(tmp_path / "faces")
    (nowhere / "face-bench.toml").write_text('data = "../faces"\n', encoding="utf-8")
    # An unknown subset fails after the dataset was found: proof that config data was used.
    result = runner.invoke(app, ["roc", "--subset", "young_woman"])
    assert result.exit_code == 14, result.stderr


def test_a_config_data_value_must_be_text(tmp_path):
    bad = tmp_path / "face-bench.toml"
    bad.write_text("data = 3\n", encoding="utf-8")
    result = runner.invoke(app, ["datasets", "--config", str(bad)])
    assert result.exit_code == 4 and "data must be" in one_line(result)


def test_the_repositorys_own_config_points_at_the_shared_set():
    config = load_config(REPO / "face-bench.toml")
    source = resolve_data(None, config)
    assert source.folder.resolve() == (REPO.parent / "shared/datasets/jp_faces_dev").resolve()


def test_a_named_dataset_not_yet_fetched_says_how_to_get_it(nowhere):
    result = runner.invoke(app, ["roc", "--data", "lfw"])
    assert result.exit_code == 10
    assert "run `face-bench fetch lfw`" in one_line(result)


# ------------------------------------------------------------ fetch, datasets, lfw


@pytest.fixture
def mirror(monkeypatch):
    files = build_files()
    point_fetch_at(monkeypatch, files)
    with serve(files) as running:
        yield running


def test_fetch_then_use_lfw_by_name_and_by_default(tmp_path, mirror, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("FACE_BENCH_CACHE_DIR", str(cache))
    before = runner.invoke(app, ["datasets", "--format", "json"])
    rows = {r["name"]: r for r in json.loads(before.stdout)["datasets"]}
    assert rows["lfw"]["present"] is False and "Huang et al. 2007" in rows["lfw"]["licence"]

    fetched = runner.invoke(app, ["fetch", "lfw", "--mirror", mirror.url])
    assert fetched.exit_code == 0, fetched.stderr
    folder = cache / "datasets" / "lfw" / "lfw_home" / "lfw_funneled"
    assert fetched.stdout.startswith(f"lfw: {sum(PEOPLE.values())} images of 3 people in {folder}")
    assert f"downloading lfw-funneled.tgz from {mirror.url}lfw-funneled.tgz" in fetched.stderr
    assert "licence:" in fetched.stderr

    after = runner.invoke(app, ["datasets"])
    assert after.exit_code == 0 and "yes" in after.stdout
    assert resolve_data("lfw", Config(), cache).folder == folder

    # `face-bench lfw` with neither --data nor --pairs runs on what was fetched.
    model = corpus.embedding_onnx(tmp_path)
    config = tmp_path / "face-bench.toml"
    config.write_text(
        f'[models.tiny]\nbackend = "onnx"\npath = "{model}"\nsimilarity = "cosine"\n'
        "threshold = 0.4\nembedding_size = 512\n",
        encoding="utf-8",
    )
    out = tmp_path / "lfw-run"
    ran = runner.invoke(
        app,
        ["lfw", "--model", "tiny", "--config", str(config), "--align", "none", "--out", str(out)],
    )
    assert ran.exit_code == 0, ran.stderr
    assert json.loads((out / "lfw.json").read_text(encoding="utf-8"))["n_pairs"] == 4


def test_fetch_offline_is_one_line_with_its_exit_code(tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(
        app,
        ["fetch", "lfw", "--mirror", f"http://127.0.0.1:{port}", "--cache-dir", str(tmp_path)],
    )
    assert result.exit_code == 16
    assert "unreachable" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_lfw_without_data_or_a_fetch_says_how(tmp_path):
    result = runner.invoke(app, ["lfw", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 10 and "face-bench fetch lfw" in one_line(result)


def test_fetch_an_unknown_name():
    result = runner.invoke(app, ["fetch", "imagenet"])
    assert result.exit_code == 10 and "fetchable: lfw, lfw-original" in one_line(result)


# ------------------------------------------------------------ models asked for


@pytest.mark.parametrize(
    "extra",
    [["--model", "japanese-face-v1"], ["--weights", "japanese-face-v1=/typo/JAPANESE.onnx"]],
)
def test_a_model_asked_for_without_weights_stops_before_any_work(tmp_path, nowhere, extra):
    data = tiny_folder_dataset(tmp_path / "faces")
    cache = tmp_path / "cache"
    result = runner.invoke(app, ["roc", "--data", str(data), "--cache-dir", str(cache), *extra])
    assert result.exit_code == 25
    line = one_line(result)
    assert line.startswith("face-bench: error: model 'japanese-face-v1' was asked for but cannot")
    assert not (cache / "embeddings").exists()


# ------------------------------------------------------------ a dataset that is not there


def _check_data_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_data", REPO / ".ci" / "check_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_folder_from_the_config_names_the_setting_and_what_to_do(nowhere):
    (nowhere / "face-bench.toml").write_text('data = "../shared-absent/jp"\n', encoding="utf-8")
    result = runner.invoke(app, ["roc", "--model", "dlib"])
    assert result.exit_code == 10
    line = one_line(result)
    assert line.startswith(
        f"face-bench: error: dataset folder not found: {nowhere.parent}/shared-absent/jp "
        f"(chosen by data in {nowhere / 'face-bench.toml'}); "
    )
    assert "--data DIR" in line and "$FACE_BENCH_DATA" in line
    assert "`face-bench fetch lfw`" in line


def test_missing_folder_from_the_environment_names_it(nowhere, monkeypatch):
    monkeypatch.setenv("FACE_BENCH_DATA", str(nowhere / "gone"))
    result = runner.invoke(app, ["roc", "--model", "dlib"])
    assert result.exit_code == 10
    assert f"not found: {nowhere / 'gone'} (chosen by $FACE_BENCH_DATA);" in one_line(result)


@pytest.mark.parametrize("source", ["config", "env"])
def test_make_run_check_finds_the_folder_face_bench_would_read(nowhere, monkeypatch, source):
    check = _check_data_module()
    (nowhere / "face-bench.toml").write_text('data = "../faces"\n', encoding="utf-8")
    if source == "env":
        monkeypatch.setenv("FACE_BENCH_DATA", "other")
    folder = resolve_data(None, load_config(None)).folder
    assert f"not found: {folder.resolve()}\n" in check.problem()
    folder.mkdir()
    assert check.problem() is None


def test_make_run_check_leaves_named_datasets_to_face_bench():
    from face_bench.data.named import NAMED_DATASETS

    assert set(_check_data_module().NAMED) == set(NAMED_DATASETS)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_checks_the_data_before_installing_anything(tmp_path):
    """Without ../shared, `make run` stops at once, naming the setting, and builds no venv."""
    repo = tmp_path / "checkout"
    (repo / ".ci").mkdir(parents=True)
    for name in ("Makefile", "face-bench.toml", "pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, repo / name)
    shutil.copy(REPO / ".ci" / "check_data.py", repo / ".ci" / "check_data.py")
    env = {k: v for k, v in os.environ.items() if k not in ("FACE_BENCH_DATA", "MAKEFLAGS")}
    done = subprocess.run(
        ["make", "run", f"PYTHON={sys.executable}"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert not (repo / ".venv").exists()
    assert (
        f"make run: dataset folder not found: {tmp_path / 'shared' / 'datasets' / 'jp_faces_dev'}"
        in done.stderr
    )
    assert f'chosen by data = "../shared/datasets/jp_faces_dev" in {repo}' in done.stderr
    assert "FACE_BENCH_DATA=/path/to/faces make run" in done.stderr
