"""The shape of the package: no import cycles between vmlab's modules, and the data helpers
(`vmlab.frames`) import without matplotlib."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import vmlab

PKG = Path(vmlab.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    """Every module of vmlab: dotted name -> file (a package is its __init__.py)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _module_level_imports(tree: ast.Module):
    """Import statements that run when the module is imported: not inside a function, nor under
    ``if TYPE_CHECKING:`` (class bodies, ``if``/``try`` blocks at module level do run)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        elif isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """module -> the vmlab modules it imports at module level (``from . import x`` counts as
    importing ``x`` when ``x`` is a module, else the package it comes from)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        for node in _module_level_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base_parts = package.split(".")
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:          # vmlab.trace.load.read_ftrace -> vmlab.trace.load
                    t = t.rpartition(".")[0]
                if t and t != name and t.startswith("vmlab"):
                    graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles found by a depth-first search (one per back edge)."""
    found, state, path = [], {}, []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(path[path.index(m):] + [m])
            elif m not in state:
                visit(m)
        path.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def test_import_graph_is_acyclic():
    graph = import_graph()
    assert "vmlab.frames" in graph and "vmlab.plots" in graph
    assert "vmlab.frames" in graph["vmlab.plots"]          # the walk sees relative imports
    assert "vmlab.widgets.base" in graph["vmlab.widgets"]
    assert _cycles(graph) == []


def test_import_graph_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_plots_back():
    """Nothing plots (or export) imports at module level imports it back, even lazily in a function."""
    graph = import_graph()
    for m in ("vmlab.frames", "vmlab.export"):
        assert "vmlab.plots" not in graph[m]
    src = (PKG / "frames.py").read_text() + (PKG / "export.py").read_text()
    assert "from .plots" not in src and "vmlab.plots import" not in src


def _run_without_matplotlib(code: str) -> subprocess.CompletedProcess:
    prog = "import sys\nsys.modules['matplotlib'] = None\n" + code
    env = dict(os.environ, PYTHONPATH=str(PKG.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env, timeout=300)


def test_frames_import_without_matplotlib():
    r = _run_without_matplotlib(
        "import vmlab.frames as f, vmlab.export, vmlab.sweep\n"
        "assert f.__file__.startswith(%r), f.__file__\n"
        "from vmlab import SimConfig\n"
        "print(f.run_label(SimConfig.for_kernel('5.0+threshold')), f.fmt_ms(2.5e6))\n" % str(PKG))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["5.0+threshold", "×2", "2.50", "ms"]
    r = _run_without_matplotlib("import vmlab.plots\n")          # the check itself works
    assert r.returncode != 0 and "matplotlib" in r.stderr
