"""No module of face_bench imports another module's private names or private modules:
what a module shares it names without an underscore (import-linter sees modules, not names)."""

from __future__ import annotations

import ast
from pathlib import Path

import face_bench

PACKAGE = Path(face_bench.__file__).resolve().parent


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _cross_module_private_imports() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if not node.module.startswith("face_bench") or node.module == here:
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"{where} imports the private module {node.module}")
            found += [
                f"{where} imports {node.module}.{alias.name}"
                for alias in node.names
                if _private(alias.name)
            ]
    return found


def test_no_module_imports_another_modules_private_names():
    assert _cross_module_private_imports() == []
