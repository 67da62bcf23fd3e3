"""No import cycles inside the package: imports point one way (domain → media → runtime →
providers → adapters).

Every module under ``src/omniembed`` is parsed with `ast` (nothing is imported) and the
graph of its module-level imports of omniembed modules is built: relative imports are
resolved; imports inside functions (run later, on use) and inside ``if TYPE_CHECKING:``
blocks (never run) are left out, since neither can meet a half-initialised module.

An edge follows what Python runs: ``import a.b.c`` and ``from a.b import c`` run the
packages ``a`` and ``a.b`` and the module ``a.b.c``; a package the importing module sits in
is already running, so reaching one of its submodules adds no edge to it, but taking a name
from it does (that name may not be defined yet).
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "omniembed"

Graph = dict[str, set[str]]


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(body: Sequence[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported: at the top level or in
    any block or class body that runs then, but not in functions or ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from module_level_imports(node.orelse)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from module_level_imports([child])
                elif isinstance(child, (ast.excepthandler, ast.match_case)):
                    yield from module_level_imports(child.body)


def build_graph(src: Path, package: str) -> Graph:
    files = {module_name(p, src): p for p in sorted((src / package).rglob("*.py"))}
    packages = {name for name, path in files.items() if path.name == "__init__.py"}

    def runs(target: str, importer: str) -> set[str]:
        """``target`` (the longest prefix that is a module) and the packages above it that
        are not already running around ``importer``."""
        while target not in files:
            target = target.rpartition(".")[0]
            if not target:  # not a module of the package (a typo): nothing runs
                return set()
        parts = target.split(".")
        prefixes = {".".join(parts[:i]) for i in range(1, len(parts))}
        return {target} | {p for p in prefixes if not (importer + ".").startswith(p + ".")}

    graph: Graph = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in module_level_imports(ast.parse(path.read_text("utf-8"), str(path)).body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == package or alias.name.startswith(package + "."):
                        deps |= runs(alias.name, name)
                continue
            if node.level:
                base = name.split(".") if name in packages else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            if not (origin == package or origin.startswith(package + ".")):
                continue
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                if submodule in files:
                    deps |= runs(submodule, name)
                else:  # a name defined in ``origin``: it must have run that far
                    deps |= runs(origin, name)
        deps.discard(name)
        graph[name] = deps
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), each as
    the path ``[a, b, ..., a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)

    cycles = []
    for component in components:
        start = min(component)
        # Breadth-first within the component: the shortest way from `start` back to it.
        came_from: dict[str, str] = {}
        frontier = [start]
        while start not in came_from:
            following = []
            for node in frontier:
                for dep in sorted(graph[node] & component):
                    if dep not in came_from:
                        came_from[dep] = node
                        following.append(dep)
            frontier = following
        path = [start]
        while path[-1] != start or len(path) == 1:
            path.append(came_from[path[-1]])
        cycles.append(path[::-1])
    return sorted(cycles)


def test_no_import_cycles() -> None:
    graph = build_graph(SRC, PACKAGE)
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (module-level imports):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_the_graph_sees_the_package() -> None:
    """Guards the test above against an empty or misread graph."""
    graph = build_graph(SRC, PACKAGE)
    assert len(graph) > 100
    assert "omniembed.errors" in graph["omniembed.media.item"]  # from ..errors import ...
    assert "omniembed.media.item" in graph["omniembed.media.probe"]  # from .item import Media
    assert "omniembed.media" in graph["omniembed.providers.gemini"]  # from ..media import Media
    assert "omniembed.media.probe" in graph["omniembed.providers.gemini"]  # and the package
    assert "omniembed.types" not in graph["omniembed.errors"]  # only under TYPE_CHECKING


def test_the_emulator_imports_no_client_code() -> None:
    """The emulator is the other side of the wire (DESIGN.md §1): it may share the media
    layer's decoding, never the runtime, the providers or the adapters."""
    client = ("omniembed.providers", "omniembed.runtime", "omniembed.llama_index")
    client += ("omniembed.langchain", "omniembed.rag")
    graph = build_graph(SRC, PACKAGE)
    found = {
        name: sorted(d for d in deps if d.startswith(client))
        for name, deps in graph.items()
        if name.startswith("omniembed.emulator")
    }
    assert not {name: deps for name, deps in found.items() if deps}


def _package(root: Path, modules: dict[str, str]) -> Path:
    for name, source in modules.items():
        path = root / f"{name.replace('.', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), "utf-8")
    return root


def test_a_cycle_is_found_and_named(tmp_path: Path) -> None:
    src = _package(
        tmp_path,
        {
            "pkg.__init__": "from .sub import thing\n",
            "pkg.sub.__init__": "from .a import thing\n",
            "pkg.sub.a": "from . import b\nthing = 1\n",
            "pkg.sub.b": "import pkg.c\n",
            "pkg.c": "from pkg.sub import a\n",
            "pkg.d": "try:\n    from .c import x\nexcept ImportError:\n    pass\n",
        },
    )
    assert find_cycles(build_graph(src, "pkg")) == [
        ["pkg.c", "pkg.sub.a", "pkg.sub.b", "pkg.c"],
    ]


def test_type_only_and_deferred_imports_are_not_edges(tmp_path: Path) -> None:
    src = _package(
        tmp_path,
        {
            "pkg.__init__": "",
            "pkg.low": """
                from typing import TYPE_CHECKING
                import typing
                if TYPE_CHECKING:
                    from .high import High
                if typing.TYPE_CHECKING:
                    import pkg.high
                def later():
                    from . import high
                class Low:
                    def method(self):
                        from .high import High
                """,
            "pkg.high": "from .low import Low\n",
        },
    )
    graph = build_graph(src, "pkg")
    assert graph["pkg.low"] == set()
    assert graph["pkg.high"] == {"pkg.low"}
    assert find_cycles(graph) == []


def test_a_name_from_the_enclosing_package_is_an_edge(tmp_path: Path) -> None:
    """``from . import NAME`` needs the package's ``__init__`` to have defined NAME: with the
    package importing this module first, that is a cycle; ``from . import submodule`` not."""
    src = _package(
        tmp_path,
        {
            "pkg.__init__": "from .a import A\nfrom .b import B\nLIMIT = 3\n",
            "pkg.a": "from . import b\nA = 1\n",
            "pkg.b": "from . import LIMIT\nB = LIMIT\n",
        },
    )
    assert find_cycles(build_graph(src, "pkg")) == [["pkg", "pkg.b", "pkg"]]
