"""The layout rules of ../shared/STYLE.md, checked on the source text (AST; nothing is imported).

1. Import arrows: core <- algebra <- gatr; core <- atoms, lattice; core, algebra, gatr <- sims;
   all of them <- train <- studies <- commands <- cli. A lower layer never imports a higher one, and a family never
   imports another family, except where a page of docs says why (``DOCUMENTED``).
2. Imports of noether sit at the top of a file, so the arrows can be seen: none inside a function
   body, except in cli.py (it imports the chosen command's module only, so ``noether --help``
   does not load torch) and the documented ``LAZY`` ones.
3. Tests mirror src: every folder under tests/ names a package of src/noether/ (tests/benchmarks/:
   the repository's benchmarks/), and every ``test_<name>.py`` (or ``test_<name>_<aspect>.py``)
   tests a module or package ``<name>`` of the mirrored folder, unless it is one of the
   cross-cutting files in ``CROSS_CUTTING``.

Each rule has a ``KNOWN_..._VIOLATIONS`` set, asserted exact. They held the violations found while
the code base was restructured (issue #22) and are empty since: a new violation fails. Fix it, or
(for an import arrow a page of docs explains) add it to ``DOCUMENTED``; do not grow the sets.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "noether"
TESTS = ROOT / "tests"

# What each layer may import (besides itself and the root package ``noether``, which holds only
# ``__version__``). Families: algebra, gatr, atoms, lattice, sims. testing.py (the public
# equivariance checks) imports nothing of noether, so every layer may use it, as it may use core.
FAMILIES = {"algebra", "gatr", "atoms", "lattice", "sims"}
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "testing": set(),
    "algebra": {"core", "testing"},
    "gatr": {"core", "testing", "algebra"},
    "atoms": {"core", "testing"},
    "lattice": {"core", "testing"},
    "sims": {"core", "testing", "algebra", "gatr"},  # tokenisers and models of each simulator
    "train": {"core", "testing", *FAMILIES},
    "studies": {"core", "testing", "train", *FAMILIES},
    "commands": {"core", "testing", "train", "studies", *FAMILIES},
    "cli": {"commands"},
}

# Family -> family imports a page of docs explains: (importing layer, imported layer) -> the page.
DOCUMENTED: dict[tuple[str, str], str] = {}

# Imports of noether inside a function body that stay, each with the reason (its file says it too).
LAZY: dict[str, str] = {}

CROSS_CUTTING = {
    "test_layers.py",  # this file: the whole tree
    "test_legacy_checkpoints.py",  # checkpoints of every family written before a change
}
"""Test files (paths under tests/) that test no single module."""

# Emptied when issue #22 was resolved; keep them empty.
KNOWN_ARROW_VIOLATIONS: set[str] = set()
KNOWN_LAZY_VIOLATIONS: set[str] = set()
KNOWN_MIRROR_VIOLATIONS: set[str] = set()


def _layer(module: str) -> str:
    """The layer of a dotted module name under noether (``noether.atoms.task`` -> ``atoms``)."""
    parts = module.split(".")
    if parts[0] != "noether":
        raise ValueError(module)
    if len(parts) == 1:
        return "root"
    return parts[1].removesuffix(".py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _sources() -> dict[str, ast.Module]:
    return {
        p.relative_to(SRC).as_posix(): ast.parse(p.read_text(), str(p))
        for p in sorted(SRC.rglob("*.py"))
    }


def _imports(path: str, tree: ast.Module) -> list[tuple[str, ast.AST, bool]]:
    """``(imported module, node, inside a function)`` for every import of noether in a file;
    ``from noether import x`` counts as ``noether.x``; relative imports are resolved."""
    package = _module_name(SRC / path)
    if not path.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    found: list[tuple[str, ast.AST, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, child, inside) for a in child.names if _ours(a.name))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                if _ours(base):
                    if base == "noether":
                        found.extend((f"noether.{a.name}", child, inside) for a in child.names)
                    else:
                        found.append((base, child, inside))
            visit(child, inside)

    visit(tree, False)
    return found


def _ours(module: str) -> bool:
    return module == "noether" or module.startswith("noether.")


def _layer_of_file(path: str) -> str:
    return _layer("noether." + path.replace("/", ".").removesuffix(".py"))


def _arrow_violations() -> set[str]:
    violations = set()
    for path, tree in _sources().items():
        source = _layer_of_file(path)
        if source == "__init__":
            continue
        assert source in ALLOWED, f"{path}: layer {source!r} is not in ALLOWED; add it"
        for module, _, _ in _imports(path, tree):
            target = _layer(module)
            if target in (source, "root", "__version__"):
                continue
            if target in ALLOWED[source] or (source, target) in DOCUMENTED:
                continue
            violations.add(f"{path} -> {target}")
    return violations


def _lazy_violations() -> set[str]:
    """``file: module`` for each noether module a file imports inside a function."""
    violations = set()
    for path, tree in _sources().items():
        if path == "cli.py" or path in LAZY:
            continue
        violations.update(
            f"{path}: {module}" for module, _, inside in _imports(path, tree) if inside
        )
    return violations


def _mirrored(relative: Path) -> Path:
    """The source folder a tests folder mirrors: tests/benchmarks/ mirrors the repository's
    benchmarks/ (scripts, not a package); every other folder a package of src/noether/."""
    if relative.parts and relative.parts[0] == "benchmarks":
        return ROOT / relative
    return SRC / relative


def _names_a_module(name: str, folder: Path) -> bool:
    """``test_<module>.py`` or ``test_<module>_<aspect>.py`` for a module or package in
    ``folder``, or ``test_<folder>.py`` for the package as a whole (e.g. every layer of
    gatr/layers/ checked for equivariance at once)."""
    if name == folder.name:
        return True
    parts = name.split("_")
    for k in range(len(parts), 0, -1):
        stem = "_".join(parts[:k])
        if (folder / f"{stem}.py").is_file() or (folder / stem / "__init__.py").is_file():
            return True
    return False


def _mirror_violations() -> set[str]:
    violations = set()
    for folder in sorted(p for p in TESTS.rglob("*") if p.is_dir()):
        relative = folder.relative_to(TESTS)
        if relative.parts[0] == "data" or "__pycache__" in relative.parts:
            continue
        source = _mirrored(relative)
        if not ((source / "__init__.py").is_file() or (source.is_dir() and source.parent == ROOT)):
            violations.add(f"tests/{relative.as_posix()}/")
    for test in sorted(TESTS.rglob("test_*.py")):
        relative = test.relative_to(TESTS)
        if relative.parts[0] == "data" or relative.as_posix() in CROSS_CUTTING:
            continue
        if not _names_a_module(test.stem.removeprefix("test_"), _mirrored(relative.parent)):
            violations.add(f"tests/{relative.as_posix()}")
    return violations


def _report(found: set[str], known: set[str]) -> str:
    new, fixed = sorted(found - known), sorted(known - found)
    lines = []
    if new:
        lines.append("new violations (fix them):\n  " + "\n  ".join(new))
    if fixed:
        lines.append("fixed (remove them from the KNOWN set):\n  " + "\n  ".join(fixed))
    return "\n".join(lines)


def test_imports_point_down_the_layers():
    found = _arrow_violations()
    assert found == KNOWN_ARROW_VIOLATIONS, _report(found, KNOWN_ARROW_VIOLATIONS)


def test_noether_is_imported_at_the_top_of_files():
    found = _lazy_violations()
    assert found == KNOWN_LAZY_VIOLATIONS, _report(found, KNOWN_LAZY_VIOLATIONS)


def test_tests_mirror_src():
    found = _mirror_violations()
    assert found == KNOWN_MIRROR_VIOLATIONS, _report(found, KNOWN_MIRROR_VIOLATIONS)


def test_the_documented_exceptions_are_real():
    """Every documented exception names an existing doc page and is still needed."""
    for (source, target), page in DOCUMENTED.items():
        assert (ROOT / page).is_file(), page
        needed = any(
            _layer_of_file(path) == source and _layer(module) == target
            for path, tree in _sources().items()
            for module, _, _ in _imports(path, tree)
        )
        assert needed, f"{source} no longer imports {target}: remove the exception"
    for path in LAZY:
        assert any(inside for _, _, inside in _imports(path, _sources()[path])), path


def test_imports_are_resolved():
    tree = ast.parse(
        "from noether import __version__, algebra\n"
        "from . import attention\n"
        "from ..primitives.linear import equivariant_linear\n"
        "import noether.core.io as io\n"
        "def f():\n"
        "    from noether.train import run\n"
    )
    found = [(module, inside) for module, _, inside in _imports("gatr/layers/mlp.py", tree)]
    assert found == [
        ("noether.__version__", False),
        ("noether.algebra", False),
        ("noether.gatr.layers", False),
        ("noether.gatr.primitives.linear", False),
        ("noether.core.io", False),
        ("noether.train", True),
    ]
