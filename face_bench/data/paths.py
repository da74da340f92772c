"""Dataset paths stay inside their root: a manifest is data and must not widen what is read."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

from face_bench.core.errors import ManifestError, PathEscapeError


class PathGuard:
    """Manifest paths normalised, refusing those that leave one dataset root.

    Absolute paths, ``..`` components and symlinks that resolve outside the root
    are all refused, since a manifest is data and must not widen what is read.

    The root and each folder are resolved once; a path is then its resolved folder plus its
    name, unless the name itself is a symlink, which is resolved in full. That is what
    resolving the whole path gives, at one ``lstat`` per image instead of one per component.
    """

    def __init__(self, root: Path):
        self.root = root
        self._folders: dict[Path, Path] = {}
        self._root_resolved: Path | None = None

    def _resolve(self, path: Path, relative: str) -> Path:
        try:
            return path.resolve()
        except (RuntimeError, OSError) as exc:  # a symlink loop: RuntimeError up to Python 3.12
            raise ManifestError(
                f"cannot resolve image path {relative!r}: symlink loop ({exc})"
            ) from None

    def check(self, relative: str) -> str:
        """``relative`` normalised, or the error saying why it may not be read."""
        if not relative.strip():
            raise ManifestError("empty image path")
        if "\x00" in relative:
            raise ManifestError(f"NUL character in image path {relative!r}")
        candidate = Path(relative)
        windows = PureWindowsPath(relative)
        if candidate.is_absolute() or windows.is_absolute() or relative[0] in "/\\":
            raise PathEscapeError(f"absolute path not allowed in a dataset: {relative!r}")
        if ".." in candidate.parts or "\\.." in relative or "..\\" in relative:
            raise PathEscapeError(f"path leaves the dataset root: {relative!r}")
        if self._root_resolved is None:
            self._root_resolved = self._resolve(self.root, relative)
        folder = self._folders.get(candidate.parent)
        if folder is None:
            folder = self._resolve(self.root / candidate.parent, relative)
            self._folders[candidate.parent] = folder
        resolved = folder / candidate.name
        if resolved.is_symlink():
            resolved = self._resolve(resolved, relative)
        if not resolved.is_relative_to(self._root_resolved):
            raise PathEscapeError(
                f"path resolves outside the dataset root (symlink?): {relative!r}"
            )
        return candidate.as_posix()
