"""`face-bench calibrate` and `compare --calibration`: fitted maps, their quality, their use,
and the refusal to apply one model's map to another model's scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core.errors import CalibrationFileError, CalibrationMismatchError, OutputError
from face_bench.results.calibration_file import CalibrationFile, load_calibration, map_for

runner = CliRunner()
WOMAN_A = JP_FACES / "images/新垣結衣/新垣結衣_072K.jpg_align_resize.png"
WOMAN_A2 = JP_FACES / "images/新垣結衣/新垣結衣_35nN.jpg_align_resize.png"
WOMAN_B = JP_FACES / "images/橋本環奈/橋本環奈_0Dty.png_align_resize.png"


def _file(weights: str = "a" * 64) -> dict:
    quality = {"cllr": {"estimate": 0.5}}
    return {
        "face_bench_version": "0",
        "fitted_on": {
            "dataset": "d",
            "dataset_digest": "x",
            "subset": "ordinary",
            "pairs_sha256": "y",
            "n_genuine": 3,
            "n_impostor": 7,
            "n_people": 4,
        },
        "cross_fitting": {"k": 5},
        "models": [
            {
                "name": "dlib",
                "weights_sha256": weights,
                "preprocessing": {"backend": "dlib"},
                "faces": {},
                "similarity": "euclidean",
                "units": "Euclidean distance",
                "method": "platt",
                "prior": 0.3,
                "parameters": {"slope": 10.0, "intercept": 5.0},
                "held_out": quality,
            }
        ],
    }


def test_a_map_is_refused_for_another_model(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_file()), encoding="utf-8")
    calibration, digest = load_calibration(path)
    assert len(digest) == 64
    entry = map_for(calibration, path, "dlib", "a" * 64, {"backend": "dlib"})
    assert entry.calibration_map().probability([-0.5])[0] == pytest.approx(0.5)
    for weights, preprocessing, why in (
        ("b" * 64, {"backend": "dlib"}, "other weights or preprocessing"),
        ("a" * 64, {"backend": "dlib", "num_jitters": 10}, "other weights or preprocessing"),
    ):
        with pytest.raises(CalibrationMismatchError, match=why):
            map_for(calibration, path, "dlib", weights, preprocessing)
    with pytest.raises(CalibrationMismatchError, match="another model"):
        map_for(calibration, path, "sface", "c" * 64, {"backend": "onnx"})
    # The model is its weights and preprocessing, not its name: a renamed copy still fits.
    assert map_for(calibration, path, "dlib-copy", "a" * 64, {"backend": "dlib"}) == entry


def test_a_malformed_calibration_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    broken = _file()
    del broken["models"][0]["prior"]
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(CalibrationFileError, match=r"models\.0\.prior"):
        load_calibration(path)
    result = runner.invoke(app, ["compare", "x.png", "y.png", "--calibration", str(path)])
    assert result.exit_code == CalibrationFileError.exit_code
    assert result.stderr.count("\n") == 1 and "not a face-bench calibration file" in result.stderr


def test_file_round_trips(tmp_path: Path) -> None:
    parsed = CalibrationFile.model_validate(_file())
    path = tmp_path / "c.json"
    path.write_text(parsed.text(), encoding="utf-8")
    assert load_calibration(path)[0] == parsed


@pytest.mark.parametrize("prior", ["0", "1", "1.5"])
def test_prior_must_be_a_probability(prior: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", "--prior", prior, "--out", str(tmp_path / "c.json")])
    assert result.exit_code == 2
    assert "--prior must be strictly between 0 and 1" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_compare_prior_needs_a_calibration() -> None:
    result = runner.invoke(app, ["compare", "x.png", "y.png", "--prior", "0.5"])
    assert result.exit_code == 2 and "give --calibration FILE" in result.stderr


def test_out_is_checked_before_any_work(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    target = tmp_path / "real.json"
    target.write_text("{}", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    empty = tmp_path / "no-images"
    empty.mkdir()  # were the dataset read first, this would be exit 10
    for out, why in ((folder, "is a folder"), (link, "is a symbolic link")):
        args = ["calibrate", "--data", str(empty), "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == OutputError.exit_code, result.output
        assert why in result.stderr
    assert target.read_text(encoding="utf-8") == "{}"


@pytest.mark.parametrize("command", ["roc", "report", "threshold-sweep"])
def test_evaluation_prior_needs_a_calibration(command: str, tmp_path: Path) -> None:
    args = [command, "--data", str(tmp_path), "--subset", "all", "--prior", "0.5"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "give --calibration FILE" in result.stderr


@needs_shared
@pytest.mark.slow
def test_calibrate_then_compare(standin_config: Path, session_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "calibration.json"
    common = ["--config", str(standin_config), "--cache-dir", str(session_cache)]
    fitted = runner.invoke(
        app,
        [
            "calibrate",
            "--data",
            str(JP_FACES),
            "--subset",
            "ordinary",
            "--apply-to",
            "young_women",
            "--sample",
            "40",
            "--bootstrap",
            "30",
            "--model",
            "dlib",
            "--model",
            "standin",
            "--out",
            str(out),
            "--format",
            "json",
            *common,
        ],
    )
    assert fitted.exit_code == 0, fitted.output
    shown = json.loads(fitted.stdout)
    assert Path(shown["figure"]).read_bytes().startswith(b"\x89PNG")
    rows = shown["sets"]
    assert {(r["model"], r["set"]) for r in rows} == {
        (m, s) for m in ("dlib", "standin") for s in ("ordinary (held out)", "young_women")
    }
    for row in rows:
        for measure in ("cllr", "min_cllr", "brier", "ece"):
            ci = row[measure]
            assert ci["lower"] is not None and ci["lower"] <= ci["upper"]
        assert row["min_cllr"]["estimate"] <= row["cllr"]["estimate"] + 1e-12
        assert sum(b["n_pairs"] for b in row["reliability"]) == row["n_genuine"] + row["n_impostor"]
    data = json.loads(out.read_text(encoding="utf-8"))
    dlib = next(m for m in data["models"] if m["name"] == "dlib")
    assert dlib["method"] == "platt" and dlib["parameters"]["slope"] > 0
    assert 0 < dlib["prior"] < 1 and "young_women" in dlib["applied"]
    assert data["fitted_on"]["subset"] == "ordinary" and data["fitted_on"]["n_people"] > 2

    grouped = tmp_path / "grouped.json"
    by_sex = runner.invoke(
        app,
        [
            "calibrate", "--data", str(JP_FACES), "--subset", "all", "--sample", "60",
            "--bootstrap", "20", "--model", "dlib", "--by", "sex", "--method", "isotonic",
            "--out", str(grouped), *common,
        ],
    )  # fmt: skip
    assert by_sex.exit_code == 0, by_sex.output
    assert "all (held out) · sex=F" in by_sex.stdout and "reliability" in by_sex.stdout
    entry = json.loads(grouped.read_text(encoding="utf-8"))["models"][0]
    assert entry["method"] == "isotonic" and set(entry["groups"]) == {
        "all (held out) · sex=F",
        "all (held out) · sex=M",
    }
    for group in entry["groups"].values():
        assert group["gap"] == pytest.approx(group["mean_probability"] - group["observed_rate"])

    images = [str(WOMAN_A), str(WOMAN_B), str(WOMAN_A2)]
    args = ["compare", *images, "--model", "dlib", "--model", "standin", *common]
    shown = runner.invoke(app, [*args, "--calibration", str(out), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    compared = json.loads(shown.stdout)
    assert all(0.0 <= p["probability"] <= 1.0 for p in compared["pairs"])
    assert {m["name"] for m in compared["models"] if "calibration" in m} == {"dlib", "standin"}
    assert compared["calibration"]["sha256"] == load_calibration(out)[1]
    table = runner.invoke(app, [*args, "--calibration", str(out)])
    assert "P(same)" in table.stdout and "at prior" in table.stdout
    assert "not a probability" not in table.stdout

    run = tmp_path / "run"
    roc = runner.invoke(
        app,
        [
            "roc", "--data", str(JP_FACES), "--subset", "young_women", "--sample", "40",
            "--bootstrap", "20", "--model", "dlib", "--model", "standin",
            "--calibration", str(out), "--prior", "0.2", "--out", str(run), *common,
        ],
    )  # fmt: skip
    assert roc.exit_code == 0, roc.output
    assert "P(same person) on this run's pairs" in roc.stdout
    section = json.loads((run / "results.json").read_text(encoding="utf-8"))["calibration"]
    assert section["sha256"] == load_calibration(out)[1] and section["prior"] == 0.2
    assert set(section["models"]) == {"dlib", "standin"}
    assert section["models"]["dlib"]["young_women"]["prior"] == 0.2

    page = tmp_path / "report"
    report = runner.invoke(
        app,
        [
            "report", "--data", str(JP_FACES), "--subset", "young_women", "--sample", "40",
            "--bootstrap", "0", "--model", "dlib", "--calibration", str(out),
            "--out", str(page), *common,
        ],
    )  # fmt: skip
    assert report.exit_code == 0, report.output
    html = (page / "report.html").read_text(encoding="utf-8")
    assert 'id="calibration"' in html and "Reliability: dlib on young_women" in html
    assert "(P(same) " in html  # the gallery's scores carry the probability
    again = runner.invoke(app, ["report", "--from", str(page), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output  # the maps come back from the file results names
    assert (tmp_path / "again" / "report.html").read_bytes() == (page / "report.html").read_bytes()

    dlib["weights_sha256"] = "0" * 64  # as if fitted on other weights
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    fresh = tmp_path / "fresh-cache"
    compare_args = [*args[:-2], "--cache-dir", str(fresh), "--calibration", str(other)]
    refused = runner.invoke(app, compare_args)
    assert refused.exit_code == CalibrationMismatchError.exit_code
    assert refused.stderr.strip().count("\n") == 0 and "not dlib" in refused.stderr
    before = runner.invoke(
        app,
        [
            "roc", "--data", str(JP_FACES), "--subset", "young_women", "--sample", "40",
            "--model", "dlib", "--calibration", str(other), "--out", str(tmp_path / "r2"),
            "--config", str(standin_config), "--cache-dir", str(fresh),
        ],
    )  # fmt: skip
    assert before.exit_code == CalibrationMismatchError.exit_code
    embedded = [p for p in fresh.rglob("*") if p.is_file() and "embeddings" in p.parts]
    assert not embedded  # refused before any image is embedded
