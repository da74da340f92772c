"""The one-line answer to a Python package face-bench imports but cannot find.

A partial install (``pip install --no-deps``, an extra left out, a package removed by hand)
surfaces as ``ModuleNotFoundError`` deep inside a command. The CLI turns it into one line
that names the exact ``pip install`` command for the interpreter running face-bench, with
the version face-bench itself declares, instead of a traceback and exit 1 (the gate's
"regression" code).
"""

from __future__ import annotations

import re
import shlex
import sys
from importlib import metadata

from face_bench.core.errors import MissingDependencyError

DISTRIBUTION = "face-bench"

# Import name -> the distribution that provides it, where the two differ.
PROVIDERS: dict[str, str] = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "dlib": "dlib-bin",
    "umap": "umap-learn",
    "yaml": "pyyaml",
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_requirement(distribution: str) -> tuple[str, str | None] | None:
    """face-bench's own requirement on ``distribution`` (e.g. ``onnx>=1.15``) and the extra
    that declares it (None: a core dependency); None when face-bench does not declare it or
    is not installed as a distribution."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    for line in requires:
        spec, _, marker = line.partition(";")
        name = _NAME.match(spec.strip())
        if name is not None and _normalised(name.group(0)) == _normalised(distribution):
            extra = _EXTRA.search(marker)
            return spec.strip(), extra.group(1) if extra else None
    return None


def install_command(module: str) -> str:
    """The ``pip install`` command that provides ``module`` to this interpreter."""
    top = module.partition(".")[0]
    distribution = PROVIDERS.get(top, top)
    declared = declared_requirement(distribution)
    if declared is None:
        target = distribution
    elif declared[1] is not None:
        target = f"{DISTRIBUTION}[{declared[1]}]"
    else:
        target = declared[0].replace(" ", "")
    return f"{shlex.quote(sys.executable)} -m pip install {shlex.quote(target)}"


def missing_dependency(exc: ModuleNotFoundError) -> MissingDependencyError | None:
    """The user-facing error for a missing third-party package; None for face-bench's own
    modules (a broken checkout is a bug to see whole, not a missing dependency)."""
    name = exc.name or ""
    if not name or name.partition(".")[0] == "face_bench":
        return None
    top = name.partition(".")[0]
    return MissingDependencyError(
        f"the Python package {PROVIDERS.get(top, top)!r} (module {top}) is not installed in "
        f"{sys.prefix}; install it with: {install_command(name)}"
    )
