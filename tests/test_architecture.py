"""The layering rule, read from the package's own imports (AST): lower layers never import higher ones, no cycles.

Layers, lowest first: ``types`` (wire models and the shared rules) → ``request`` → ``client`` → ``ledger`` →
``notebook`` (the front ends). ``local`` (the embedded server) stands on ``types`` alone. The top-level modules
(``nbmessages/__init__.py``, ``__main__``, ``usage``, ``testing``) are the public facade: they may import any
layer, and no layer imports them. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nbmessages"
ORDER = ("types", "request", "client", "ledger", "notebook")
ALLOWED = {
    "types": {"types"},
    "local": {"types", "local"},
    "request": {"types", "request"},
    "client": {"types", "request", "client", "local"},  # the client starts the embedded server when nothing is set
    "ledger": {"types", "request", "client", "ledger"},
    "notebook": {"types", "request", "client", "ledger", "notebook", "local"},
}


def module_name(path: Path) -> str:
    parts = ["nbmessages", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    """The layer a module belongs to: a subpackage's name, or ``facade`` for the top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else "facade"


def imports_of(module: str) -> set[str]:
    """Every nbmessages module this module imports, at any depth of its code, resolved to a module name."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "nbmessages"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "nbmessages":
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_the_layers_are_the_subpackages() -> None:
    layers = {layer(m) for m in MODULES}
    assert layers == {*ORDER, "local", "facade"}
    assert {m for m in MODULES if layer(m) == "facade"} == {
        "nbmessages", "nbmessages.__main__", "nbmessages.usage", "nbmessages.testing",
        "nbmessages.batches"}  # nbmessages.batches.submit / resume: the batch runner's public names


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) != "facade"))
def test_imports_go_down_only(module: str) -> None:
    allowed = ALLOWED[layer(module)]
    wrong = sorted(t for t in GRAPH[module] if layer(t) not in allowed)
    assert not wrong, f"{module} ({layer(module)}) imports {wrong}: allowed layers are {sorted(allowed)}"


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_rule_sees_lazy_and_relative_imports() -> None:
    # the checker itself: a lazy relative import inside a function is an edge
    assert "nbmessages.local" in GRAPH["nbmessages.client.config"]
    assert "nbmessages.types" in GRAPH["nbmessages.request.builder"] or any(
        t.startswith("nbmessages.types") for t in GRAPH["nbmessages.request.builder"])


def test_the_readme_architecture_section_names_every_module() -> None:
    readme = (PACKAGE.parent / "README.md").read_text()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^  - `([\w/]+\.py)`", section, flags=re.M))
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}
    assert modules - listed == set(), "modules missing from the README's architecture section"
    assert listed - modules == set(), "the README's architecture section names modules that do not exist"
