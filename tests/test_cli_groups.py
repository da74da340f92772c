"""Option groups: declared once, taken by every command, filling the same dataclasses.

Each command that evaluates or embeds takes the sample and embed groups (or a declared part
of them); whatever it is given, its options parse into the dataclasses the library is
called with, exactly as when each command listed and packed them by hand.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.cli.groups import GroupOption, OptionGroup, with_groups
from face_bench.cli.options import (
    CalibrationOptions,
    EmbedOptions,
    MetricOptions,
    OutputFormat,
    OutputOptions,
    SampleOptions,
)
from face_bench.core.modes import (
    LFW_ALIGN,
    AlignMode,
    Detector,
    DlibRuntime,
    Duplicates,
    Engine,
    FallbackDetector,
    FigureFormat,
    IdentityFrom,
    MultiFacePolicy,
    NearDuplicatePolicy,
    OnFail,
)

runner = CliRunner()

# Each shared option: what a user types, and the field it fills with what value.
EMBED_ARGS: dict[str, tuple[list[str], str, Any]] = {
    "model": (["-m", "a", "--model", "b"], "models", ("a", "b")),
    "align": (["--align", "none"], "align", AlignMode.NONE),
    "multi_face": (["--multi-face", "skip"], "multi_face", MultiFacePolicy.SKIP),
    "fallback_detector": (
        ["--fallback-detector", "mmod"],
        "fallback_detector",
        FallbackDetector.MMOD,
    ),
    "detector": (["--detector", "yunet"], "detector", Detector.YUNET),
    "config": (["--config", "/tmp/x.toml"], "config", Path("/tmp/x.toml")),
    "weights": (
        ["--weights", "a=/w/a.onnx", "--weights", "b=/w/b"],
        "weights",
        ("a=/w/a.onnx", "b=/w/b"),
    ),
    "dlib_runtime": (["--dlib-runtime", "dlib"], "dlib_runtime", DlibRuntime.DLIB),
    "cache_dir": (["--cache-dir", "/tmp/c"], "cache_dir", Path("/tmp/c")),
    "workers": (["--workers", "3"], "workers", 3),
    "engine": (["--engine", "ray"], "engine", Engine.RAY),
    "ray_address": (["--ray-address", "head:6379"], "ray_address", "head:6379"),
}
SAMPLE_ARGS: dict[str, tuple[list[str], str, Any]] = {
    "subset": (
        ["-d", "young_women", "--dataset", "x", "--subset", "y"],
        "subsets",
        ("young_women", "x", "y"),
    ),
    "data": (["--data", "/tmp/faces"], "data", Path("/tmp/faces")),
    "sample": (["--sample", "40"], "sample", 40),
    "seed": (["--seed", "7"], "seed", 7),
    "sample_pairs": (["--sample-pairs", "100"], "sample_pairs", 100),
    "pairs_file": (["--pairs-file", "/tmp/p.csv"], "pairs_file", Path("/tmp/p.csv")),
    "on_fail": (["--on-fail", "reject"], "on_fail", OnFail.REJECT),
    "identity_from": (["--identity-from", "filename"], "identity_from", IdentityFrom.FILENAME),
    "identity_pattern": (["--identity-pattern", "^(.+)_"], "identity_pattern", "^(.+)_"),
    "duplicates": (["--duplicates", "keep"], "duplicates", Duplicates.KEEP),
    "near_duplicates": (["--near-duplicates", "keep"], "near_duplicates", NearDuplicatePolicy.KEEP),
    "stratify_by": (["--stratify-by", "source_repo"], "stratify_by", "source_repo"),
    "exclude_suspects": (["--exclude-suspects"], "exclude_suspects", True),
}
METRIC_ARGS: dict[str, tuple[list[str], str, Any]] = {
    "bootstrap": (["--bootstrap", "50"], "bootstrap", 50),
    "threshold": (["--threshold", "pooled:1e-2"], "threshold", "pooled:1e-2"),
    "threshold_from": (["--threshold-from", "ordinary"], "threshold_from", "ordinary"),
    "by": (["--by", "sex,age_group"], "by", "sex,age_group"),
    "reference": (["--reference", "sex=M"], "reference", "sex=M"),
}
OUTPUT_ARGS: dict[str, tuple[list[str], str, Any]] = {
    "figure_format": (["--figure-format", "svg"], "figure_format", FigureFormat.SVG),
    "out": (["-o", "/tmp/out"], "out", Path("/tmp/out")),
    "output_format": (["--format", "json"], "output_format", OutputFormat.JSON),
}
CALIBRATION_ARGS: dict[str, tuple[list[str], str, Any]] = {
    "calibration": (["--calibration", "/tmp/cal.json"], "calibration", Path("/tmp/cal.json")),
    "prior": (["--prior", "0.2"], "prior", 0.2),
}
ARGS = {
    SampleOptions: SAMPLE_ARGS,
    EmbedOptions: EMBED_ARGS,
    MetricOptions: METRIC_ARGS,
    OutputOptions: OUTPUT_ARGS,
    CalibrationOptions: CALIBRATION_ARGS,
}

# The options each command took before the groups, by group: the same sets, group by group.
EVALUATION = {
    SampleOptions: set(SAMPLE_ARGS),
    EmbedOptions: set(EMBED_ARGS),
    MetricOptions: set(METRIC_ARGS),
    OutputOptions: set(OUTPUT_ARGS),
    CalibrationOptions: set(CALIBRATION_ARGS),
}
TAKES: dict[str, dict[type, set[str]]] = {
    "roc": EVALUATION,
    "threshold-sweep": EVALUATION,
    "report": EVALUATION,
    "umap": {
        SampleOptions: set(SAMPLE_ARGS) - {"near_duplicates", "stratify_by", "exclude_suspects"},
        EmbedOptions: set(EMBED_ARGS),
        OutputOptions: set(OUTPUT_ARGS),
    },
    "lfw": {EmbedOptions: set(EMBED_ARGS)},
    "compare": {
        EmbedOptions: set(EMBED_ARGS) - {"fallback_detector"},
        CalibrationOptions: set(CALIBRATION_ARGS),
    },
    "calibrate": {
        SampleOptions: {"data", "sample", "seed", "sample_pairs", "pairs_file"},
        EmbedOptions: set(EMBED_ARGS)
        - {"multi_face", "fallback_detector", "detector", "engine", "ray_address"},
    },
}
# Defaults that differ from the dataclass's own: one place each (core.modes.LFW_ALIGN).
DEFAULTS: dict[str, dict[str, Any]] = {"lfw": {"align": LFW_ALIGN}}


@pytest.fixture(autouse=True)
def _no_option_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options with an environment variable start from their declared default here."""
    for name in ("FACE_BENCH_CACHE_DIR", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)


def _command(name: str) -> Any:
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def _built(name: str, args: list[str]) -> dict[type, Any]:
    """The dataclasses a command builds from ``args``, parsed as the command parses them."""
    command = _command(name)
    extra = ["a.png", "b.png"] if name == "compare" else []
    ctx = command.make_context(name, [*extra, *args])
    values = dict(ctx.params)
    groups = command.callback.option_groups
    return {group.kind: group.build(values) for group in groups.values()}


@pytest.mark.parametrize("name", sorted(TAKES))
def test_each_command_takes_exactly_its_groups_options(name: str) -> None:
    groups = _command(name).callback.option_groups
    taken = {group.kind: set(group.names) for group in groups.values()}
    assert taken == TAKES[name]


@pytest.mark.parametrize("name", sorted(TAKES))
def test_defaults_build_the_dataclasses_defaults(name: str) -> None:
    built = _built(name, [])
    for kind in TAKES[name]:
        expected = kind()
        if kind is EmbedOptions:
            expected = EmbedOptions(**DEFAULTS.get(name, {}))
        assert built[kind] == expected, kind.__name__


@pytest.mark.parametrize(
    ("name", "kind", "option"),
    [
        (name, kind, option)
        for name in sorted(TAKES)
        for kind in TAKES[name]
        for option in sorted(TAKES[name][kind])
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_every_option_fills_its_field(name: str, kind: type, option: str) -> None:
    args, field, value = ARGS[kind][option]
    built = _built(name, args)[kind]
    assert getattr(built, field) == value
    defaults = {**DEFAULTS.get(name, {})} if kind is EmbedOptions else {}
    assert built == kind(**{**defaults, field: value})


@pytest.mark.parametrize("name", sorted(TAKES))
def test_all_options_at_once(name: str) -> None:
    args: list[str] = []
    expected: dict[type, dict[str, Any]] = {}
    for kind, options in TAKES[name].items():
        for option in sorted(options):
            typed, field, value = ARGS[kind][option]
            args += typed
            expected.setdefault(kind, {})[field] = value
    built = _built(name, args)
    for kind, fields in expected.items():
        assert built[kind] == kind(**fields)


@pytest.mark.parametrize(
    ("name", "option", "bad"),
    [
        ("roc", "--align", "sideways"),
        ("report", "--multi-face", "all"),
        ("umap", "--detector", "cnn"),
        ("lfw", "--fallback-detector", "hog"),
        ("compare", "--dlib-runtime", "cuda"),
        ("calibrate", "--align", "tilt"),
        ("threshold-sweep", "--duplicates", "drop"),
        ("report", "--near-duplicates", "merge"),
        ("roc", "--on-fail", "ignore"),
        ("umap", "--identity-from", "exif"),
        ("roc", "--engine", "spark"),
        ("report", "--figure-format", "jpeg"),
        ("lfw", "--on-fail", "reject"),
    ],
)
def test_a_bad_choice_is_a_one_line_usage_error(name: str, option: str, bad: str) -> None:
    result = runner.invoke(app, [name, option, bad])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("face-bench: error: Invalid value for")
    assert option in lines[0] and repr(bad) in lines[0]
    assert lines[1] == f"Try 'face-bench {name} --help'."


def test_prior_without_a_calibration_file_is_refused_by_every_command_that_takes_it() -> None:
    for args in (["roc"], ["report"], ["compare", "a.png", "b.png"]):
        result = runner.invoke(app, [*args, "--prior", "0.3"])
        assert result.exit_code == 2, args
        assert result.stderr == (
            "face-bench: error: --prior applies to calibrated probabilities: "
            "give --calibration FILE\n"
        )


def _readme_commands() -> list[str]:
    """The README's inline ``face-bench`` commands of the grouped commands (the fenced
    blocks are parsed by test_doc_blocks.py); a synopsis (``--probe NAME``) is not one."""
    from conftest import REPO
    from test_doc_blocks import _is_synopsis

    text = re.sub(r"\n\s*", " ", (REPO / "README.md").read_text(encoding="utf-8"))
    found = re.findall(r"`(face-bench [^`]+)`", text)
    grouped = [c for c in found if c.split()[1] in TAKES and not _is_synopsis(c)]
    return [c for c in dict.fromkeys(grouped) if c.split()[1] != "compare" or len(c.split()) > 3]


@pytest.mark.parametrize("line", _readme_commands())
def test_the_readmes_commands_parse_into_their_groups(line: str) -> None:
    name, *args = shlex.split(line)[1:]
    built = _built(name, args)
    assert set(built) == set(TAKES[name])
    if "--subset" in args or "--dataset" in args:
        subsets = tuple(v for k, v in itertools.pairwise(args) if k in ("--subset", "--dataset"))
        assert built[SampleOptions].subsets == subsets


# ------------------------------------------------------------------ the mechanism itself


class _Pair:
    def __init__(self, left: int, right: str) -> None:
        self.left, self.right = left, right


PAIR = OptionGroup(
    _Pair,
    GroupOption("left", Annotated[int, typer.Option("--left", help="L.")], 1),
    GroupOption("right_name", Annotated[str, typer.Option("--right")], "r", "right", str.upper),
)


def test_a_group_is_expanded_in_place_and_packed_on_each_call() -> None:
    seen: list[tuple[int, _Pair, int]] = []
    demo = typer.Typer()

    @demo.command()
    @with_groups(pair=PAIR.defaults(left=5))
    def run(first: int = 0, pair: _Pair | None = None, last: int = 9) -> None:
        assert pair is not None
        seen.append((first, pair, last))

    help_text = runner.invoke(demo, ["--help"]).stdout
    order = [help_text.index(flag) for flag in ("--first", "--left", "--right", "--last")]
    assert order == sorted(order)
    assert "[default: 5]" in help_text
    result = runner.invoke(demo, ["--right", "x", "--last", "2"])
    assert result.exit_code == 0, result.output
    ((first, pair, last),) = seen
    assert (first, pair.left, pair.right, last) == (0, 5, "X", 2)


def test_a_group_cannot_clash_or_name_a_missing_parameter() -> None:
    with pytest.raises(TypeError, match="named twice"):

        @with_groups(pair=PAIR)
        def clash(pair: _Pair, left: int = 0) -> None: ...

    with pytest.raises(TypeError, match="no parameter"):

        @with_groups(other=PAIR)
        def missing(pair: _Pair) -> None: ...

    with pytest.raises(ValueError, match="not options of _Pair"):
        PAIR.without("nothing")
