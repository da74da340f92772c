"""`face-bench report --from RUN_DIR`: the report rendered again from a run folder alone.

A real run folder (dlib and the tiny ONNX stand-in on a small sample of jp_faces_dev) is
rendered into a new folder, which must equal the report written at run time byte for byte,
every figure included; a folder that is not a run stops with one line and its exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import JP_FACES, TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import ResultsError, RunFolderError

runner = CliRunner()


def _invoke(argv: list[str]):
    # A run records its command line from sys.argv, which is pytest's here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["face-bench", *argv])
        return runner.invoke(app, argv)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _different(a: Path, b: Path) -> list[str]:
    first, second = _files(a), _files(b)
    return sorted(
        name for name in first.keys() | second.keys() if first.get(name) != second.get(name)
    )


@pytest.fixture(scope="module")
def run_folders(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> dict:
    """Two real run folders of one small report: a self-contained and a linked page."""
    root = tmp_path_factory.mktemp("report-from")
    config = root / "face-bench.toml"
    config.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
        "input_size = [224, 224]\nmean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]\n"
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    common = [
        "report", "--subset", "ordinary", "--subset", "young_women", "--data", str(JP_FACES),
        "--model", "dlib", "--model", "standin", "--sample", "20", "--bootstrap", "20",
        "--threshold", "far:1e-2", "--config", str(config), "--cache-dir", str(session_cache),
    ]  # fmt: skip
    runs = {}
    for name, flag in (("self", "--self-contained"), ("linked", "--no-self-contained")):
        result = _invoke([*common, flag, "--out", str(root / name)])
        assert result.exit_code == 0, result.output + (result.stderr or "")
        runs[name] = root / name
    return runs


@pytest.mark.slow
@needs_shared
@pytest.mark.parametrize("variant", ["self", "linked"])
def test_report_from_equals_the_run_time_report_byte_for_byte(
    run_folders: dict, variant: str, tmp_path: Path
) -> None:
    run = run_folders[variant]
    before = _files(run)
    flags = ["--no-self-contained"] if variant == "linked" else []
    result = _invoke(["report", "--from", str(run), "--out", str(tmp_path / "again"), *flags])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    again = tmp_path / "again"
    assert (again / "report.html").is_file() and (again / "umap.png").is_file()
    assert any(name.endswith(".png") for name in _files(again))
    assert _different(run, again) == []  # every file, the PNGs and the page included
    assert _files(run) == before  # the run folder is read, never written


@pytest.mark.slow
@needs_shared
def test_report_from_without_out_writes_a_new_folder_beside_the_run(run_folders: dict) -> None:
    import face_bench as fb

    run = run_folders["self"]
    before = _files(run)
    output = fb.render_report(run)
    try:
        assert output.html.parent != run and output.html.parent.parent == run.parent
        assert _different(run, output.html.parent) == [".face-bench-run"]  # no marker: not a run
        assert _files(run) == before
    finally:
        import shutil

        shutil.rmtree(output.html.parent)


@pytest.mark.slow
@needs_shared
def test_report_from_the_run_folder_itself_only_when_asked(
    run_folders: dict, tmp_path: Path
) -> None:
    """``--out`` naming the run folder re-renders it in place: the same bytes come back."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_folders["self"], run)
    before = _files(run)
    result = _invoke(["report", "--from", str(run), "--out", str(run)])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    assert _files(run) == before
    inside = _invoke(["report", "--from", str(run), "--out", str(run / "sub")])
    assert inside.exit_code == RunFolderError.exit_code
    assert "inside the run folder" in inside.stderr


# ------------------------------------------------------------------ bad input


def _bad(argv: list[str], code: int, words: str) -> None:
    result = _invoke(argv)
    assert result.exit_code == code, result.output + (result.stderr or "")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("face-bench: error:"), result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.output + result.stderr


def test_missing_run_folder_is_one_line(tmp_path: Path) -> None:
    _bad(["report", "--from", str(tmp_path / "nowhere")], 51, "does not exist")


def test_folder_without_results_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "scores.csv").write_text("x\n", encoding="utf-8")
    _bad(["report", "--from", str(tmp_path / "run")], 51, "holds no results.json")
    assert not any(p.name != "run" for p in tmp_path.iterdir())  # nothing written beside it


@pytest.mark.parametrize(
    "text, words",
    [
        ("{ not json", "not a JSON file"),
        ('{"schema_version": 2, "subsets": []}', "invalid results file"),
        ('{"schema_version": 99}', "schema_version 99 is not supported"),
        ("[1, 2]", "not a face-bench results file"),
    ],
    ids=["not-json", "invalid", "newer", "array"],
)
def test_corrupt_results_is_one_line(tmp_path: Path, text: str, words: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(text, encoding="utf-8")
    _bad(["report", "--from", str(run), "--out", str(tmp_path / "out")], 50, words)
    assert not (tmp_path / "out").exists()


def test_run_folder_errors_are_results_errors() -> None:
    """``RunFolderError`` is a ``ResultsError``: code that handles one handles both."""
    from face_bench.report.source import read_run_folder

    assert issubclass(RunFolderError, ResultsError)
    with pytest.raises(RunFolderError, match="does not exist"):
        read_run_folder(Path("/nonexistent/face-bench-run"))


@pytest.mark.slow
@needs_shared
def test_scores_that_disagree_with_results_are_refused(run_folders: dict, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_folders["self"], run)
    data = json.loads((run / "results.json").read_text(encoding="utf-8"))
    data["models"][0]["name"] = "renamed"  # a model scores.csv has no column for
    for subset in data["subsets"]:
        subset["models"][0]["name"] = "renamed"
    (run / "results.json").write_text(json.dumps(data), encoding="utf-8")
    result = _invoke(["report", "--from", str(run), "--out", str(tmp_path / "out")])
    assert result.exit_code == 50, result.output + (result.stderr or "")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@needs_shared
def test_a_run_folder_without_layouts_says_so(run_folders: dict, tmp_path: Path) -> None:
    """Layouts come from embeddings, which a run folder does not hold: none is recomputed."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_folders["self"], run)
    (run / "umap.csv").unlink()
    result = _invoke(["report", "--from", str(run), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output + (result.stderr or "")
    assert "no umap.csv in the run folder" in result.stderr
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "no umap.csv in the run folder" in page
    assert not (tmp_path / "out" / "umap.png").exists()
