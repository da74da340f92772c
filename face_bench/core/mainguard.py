"""Refuse to start worker processes from a script's unguarded top-level code.

face-bench's worker processes start from a clean server (forkserver) or a fresh
interpreter (spawn), and multiprocessing then runs the main script again in each of them,
as ``__mp_main__``. A script that calls face-bench at its top level, outside an
``if __name__ == "__main__":`` block, would start the whole run again inside every worker,
which multiprocessing forbids while a worker is still starting: every image would come
back as a crashed worker, and the run would end with a message that never says why. The
parent can see the case before starting anything: the main script's top-level frame is on
the stack at a line outside such a block.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType

from face_bench.core.errors import UnguardedMainError


def require_main_guard() -> None:
    """Raise ``UnguardedMainError`` when the running script's top level is unguarded here."""
    found = unguarded_main_line()
    if found is not None:
        script, line = found
        raise UnguardedMainError(
            f"{script} line {line} starts face-bench's worker processes from the script's "
            'top level: put that code under `if __name__ == "__main__":` (each worker '
            "runs the script again)"
        )


def unguarded_main_line() -> tuple[str, int] | None:
    """(script, line) when the main script's top-level code is running outside a guard.

    None for an interactive session or ``python -c`` (no script file), for a package's
    ``__main__.py`` (multiprocessing does not run it again), for a call made from inside
    a guard, and whenever the script's source cannot be read: this check
    explains a failure, it never invents one.
    """
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    if main is None or not isinstance(script, str):
        return None
    module = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if module == "__main__" or module.endswith(".__main__"):
        return None  # a package's __main__ (python -m face_bench): workers never run it again
    frame = _top_level_frame(vars(main))
    if frame is None:
        return None
    try:
        tree = ast.parse(Path(script).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    line = frame.f_lineno
    if any(_guards(node, line) for node in ast.walk(tree)):
        return None
    return script, line


def _top_level_frame(namespace: dict[str, object]) -> FrameType | None:
    """The frame running the main script's module-level code, if it is on the stack."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is namespace and frame.f_code.co_name == "<module>":
            return frame
        frame = frame.f_back
    return None


def _guards(node: ast.AST, line: int) -> bool:
    """Whether ``node`` is ``if __name__ == "__main__":`` and ``line`` is in its body."""
    if not isinstance(node, ast.If) or not node.body:
        return False
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, *test.comparators]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    end = node.body[-1].end_lineno or node.body[-1].lineno
    return has_name and has_main and node.body[0].lineno <= line <= end
