"""Bad and hostile input through the real CLI: each case has one exact outcome.

An unusable image is a recorded failure to enrol (reason in results.json and in the
printed notes), an unusable dataset or model is one stderr line with its own exit
code, and odd but valid input works. Nothing ends in a traceback or a silent drop.

Images are real crops read in place from ../shared and copied into tmp at test time,
or synthetic files from ``corpus``; the tiny random ONNX model keeps runs fast.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import corpus
import pytest
from conftest import TINY_ONNX, needs_shared
from PIL import Image
from typer.testing import CliRunner, Result

from face_bench.cli.app import app
from face_bench.data.images import load_rgb

pytestmark = needs_shared
runner = CliRunner()

A, B, C = "尾野真千子", "麻生久美子", "夏帆"
ODD_IDENTITY = "<b>&\"' 山田 花子"
ODD_NAMES = ("顔 写真 <b>&\"'.png", "山田 &amp; \"花子\" 'x'.png")
ONE_IMAGE_IDENTITY = "岸田文雄"
JFV1_MISSING = "weights not found"


def config_text(extra: str = "") -> str:
    """The stand-in model plus subsets whose values look like code but are only values."""
    return (
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
        "mean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]\n"
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n\n'
        "[subsets.hostile]\nidentity = [\"__import__('os').system('touch pwned')\"]\n"
        'sex = ["F"]\n' + extra
    )


def invoke(args: list[str], **env: str | None) -> Result:
    """The real app; the user's own weights variable never leaks into a test."""
    return runner.invoke(app, args, env={"FACE_BENCH_JAPANESE_FACE_V1": None, **env})


def one_error_line(result: Result) -> str:
    """The single stderr line of a refused run (no traceback, no second line)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


@dataclass
class Run:
    """One finished CLI run and what it wrote."""

    root: Path
    out: Path
    result: Result
    data: dict
    scores: list[dict[str, str]]

    @property
    def subset(self) -> dict:
        return self.data["subsets"][0]

    def model(self, name: str = "standin") -> dict:
        return next(m for m in self.subset["models"] if m["name"] == name)

    def failure(self, image: str, model: str = "standin") -> dict | None:
        found = [f for f in self.model(model)["failures"] if f["image"] == image]
        return found[0] if found else None

    def score(self, a: str, b: str, model: str = "standin") -> float:
        for row in self.scores:
            if {row["image_a"], row["image_b"]} == {a, b}:
                return float(row[model])
        raise KeyError((a, b))

    def scored_images(self) -> set[str]:
        return {r["image_a"] for r in self.scores} | {r["image_b"] for r in self.scores}


def run_roc(root: Path, out: Path, cache: Path, *extra: str) -> Run:
    config = root.parent / "face-bench.toml"
    if not config.exists():
        config.write_text(config_text(), encoding="utf-8")
    args = ["roc", "--data", str(root), "--config", str(config), "--bootstrap", "0",
            "--cache-dir", str(cache), "--out", str(out), "--workers", "1"]  # fmt: skip
    if "--model" not in extra:
        args += ["--model", "standin"]
    result = invoke([*args, *extra])
    assert result.exit_code == 0, result.stderr
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    with (out / "scores.csv").open(encoding="utf-8", newline="") as handle:
        scores = list(csv.DictReader(handle))
    return Run(root, out, result, data, scores)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for this module: copies of the same crops are found once."""
    return tmp_path_factory.mktemp("bad-input-cache")


# ------------------------------------------------------------------ the zoo: one run


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> tuple[Run, dict[str, str]]:
    """Every odd image at once, with a model whose weights are missing, sampled over size."""
    base = tmp_path_factory.mktemp("zoo")
    root = base / "data"
    made = base / "made"
    made.mkdir()
    rows: list[dict[str, str]] = []
    at: dict[str, str] = {}

    def add(key: str, source: Path, identity: str, name: str | None = None) -> None:
        target = corpus.add_image(root, rows, source, identity, name=name or source.name)
        at[key] = target.relative_to(root).as_posix()

    add("A1", corpus.JP_FACE_A, A)
    add("A2", corpus.real_crops(A, 2)[1], A)
    for key in ("png_named_jpg", "webp_named_jpg", "cmyk_jpeg", "grey_png", "grey16_png",
                "grey_tiff", "palette_tiff", "alpha_png", "exif_rotated_jpeg"):  # fmt: skip
        add(key, getattr(corpus, f"face_{key}")(made), A)
    add("sideways", corpus.face_exif_rotated_jpeg(made, exif=False), A)
    upright = made / "face_upright_reference.png"
    Image.fromarray(load_rgb(made / "face_exif_rotated.jpg")).save(upright)
    add("upright", upright, A)
    add("huge", corpus.huge_face_jpeg(made), A)
    add("two_faces", corpus.faces_side_by_side(made), A)
    for i, source in enumerate(corpus.real_crops(B, 2)):
        add(f"B{i + 1}", source, B)
    for name, source in zip(ODD_NAMES, corpus.real_crops(C, 2), strict=True):
        add(name, source, ODD_IDENTITY, name)
    add("single", corpus.real_crops(ONE_IMAGE_IDENTITY, 1)[0], ONE_IMAGE_IDENTITY)
    add("zero_byte", corpus.zero_byte_jpeg(made), "bad")
    add("truncated", corpus.truncated_jpeg(made), "bad")
    add("no_face", corpus.blank_image(made), "bad")
    rows.append({"path": "images/bad/listed_but_gone.jpg", "identity": "bad"})
    at["missing"] = "images/bad/listed_but_gone.jpg"
    corpus.write_manifest(root, rows)
    # The zoo compares one photo with its copies in other encodings: keep those pairs.
    run = run_roc(
        root, base / "out", cache, "--sample", "500", "--model", "standin",
        "--near-duplicates", "keep",
    )  # fmt: skip
    return run, at


def assert_failed(zoo, key: str, reason: str, detail: str) -> None:
    run, at = zoo
    assert run.failure(at[key]) == {"image": at[key], "reason": reason, "detail": detail}
    assert at[key] not in run.scored_images()
    assert (
        "note: standin: 4 image(s) not enrolled (empty 1, missing 1, no_face 1, truncated 1)"
        in (run.result.stdout)
    )
    assert "Traceback" not in run.result.stdout + run.result.stderr


def assert_enrolled(zoo, key: str) -> None:
    run, at = zoo
    assert run.failure(at[key]) is None
    assert at[key] in run.subset["images"] and at[key] in run.scored_images()


def test_missing_file_listed_in_manifest(zoo):
    assert_failed(zoo, "missing", "missing", "file not found or unreadable")


def test_zero_byte_file(zoo):
    assert_failed(zoo, "zero_byte", "empty", "file has zero bytes")


def test_truncated_jpeg(zoo):
    run, at = zoo
    failure = run.failure(at["truncated"])
    assert failure["reason"] == "truncated"
    assert failure["detail"].startswith("image file is truncated")
    assert_failed(zoo, "truncated", "truncated", failure["detail"])


def test_image_without_a_face(zoo):
    assert_failed(zoo, "no_face", "no_face", "no face found")


def test_failures_are_excluded_for_every_model_and_counted(zoo):
    run, _ = zoo
    assert run.model()["n_failures"] == 4 and run.subset["pairs"]["excluded_images"] == 4
    assert "failures to enrol: standin 4; 4 image(s) excluded" in run.result.stdout


@pytest.mark.parametrize("key", ["png_named_jpg", "webp_named_jpg"])
def test_other_format_named_jpg_works_pixel_for_pixel(zoo, key):
    run, at = zoo
    assert_enrolled(zoo, key)
    assert run.score(at[key], at["A1"]) == pytest.approx(1.0, abs=1e-6)


def test_cmyk_jpeg_keeps_its_colours(zoo):
    run, at = zoo
    assert_enrolled(zoo, "cmyk_jpeg")
    to_original = run.score(at["cmyk_jpeg"], at["A1"])
    assert to_original > max(run.score(at["A1"], at[b]) for b in ("B1", "B2"))


@pytest.mark.parametrize("key", ["grey16_png", "grey_tiff"])
def test_16_bit_png_and_grey_tiff_decode_like_8_bit_grey(zoo, key):
    run, at = zoo
    assert_enrolled(zoo, key)
    assert run.score(at[key], at["grey_png"]) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("key", ["alpha_png", "palette_tiff"])
def test_png_with_alpha_and_palette_tiff_work(zoo, key):
    assert_enrolled(zoo, key)


def test_exif_rotated_photo_is_embedded_upright(zoo):
    run, at = zoo
    assert_enrolled(zoo, "exif_rotated_jpeg")
    assert run.score(at["exif_rotated_jpeg"], at["upright"]) == pytest.approx(1.0, abs=1e-6)
    # The same pixels without the EXIF tag are a sideways face: a different embedding.
    assert run.score(at["sideways"], at["upright"]) < 0.99


def test_very_large_photo_is_enrolled(zoo):
    run, at = zoo
    assert_enrolled(zoo, "huge")
    assert run.score(at["huge"], at["A1"]) > max(run.score(at["A1"], at[b]) for b in ("B1", "B2"))


def test_very_large_photo_is_downscaled_before_detection_in_bounded_memory(tmp_path):
    huge = corpus.huge_face_jpeg(tmp_path)
    script = (
        "import sys\nfrom pathlib import Path\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from face_stage import locate_path\n"
        "from face_bench.faces.locate import Face, FaceSettings, LOAD_MAX_SIDE\n"
        "entry = locate_path(Path(sys.argv[1]), FaceSettings())\n"
        "face = entry.face\n"
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(face.source, face.n_faces, face.box.right < LOAD_MAX_SIDE, int(peak.split()[1]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(huge), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[:3] == ["detector", "1", "True"]
    # Decoding 12,000 x 9,000 at full size would take 324 MB for the pixels alone.
    assert int(out[3]) < 300_000, f"peak resident {int(out[3]) // 1024} MB"


def test_identity_with_one_image_still_makes_impostor_pairs(zoo):
    run, at = zoo
    assert run.subset["pairs"]["identities_without_genuine_pair"] == 1
    rows = [r for r in run.scores if at["single"] in (r["image_a"], r["image_b"])]
    assert rows and all(r["label"] == "0" for r in rows)
    assert len(rows) == len(run.scored_images()) - 1


def test_subset_smaller_than_sample_is_noted_and_recorded(zoo):
    run, _ = zoo
    pool = run.subset["pool_size"]
    note = f"subset 'all' has {pool} images, fewer than --sample 500: using all of them"
    assert run.subset["notes"][0] == note
    assert f"note: {note}" in run.result.stdout
    assert run.subset["sample_size"] == pool and run.subset["sample_requested"] == 500


def test_several_faces_largest_is_the_default_and_counted(zoo):
    run, _ = zoo
    assert_enrolled(zoo, "two_faces")
    assert run.data["settings"]["multi_face"] == "largest"
    assert run.model()["metrics"]["multi_face_images"] == 1
    note = "standin: 1 image(s) with several faces (--multi-face largest)"
    assert note in run.subset["notes"] and f"note: {note}" in run.result.stdout


def test_a_registered_model_nobody_asked_for_is_quiet_and_recorded(small_set, tmp_path, cache):
    config = tmp_path / "face-bench.toml"
    config.write_text(config_text(), encoding="utf-8")
    out = tmp_path / "out"
    result = invoke(
        ["roc", "--data", str(small_set), "--config", str(config), "--bootstrap", "0",
         "--cache-dir", str(cache), "--out", str(out), "--workers", "1"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    # Nobody asked for it: `face-bench models` says where its weights go, not every run.
    assert "japanese-face-v1" not in result.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in data["models"]] == ["dlib", "standin"]
    recorded = " ".join(data["skipped_models"])
    assert recorded.startswith(f"model 'japanese-face-v1': {JFV1_MISSING}")
    for place in (
        "--weights japanese-face-v1=PATH",
        "$FACE_BENCH_JAPANESE_FACE_V1",
        "weights.japanese-face-v1 in the config file",
        "<cache dir>/models/JAPANESE_FACE_v1.onnx",
    ):
        assert place in recorded
    # results.json is shared: it names the places, never this machine's paths.
    for path in (str(cache), str(config), str(tmp_path)):
        assert path not in recorded
    # The run header names each model's weights file and the start of its SHA-256.
    header = [line for line in result.stderr.splitlines() if line.startswith("model standin: ")]
    assert header == [f"model standin: {TINY_ONNX} (sha256 71d8d9215f35)"]


def test_japanese_space_and_html_names_survive_end_to_end(zoo):
    run, _ = zoo
    expected = {f"images/{ODD_IDENTITY}/{name}" for name in ODD_NAMES}
    assert expected <= set(run.subset["images"])
    assert expected <= run.scored_images()
    text = (run.out / "results.json").read_text(encoding="utf-8")
    assert "山田 花子" in text and "&amp;amp;" not in text and "&lt;" not in text
    pair = [r for r in run.scores if {r["image_a"], r["image_b"]} == expected]
    assert len(pair) == 1
    assert pair[0]["identity_a"] == pair[0]["identity_b"] == ODD_IDENTITY
    assert pair[0]["label"] == "1"


# -------------------------------------------------- detection and the multi-face policy


@pytest.fixture(scope="module")
def detect_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Photos that need detection: two people twice each, one photo of both, one of nobody."""
    root = tmp_path_factory.mktemp("detect") / "data"
    made = root.parent / "made"
    made.mkdir()
    rows: list[dict[str, str]] = []
    for identity, face in ((A, corpus.JP_FACE_A), (B, corpus.JP_FACE_B)):
        for i, (at, side) in enumerate((((60, 40), None), ((150, 60), 170))):
            photo = corpus.face_on_canvas(
                made, face, canvas=(420, 320), at=at, side=side, name=f"{identity}_{i}.png"
            )
            corpus.add_image(root, rows, photo, identity)
    corpus.add_image(root, rows, corpus.faces_side_by_side(made), A)
    corpus.add_image(root, rows, corpus.blank_image(made, (420, 320)), "nobody")
    corpus.write_manifest(root, rows)
    return root


@pytest.mark.parametrize(
    ("policy", "outcome"),
    [("largest", None), ("fail", "multiple_faces"), ("skip", "multiple_faces_skipped")],
)
def test_multi_face_policy_with_align_detect(detect_set, cache, tmp_path, policy, outcome):
    run = run_roc(
        detect_set, tmp_path / "out", cache, "--align", "detect", "--multi-face", policy,
        "--sample", "0",
    )  # fmt: skip
    two = f"images/{A}/two_faces.png"
    blank = "images/nobody/blank.png"
    assert run.failure(blank) == {"image": blank, "reason": "no_face", "detail": "no face found"}
    if outcome is None:
        assert run.failure(two) is None and two in run.scored_images()
    else:
        assert run.failure(two) == {"image": two, "reason": outcome, "detail": "2 faces found"}
    assert run.model()["metrics"]["multi_face_images"] == 1
    assert f"standin: 1 image(s) with several faces (--multi-face {policy})" in run.subset["notes"]
    assert run.data["settings"]["align"] == "detect"


# ----------------------------------------------------- manifests, paths and subsets


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small") / "data"
    corpus.small_face_set(root, per_identity=2)
    return root


@pytest.fixture(scope="module")
def plain_run(small_set: Path, cache: Path, tmp_path_factory) -> Run:
    return run_roc(small_set, tmp_path_factory.mktemp("plain") / "out", cache, "--sample", "0")


def variant(small_set: Path, tmp_path: Path, text: str | bytes) -> Path:
    """A copy of the small set whose manifest is ``text``."""
    import shutil

    root = tmp_path / "data"
    shutil.copytree(small_set, root)
    manifest = root / "manifest.csv"
    if isinstance(text, bytes):
        manifest.write_bytes(text)
    else:
        manifest.write_text(text, encoding="utf-8", newline="")
    return root


def refused(root: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    (tmp_path / "face-bench.toml").write_text(config_text(), encoding="utf-8")
    result = invoke(
        ["roc", "--data", str(root), "--model", "standin", "--config",
         str(tmp_path / "face-bench.toml"), "--out", str(tmp_path / "out"), *extra]
    )  # fmt: skip
    line = one_error_line(result)
    assert not (tmp_path / "out").exists()
    return result.exit_code, line


def manifest_text(small_set: Path) -> str:
    return (small_set / "manifest.csv").read_text(encoding="utf-8")


def test_manifest_missing_a_column(small_set, tmp_path):
    lines = manifest_text(small_set).splitlines()
    text = "\n".join(",".join(line.split(",")[:1] + line.split(",")[2:]) for line in lines) + "\n"
    root = variant(small_set, tmp_path, text)
    assert refused(root, tmp_path) == (
        11,
        f"face-bench: error: {root / 'manifest.csv'}: missing column(s) ['identity']; "
        "found ['path', 'sex', 'age_group', 'japanese']",
    )


def test_manifest_with_a_duplicate_path(small_set, tmp_path):
    text = manifest_text(small_set)
    second = text.splitlines()[2]
    root = variant(small_set, tmp_path, text + second + "\n")
    first = second.split(",")[0]
    assert refused(root, tmp_path) == (
        11,
        f"face-bench: error: {root / 'manifest.csv'}: 1 duplicate path(s), first {first!r}",
    )


@pytest.mark.parametrize(
    ("kind", "encode"),
    [
        ("bom", lambda t: b"\xef\xbb\xbf" + t.encode()),
        ("crlf", lambda t: t.replace("\n", "\r\n").encode()),
    ],
)
def test_manifest_with_bom_or_windows_line_ends_works(
    small_set, plain_run, cache, tmp_path, kind, encode
):
    root = variant(small_set, tmp_path, encode(manifest_text(small_set)))
    run = run_roc(root, tmp_path / "out", cache, "--sample", "0")
    assert run.subset["images"] == plain_run.subset["images"]
    assert run.scores == plain_run.scores
    assert run.data["dataset"]["identity_source"] == "manifest"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../outside.jpg", "path leaves the dataset root: '../outside.jpg'"),
        ("images/../../outside.jpg", "path leaves the dataset root: 'images/../../outside.jpg'"),
        ("/etc/hostname", "absolute path not allowed in a dataset: '/etc/hostname'"),
        ("C:\\photos\\a.jpg", "absolute path not allowed in a dataset: 'C:\\\\photos\\\\a.jpg'"),
    ],
)
def test_manifest_path_escaping_the_root(small_set, tmp_path, path, message):
    text = manifest_text(small_set)
    n_lines = len(text.splitlines())
    root = variant(small_set, tmp_path, text + f'"{path}",{A},F,young,yes\n')
    manifest = root / "manifest.csv"
    assert refused(root, tmp_path) == (
        12,
        f"face-bench: error: {manifest}, line {n_lines + 1}: {message}",
    )


def test_symlink_pointing_outside_the_root(small_set, tmp_path):
    text = manifest_text(small_set)
    root = variant(small_set, tmp_path, text + f"images/{A}/link.png,{A},F,young,yes\n")
    (root / "images" / A / "link.png").symlink_to(corpus.JP_FACE_B)
    code, line = refused(root, tmp_path)
    assert code == 12
    assert line == (
        f"face-bench: error: {root / 'manifest.csv'}, line {len(text.splitlines()) + 1}: "
        f"path resolves outside the dataset root (symlink?): 'images/{A}/link.png'"
    )


def test_symlink_outside_in_a_folder_dataset(small_set, tmp_path):
    root = variant(small_set, tmp_path, "")
    (root / "manifest.csv").unlink()
    (root / "images" / A / "link.png").symlink_to(corpus.JP_FACE_B)
    code, line = refused(root, tmp_path)
    assert (code, line) == (
        12,
        f"face-bench: error: path resolves outside the dataset root (symlink?): "
        f"'images/{A}/link.png'",
    )


def test_empty_subset(small_set, tmp_path):
    assert refused(small_set, tmp_path, "--subset", "hostile") == (
        13,
        f"face-bench: error: subset 'hostile' selects no images in {small_set} (filters: "
        "{'identity': [\"__import__('os').system('touch pwned')\"], 'sex': ['F']})",
    )
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_unknown_subset_suggests_the_closest(small_set, tmp_path):
    assert refused(small_set, tmp_path, "--subset", "young_woman") == (
        14,
        "face-bench: error: unknown subset 'young_woman'; known: all, hostile, ordinary, "
        "young_women. Did you mean 'young_women'?",
    )


def test_unknown_model_suggests_the_closest(small_set, tmp_path):
    assert refused(small_set, tmp_path, "--model", "standn") == (
        21,
        "face-bench: error: unknown model 'standn'; known: dlib, japanese-face-v1, standin. "
        "Did you mean 'standin'?",
    )


# --------------------------------------------------------------------------- models


@pytest.fixture(scope="module")
def wrong_shape_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus.wrong_shape_onnx(tmp_path_factory.mktemp("onnx"))


def test_onnx_with_the_wrong_input_shape(small_set, tmp_path, wrong_shape_onnx):
    code, line = refused(small_set, tmp_path, "--weights", f"standin={wrong_shape_onnx}")
    assert (code, line) == (
        23,
        f"face-bench: error: {wrong_shape_onnx}: input 'input' has shape [1, 3, 112, 112]; "
        "model 'standin' (layout NCHW) expects [N, 3, 224, 224]",
    )


@pytest.mark.parametrize("content", [b"", b"this is not a protobuf\n", b"\x89PNG\r\n\x1a\n"])
def test_non_onnx_file_named_onnx(small_set, tmp_path, content):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(content)
    code, line = refused(small_set, tmp_path, "--weights", f"standin={fake}")
    assert code == 24
    assert line.startswith(f"face-bench: error: {fake}: not a loadable ONNX model (")


def test_missing_weights_of_the_only_model(small_set, tmp_path):
    (tmp_path / "face-bench.toml").write_text(config_text(), encoding="utf-8")
    result = invoke(
        ["roc", "--data", str(small_set), "--model", "japanese-face-v1", "--config",
         str(tmp_path / "face-bench.toml"), "--cache-dir", str(tmp_path / "c")]
    )  # fmt: skip
    line = one_error_line(result)
    assert result.exit_code == 25
    assert not (tmp_path / "c" / "embeddings").exists(), "nothing may be embedded first"
    assert line == (
        "face-bench: error: model 'japanese-face-v1' was asked for but cannot run: weights "
        "not found (looked in: --weights japanese-face-v1=PATH: not given; "
        "$FACE_BENCH_JAPANESE_FACE_V1: not set; "
        f"weights.japanese-face-v1 in {tmp_path / 'face-bench.toml'}: not set; "
        f"the cache dir: {tmp_path / 'c' / 'models' / 'JAPANESE_FACE_v1.onnx'} (not found)). "
        "Expected an ONNX file with input 1x3x224x224 float32 and a 512-d output. Obtain it "
        "from https://github.com/yKesamaru/FACE01_trained_models (JAPANESE FACE v1; its licence "
        "forbids redistribution, so download it yourself)."
    )


def test_explicit_weights_path_that_does_not_exist_is_not_replaced(
    small_set, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    gone = tmp_path / "gone.onnx"
    result = invoke(
        ["roc", "--data", str(small_set), "--model", "japanese-face-v1", "--weights",
         f"japanese-face-v1={gone}"],
        FACE_BENCH_JAPANESE_FACE_V1=str(TINY_ONNX),
    )  # fmt: skip
    line = one_error_line(result)
    assert result.exit_code == 25
    assert f"--weights japanese-face-v1=PATH: {gone} (not found); later places not tried" in line


@pytest.mark.parametrize("kind", ["device", "folder", "fifo"])
@pytest.mark.parametrize("how", ["--weights", "env", "config"])
def test_weights_that_are_there_but_no_regular_file_exit_32(small_set, tmp_path, kind, how):
    """/dev/zero, a folder or a named pipe as weights is there, so not "not found" (25)."""
    import os

    target = {"device": Path("/dev/zero"), "folder": tmp_path / "w", "fifo": tmp_path / "w"}[kind]
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    config = tmp_path / "face-bench.toml"
    config.write_text(config_text(), encoding="utf-8")
    args = ["roc", "--data", str(small_set), "--model", "standin", "--bootstrap", "0",
            "--config", str(config), "--out", str(tmp_path / "out")]  # fmt: skip
    env: dict[str, str | None] = {}
    if how == "--weights":
        args += ["--weights", f"standin={target}"]
    elif how == "env":
        env["FACE_BENCH_STANDIN"] = str(target)
    else:
        config.write_text(config_text(f'[weights]\nstandin = "{target}"\n'), encoding="utf-8")
    result = invoke(args, **env)
    line = one_error_line(result)
    assert result.exit_code == 32, line
    described = {"device": "a character device", "folder": "a folder", "fifo": "a named pipe"}
    assert f"{target} is {described[kind]}, not a regular file" in line
    assert "not found" not in line and not (tmp_path / "out").exists()


def test_models_lists_weights_that_are_no_regular_file(tmp_path):
    """``face-bench models`` shows the problem for that model and lists the others."""
    result = invoke(["models", "--weights", "japanese-face-v1=/dev/zero", "--cache-dir",
                     str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "/dev/zero is a character device, not a regular file" in text and "dlib" in text


def test_no_traceback_for_a_dataset_folder_that_does_not_exist(tmp_path):
    result = invoke(["roc", "--data", str(tmp_path / "nope"), "--model", "dlib"])
    assert one_error_line(result) == (
        f"face-bench: error: dataset folder not found: {tmp_path}/nope (chosen by --data); "
        "pass --data DIR or set $FACE_BENCH_DATA, or download a public set with "
        "`face-bench fetch lfw` and pass --data lfw"
    )
    assert result.exit_code == 10


def test_manifest_that_is_not_utf8(small_set, tmp_path):
    root = variant(small_set, tmp_path, manifest_text(small_set).encode("utf-16"))
    code, line = refused(root, tmp_path)
    assert code == 11 and line.startswith(f"face-bench: error: {root / 'manifest.csv'}: ")


def test_manifest_with_a_nul_byte_in_a_path(small_set, tmp_path):
    text = manifest_text(small_set) + f"images/a\x00b.png,{A},F,young,yes\n"
    root = variant(small_set, tmp_path, text)
    code, line = refused(root, tmp_path)
    assert code == 11 and "NUL character in image path" in line


def test_named_pipe_listed_in_the_manifest_is_a_failure_not_a_hang(small_set, cache, tmp_path):
    import signal

    text = manifest_text(small_set) + f"images/{A}/pipe.png,{A},F,young,yes\n"
    root = variant(small_set, tmp_path, text)
    os.mkfifo(root / "images" / A / "pipe.png")

    def hung(*_):
        raise TimeoutError("reading a named pipe blocked the run")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        run = run_roc(root, tmp_path / "out", cache, "--sample", "0")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    image = f"images/{A}/pipe.png"
    assert run.failure(image) == {
        "image": image,
        "reason": "missing",
        "detail": "file not found or unreadable",
    }


def test_every_image_failing_is_an_error_not_an_empty_report(tmp_path, cache):
    root = tmp_path / "data"
    rows: list[dict[str, str]] = []
    for identity in ("x", "y"):
        for i in range(2):
            corpus.add_image(root, rows, corpus.zero_byte_jpeg(tmp_path), identity, name=f"{i}.jpg")
    corpus.write_manifest(root, rows)
    (tmp_path / "face-bench.toml").write_text(config_text(), encoding="utf-8")
    result = invoke(
        ["roc", "--data", str(root), "--model", "standin", "--config",
         str(tmp_path / "face-bench.toml"), "--cache-dir", str(cache), "--out",
         str(tmp_path / "out"), "--bootstrap", "0"]
    )  # fmt: skip
    assert result.exit_code == 20
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "face-bench: error: subset 'all': no pair left after excluding failures to enrol: "
            "model 'standin' failed on 4 of 4 image(s) ("
        )
    )
    assert "Traceback" not in result.stderr


def test_nothing_is_written_outside_out_and_the_cache(small_set, cache, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in small_set.rglob("*"))
    run_roc(small_set, tmp_path / "out" / "run", cache, "--sample", "0")
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in small_set.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["run"]
    assert all(p.parent.name == "run" for p in (tmp_path / "out" / "run").rglob("*"))


# ------------------------------------------------------------------ no code from data


def test_the_package_never_runs_code_from_data():
    """No pickle (or kin), no eval/exec/__import__, no np.load(allow_pickle=True)."""
    import ast

    import face_bench

    unsafe_modules = {"pickle", "cPickle", "dill", "shelve", "marshal", "joblib", "yaml"}
    found = []
    for file in sorted(Path(face_bench.__file__).parent.rglob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for node in ast.walk(tree):
            where = f"{file.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                found += [
                    f"{where} imports {n}" for n in names if n.split(".")[0] in unsafe_modules
                ]
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in {"eval", "exec", "__import__"}:
                    found.append(f"{where} calls {func.id}")
                if isinstance(func, ast.Attribute) and "pickle" in func.attr:
                    found.append(f"{where} calls {func.attr}")
                for keyword in node.keywords:
                    if keyword.arg == "allow_pickle" and getattr(keyword.value, "value", 0):
                        found.append(f"{where} allow_pickle=True")
    assert found == []
