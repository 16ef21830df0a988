"""The shape of duban/ (docs/ARCHITECTURE.md): one module, one concern, about 800 lines at most;
a package's modules import their siblings, never their own package's `__init__`."""

from __future__ import annotations

import ast
from pathlib import Path

DUBAN = Path(__file__).resolve().parents[1] / "duban"
MAX_LINES = 850  # "about 800": a module a little over is one concern, one far over is two


def module_sizes() -> dict[str, int]:
    return {
        path.relative_to(DUBAN).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(DUBAN.rglob("*.py"))
    }


def test_no_domain_module_is_over_about_800_lines():
    too_long = {name: size for name, size in module_sizes().items() if size > MAX_LINES}
    assert too_long == {}, f"split these by concern (docs/ARCHITECTURE.md): {too_long}"


def test_modules_of_a_package_import_their_siblings_not_the_package():
    """`from duban.cases import get_case` inside duban/cases/ would run the package's
    `__init__` half-way through its own import: a cycle waiting for the next re-export."""
    through_init = []
    for init in sorted(DUBAN.glob("*/__init__.py")):
        package = f"duban.{init.parent.name}"
        for path in sorted(init.parent.glob("*.py")):
            if path == init:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == package:
                    through_init.append(f"{path.relative_to(DUBAN)}:{node.lineno}")
                if isinstance(node, ast.Import) and any(a.name == package for a in node.names):
                    through_init.append(f"{path.relative_to(DUBAN)}:{node.lineno}")
    assert through_init == []
