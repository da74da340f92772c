"""Tests for face_bench.data.datasets: loading, subsets, seeded samples and pairs.

Manifests and folders are written to tmp_path (image files may be empty here: loading
never decodes them); the real jp_faces_dev manifest is read in place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import JP_FACES, needs_shared
from PIL import Image

from face_bench.core.errors import (
    DatasetError,
    EmptySubsetError,
    ManifestError,
    PathEscapeError,
    UnknownSubsetError,
)
from face_bench.data.datasets import (
    BUILTIN_SUBSETS,
    _unrank_pairs,
    load_dataset,
    make_pairs,
    sample_images,
    select_subset,
    subset_spec,
)
from face_bench.data.paths import PathGuard

MANIFEST = """path,identity,sex,age_group,japanese
images/b/2.png,b,M,adult,yes
images/a/1.png,a,F,young,yes
images/a/2.png,a,F,young,yes
images/c/1.png,c,F,young,no
images/b/1.png,b,M,adult,yes
"""


def manifest_set(tmp_path: Path, text: str = MANIFEST) -> Path:
    (tmp_path / "manifest.csv").write_text(text, encoding="utf-8")
    return tmp_path


def touch(root: Path, *relative: str) -> None:
    for rel in relative:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


# ------------------------------------------------------------------------ loading


def test_manifest_is_loaded_sorted_with_every_column(tmp_path):
    dataset = load_dataset(manifest_set(tmp_path))
    table = dataset.table
    assert list(table["path"]) == sorted(table["path"])
    assert list(table.columns) == ["path", "identity", "sex", "age_group", "japanese"]
    assert table.loc[table["path"] == "images/c/1.png", "japanese"].item() == "no"
    assert dataset.identity_source == "manifest" and len(dataset) == 5
    assert dataset.digest == hashlib.sha256(MANIFEST.encode()).hexdigest()


def test_manifest_values_stay_text(tmp_path):
    text = "path,identity,age_group\nimages/0.png,007,NA\nimages/1.png,1e3,\n"
    table = load_dataset(manifest_set(tmp_path, text)).table
    assert list(table["identity"]) == ["007", "1e3"]
    assert list(table["age_group"]) == ["NA", ""]


def test_folder_identities(tmp_path):
    touch(tmp_path, "a/1.jpg", "a/2.PNG", "b/x/3.webp", "b/notes.txt", "top.jpg")
    dataset = load_dataset(tmp_path)
    assert dataset.identity_source == "folder"
    assert list(zip(dataset.table["path"], dataset.table["identity"], strict=True)) == [
        ("a/1.jpg", "a"),
        ("a/2.PNG", "a"),
        ("b/x/3.webp", "b"),  # the top-level folder: sub-folders never split a person
    ]


def test_filename_identities(tmp_path):
    touch(tmp_path, "Jane_Doe_0001.jpg", "Jane_0002.jpg", "sub/Kim_1.png")
    dataset = load_dataset(tmp_path, "filename")
    assert dataset.identity_source == "filename"
    assert dict(zip(dataset.table["path"], dataset.table["identity"], strict=True)) == {
        "Jane_0002.jpg": "Jane",
        "Jane_Doe_0001.jpg": "Jane_Doe",  # only the trailing image number is cut
        "sub/Kim_1.png": "Kim",
    }


def test_folder_mode_ignores_a_manifest_only_when_asked(tmp_path):
    manifest_set(tmp_path)
    touch(tmp_path, "z/1.jpg")
    assert load_dataset(tmp_path).identity_source == "manifest"
    assert list(load_dataset(tmp_path, "folder").table["path"]) == ["z/1.jpg"]


def test_missing_folder_empty_folder_and_missing_manifest(tmp_path):
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match=r"no manifest\.csv"):
        load_dataset(tmp_path, "manifest")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file, expected a header"),
        ("\n\n", "empty file, expected a header"),
        ("path,identity\nimages/a.png,a,extra,fields\n", "line 2: 4 field.s., the header has 2"),
        ("path,identity\nimages/a.png,a\n\nimages/b.png\n", "line 4: 1 field.s., the header"),
        ("path,identity,path\nimages/a.png,a,b\n", r"repeated column\(s\) \['path'\]"),
        ("path,who\nimages/a.png,a\n", r"missing column\(s\) \['identity'\]"),
        ("path,identity\nimages/a.png,\n", "empty 'identity' on line 2"),
        ("path,identity\n  ,a\n", "empty 'path' on line 2"),
        ("path,identity\nimages/a.png,a\n./images/a.png,b\n", "1 duplicate path"),
    ],
)
def test_malformed_manifests(tmp_path, text, message):
    with pytest.raises(ManifestError, match=message) as info:
        load_dataset(manifest_set(tmp_path, text))
    assert info.value.exit_code == 11 and str(tmp_path / "manifest.csv") in str(info.value)


def test_bom_and_windows_line_ends_load_like_plain_utf8(tmp_path):
    plain = load_dataset(manifest_set(tmp_path / "plain" if _mk(tmp_path / "plain") else tmp_path))
    for name, data in (
        ("bom", b"\xef\xbb\xbf" + MANIFEST.encode()),
        ("crlf", MANIFEST.replace("\n", "\r\n").encode()),
    ):
        _mk(tmp_path / name)
        (tmp_path / name / "manifest.csv").write_bytes(data)
        pd.testing.assert_frame_equal(load_dataset(tmp_path / name).table, plain.table)


def _mk(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


@pytest.mark.parametrize(
    ("relative", "error"),
    [
        ("../x.jpg", PathEscapeError),
        ("a/../../x.jpg", PathEscapeError),
        ("..\\x.jpg", PathEscapeError),
        ("/etc/passwd", PathEscapeError),
        ("\\\\server\\share\\x.jpg", PathEscapeError),
        ("C:\\x.jpg", PathEscapeError),
        ("D:/x.jpg", PathEscapeError),
        ("a\x00.jpg", ManifestError),
        ("   ", ManifestError),
    ],
)
def test_path_guard_refuses(tmp_path, relative, error):
    with pytest.raises(error):
        PathGuard(tmp_path).check(relative)


@pytest.mark.parametrize(
    ("relative", "normal"),
    [("./a//b.jpg", "a/b.jpg"), ("a/./b.jpg", "a/b.jpg"), ("x:y.jpg", "x:y.jpg"), ("..a", "..a")],
)
def test_path_guard_normalises(tmp_path, relative, normal):
    assert PathGuard(tmp_path).check(relative) == normal


def test_symlink_inside_the_root_is_fine_outside_is_refused(tmp_path):
    root = tmp_path / "root"
    touch(root, "a/real.jpg")
    (root / "a" / "inside.jpg").symlink_to(root / "a" / "real.jpg")
    (root / "a" / "outside.jpg").symlink_to(tmp_path)
    assert PathGuard(root).check("a/inside.jpg") == "a/inside.jpg"
    with pytest.raises(PathEscapeError, match="symlink"):
        PathGuard(root).check("a/outside.jpg")


def test_one_guard_for_many_paths_decides_as_full_resolution(tmp_path):
    """Folders resolved once, names checked one by one: the same verdict as resolving each
    whole path, through symlinked folders, symlinked files, loops and missing files."""
    root, outside = tmp_path / "root", tmp_path / "elsewhere"
    touch(root, "a/real.jpg")
    touch(outside, "x.jpg")
    (root / "in_dir").symlink_to(root / "a")
    (root / "out_dir").symlink_to(outside)
    (root / "a" / "to_real.jpg").symlink_to(root / "a" / "real.jpg")
    (root / "a" / "to_out.jpg").symlink_to(outside / "x.jpg")
    (root / "a" / "loop.jpg").symlink_to(root / "a" / "loop.jpg")
    (root / "loop_dir").symlink_to(root / "loop_dir")
    paths = [
        "a/real.jpg", "in_dir/real.jpg", "in_dir/to_real.jpg", "out_dir/x.jpg", "a/to_out.jpg",
        "in_dir/to_out.jpg", "a/missing.jpg", "missing/dir/x.jpg", "a/loop.jpg",
        "loop_dir/x.jpg", "top.jpg", "./a/real.jpg",
    ]  # fmt: skip

    def whole(relative):  # every path resolved on its own, component by component
        try:
            inside = (root / relative).resolve().is_relative_to(root.resolve())
        except RuntimeError:  # a symlink loop (Python 3.11)
            return ManifestError
        return None if inside else PathEscapeError

    guard = PathGuard(root)
    for relative in paths:
        error = whole(relative)
        if error is None:
            assert guard.check(relative) == Path(relative).as_posix()
        else:
            with pytest.raises(error):
                guard.check(relative)
    assert guard.check("in_dir/real.jpg") == "in_dir/real.jpg"
    with pytest.raises(PathEscapeError):
        guard.check("out_dir/x.jpg")
    with pytest.raises(ManifestError, match="symlink loop"):
        guard.check("a/loop.jpg")


# ------------------------------------------------------------------------ subsets


def test_builtin_subsets(tmp_path):
    dataset = load_dataset(manifest_set(tmp_path))
    assert set(BUILTIN_SUBSETS) == {"all", "ordinary", "young_women"}
    assert len(select_subset(dataset, subset_spec("all"))) == 5
    ordinary = select_subset(dataset, subset_spec("ordinary"))
    # Japanese and not a young woman: person a (a young Japanese woman) is left out.
    assert list(ordinary["path"]) == ["images/b/1.png", "images/b/2.png"]
    young = select_subset(dataset, subset_spec("young_women"))
    assert list(young["identity"]) == ["a", "a"]


def test_optional_column_is_skipped_when_absent(tmp_path):
    text = "path,identity,sex,age_group\nimages/a.png,a,F,young\nimages/b.png,b,M,young\n"
    dataset = load_dataset(manifest_set(tmp_path, text))
    spec = subset_spec("young_women")
    assert list(select_subset(dataset, spec)["identity"]) == ["a"]
    assert spec.definition(list(dataset.table.columns)) == {"sex": ["F"], "age_group": ["young"]}
    # No japanese column: ordinary is everyone who is not a young woman.
    assert list(select_subset(dataset, subset_spec("ordinary"))["identity"]) == ["b"]


def test_required_column_absent_is_an_empty_subset(tmp_path):
    dataset = load_dataset(manifest_set(tmp_path, "path,identity\nimages/a.png,a\n"))
    with pytest.raises(EmptySubsetError, match="filters on column 'sex'") as info:
        select_subset(dataset, subset_spec("young_women"))
    assert info.value.exit_code == 13


def test_config_subsets_win_and_are_plain_value_matches(tmp_path):
    dataset = load_dataset(manifest_set(tmp_path))
    user = {
        "young_women": {"identity": ["c"]},
        "men": {"sex": ["M"]},
        "code": {"identity": ["__import__('os').getcwd()", "a' or '1'='1"]},
    }
    assert list(select_subset(dataset, subset_spec("young_women", user))["identity"]) == ["c"]
    assert set(select_subset(dataset, subset_spec("men", user))["identity"]) == {"b"}
    with pytest.raises(EmptySubsetError, match="selects no images"):
        select_subset(dataset, subset_spec("code", user))


def test_unknown_subset_suggests_a_close_name():
    with pytest.raises(UnknownSubsetError, match="Did you mean 'young_women'") as info:
        subset_spec("young-women", {"elders": {"age_group": ["older"]}})
    assert "known: all, elders, ordinary, young_women" in str(info.value)
    assert info.value.exit_code == 14


@needs_shared
def test_real_set_subsets():
    dataset = load_dataset(JP_FACES)
    assert len(dataset) == 1016 and dataset.table["identity"].nunique() == 42
    young = select_subset(dataset, subset_spec("young_women"))
    assert len(young) == 225 and young["identity"].nunique() == 8


# ------------------------------------------------------------------------ samples


def pool(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame(
        {"path": [f"img/{i:03d}.png" for i in range(n)], "identity": [str(i % 7) for i in range(n)]}
    )


def test_sampling_is_seeded_sorted_and_reproducible():
    first = sample_images(pool(), 12, seed=3)
    assert len(first) == 12 and list(first["path"]) == sorted(first["path"])
    pd.testing.assert_frame_equal(first, sample_images(pool(), 12, seed=3))
    assert list(sample_images(pool(), 12, seed=4)["path"]) != list(first["path"])
    # The input order does not matter, only its content and the seed.
    shuffled = pool().sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert sample_images(shuffled.sort_values("path").reset_index(drop=True), 12, 3).equals(first)


@pytest.mark.parametrize("size", [None, 50, 80])
def test_sampling_at_or_over_the_pool_size_takes_everything(size):
    assert list(sample_images(pool(), size, seed=0)["path"]) == list(pool()["path"])


# ------------------------------------------------------------------------ pairs


def test_all_pairs():
    pairs = make_pairs(np.array(["a", "a", "b", "a"]))
    assert len(pairs) == 6
    assert list(zip(pairs.a, pairs.b, strict=True)) == [
        (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)
    ]  # fmt: skip
    assert list(pairs.label) == [True, False, True, False, True, False]
    assert (pairs.n_genuine, pairs.n_impostor) == (3, 3)


def test_random_pairs_are_distinct_reproducible_and_labelled():
    identities = np.array([str(i % 9) for i in range(120)])
    pairs = make_pairs(identities, n_pairs=500, seed=5)
    keys = set(zip(pairs.a.tolist(), pairs.b.tolist(), strict=True))
    assert len(pairs) == len(keys) == 500
    assert all(a < b for a, b in keys)
    assert np.array_equal(pairs.label, identities[pairs.a] == identities[pairs.b])
    again = make_pairs(identities, n_pairs=500, seed=5)
    assert np.array_equal(again.a, pairs.a) and np.array_equal(again.b, pairs.b)
    other = make_pairs(identities, n_pairs=500, seed=6)
    assert set(zip(other.a.tolist(), other.b.tolist(), strict=True)) != keys


def test_asking_for_more_pairs_than_exist_gives_all():
    assert len(make_pairs(np.array(list("aabb")), n_pairs=100)) == 6


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_images_make_no_pair(n):
    with pytest.raises(EmptySubsetError, match="make no pair"):
        make_pairs(np.array(["a"] * n))


@pytest.mark.parametrize("n", [2, 3, 7, 64, 1001])
def test_unranking_matches_the_row_major_upper_triangle(n):
    a, b = np.triu_indices(n, k=1)
    got_a, got_b = _unrank_pairs(np.arange(n * (n - 1) // 2), n)
    assert np.array_equal(got_a, a) and np.array_equal(got_b, b)


def test_a_folder_dataset_skips_face_benchs_own_runs_and_hidden_folders(tmp_path):
    from corpus import pattern

    root = tmp_path / "checkout"
    for person in ("ann", "bob"):
        (root / person).mkdir(parents=True)
        pattern().save(root / person / "1.png")
    run = root / "reports" / "faces-all-20260101-000000"
    run.mkdir(parents=True)
    pattern().save(run / "roc.png")
    (run / "results.json").write_text("{}", encoding="utf-8")
    (root / ".venv" / "lib").mkdir(parents=True)
    pattern().save(root / ".venv" / "lib" / "icon.png")
    dataset = load_dataset(root, "folder")
    assert list(dataset.table["path"]) == ["ann/1.png", "bob/1.png"]


# ---------------------------------------------------------------- built-in subsets


@needs_shared
def test_builtin_ordinary_and_young_women_share_no_image():
    dataset = load_dataset(JP_FACES)
    ordinary = select_subset(dataset, subset_spec("ordinary"))
    young = select_subset(dataset, subset_spec("young_women"))
    assert set(ordinary["path"]).isdisjoint(young["path"])
    assert set(ordinary["identity"]).isdisjoint(young["identity"])
    assert (ordinary["japanese"] == "yes").all()
    assert not ((ordinary["sex"] == "F") & (ordinary["age_group"] == "young")).any()
    # Every Japanese row is in exactly one of the two.
    japanese = dataset.table[dataset.table["japanese"] == "yes"]
    assert len(ordinary) + len(young) == len(japanese)
    definition = subset_spec("ordinary").definition(list(dataset.table.columns))
    assert definition == {"japanese": ["yes"], "not": ["sex=F", "age_group=young"]}


def test_ordinary_without_demographic_columns_is_every_japanese_row(tmp_path):
    (tmp_path / "manifest.csv").write_text("path,identity,japanese\na.png,a,yes\nb.png,b,no\n")
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
    dataset = load_dataset(tmp_path)
    assert list(select_subset(dataset, subset_spec("ordinary"))["path"]) == ["a.png"]
    assert "not" not in subset_spec("ordinary").definition(list(dataset.table.columns))


def test_overlapping_subsets_are_reported():
    from face_bench.run.evidence import overlap_notes, overlaps

    a = pd.DataFrame({"path": ["1", "2", "3"], "identity": ["x", "x", "y"]})
    b = pd.DataFrame({"path": ["3", "4"], "identity": ["y", "z"]})
    c = pd.DataFrame({"path": ["9"], "identity": ["q"]})
    shared = overlaps({"a": a, "b": b, "c": c})
    assert [o.model_dump() for o in shared["a"]] == [
        {"subset": "b", "shared_images": 1, "of_images": 3, "shared_people": 1}
    ]
    assert shared["b"][0].subset == "a" and shared["c"] == []
    assert (
        "shares 1 of its 3 sampled images (1 people) with subset 'b'"
        in overlap_notes("a", shared["a"])[0]
    )


# --- symlink loops and negative seeds are one-line errors ---------------------------------


def test_symlink_loop_in_a_manifest_is_a_manifest_error(tmp_path):
    from face_bench.core.errors import ManifestError

    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for listed in ("loop.jpg", "a/x.jpg"):
        (tmp_path / "manifest.csv").write_text(f"path,identity\n{listed},p\n", encoding="utf-8")
        with pytest.raises(ManifestError, match="symlink loop"):
            load_dataset(tmp_path)


def test_symlink_loop_in_a_folder_dataset_is_skipped(tmp_path):
    person = tmp_path / "person"
    person.mkdir()
    Image.new("RGB", (8, 8)).save(person / "x.png")
    (person / "loop.png").symlink_to(person / "loop.png")
    assert list(load_dataset(tmp_path).table["path"]) == ["person/x.png"]


@pytest.mark.parametrize("seed", [-1, -(2**70)])
def test_negative_seed_is_refused(seed):
    from face_bench.core.errors import DatasetError
    from face_bench.data.datasets import make_pairs, sample_images

    table = pd.DataFrame({"path": ["a", "b", "c"], "identity": ["x", "x", "y"]})
    with pytest.raises(DatasetError, match="seed"):
        sample_images(table, 2, seed)
    with pytest.raises(DatasetError, match="seed"):
        make_pairs(np.array(["x", "x", "y"]), 1, seed)


def test_negative_seed_on_the_command_line_is_a_usage_error(tmp_path):
    from typer.testing import CliRunner

    from face_bench.cli.app import app

    result = CliRunner().invoke(app, ["roc", "--data", str(tmp_path), "--seed", "-3"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "--seed" in result.output


# --- identity rules: explicit, documented, never empty -------------------------------------


def test_year_folders_never_merge_people(tmp_path):
    touch(tmp_path, "person1/2019/a.jpg", "person2/2019/a.jpg", "person1/2020/b.jpg")
    table = load_dataset(tmp_path).table
    assert dict(zip(table["path"], table["identity"], strict=True)) == {
        "person1/2019/a.jpg": "person1",
        "person1/2020/b.jpg": "person1",
        "person2/2019/a.jpg": "person2",
    }


@pytest.mark.parametrize(
    ("name", "identity"),
    [("Abel_Pacheco_0001", "Abel_Pacheco"), ("尾野真千子_1", "尾野真千子"), ("alice", "alice"),
     ("bob-12", "bob"), ("x_y_z", "x_y_z")],
)  # fmt: skip
def test_default_filename_rule(tmp_path, name, identity):
    touch(tmp_path, f"{name}.jpg")
    assert list(load_dataset(tmp_path, "filename").table["identity"]) == [identity]


@pytest.mark.parametrize("name", ["_0001", "0001", "_", " _2"])
def test_empty_identity_from_a_file_name_is_refused(tmp_path, name):
    touch(tmp_path, f"{name}.jpg")
    with pytest.raises(DatasetError, match="empty identity"):
        load_dataset(tmp_path, "filename")


def test_identity_pattern(tmp_path):
    touch(tmp_path, "id-42_photo3.jpg", "id-7_photo1.jpg")
    table = load_dataset(tmp_path, "filename", r"^id-(?P<identity>\d+)_").table
    assert list(table["identity"]) == ["42", "7"]
    table = load_dataset(tmp_path, "auto", r"^id-(\d+)").table
    assert list(table["identity"]) == ["42", "7"]


@pytest.mark.parametrize(
    ("pattern", "words"), [("(", "not a valid regex"), ("^zz", "does not match")]
)
def test_bad_identity_pattern(tmp_path, pattern, words):
    touch(tmp_path, "a_1.jpg")
    with pytest.raises(DatasetError, match=words):
        load_dataset(tmp_path, "filename", pattern)


def test_blank_manifest_identity_is_refused(tmp_path):
    with pytest.raises(ManifestError, match="empty 'identity'"):
        load_dataset(manifest_set(tmp_path, "path,identity\nimages/0.png,  \n"))
