"""Named datasets face-bench can fetch, where they live, and whether they are there.

A name such as ``lfw`` works wherever a dataset folder does (``--data lfw``), so a
user never has to know the cache layout. Only ``face-bench fetch`` downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
