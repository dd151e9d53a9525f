"""The package's shape: stage packages import each other in one direction only (no cycles),
every module stays readable in size, and every module imports."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "reconloss"
#: Lines a module may reach before it should be split along its ideas.
MAX_MODULE_LINES = 450


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _unit(module):
    """A module's unit in the layer graph: its stage package (reconloss.training, ...) or a top-level module."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _imports(path, module):
    """Every reconloss module that `path` imports, at any depth (lazy imports count: a cycle through
    a function-level import is still a cycle of ideas)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("reconloss"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.startswith("reconloss"):
                for a in node.names:
                    yield f"{base}.{a.name}" if base == "reconloss" else base


def stage_graph():
    graph = {}
    for module, path in _modules():
        unit = _unit(module)
        for imported in _imports(path, module):
            target = _unit(imported)
            if target != unit and target != "reconloss":
                graph.setdefault(unit, set()).add(target)
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


def test_stage_packages_import_in_one_direction():
    graph = stage_graph()
    assert "reconloss.report" in graph and "reconloss.claims" in graph["reconloss.report"]
    assert _cycle(graph) is None, f"import cycle between stages: {' -> '.join(_cycle(graph))}"


def test_no_module_grows_past_its_limit():
    long = {m: n for m, p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these along their ideas: {long}"


@pytest.mark.parametrize("module", [m for m, _ in _modules() if not m.endswith("__main__")])
def test_every_module_imports(module):
    importlib.import_module(module)
