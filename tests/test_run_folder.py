"""Output folders: never inside the data or the cache, unique by default, filled all at once."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import CacheDirError, GateInputError, OutputError
from face_bench.report.run_folder import (
    MARKER,
    check_out_folder,
    open_run_folder,
    remove_stale,
    run_folder,
)

runner = CliRunner()
PEOPLE = ("尾野真千子", "麻生久美子", "Audrey Hepburn")


@pytest.fixture
def tiny_set(tmp_path: Path) -> Path:
    """Three people, three crops each, as <identity>/<image> folders."""
    root = tmp_path / "data"
    for person in PEOPLE:
        (root / person).mkdir(parents=True)
        for source in sorted((JP_FACES / "images" / person).glob("*.png"))[:3]:
            shutil.copy(source, root / person / source.name)
    return root


def _listing(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def roc(data: Path, out: Path | None, config: Path, *extra: str):
    args = ["roc", "--data", str(data), "--model", "standin", "--align", "none",
            "--bootstrap", "0", "--workers", "1", "--config", str(config), *extra]  # fmt: skip
    if out is not None:
        args += ["--out", str(out)]
    return runner.invoke(app, args)


# --- item 12: never inside the dataset or the cache ---------------------------------------


@needs_shared
@pytest.mark.parametrize("where", ["root", "inside", "person"])
def test_out_inside_the_dataset_is_refused_and_nothing_changes(tiny_set, standin_config, where):
    out = {"root": tiny_set, "inside": tiny_set / "run", "person": tiny_set / PEOPLE[0]}[where]
    before = _listing(tiny_set)
    result = roc(tiny_set, out, standin_config)
    assert result.exit_code == OutputError.exit_code, result.output
    assert "inside the dataset folder" in result.output
    assert _listing(tiny_set) == before


def test_out_inside_or_around_the_cache_is_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(OutputError, match="inside the cache"):
        check_out_folder(cache / "run", cache_dir=cache)
    with pytest.raises(OutputError, match="contains the dataset"):
        check_out_folder(tmp_path, data=tmp_path / "data")


def test_baseline_inside_out_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{}")
    with pytest.raises(GateInputError, match="baseline"):
        check_out_folder(out, baseline=out / "results.json")
    assert (out / "results.json").read_text() == "{}"


def test_folder_datasets_skip_run_folders(tmp_path):
    from PIL import Image

    from face_bench.data.datasets import load_dataset

    for rel in ("p/a.png", "p/b.png", "run/gallery/thumb.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / rel)
    (tmp_path / "run" / MARKER).write_text('{"files": []}')
    assert list(load_dataset(tmp_path).table["identity"].unique()) == ["p"]


# --- item 19: unusable output or cache folders fail first, in one line ----------------------


@needs_shared
def test_out_that_is_a_file_fails_before_embedding(tiny_set, standin_config, tmp_path):
    out = tmp_path / "out"
    out.write_text("not a folder")
    result = roc(tiny_set, out, standin_config)
    assert result.exit_code == OutputError.exit_code
    assert result.output.strip().splitlines()[-1].startswith("face-bench: error: --out")
    assert not (tmp_path / "cache" / "embeddings").exists()


@needs_shared
def test_cache_dir_that_is_a_file_fails_before_embedding(tiny_set, standin_config, tmp_path):
    cache = tmp_path / "cache-file"
    cache.write_text("x")
    result = roc(tiny_set, tmp_path / "out", standin_config, "--cache-dir", str(cache))
    assert result.exit_code == CacheDirError.exit_code, result.output
    assert "cache folder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@needs_shared
def test_existing_folder_with_other_files_is_refused(tiny_set, standin_config, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = roc(tiny_set, out, standin_config)
    assert result.exit_code == OutputError.exit_code
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


# --- item 13: unique default folders; a run's files appear together or not at all ----------


def test_default_out_folders_are_unique_and_name_the_models(tmp_path):
    from face_bench.report.outputs import default_out_dir
    from face_bench.run.request import EmbedSettings, EvaluationRequest

    embed = EmbedSettings(models=("dlib", "hse"))
    request = EvaluationRequest(data=tmp_path, subsets=("all",), embed=embed)
    names = {default_out_dir(request, "roc").name for _ in range(50)}
    assert len(names) == 50
    assert all(name.startswith(f"roc-{tmp_path.name}-all-dlib+hse-") for name in names)


@needs_shared
def test_no_flags_run_the_configs_default_subsets_into_a_folder_named_for_the_run(
    tiny_set, standin_config, tmp_path, monkeypatch
):
    """No --subset, --model or --out: the config's default subsets, every model that can
    run, and a folder named by command, subsets and the models that ran."""
    text = standin_config.read_text(encoding="utf-8")
    standin_config.write_text('default_subsets = ["all", "ordinary"]\n' + text, "utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = ["threshold-sweep", "--data", str(tiny_set), "--config", str(standin_config)]
    args += ["--align", "none", "--bootstrap", "0", "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [folder] = (work / "reports").iterdir()
    assert folder.name.startswith("threshold-sweep-data-all+ordinary-dlib+standin-")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in results["subsets"]] == ["all", "ordinary"]
    assert [m["name"] for m in results["models"]] == ["dlib", "standin"]


def test_failed_write_leaves_the_previous_run_whole(tmp_path):
    out = tmp_path / "run"
    with run_folder(out) as folder:
        (folder.staging / "results.json").write_text("old results")
        (folder.staging / "report.html").write_text("old report")
    with pytest.raises(RuntimeError), run_folder(out) as folder:
        (folder.staging / "results.json").write_text("new results")
        raise RuntimeError("interrupted while writing the report")
    assert (out / "results.json").read_text() == "old results"
    assert (out / "report.html").read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial folder left


def test_a_rerun_replaces_the_previous_run_whole(tmp_path):
    out = tmp_path / "run"
    with run_folder(out) as folder:
        (folder.staging / "sweep.csv").write_text("first run only")
        (folder.staging / "results.json").write_text("first")
    with run_folder(out) as folder:
        (folder.staging / "results.json").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "results.json"]
    assert json.loads((out / MARKER).read_text())["files"] == ["results.json"]


def _killed_run(out: Path, publishing: bool = False) -> None:
    """A run into ``out`` killed with SIGKILL while writing (or between the two renames of
    its publish, when ``publishing``): only the kernel cleans up after it."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from face_bench.report.run_folder import open_run_folder\n"
        "folder = open_run_folder(Path(sys.argv[1]))\n"
        "(folder.staging / 'results.json').write_text('killed')\n"
        "if sys.argv[2] == '1':\n"
        "    folder.final.rename(folder.staging.name.replace('.partial-', '.old-', 1))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(out), str(int(publishing))],
                         cwd=out.parent, check=False)  # fmt: skip
    assert run.returncode == -signal.SIGKILL


def test_a_killed_runs_partial_folder_is_removed_by_the_next_run_not_a_live_one(tmp_path):
    out = tmp_path / "run"
    live = open_run_folder(out)  # a run still writing into the same folder
    try:
        _killed_run(out)
        assert len([p for p in tmp_path.iterdir() if ".partial-" in p.name]) == 2
        with run_folder(out) as folder:
            (folder.staging / "results.json").write_text("next")
        assert [p for p in tmp_path.iterdir() if ".partial-" in p.name] == [live.staging]
        assert (out / "results.json").read_text() == "next"
    finally:
        live.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_run_killed_while_publishing_gives_the_previous_run_back(tmp_path):
    out = tmp_path / "run"
    with run_folder(out) as folder:
        (folder.staging / "results.json").write_text("previous")
    _killed_run(out, publishing=True)
    assert not out.exists()  # moved aside, the new one not yet in
    assert remove_stale(out)  # the killed run's staging folder
    assert (out / "results.json").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@needs_shared
def test_two_runs_into_one_out_both_complete(tiny_set, standin_config, tmp_path):
    out = tmp_path / "out"
    first = roc(tiny_set, out, standin_config)
    assert first.exit_code == 0, first.output
    second = roc(tiny_set, out, standin_config)
    assert second.exit_code == 0, second.output
    assert (out / "results.json").is_file() and (out / MARKER).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


@needs_shared
def test_roc_baseline_inside_out_is_refused_and_kept(tiny_set, standin_config, tmp_path):
    out = tmp_path / "out"
    assert roc(tiny_set, out, standin_config).exit_code == 0
    before = (out / "results.json").read_bytes()
    result = roc(tiny_set, out, standin_config, "--baseline", str(out / "results.json"))
    assert result.exit_code == 2, result.output
    assert "baseline" in result.output and "Traceback" not in result.output
    assert (out / "results.json").read_bytes() == before


def test_a_deeply_nested_marker_is_not_a_run_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{}")
    (out / MARKER).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(OutputError, match="did not write there"):
        check_out_folder(out)


def test_checking_the_default_out_leaves_no_empty_reports_folder(tmp_path, monkeypatch):
    from face_bench.report.outputs import prepare_out
    from face_bench.run.request import EmbedSettings, EvaluationRequest

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    embed = EmbedSettings(models=("dlib",), cache_dir=tmp_path / "c")
    request = EvaluationRequest(data=tmp_path / "data", subsets=("all",), embed=embed)
    final = prepare_out(request, None)  # a run that fails after this check writes nothing
    assert final.parent == tmp_path / "reports"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "data"]
    deep = prepare_out(request, tmp_path / "a" / "b" / "out")
    assert deep == tmp_path / "a" / "b" / "out" and not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        prepare_out(request, tmp_path / "file" / "out")
    with run_folder(final) as folder:  # the run that succeeds creates it
        (folder.staging / "results.json").write_text("{}")
    assert (final / "results.json").exists()
