"""Tests for face_bench.data.protocols and face_bench.results.scorefile.

The real protocol files under ../shared/datasets are read in place; everything else is
written to tmp_path. Metric code is checked against brute-force references.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import DEEPFACE, LFW, needs_shared
from hypothesis import given, settings
from hypothesis import strategies as st
from score_formats import read_bob, read_pyeer

from face_bench.core.errors import (
    ConfigError,
    MetricError,
    PairsFileError,
    PathEscapeError,
    ResultsError,
)
from face_bench.data.protocols import (
    ListedPair,
    best_accuracy_threshold,
    kfold_accuracy,
    lfw_image_path,
    parse_label,
    parse_lfw_pairs,
    parse_pairs_csv,
    resolve_pair_paths,
)
from face_bench.results.scorefile import (
    ScoreRow,
    bob_token,
    read_score_file,
    write_bob,
    write_pyeer,
    write_score_file,
)

needs_data = needs_shared


def write(tmp_path: Path, text: str, name: str = "pairs.txt", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def lfw_text(n_per: int, n_folds: int, header: str | None = None) -> str:
    lines = [header if header is not None else f"{n_folds}\t{n_per}"]
    for fold in range(n_folds):
        lines += [f"P{fold}_{i}\t1\t2" for i in range(n_per)]
        lines += [f"P{fold}_{i}\t1\tQ{fold}_{i}\t3" for i in range(n_per)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- LFW pairs.txt


@needs_data
def test_lfw_fold1_pairs_parse_and_every_image_exists():
    pairs = parse_lfw_pairs(LFW / "protocol" / "pairs.txt")
    assert len(pairs) == 600
    assert {p.fold for p in pairs} == {1}
    assert [p.label for p in pairs] == [True] * 300 + [False] * 300
    assert pairs[0].path_a == "Abel_Pacheco/Abel_Pacheco_0001.jpg"
    assert pairs[0].path_b == "Abel_Pacheco/Abel_Pacheco_0004.jpg"
    assert pairs[-1].identity_a == "Tina_Fey" and pairs[-1].identity_b == "Todd_Parrott"
    assert all((p.identity_a == p.identity_b) == p.label for p in pairs)
    missing = [
        path
        for p in pairs
        for path in (p.path_a, p.path_b)
        if not (LFW / "images" / path).is_file()
    ]
    assert missing == []


def test_lfw_two_number_header_ten_folds(tmp_path):
    pairs = parse_lfw_pairs(write(tmp_path, lfw_text(3, 10)))
    assert len(pairs) == 60
    assert [p.fold for p in pairs] == [f for f in range(1, 11) for _ in range(6)]
    assert pairs[3].path_a == "P0_0/P0_0_0001.jpg" and pairs[3].path_b == "Q0_0/Q0_0_0003.jpg"


def test_lfw_single_number_header_implies_ten_folds(tmp_path):
    pairs = parse_lfw_pairs(write(tmp_path, lfw_text(2, 10, header="2")))
    assert len(pairs) == 40 and max(p.fold for p in pairs) == 10


def test_lfw_single_number_header_with_one_set_is_one_fold(tmp_path):
    # LFW's pairsDevTrain.txt: header "1100" then 1100 + 1100 lines, no folds.
    pairs = parse_lfw_pairs(write(tmp_path, lfw_text(4, 1, header="4")))
    assert len(pairs) == 8 and {p.fold for p in pairs} == {1}


def test_lfw_names_with_punctuation_crlf_and_trailing_blank_lines(tmp_path):
    text = "1 1\r\nJean-Francois_O'Neil 1 12\r\nA_B 2 Chang_Dae-whan 10\r\n\r\n\r\n"
    pairs = parse_lfw_pairs(write(tmp_path, text))
    assert pairs[0].path_b == "Jean-Francois_O'Neil/Jean-Francois_O'Neil_0012.jpg"
    assert pairs[1].path_b == lfw_image_path("Chang_Dae-whan", 10)
    assert pairs[1].path_b == "Chang_Dae-whan/Chang_Dae-whan_0010.jpg"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("1\t2\nA 1 2\nB 1 C 2\nD 1 2\nE 1 F 2\n", 3, "same-person"),  # diff line too early
        ("1\t1\nA 1 2\nB 1 2\n", 3, "different-person"),
        ("1\t2\nA 1 2\nB 1 3\nC 1 D 2\n", 4, "ends after 3"),
        ("1\t1\nA 1 2\nB 1 C 2\nD 1 2\n", 4, "extra line"),
        ("1\t1\nA 1 x\nB 1 C 2\n", 2, "'x' is not a positive integer"),
        ("1\t1\nA 0 2\nB 1 C 2\n", 2, "'0' is not a positive integer"),
        ("1\t1\nA 3 3\nB 1 C 2\n", 2, "with itself"),
        ("1\t1\nA 1 2\nB 1 B 2\n", 3, "names 'B' twice"),
        ("ten\t300\n", 1, "header"),
        ("1\t1\nA 1 2\n\nB 1 C 2\n", 3, "got 0 fields"),
    ],
)
def test_lfw_errors_name_the_file_and_exact_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(PairsFileError) as exc:
        parse_lfw_pairs(path)
    message = str(exc.value)
    assert f"{path} line {line}:" in message and words in message
    assert "\n" not in message


def test_lfw_name_leaving_the_root_is_a_path_escape(tmp_path):
    with pytest.raises(PathEscapeError, match="line 2"):
        parse_lfw_pairs(write(tmp_path, "1\t1\n.. 1 2\nB 1 C 2\n"))


def test_lfw_missing_file_is_a_pairs_file_error(tmp_path):
    with pytest.raises(PairsFileError, match="cannot read"):
        parse_lfw_pairs(tmp_path / "nope.txt")


# --------------------------------------------------------------------------- pair-list CSV


def manifest_paths_and_identities(root: Path) -> tuple[list[str], list[str]]:
    with (root / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["path"] for r in rows], [r["identity"] for r in rows]


@needs_data
def test_deepface_master_csv_parses_and_resolves_against_the_manifest():
    listed = parse_pairs_csv(DEEPFACE / "protocol" / "master.csv")
    s = listed.summary
    assert (s.n_rows, s.n_pairs, s.n_genuine, s.n_impostor) == (300, 300, 38, 262)
    assert (s.n_duplicates, s.n_self_pairs) == (0, 0)
    assert s.header == ("file_x", "file_y", "Decision")
    assert listed.pairs[0] == ListedPair("img20.jpg", "img21.jpg", True, 2)

    known, identities = manifest_paths_and_identities(DEEPFACE)
    resolved = resolve_pair_paths(listed.pairs, known, source="master.csv")
    assert len(resolved) == 300
    assert known[resolved[0][0]] == "images/deepface_id07/img20.jpg"
    # The file's Yes/No agrees with the manifest's identities on every pair.
    assert all((identities[a] == identities[b]) == label for a, b, label in resolved)
    assert len({i for a, b, _ in resolved for i in (a, b)}) == 25


def test_bom_crlf_quotes_japanese_and_html_characters(tmp_path):
    text = (
        "\ufeffImage_A,IMAGE_B,Label\r\n"
        '"people/山田 花子/a,1.png","people/<b>&amp;\'x\'</b>/b.png", Yes \r\n'
        '"say ""hi"".jpg",c.jpg,no\r\n'
    )
    listed = parse_pairs_csv(write(tmp_path, text, "p.csv"))
    assert listed.pairs == [
        ListedPair("people/山田 花子/a,1.png", "people/<b>&amp;'x'</b>/b.png", True, 2),
        ListedPair('say "hi".jpg', "c.jpg", False, 3),
    ]
    assert listed.summary.header == ("Image_A", "IMAGE_B", "Label")


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("img1,img2,label", "a.jpg,b.jpg,1"),
        ("file_x,file_y,decision,VGG-Face_cosine", "a.jpg,b.jpg,yes,0.2"),
        ("score,Image A,image-b,is_same", "0.5,a.jpg,b.jpg,true"),
        (None, "a.jpg,b.jpg,same"),
    ],
)
def test_header_aliases_extra_columns_and_headerless(tmp_path, header, row):
    text = (f"{header}\n" if header else "") + row + "\n"
    listed = parse_pairs_csv(write(tmp_path, text, "p.csv"))
    assert [(p.path_a, p.path_b, p.label) for p in listed.pairs] == [("a.jpg", "b.jpg", True)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("path,other,thing\na.jpg,b.jpg,1\n", "no header"),
        ("image_a,image_b,score\na.jpg,b.jpg,1\n", "no column for label"),
        ("image_a,image_b,label,Decision\na.jpg,b.jpg,1,1\n", "several columns for label"),
    ],
)
def test_unusable_headers(tmp_path, text, words):
    with pytest.raises(PairsFileError, match=f"line 1: .*{words}"):
        parse_pairs_csv(write(tmp_path, text, "p.csv"))


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        ("Yes", True),
        ("No", False),
        ("y", True),
        ("N", False),
        ("same", True),
        ("Different", False),
        ("match", True),
        ("Non-Match", False),
        ("  yes\t", True),
        ("1.0", True),
    ],
)
def test_label_spellings(spelling, expected):
    assert parse_label(spelling) is expected


@pytest.mark.parametrize("bad", ["2", "maybe", "", "yess", "-1"])
def test_bad_label_names_the_line(tmp_path, bad):
    text = f"image_a,image_b,label\na.jpg,b.jpg,1\nc.jpg,d.jpg,{bad}\n"
    path = write(tmp_path, text, "p.csv")
    with pytest.raises(PairsFileError, match=rf"p\.csv line 3: label '{bad}' is not one of"):
        parse_pairs_csv(path)


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "C:\\faces\\a.jpg", "../a.jpg", "x/../../a.jpg", "..\\a.jpg"]
)
def test_paths_leaving_the_root(tmp_path, bad):
    text = f'image_a,image_b,label\na.jpg,"{bad}",1\n'
    with pytest.raises(PathEscapeError, match=r"p\.csv line 2: "):
        parse_pairs_csv(write(tmp_path, text, "p.csv"))


def test_paths_are_normalised_inside_the_root(tmp_path):
    text = "image_a,image_b,label\n./x/../a.jpg,dir\\b.jpg,1\n"
    listed = parse_pairs_csv(write(tmp_path, text, "p.csv"))
    assert (listed.pairs[0].path_a, listed.pairs[0].path_b) == ("a.jpg", "dir/b.jpg")


def test_duplicates_and_self_pairs_are_counted_and_skipped(tmp_path):
    text = (
        "image_a,image_b,label\n"
        "a.jpg,b.jpg,1\n"
        "b.jpg,a.jpg,yes\n"  # same unordered pair
        "a.jpg,a.jpg,1\n"  # image with itself
        "c.jpg,d.jpg,0\n"
        "a.jpg,b.jpg,1\n"
        "\n"
        ",,\n"
    )
    listed = parse_pairs_csv(write(tmp_path, text, "p.csv"))
    s = listed.summary
    assert [p.line for p in listed.pairs] == [2, 5]
    assert (s.n_rows, s.n_pairs, s.n_duplicates, s.n_self_pairs) == (5, 2, 2, 1)
    assert s.duplicate_lines == (3, 6) and s.self_pair_lines == (4,)


def test_duplicate_with_opposite_label_is_an_error(tmp_path):
    text = "image_a,image_b,label\na.jpg,b.jpg,1\nb.jpg,a.jpg,no\n"
    with pytest.raises(PairsFileError, match=r"line 3: .*repeats line 2 with the other label"):
        parse_pairs_csv(write(tmp_path, text, "p.csv"))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no rows"),
        ("image_a,image_b,label\n", "no usable pairs"),
        ("image_a,image_b,label\na.jpg,b.jpg\n", "line 2: expected 3 fields"),
        ("image_a,image_b,label\n ,b.jpg,1\n", "line 2: empty image path"),
    ],
)
def test_empty_and_short_files(tmp_path, text, words):
    with pytest.raises(PairsFileError, match=words):
        parse_pairs_csv(write(tmp_path, text, "p.csv"))


def test_non_utf8_file(tmp_path):
    path = write(tmp_path, "image_a,image_b,label\n山田.jpg,b.jpg,1\n", "p.csv", "shift_jis")
    with pytest.raises(PairsFileError, match="not UTF-8"):
        parse_pairs_csv(path)


KNOWN = [
    "images/alice/img1.jpg",
    "images/bob/img1.jpg",
    "images/bob/img2.jpg",
    "images/carol/only.jpg",
    unicodedata.normalize("NFD", "images/山田/が.png"),
]


def pair(a: str, b: str, label: bool = True, line: int = 2) -> ListedPair:
    return ListedPair(a, b, label, line)


def test_resolution_exact_then_basename_then_suffix():
    pairs = [
        pair("images/bob/img2.jpg", "only.jpg"),  # exact, basename
        pair("alice/img1.jpg", "bob/img1.jpg", False),  # suffixes (basename is ambiguous)
        pair("elsewhere/only.jpg", "images/山田/が.png"),  # unique basename; NFC vs NFD
    ]
    assert resolve_pair_paths(pairs, KNOWN) == [(2, 3, True), (0, 1, False), (3, 4, True)]


def test_unknown_and_ambiguous_names_are_listed_up_to_five():
    pairs = [pair(f"missing{i}.jpg", "img2.jpg") for i in range(7)]
    pairs.append(pair("img1.jpg", "img2.jpg"))
    with pytest.raises(PairsFileError) as exc:
        resolve_pair_paths(pairs, KNOWN, source="list.csv")
    message = str(exc.value)
    assert message.startswith("list.csv: 7 name(s) match no dataset image (missing0.jpg")
    assert "missing4.jpg, ..." in message and "missing5.jpg" not in message
    assert "1 name(s) match several (img1.jpg)" in message


def test_two_names_for_the_same_image_is_an_error():
    with pytest.raises(PairsFileError, match=r"line 9: .*same dataset image"):
        resolve_pair_paths([pair("only.jpg", "carol/only.jpg", line=9)], KNOWN)


# --------------------------------------------------------------------------- k-fold accuracy


def brute_best_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Best accuracy of `score > t` over every t that splits the scores differently."""
    values = sorted(set(scores.tolist()))
    cuts = [-math.inf] + [(a + b) / 2 for a, b in itertools.pairwise(values)] + [math.inf]
    best = 0
    for t in cuts:
        best = max(best, sum((s > t) == y for s, y in zip(scores, labels, strict=True)))
    return best / len(scores)


@pytest.mark.parametrize("seed", range(20))
def test_best_threshold_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    labels = rng.random(n) < 0.4
    scores = np.round(rng.normal(labels * 1.0, 1.0), 1)  # rounding makes ties
    threshold, accuracy = best_accuracy_threshold(scores, labels)
    assert accuracy == pytest.approx(brute_best_accuracy(scores, labels))
    assert np.mean((scores > threshold) == labels) == pytest.approx(accuracy)


def test_best_threshold_ties_go_to_the_strictest_and_ends_are_infinite():
    # 0.2 | 0.5 | 0.9 : cutting at 0.35 or 0.7 both give 2/3; the higher one wins.
    assert best_accuracy_threshold(np.array([0.2, 0.5, 0.9]), np.array([0, 1, 1], bool))[0] == (
        pytest.approx(0.35)
    )
    thr, acc = best_accuracy_threshold(np.array([0.2, 0.5, 0.9]), np.array([0, 0, 1], bool))
    assert (thr, acc) == (pytest.approx(0.7), 1.0)
    assert best_accuracy_threshold(np.array([0.3, 0.1]), np.array([1, 1], bool)) == (-np.inf, 1.0)
    assert best_accuracy_threshold(np.array([0.3, 0.1]), np.array([0, 0], bool)) == (np.inf, 1.0)
    thr, _ = best_accuracy_threshold(np.array([-1e308, 1e308]), np.array([0, 1], bool))
    assert thr == 0.0


def naive_kfold(scores, labels, folds):
    accs = []
    for f in sorted(set(folds.tolist())):
        train = folds != f
        values = sorted(set(scores[train].tolist()))
        cuts = [-math.inf] + [(a + b) / 2 for a, b in itertools.pairwise(values)] + [math.inf]
        hits = [np.sum((scores[train] > t) == labels[train]) for t in cuts]
        t = cuts[max(i for i, h in enumerate(hits) if h == max(hits))]
        accs.append(np.mean((scores[folds == f] > t) == labels[folds == f]))
    return accs


@pytest.mark.parametrize("seed", range(10))
def test_kfold_matches_a_naive_loop(seed):
    rng = np.random.default_rng(seed)
    folds = np.repeat(np.arange(1, 11), 12)
    labels = np.tile(np.repeat([True, False], 6), 10)
    scores = np.round(rng.normal(labels * 1.5, 1.0), 1)
    result = kfold_accuracy(scores, labels, folds)
    expected = naive_kfold(scores, labels, folds)
    assert result.folds == tuple(range(1, 11))
    assert result.accuracies == pytest.approx(expected)
    assert result.mean == pytest.approx(np.mean(expected))
    assert result.std == pytest.approx(np.std(expected)) and result.ddof == 0
    assert result.cross_validated and result.note is None
    for f, t, acc in zip(result.folds, result.thresholds, result.accuracies, strict=True):
        held = folds == f
        assert np.mean((scores[held] > t) == labels[held]) == pytest.approx(acc)


def test_single_fold_is_flagged_as_not_cross_validated():
    scores = np.array([0.9, 0.8, 0.3, 0.6, 0.1, 0.2])
    labels = np.array([1, 1, 1, 0, 0, 0], bool)
    result = kfold_accuracy(scores, labels, np.ones(6, int))
    assert result.cross_validated is False
    assert result.note.startswith("cross-validation needs several folds")
    assert result.std is None
    assert result.accuracies == (pytest.approx(5 / 6),) and result.thresholds == (0.7,)


def test_failed_pairs_count_as_errors_or_are_excluded():
    scores = np.array([0.9, 0.8, np.nan, 0.1, 0.02, 0.95, 0.7, 0.6, 0.05, np.nan])
    labels = np.array([1, 1, 1, 0, 0, 1, 1, 1, 0, 0], bool)
    folds = np.array([1] * 5 + [2] * 5)
    failed = np.isnan(scores)
    counted = kfold_accuracy(scores, labels, folds, failed)
    excluded = kfold_accuracy(scores, labels, folds, failed, on_fail="exclude")
    assert counted.accuracies == (pytest.approx(4 / 5), pytest.approx(4 / 5))
    assert excluded.accuracies == (1.0, 1.0)
    assert counted.thresholds == excluded.thresholds
    assert (counted.n_failed, counted.on_fail) == (2, "error")
    with pytest.raises(MetricError, match="NaN or infinite"):
        kfold_accuracy(scores, labels, folds)


def test_kfold_refuses_what_it_cannot_score():
    with pytest.raises(MetricError, match="no pairs"):
        kfold_accuracy(np.array([]), np.array([], bool), np.array([], int))
    with pytest.raises(MetricError, match="fold 3: every pair failed"):
        kfold_accuracy(
            np.array([0.9, 0.1, 0.5, 0.4]),
            np.array([1, 0, 1, 0], bool),
            np.array([1, 1, 2, 3]),
            np.array([0, 0, 0, 1], bool),
            on_fail="exclude",
        )
    with pytest.raises(ValueError, match="same length"):
        kfold_accuracy(np.zeros(3), np.zeros(2, bool), np.zeros(3))
    with pytest.raises(ConfigError, match=r"on_fail .* must be one of"):
        kfold_accuracy(np.zeros(2), np.zeros(2, bool), np.zeros(2), on_fail="drop")


# --------------------------------------------------------------------------- score export


def pyeer_reference_eer(gen: np.ndarray, imp: np.ndarray) -> float:
    """pyeer's EER rule, recomputed by counting at every pooled distinct score.

    Accept when score >= t. With FMR falling and FNMR rising along the thresholds, take
    the first t where FMR <= FNMR and the one before it (unless FMR == FNMR there or it
    is the first); of the two, the one with the smaller FMR + FNMR (the earlier on a
    tie) gives EER = (FMR + FNMR) / 2.
    """
    thresholds = sorted(set(gen.tolist()) | set(imp.tolist()))
    fmr = [sum(s >= t for s in imp) / len(imp) for t in thresholds]
    fnmr = [sum(s < t for s in gen) / len(gen) for t in thresholds]
    t2 = next(i for i in range(len(thresholds)) if fmr[i] <= fnmr[i])
    t1 = t2 - 1 if fmr[t2] != fnmr[t2] and t2 != 0 else t2
    best = t1 if fmr[t1] + fnmr[t1] <= fmr[t2] + fnmr[t2] else t2
    return (fmr[best] + fnmr[best]) / 2


@pytest.mark.parametrize("seed", range(12))
def test_pyeer_on_exported_files_matches_a_brute_force_eer(tmp_path, seed):
    from pyeer import eer_info
    from pyeer.eer_info import get_eer_stats

    rng = np.random.default_rng(seed)
    gen = rng.normal(1.0, 1.0, int(rng.integers(1, 60)))
    imp = rng.normal(0.0, 1.0, int(rng.integers(1, 200)))
    if seed % 2:
        gen, imp = np.round(gen, 1), np.round(imp, 1)  # ties within and across classes
    gen_path, imp_path = write_pyeer(tmp_path, "tiny/512 random", gen, imp)
    assert gen_path.name == "tiny_512_random_genuine.txt"

    load = getattr(eer_info, "__get_score")  # pyeer's own line parser
    with gen_path.open() as fh:
        gen_read = [load(line) for line in fh]
    with imp_path.open() as fh:
        imp_read = [load(line) for line in fh]
    assert np.array_equal(gen_read, gen) and np.array_equal(imp_read, imp)
    assert np.array_equal(read_pyeer(gen_path), np.loadtxt(gen_path, ndmin=1))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyeer warns when the AUC is below 0.5
        stats = get_eer_stats(gen_read, imp_read)
    assert stats.eer == pytest.approx(pyeer_reference_eer(gen, imp), abs=1e-6)


def test_pyeer_export_refuses_nan_and_empty(tmp_path):
    with pytest.raises(ValueError, match="finite"):
        write_pyeer(tmp_path, "m", [0.5, np.nan], [0.1])
    with pytest.raises(ValueError, match="no impostor scores"):
        write_pyeer(tmp_path, "m", [0.5], [])


ROWS = [
    ScoreRow(
        "images/山田 花子/a.png", "images/山田 花子/b.png", "山田 花子", "山田 花子", True, 0.8125
    ),
    ScoreRow("images/x/1.png", "images/#y/2 3.png", "x", "#y", False, -0.1, fold=2),
    ScoreRow('q/"a",b.png', "q/c.png", 'O"Neil, A', "Z", False, 1e-17, fold=None),
]


def test_bob_round_trip_keeps_genuine_flags_and_scores(tmp_path):
    path = write_bob(tmp_path / "scores-dev", ROWS)
    back = read_bob(path)
    assert [b.genuine for b in back] == [r.label for r in ROWS]
    assert [b.score for b in back] == [r.score for r in ROWS]
    assert back[0].reference_id == "山田_花子" and back[0].probe_key == "images/山田_花子/b.png"
    assert back[1].probe_id == "_#y"
    for line in path.read_text(encoding="utf-8").splitlines():
        assert len(line.split()) == 4 and len(line.split(" ")) == 4


def test_bob_refuses_merged_identities_and_labels_it_cannot_express(tmp_path):
    merged = [
        ScoreRow("a", "b", "a b", "a b", True, 1.0),
        ScoreRow("c", "d", "a_b", "z", False, 0.0),
    ]
    with pytest.raises(ValueError, match="both become 'a_b'"):
        write_bob(tmp_path / "s", merged)
    with pytest.raises(ValueError, match="disagrees with its identities"):
        write_bob(tmp_path / "s", [ScoreRow("a", "b", "p", "q", True, 1.0)])
    assert not (tmp_path / "s").exists()
    assert bob_token(" \t") == "_" and bob_token('"x y"') == '_"x_y"'


def test_score_file_round_trip(tmp_path):
    """One format for every scores.csv: NaN stays NaN, scores bit for bit, names as written."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "fold": [1, 2, 2],
            "image_a": ["images/x/1.png", 'q/"a",b.png', "=cmd.png"],
            "image_b": ["images/#y/2 3.png", "q/c.png", "b.png"],
            "identity_a": ["x", 'O"Neil, A', "+a"],
            "identity_b": ["#y", "Z", "b"],
            "label": np.array([1, 0, 0], dtype=np.int8),
            "m 1": [0.1 + 0.2, 1e-17, float("nan")],
        }
    )
    back, models = read_score_file(write_score_file(tmp_path / "scores.csv", frame))
    assert models == ["m 1"] and back["subset"].tolist() == ["lfw"] * 3
    assert back["m 1"].tolist()[:2] == [0.1 + 0.2, 1e-17] and math.isnan(back["m 1"][2])
    assert back["image_a"].tolist() == frame["image_a"].tolist()
    assert back["label"].tolist() == [True, False, False]


NASTY_NAMES = [
    "images/x/1.png", 'q/"a",b.png', "=cmd.png", "+a", "-1", "@x", "\tt", "\rr", "'quoted",
    "''=", "line\nbreak", "cr\r", "", " space ", "新垣結衣", "a,b", '"', "#y", "x\x00y",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_score_file_text_is_pandas_bytes(seed):
    """The column writer writes exactly what pandas' to_csv wrote for score tables."""
    import pandas as pd

    from face_bench.core.text import spreadsheet_frame
    from face_bench.results.scorefile import score_file_text

    rng = np.random.default_rng(seed)
    n = 300
    pick = rng.choice(len(NASTY_NAMES), size=(4, n))
    scores = rng.normal(size=n) * 10.0 ** rng.integers(-20, 20, size=n)
    scores[rng.random(n) < 0.1] = np.nan
    scores[:4] = [0.0, -0.0, 1.0, 0.1 + 0.2]
    frame = pd.DataFrame(
        {
            "subset": rng.choice(["young_women", "=s", "a,b"], size=n),
            "fold": rng.integers(1, 11, size=n),
            "image_a": [NASTY_NAMES[i] for i in pick[0]],
            "image_b": [NASTY_NAMES[i] for i in pick[1]],
            "identity_a": [NASTY_NAMES[i] for i in pick[2]],
            "identity_b": [NASTY_NAMES[i] for i in pick[3]],
            "label": (rng.random(n) < 0.3).astype(np.int8),
            "m 1": scores,
            "=m,2": -scores[::-1],
            "flag": rng.random(n) < 0.5,
        }
    )
    expected = spreadsheet_frame(frame).to_csv(
        index=False, float_format="%.17g", lineterminator="\n"
    )
    assert score_file_text(frame) == expected
    with_none = frame.astype({"image_a": object})
    with_none.loc[3, "image_a"] = None  # not text: pandas' own path
    expected = spreadsheet_frame(with_none).to_csv(
        index=False, float_format="%.17g", lineterminator="\n"
    )
    assert score_file_text(with_none) == expected


def test_score_file_reader_rejects_other_files(tmp_path):
    with pytest.raises(ResultsError, match="missing column"):
        read_score_file(write(tmp_path, "a,b\n1,2\n", "x.csv"))
    with pytest.raises(ValueError, match="a score file starts with"):
        import pandas as pd

        write_score_file(tmp_path / "s.csv", pd.DataFrame({"a": [1]}))


# --------------------------------------------------------------------------- properties

SPELLINGS = {
    True: ["1", "true", "yes", "y", "same", "match"],
    False: ["0", "false", "no", "n", "different", "non-match"],
}


@st.composite
def label_spelling(draw):
    label = draw(st.booleans())
    word = draw(st.sampled_from(SPELLINGS[label]))
    word = "".join(c.upper() if draw(st.booleans()) else c for c in word)
    pad = st.sampled_from(["", " ", "\t", "  "])
    return label, draw(pad) + word + draw(pad)


@given(label_spelling())
def test_property_label_spellings_parse(case):
    label, spelling = case
    assert parse_label(spelling) is label


segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
rel_path = (
    st.lists(segment, min_size=1, max_size=3)
    .map("/".join)
    .filter(lambda p: p == p.strip() and not (len(p) > 1 and p[1] == ":"))
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(rel_path, rel_path, label_spelling()), min_size=1, max_size=8),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_property_pair_lists_round_trip_through_csv(tmp_path_factory, rows, newline, bom):
    unique, seen = [], set()
    for a, b, (label, spelling) in rows:
        key = frozenset((unicodedata.normalize("NFC", a), unicodedata.normalize("NFC", b)))
        if len(key) == 2 and key not in seen:
            seen.add(key)
            unique.append((a, b, label, spelling))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(["image_a", "image_b", "label"])
    writer.writerows((a, b, spelling) for a, b, _, spelling in unique)
    path = tmp_path_factory.mktemp("prop") / "pairs.csv"
    path.write_bytes((("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8"))
    if not unique:
        with pytest.raises(PairsFileError, match="no usable pairs"):
            parse_pairs_csv(path)
        return
    listed = parse_pairs_csv(path)
    assert [(p.path_a, p.path_b, p.label) for p in listed.pairs] == [
        (a, b, label) for a, b, label, _ in unique
    ]
    assert listed.summary.n_pairs == listed.summary.n_rows == len(unique)
