"""The shape of the code: the core never loads Textual, and no modules import each other in a
circle (a circle makes the order of imports matter, and the core impossible to split)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "inspector"
CORE = "inspector.core"


def module_names() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = module_names()


def test_importing_the_core_never_loads_textual() -> None:
    """Every core module, imported in a fresh interpreter: no Textual (nor the TUI)."""
    core = [name for name in MODULES if name == CORE or name.startswith(CORE + ".")]
    script = (
        "import importlib, json, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'textual' or "
        "m.startswith(('textual.', 'inspector.faces')))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=PACKAGE.parent, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(core) > 40  # the walk found the core
    assert json.loads(proc.stdout) == []


def imports_of(name: str, path: Path) -> set[str]:
    """The inspector modules `name` imports, at any depth of its code: function bodies (they
    run when called) and `if TYPE_CHECKING:` blocks too (a circle of types is a circle of
    concepts: a shared type belongs below both). `import a.b.c` runs the packages a and a.b
    as well, unless `name` is inside them (then they are already being imported)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        if target not in MODULES or target == name:
            return
        found.add(target)
        parts = target.split(".")
        for end in range(1, len(parts)):
            parent = ".".join(parts[:end])
            if parent in MODULES and not (name + ".").startswith(parent + "."):
                found.add(parent)

    class Visitor(ast.NodeVisitor):
        def visit_Import(self, node: ast.Import) -> None:
            for alias in node.names:
                add(alias.name)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                add(child if child in MODULES else base)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_import_cycles() -> None:
    graph = {name: imports_of(name, path) for name, path in MODULES.items()}
    found = cycles(graph)
    described = ["; ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in found]
    assert not found, "import cycles:\n" + "\n".join(described)


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above could pass by finding nothing: a known cycle must be found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    answers = MODULES["inspector.core.capture.answers"]
    assert "inspector.core.capture.receiver" in imports_of("inspector.core.capture.answers",
                                                          answers)


def test_only_the_settings_read_the_environment() -> None:
    """Configuration comes from the environment in one place (core/settings.py); the tunnel
    also hands the environment to the tool it runs, which is not configuration."""
    readers = set()
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                readers.add(name)
            if (isinstance(node, ast.keyword) and node.arg in ("envvar", "auto_envvar_prefix")
                    and not (isinstance(node.value, ast.Constant) and node.value.value is None)):
                readers.add(name)  # click reading a variable for an option
    assert readers == {"inspector.core.settings", "inspector.core.capture.tunnel"}
