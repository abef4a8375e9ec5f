"""The data flows one way: kernels -> ptx; runtime -> ptx, sim; verify -> runtime; the app and
the lesson on top. Checked on the import statements of each package, so a back edge (the
runtime naming a kernel class, verify building kernels, anything importing the app) fails."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "explorer"
# package -> the explorer packages and modules it must never import
FORBIDDEN = {
    "ptx": {"kernels", "runtime", "verify", "sim", "app", "lesson", "schema", "arch", "dtypes"},
    "sim": {"kernels", "runtime", "verify", "app", "lesson"},
    "runtime": {"kernels", "verify", "app", "lesson"},
    "verify": {"kernels", "app", "lesson"},
    "kernels": {"runtime", "app", "lesson"},
}


def explorer_imports(path: Path) -> set[str]:
    """The explorer packages/modules `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").startswith("explorer."):
                found.add(node.module.split(".")[1])
            elif node.level > depth:  # from .. import x / from ..x import y
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("explorer."))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_back_edges(package):
    bad = {str(f.relative_to(PACKAGE)): sorted(explorer_imports(f) & FORBIDDEN[package])
           for f in sorted((PACKAGE / package).glob("*.py"))}
    assert not {f: names for f, names in bad.items() if names}


def test_nothing_imports_the_app_but_the_cli_lazily():
    for f in PACKAGE.rglob("*.py"):
        if f.parts[-2] in ("app",) or f.name == "cli.py":
            continue
        assert "app" not in explorer_imports(f), f
