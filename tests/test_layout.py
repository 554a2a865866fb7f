"""The package's layout: no import cycle, and no long module without a reason.

Import cycles. Every module under ``django_chatkit/`` is parsed (never imported) and its
imports of ``django_chatkit.*`` (absolute, or relative like ``from ..store import x``)
become edges of a graph. Two graphs are checked:

- *import time*: imports at module level only. Imports inside a function or method run
  later and do not count; neither does an ``if TYPE_CHECKING:`` block (never run).
  A cycle here makes the import order matter, so it must never appear.
  Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b`` (those the importer
  is not inside), so it is an import of them too.
- *deferred*: the same plus the imports inside functions, module to module (no package
  ``__init__`` added: this graph is about which module needs which). A cycle here is a
  layer reaching back up through a late import (``runs`` asking ``server`` for the
  owner); the known ones are listed in ``KNOWN_BACK_EDGES`` until they are broken.

``from package import name`` counts as an import of ``package.name`` when that is a
module, else of ``package``.

Long modules. A module over ``MAX_LINES`` lines says why at its top: a line starting
with ``Long because:`` in its module docstring, or a ``# Long because: ...`` comment
before its first statement. The reason is for the next reader (what the module holds
that does not split well), not for this test.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "django_chatkit"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
MAX_LINES = 400
REASON_MARKER = "Long because:"

#: Deferred imports that close a cycle, still to be broken: (importer, imported) -> why it
#: is there. Each one's test fails (strict xfail) once its cycle is gone: remove it then.
KNOWN_BACK_EDGES: dict[tuple[str, str], str] = {}


# -- the checkers --------------------------------------------------------------------------


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Each module of the package under ``root``, by dotted name (migrations left out)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((package, *parts))] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: list[ast.stmt], deferred: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module (and, if ``deferred``, its functions) run."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse, deferred)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if deferred:
                yield from (n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
        else:  # the statements inside class bodies, if/try/with/for blocks, except handlers
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports([child], deferred)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from _imports(child.body, deferred)


def import_graph(root: Path, package: str, *, deferred: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (see the module docstring for the rules)."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree.body, deferred):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    base_parts = here[: len(here) - (node.level - 1)]
                    base = ".".join([*base_parts, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            for target in targets:
                # ``import a.b.c`` imports a.b.c: the nearest module of the package that exists
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if not (target == package or target.startswith(package + ".")):
                    continue
                graph[name].add(target)
                if not deferred:
                    graph[name].update(_packages_run_first(target, name))
        graph[name].discard(name)
    return graph


def _packages_run_first(target: str, importer: str) -> Iterator[str]:
    """The packages whose ``__init__`` runs before ``target`` when ``importer`` imports it:
    its parents, except those ``importer`` is inside (they are running already)."""
    parts = target.split(".")
    for end in range(1, len(parts)):
        parent = ".".join(parts[:end])
        if not importer.startswith(parent + "."):
            yield parent


def find_cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[tuple[str, ...]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(tuple(sorted(group)))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(groups)


def describe_cycle(graph: dict[str, set[str]], group: tuple[str, ...]) -> str:
    """One loop through ``group``, as ``a -> b -> a``."""
    members = set(group)
    path = [group[0]]
    seen = {group[0]: 0}
    while True:
        following = sorted(graph[path[-1]] & members)
        nxt = next((m for m in following if m in seen), following[0])
        if nxt in seen:
            return " -> ".join([*path[seen[nxt] :], nxt])
        seen[nxt] = len(path)
        path.append(nxt)


def has_reason(source: str) -> bool:
    """Whether a module says why it is long, at its top (see the module docstring)."""
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree, clean=True) or ""
    if any(line.strip().startswith(REASON_MARKER) for line in docstring.splitlines()):
        return True
    first = tree.body[1 if docstring else 0].lineno if len(tree.body) > (1 if docstring else 0) else None
    header = source.splitlines()[: first - 1 if first else None]
    return any(line.strip().startswith("# " + REASON_MARKER) for line in header)


def long_modules(root: Path, package: str, limit: int = MAX_LINES) -> list[str]:
    """``name (N lines)`` of each module over ``limit`` lines that gives no reason."""
    found = []
    for name, path in module_files(root, package).items():
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n") + (not source.endswith("\n") and bool(source))
        if lines > limit and not has_reason(source):
            found.append(f"{name} ({lines} lines)")
    return found


def cycle_report(graph: dict[str, set[str]], groups: list[tuple[str, ...]]) -> str:
    return "import cycles: " + "; ".join(describe_cycle(graph, group) for group in groups)


# -- the package ---------------------------------------------------------------------------


def test_no_import_cycle_at_import_time():
    graph = import_graph(ROOT, PACKAGE)
    groups = find_cycles(graph)
    assert not groups, cycle_report(graph, groups)


def test_no_import_cycle_with_deferred_imports_but_the_known_ones():
    graph = import_graph(ROOT, PACKAGE, deferred=True)
    for importer, imported in KNOWN_BACK_EDGES:
        graph[importer].discard(imported)
    groups = find_cycles(graph)
    assert not groups, cycle_report(graph, groups)


@pytest.mark.parametrize(
    "edge",
    [
        pytest.param(
            edge,
            id=f"{edge[0].rpartition('.')[2]}->{edge[1].rpartition('.')[2]}",
            marks=pytest.mark.xfail(strict=True, reason=f"known cycle: {why}"),
        )
        for edge, why in sorted(KNOWN_BACK_EDGES.items())
    ],
)
def test_known_cycle_is_still_there(edge):
    """Fails (as expected) while the cycle exists; passes once it is broken: then remove
    the entry from KNOWN_BACK_EDGES."""
    graph = import_graph(ROOT, PACKAGE, deferred=True)
    cycle = [group for group in find_cycles(graph) if set(edge) <= set(group) and edge[1] in graph[edge[0]]]
    assert not cycle, cycle_report(graph, cycle)


def test_no_long_module_without_a_reason():
    found = long_modules(ROOT, PACKAGE)
    assert not found, f"modules over {MAX_LINES} lines without '{REASON_MARKER} ...' at their top: " + ", ".join(found)


# -- the checkers can fail -------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "pkg"


def test_a_cycle_is_found_and_named(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "b.py": "from .sub.c import thing\n",
            "sub/__init__.py": "",
            "sub/c.py": "import pkg.a\nthing = 1\n",
            "d.py": "from .a import x\n",  # imports into the cycle, not part of it
        },
    )
    graph = import_graph(root, "pkg")
    groups = find_cycles(graph)
    assert groups == [("pkg.a", "pkg.b", "pkg.sub.c")]
    assert cycle_report(graph, groups) == "import cycles: pkg.a -> pkg.b -> pkg.sub.c -> pkg.a"


def test_imports_in_functions_and_type_checking_blocks_count_only_where_said(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": """\
            from typing import TYPE_CHECKING
            from . import b
            if TYPE_CHECKING:
                from .c import C
        """,
            "b.py": """\
            def later():
                from . import a
        """,
            "c.py": "from .a import x\n",
        },
    )
    assert find_cycles(import_graph(root, "pkg")) == []
    assert find_cycles(import_graph(root, "pkg", deferred=True)) == [("pkg.a", "pkg.b")]


def test_a_package_importing_its_own_module_that_imports_it_back_is_a_cycle(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "w/__init__.py": "from .render import go\nNAME = 1\n",
            "w/render.py": "from . import NAME\n",  # the package's __init__, not a module
        },
    )
    assert find_cycles(import_graph(root, "pkg")) == [("pkg.w", "pkg.w.render")]


def test_importing_a_module_of_a_package_runs_the_package_first(tmp_path):
    # models needs only w.pure, but importing it runs w/__init__, which imports w.orm,
    # which needs models: a cycle at import time, none between the modules themselves.
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "models.py": "from .w.pure import Definition\n",
            "w/__init__.py": "from .orm import lookup\nfrom .pure import Definition\n",
            "w/pure.py": "class Definition: ...\n",
            "w/orm.py": "from ..models import Row\nfrom . import pure\n",  # its own package: no edge
        },
    )
    graph = import_graph(root, "pkg")
    assert find_cycles(graph) == [("pkg.models", "pkg.w", "pkg.w.orm")]
    assert cycle_report(graph, find_cycles(graph)) == "import cycles: pkg.models -> pkg.w -> pkg.w.orm -> pkg.models"
    assert find_cycles(import_graph(root, "pkg", deferred=True)) == []


def test_a_long_module_needs_its_reason_at_the_top(tmp_path):
    body = "x = 1\n" * 401
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "short.py": "x = 1\n" * 400,
            "silent.py": '"""Does things."""\n' + body + "# Long because: too late, not at the top\n",
            "documented.py": '"""Does things.\n\nLong because: one state machine.\n"""\n' + body,
            "commented.py": "# Long because: generated tables.\n" + body,
        },
    )
    assert long_modules(root, "pkg") == ["pkg.silent (403 lines)"]
