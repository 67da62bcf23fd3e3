"""Docs and extras agree: every page with Python snippets names the install command they
need, and that command installs every module the snippets import.

A page names it in a paragraph about its snippets, as inline code: "The snippets below run
... after `pip install 'omniembed[llama-index-qdrant,emulator]'`". The extras are resolved
from the installed omniembed's metadata (through self-references such as
``omniembed[media]``) and then transitively through each distribution's requirements, with
markers evaluated here. A snippet's import passes when the standard library, omniembed, or
one of those distributions provides it; an ``omniembed`` module whose package names an extra
in its install hint (``pip install 'omniembed[emulator]'``) needs that extra's distributions
too. Namespace packages (``google``, ``llama_index``) are matched by the files under the
imported module's own path, so ``llama_index.vector_stores.qdrant`` needs the Qdrant store,
not just llama-index-core.

After editing pyproject.toml's extras, reinstall (``pip install -e .``) so the installed
metadata carries them.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import shlex
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import omniembed

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
ANY_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
PIP_COMMAND = re.compile(r"`(pip install [^`]+)`")
INSTALL_HINT = re.compile(r"pip install '?omniembed\[([\w,-]+)\]")
# The framework adapters build their provider lazily, on construction: an adapter class
# needs its provider's extra although importing it does not.
CLASS_PREFIX_NEEDS = {"DashScope": "dashscope"}


def python_blocks(text: str) -> list[str]:
    return PYTHON_BLOCK.findall(text)


def named_commands(text: str) -> set[str]:
    """The inline ``pip install ...`` commands of the prose paragraphs about snippets."""
    prose = ANY_BLOCK.sub("\n\n", text)
    commands = set()
    for paragraph in re.split(r"\n\s*\n", prose):
        if "snippet" in paragraph.lower():
            commands |= {" ".join(c.split()) for c in PIP_COMMAND.findall(paragraph)}
    return commands


def parse_command(command: str) -> tuple[set[str], list[Requirement]]:
    """``pip install 'omniembed[a,b]' pytest`` → ({"a", "b"}, [pytest])."""
    extras: set[str] = set()
    others: list[Requirement] = []
    for token in shlex.split(command)[2:]:
        if token.startswith("-"):
            continue
        req = Requirement(token)
        if canonicalize_name(req.name) == "omniembed":
            extras |= set(req.extras)
        else:
            others.append(req)
    return extras, others


@functools.cache
def requirements_of(dist: str) -> tuple[Requirement, ...]:
    try:
        return tuple(Requirement(r) for r in md.distribution(dist).requires or ())
    except md.PackageNotFoundError:
        return ()


def closure(extras: set[str], others: Sequence[Requirement] = ()) -> set[str]:
    """Canonical names of the distributions ``pip install 'omniembed[extras]' others``
    brings in: omniembed's core and extras, recursively, then every requirement's own."""
    todo = [("omniembed", extra) for extra in ("", *extras)]
    todo += [(req.name, extra) for req in others for extra in ("", *req.extras)]
    seen: set[tuple[str, str]] = set()
    while todo:
        name, extra = todo.pop()
        key = (canonicalize_name(name), extra)
        if key in seen:
            continue
        seen.add(key)
        for req in requirements_of(name):
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(req.name, e) for e in ("", *req.extras)]
    return {name for name, _ in seen}


@functools.cache
def module_owners() -> dict[str, set[str]]:
    """Top-level module → canonical names of the distributions that install it."""
    return {
        top: {canonicalize_name(d) for d in dists}
        for top, dists in md.packages_distributions().items()
    }


@functools.cache
def files_of(dist: str) -> tuple[str, ...]:
    return tuple(str(f) for f in md.distribution(dist).files or ())


def providers(module: str) -> set[str]:
    """The distributions that install ``module``: those with its own files, else the owners
    of its nearest regular (``__init__.py``) parent package. A namespace package such as
    ``llama_index`` or ``google`` proves nothing: many distributions add to it."""
    parts = module.split(".")
    owners = module_owners().get(parts[0], set())
    if len(parts) == 1:
        return owners
    for depth in range(len(parts), 0, -1):
        path = "/".join(parts[:depth])
        if depth == len(parts):  # the module itself: a file, an extension, a package
            marks: tuple[str, ...] = (f"{path}.", f"{path}/")
        else:  # a parent package provides its submodules only if it is a regular one
            marks = (f"{path}/__init__.py",)
        found = {d for d in owners if any(f.startswith(marks) for f in files_of(d))}
        if found:
            return found
    return set()


def snippet_imports(block: str) -> list[tuple[str, tuple[str, ...]]]:
    """(module, imported names) of every absolute import in a snippet. A block that is not
    valid Python on its own (a signature with ``*``) is read by its import statements."""
    try:
        tree = ast.parse(block)
    except SyntaxError:
        statements, current = [], ""
        for line in block.splitlines():
            if current or re.match(r"\s*(import|from)\s", line):
                current += line.strip() + "\n"
                if current.count("(") == current.count(")"):
                    statements.append(current)
                    current = ""
        tree = ast.parse("".join(statements))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, tuple(alias.name for alias in node.names)))
    return found


def omniembed_extras_needed(module: str, names: tuple[str, ...]) -> dict[str, set[str]]:
    """What an ``omniembed`` import needs, per imported thing: the extras named by the install
    hints in the source of the module and of its packages (read, not imported), and those of
    adapter classes whose provider is built lazily (`CLASS_PREFIX_NEEDS`)."""
    root = Path(omniembed.__file__).parent
    sources = {module: module}
    if module == "omniembed":  # the lazily exported classes live in their own modules
        lazy = omniembed._LAZY  # {"DashScopeEmbedder": ".providers.dashscope", ...}
        sources = {f"omniembed.{n}": "omniembed" + lazy[n] for n in names if n in lazy}
    needs: dict[str, set[str]] = {}
    for what, name in sources.items():
        parts = name.split(".")[1:]
        for depth in range(1, len(parts) + 1):
            path = root.joinpath(*parts[:depth])
            for source in (path / "__init__.py", path.with_suffix(".py")):
                if source.is_file():
                    for hint in INSTALL_HINT.findall(source.read_text("utf-8")):
                        needs.setdefault(what, set()).update(hint.split(","))
    for name in names:
        for prefix, extra in CLASS_PREFIX_NEEDS.items():
            if name.startswith(prefix):
                needs.setdefault(f"{module}.{name}", set()).add(extra)
    return needs


def direct_requirements(extra: str) -> set[str]:
    return {
        canonicalize_name(req.name)
        for req in requirements_of("omniembed")
        if req.marker is not None and req.marker.evaluate({"extra": extra})
    }


def check_page(text: str) -> list[str]:
    """What a reader following the page's own install command would miss."""
    blocks = python_blocks(text)
    if not blocks:
        return []
    commands = named_commands(text)
    if len(commands) != 1:
        return [f"names {len(commands)} install commands for its snippets: {sorted(commands)}"]
    [command] = commands
    extras, others = parse_command(command)
    known = set(md.metadata("omniembed").get_all("Provides-Extra") or ())
    if unknown := extras - known:
        return [f"{command}: no such extra {sorted(unknown)} (stale metadata? pip install -e .)"]
    installed = closure(extras, others)
    problems = []
    for block in blocks:
        for module, names in snippet_imports(block):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names:
                continue
            if top == "omniembed":
                for what, extras in omniembed_extras_needed(module, names).items():
                    for extra in sorted(extras):
                        if closure({extra}) - installed:
                            missing = sorted(direct_requirements(extra) - installed)
                            problems.append(
                                f"{what} needs omniembed[{extra}] ({', '.join(missing)}), "
                                f"which {command} does not install"
                            )
                continue
            owners = providers(module)
            if not owners & installed:
                problems.append(
                    f"{module} (from {sorted(owners) or '?'}) is not installed by {command}"
                )
    return problems


PAGES_WITH_SNIPPETS = [p for p in PAGES if python_blocks(p.read_text("utf-8"))]


@pytest.mark.parametrize("page", PAGES_WITH_SNIPPETS, ids=lambda p: p.name)
def test_the_page_names_an_install_command_that_covers_its_imports(page: Path) -> None:
    assert check_page(page.read_text("utf-8")) == []


def test_the_framework_guides_name_their_store_extras() -> None:
    guides = {
        "llama_index.md": "llama-index-qdrant",
        "langchain.md": "langchain-chroma",
        "ray.md": "qdrant",
    }
    for name, extra in guides.items():
        [command] = named_commands((ROOT / "docs" / name).read_text("utf-8"))
        assert extra in parse_command(command)[0], (name, command)


def test_install_hints_are_found_without_importing() -> None:
    assert omniembed_extras_needed("omniembed", ("DashScopeEmbedder", "Media")) == {
        "omniembed.DashScopeEmbedder": {"dashscope"}
    }
    assert omniembed_extras_needed("omniembed.emulator.model_quotas", ("VERTEX_QUOTAS",)) == {
        "omniembed.emulator.model_quotas": {"emulator"}
    }
    assert omniembed_extras_needed("omniembed.ray", ("embed_dataset",)) == {
        "omniembed.ray": {"ray"}
    }
    # an adapter builds its DashScope provider only when constructed: named by its class
    assert omniembed_extras_needed(
        "omniembed.langchain", ("GeminiEmbeddings", "DashScopeMultiModalEmbeddings")
    ) == {
        "omniembed.langchain": {"langchain"},
        "omniembed.langchain.DashScopeMultiModalEmbeddings": {"dashscope"},
    }


PLANTED = """\
# A planted page

The snippets below run after `pip install '{spec}'`.

```python
from llama_index.core import VectorStoreIndex
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient
from omniembed import DashScopeEmbedder
```
"""


def test_a_page_whose_extra_lacks_its_store_is_flagged() -> None:
    problems = check_page(PLANTED.format(spec="omniembed[llama-index]"))
    assert len(problems) == 3, problems
    assert "llama_index.vector_stores.qdrant" in problems[0]  # not just llama-index-core
    assert problems[1].startswith("qdrant_client (from ['qdrant-client'])")
    # (Not omniembed.emulator: llama-index-core itself brings aiohttp and numpy, so
    # omniembed[llama-index] may well install all the emulator needs.)
    assert problems[2].startswith("omniembed.DashScopeEmbedder needs omniembed[dashscope]")
    assert check_page(PLANTED.format(spec="omniembed[llama-index-qdrant,dashscope]")) == []


def test_namespace_packages_are_matched_by_their_subpackage() -> None:
    assert providers("llama_index.vector_stores.qdrant") == {"llama-index-vector-stores-qdrant"}
    assert providers("llama_index.core.schema") == {"llama-index-core"}
    assert providers("google.oauth2.credentials") == {"google-auth"}
    assert providers("llama_index.vector_stores.no_such_store") == set()
    assert providers("PIL") == {"pillow"}


def test_a_page_without_a_command_or_with_an_unknown_extra_is_flagged() -> None:
    silent = PLANTED.replace("The snippets below run after `pip install '{spec}'`.", "Hello.")
    assert check_page(silent) == ["names 0 install commands for its snippets: []"]
    [problem] = check_page(PLANTED.format(spec="omniembed[qdrant-llama]"))
    assert "no such extra ['qdrant-llama']" in problem


def test_plain_requirements_after_the_extras_count() -> None:
    page = textwrap.dedent("""\
        The snippets need `pip install 'omniembed[emulator]' pytest`.

        ```python
        import pytest
        from google.genai import types
        from PIL import Image
        ```
    """)
    assert check_page(page) == []
    assert check_page(page.replace(" pytest`", "`")) == [
        "pytest (from ['pytest']) is not installed by pip install 'omniembed[emulator]'"
    ]
