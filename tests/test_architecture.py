"""The house's rules: layers point down (import-linter contracts in pyproject.toml), no import cycle between
autoasr's modules, and no function so long that a reader loses the thread."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components of more than one module (each is an import cycle)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(10_000)
    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_it_is_shown():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_layer_contracts_hold():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    completed = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    assert "0 broken" in completed.stdout


def test_no_module_of_autoasr_takes_part_in_an_import_cycle():
    graph = grimp.build_graph("autoasr")
    # a package's __init__ only names the package: an import of autoasr.data.x passes through it, not a cycle
    modules = {m for m in graph.modules if not (ROOT / Path(*m.split("."), "__init__.py")).is_file()}
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    assert strongly_connected(edges) == []


def test_no_function_in_autoasr_is_longer_than_the_limit():
    too_long = []
    for path in sorted((ROOT / "autoasr").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.name} ({lines} lines)")
    assert not too_long, too_long
