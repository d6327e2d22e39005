"""The package's shape: imports point down the layers only, no module imports itself back (imports
inside functions and under TYPE_CHECKING count), and no module grows past 600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "eagerexec"

# bottom up; a layer may import its own modules and any layer below it
LAYERS = [
    {"_exceptions"},
    {"chunker"},
    {"backends"},
    {"sources"},
    {"pipeline"},
    {"model"},
    {"bench", "server", "integrations", "client"},
    {"cli"},
]
SKIP = {"corpus", "examples"}


def _module_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in SKIP:
            continue
        out[_module_of(path)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every eagerexec module ``name`` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            targets = [stem] + [f"{stem}.{a.name}" for a in node.names]
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    return len(LAYERS)  # the package itself (the flat API) sits on top


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_imports_point_down_the_layers() -> None:
    graph = _graph()
    upward = [
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if b != "eagerexec" and _layer(b) > _layer(a)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    graph = _graph()
    # a package's __init__ re-exporting its own modules is not a cycle of the modules: drop the
    # edges from a module to its own package's __init__ (they import siblings, not back)
    edges = {
        a: {b for b in targets if not (a.startswith(b + ".") and b.count(".") >= 1) and b != "eagerexec"}
        for a, targets in graph.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_no_module_over_600_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in _modules().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
