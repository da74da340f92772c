"""EmbedSettings: the one embedding-settings type of evaluate, run_lfw and compare_images.

Every choice is an enum (a plain string is checked and converted); ``align`` left as None is
each call's own default; the CLI's embed group turns into exactly the settings the library
was handed option by option before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import face_bench as fb
from face_bench.cli.options import EmbedOptions
from face_bench.core.errors import ConfigError
from face_bench.core.modes import (
    LFW_ALIGN,
    AlignMode,
    Detector,
    DlibRuntime,
    Duplicates,
    FallbackDetector,
    MultiFacePolicy,
    NearDuplicatePolicy,
)
from face_bench.run.request import EmbedSettings, EvaluationRequest


def test_choices_given_as_strings_become_enums() -> None:
    settings = EmbedSettings(
        models=["a"],  # type: ignore[arg-type]  # any sequence: kept as a tuple
        align="detect",  # type: ignore[arg-type]
        multi_face="skip",  # type: ignore[arg-type]
        fallback_detector="mmod",  # type: ignore[arg-type]
        detector="yunet",  # type: ignore[arg-type]
        dlib_runtime="dlib",  # type: ignore[arg-type]
    )
    assert settings.models == ("a",)
    assert settings.align is AlignMode.DETECT and settings.multi_face is MultiFacePolicy.SKIP
    assert settings.fallback_detector is FallbackDetector.MMOD
    assert settings.detector is Detector.YUNET and settings.dlib_runtime is DlibRuntime.DLIB
    assert (settings.fallback, settings.runtime) == ("mmod", "dlib")


@pytest.mark.parametrize(
    ("field", "option"),
    [
        ("align", "--align"),
        ("multi_face", "--multi-face"),
        ("fallback_detector", "--fallback-detector"),
        ("detector", "--detector"),
        ("dlib_runtime", "--dlib-runtime"),
    ],
)
def test_a_bad_choice_is_a_one_line_config_error(field: str, option: str) -> None:
    with pytest.raises(ConfigError, match=f"^{option} must be one of .*, not 'bogus'$"):
        EmbedSettings(**{field: "bogus"})


def test_request_choices_are_enums_and_align_defaults_to_auto(tmp_path: Path) -> None:
    request = EvaluationRequest(
        data=tmp_path,
        duplicates="keep",  # type: ignore[arg-type]
        near_duplicates="keep",  # type: ignore[arg-type]
    )
    assert request.duplicates is Duplicates.KEEP
    assert request.near_duplicates is NearDuplicatePolicy.KEEP
    assert request.embed == EmbedSettings(align=AlignMode.AUTO)
    chosen = EvaluationRequest(data=tmp_path, embed=EmbedSettings(align=AlignMode.NONE))
    assert chosen.embed.chosen_align is AlignMode.NONE
    with pytest.raises(ConfigError, match=r"^--duplicates must be one of"):
        EvaluationRequest(data=tmp_path, duplicates="drop")  # type: ignore[arg-type]


def test_the_public_api_names_the_settings_and_their_choices() -> None:
    assert fb.EmbedSettings is EmbedSettings
    for enum in (fb.Detector, fb.FallbackDetector, fb.DlibRuntime, fb.Duplicates):
        assert enum.__module__ == "face_bench.core.modes"


class _EmbeddingStartedError(Exception):
    """Stops a call where it would start embedding, with the settings it was given."""


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[EmbedSettings]:
    """The settings ``run.embed.embed_files`` receives (the call stops there)."""
    from face_bench.run import embed

    seen: list[EmbedSettings] = []

    def stop(paths: list[Path], settings: EmbedSettings, **_kw: object) -> None:
        seen.append(settings)
        raise _EmbeddingStartedError

    monkeypatch.setattr(embed, "embed_files", stop)
    return seen


def _lfw(root: Path) -> Path:
    for name in ("ann", "bob"):
        (root / name).mkdir(parents=True)
        (root / name / f"{name}_0001.jpg").write_bytes(b"x")
    (root / "ann" / "ann_0002.jpg").write_bytes(b"x")
    pairs = root / "pairs.txt"
    pairs.write_text("1\t1\nann\t1\t2\nann\t1\tbob\t1\n", encoding="utf-8")
    return pairs


@pytest.mark.parametrize(
    ("given", "used"),
    [(None, LFW_ALIGN), (AlignMode.AUTO, AlignMode.AUTO), ("none", AlignMode.NONE)],
)
def test_run_lfw_aligns_as_the_protocol_does_unless_told(
    tmp_path: Path, handed: list[EmbedSettings], given: AlignMode | None, used: AlignMode
) -> None:
    pairs = _lfw(tmp_path)
    settings = EmbedSettings(models=("dlib",), align=given, workers=1)
    with pytest.raises(_EmbeddingStartedError):
        fb.run_lfw(tmp_path, pairs, settings)
    assert handed == [EmbedSettings(models=("dlib",), align=used, workers=1)]


def test_compare_images_aligns_auto_unless_told(
    tmp_path: Path, handed: list[EmbedSettings]
) -> None:
    images = []
    for name in ("a.png", "b.png"):
        images.append(tmp_path / name)
        images[-1].write_bytes(b"x")
    for settings in (None, EmbedSettings(align=AlignMode.DETECT, workers=1)):
        with pytest.raises(_EmbeddingStartedError):
            fb.compare_images(images, settings)
    assert [s.align for s in handed] == [AlignMode.AUTO, AlignMode.DETECT]


def test_the_cli_embed_group_becomes_the_same_library_settings(tmp_path: Path) -> None:
    weights = tmp_path / "w.onnx"
    options = EmbedOptions(
        models=("sface",),
        align=AlignMode.NONE,
        multi_face=MultiFacePolicy.FAIL,
        fallback_detector=FallbackDetector.MMOD,
        detector=Detector.HOG,
        config=tmp_path / "c.toml",
        weights=(f"sface={weights}",),
        dlib_runtime=DlibRuntime.ONNX,
        cache_dir=tmp_path / "cache",
        workers=2,
    )
    assert options.settings() == EmbedSettings(
        models=("sface",),
        align=AlignMode.NONE,
        multi_face=MultiFacePolicy.FAIL,
        fallback_detector=FallbackDetector.MMOD,
        detector=Detector.HOG,
        config_path=tmp_path / "c.toml",
        weights={"sface": weights},
        dlib_runtime=DlibRuntime.ONNX,
        cache_dir=tmp_path / "cache",
        workers=2,
        ray=None,
    )
    # What the library received before, option by option, is what the settings give.
    faces = options.settings().faces()
    assert (faces.align, faces.multi_face, faces.fallback) == ("none", "fail", "mmod")
    assert EmbedOptions().settings().faces().fallback is None
