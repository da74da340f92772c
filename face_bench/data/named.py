"""Named datasets face-bench can fetch, where they live, and whether they are there.

A name such as ``lfw`` works wherever a dataset folder does (``--data lfw``), so a
user never has to know the cache layout. Only ``face-bench fetch`` downloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from face_bench.core.config import DEFAULT_CONFIG_NAME, Config
from face_bench.core.errors import DatasetError
from face_bench.core.io import default_cache_dir, user_path

DATA_ENV = "FACE_BENCH_DATA"
NO_DATA = (
    f'no dataset given: pass --data DIR, set ${DATA_ENV}, or put data = "DIR" in '
    f"./{DEFAULT_CONFIG_NAME} (or the file given with --config); to download a public one, "
    "run `face-bench fetch lfw`"
)


@dataclass(frozen=True)
class NamedDataset:
    """A public face set with a download recipe, a licence note and a cache location."""

    name: str
    title: str
    funneled: bool
    size: str
    licence: str
    homepage: str

    def home(self, cache_dir: Path) -> Path:
        """scikit-learn's data home for this set (it keeps ``lfw_home/`` inside)."""
        return cache_dir / "datasets" / self.name

    def folder(self, cache_dir: Path) -> Path:
        """The image folder: ``<name>/<name>_NNNN.jpg``, manifest.csv and pairs.txt."""
        sub = "lfw_funneled" if self.funneled else "lfw"
        return self.home(cache_dir) / "lfw_home" / sub

    def present(self, cache_dir: Path) -> bool:
        """Fetched completely: the manifest is written last."""
        return (self.folder(cache_dir) / "manifest.csv").is_file()


_LFW_LICENCE = (
    "photos of public figures collected from news sites by UMass Amherst; no licence is "
    "given for the images: use them for research evaluation, cite Huang et al. 2007, do "
    "not redistribute"
)

NAMED_DATASETS: dict[str, NamedDataset] = {
    "lfw": NamedDataset(
        name="lfw",
        title="Labeled Faces in the Wild, funneled (13,233 images of 5,749 people, pairs.txt)",
        funneled=True,
        size="about 200 MB to download (scikit-learn's estimate)",
        licence=_LFW_LICENCE,
        homepage="http://vis-www.cs.umass.edu/lfw/",
    ),
    "lfw-original": NamedDataset(
        name="lfw-original",
        title="Labeled Faces in the Wild, original unaligned images (same people and pairs)",
        funneled=False,
        size="about 200 MB to download (scikit-learn's estimate)",
        licence=_LFW_LICENCE,
        homepage="http://vis-www.cs.umass.edu/lfw/",
    ),
}


def named_dataset(name: str) -> NamedDataset | None:
    """The catalogue entry for ``name``, or None when it is not a known name."""
    return NAMED_DATASETS.get(name)


@dataclass(frozen=True)
class DataSource:
    """The dataset folder a run reads, and which setting chose it (for the run header)."""

    folder: Path
    origin: str


def resolve_data(
    given: Path | str | None, config: Config, cache_dir: Path | None = None
) -> DataSource:
    """``--data``, else ``$FACE_BENCH_DATA``, else ``data = ...`` in the config file.

    A value that is not an existing path but names a fetchable dataset (``lfw``) means
    that dataset in the cache. Never the working directory by default: a run there
    would take a checkout's own files for faces.
    """
    env = os.environ.get(DATA_ENV)
    if given is not None and str(given):
        value, origin, base = str(given), "--data", None
    elif env:
        value, origin, base = env, f"${DATA_ENV}", None
    elif config.data:
        value, origin, base = config.data, f"data in {config.path}", config.base_dir
    else:
        raise DatasetError(NO_DATA)
    path = user_path(value, origin, DatasetError)
    if base is not None and not path.is_absolute():
        path = Path(os.path.normpath(base / path))  # tidy "a/b/../c", keep symlinks as named
    named = named_dataset(value)
    if named is not None and not path.exists():
        cache = cache_dir or default_cache_dir()
        if not named.present(cache):
            raise DatasetError(
                f"dataset {value!r} ({origin}) is not downloaded yet: run "
                f"`face-bench fetch {value}` (see `face-bench datasets`)"
            )
        return DataSource(named.folder(cache), f"{origin}: {value}")
    return DataSource(path, origin)


def require_folder(folder: Path, origin: str = "") -> None:
    """Refuse a dataset folder that is not there, saying which setting chose it and what
    else to pass, so a path taken from a config file or the environment is not a mystery."""
    if folder.is_dir():
        return
    chosen = f" (chosen by {origin})" if origin else ""
    raise DatasetError(
        f"dataset folder not found: {folder}{chosen}; pass --data DIR or set ${DATA_ENV}, or "
        "download a public set with `face-bench fetch lfw` and pass --data lfw"
    )


def default_data(config: Config, cache_dir: Path | None = None) -> dict[str, object] | None:
    """What a run here reads without --data (for ``face-bench datasets``), or None."""
    if not (os.environ.get(DATA_ENV) or config.data):
        return None
    try:
        source = resolve_data(None, config, cache_dir)
    except DatasetError as exc:
        return {"folder": None, "origin": str(exc), "present": False}
    return {
        "folder": str(source.folder),
        "origin": source.origin,
        "present": source.folder.is_dir(),
    }
