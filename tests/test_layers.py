"""The layers, written as a test (an AST scan of every import), so they stay layers.

* the engine core (the top level of ``signify_graph``) never imports the service, the tools
  or the command line;
* the service never imports the tools or the command line, and the tools never the command
  line;
* the session core, the protocol and the fair share are sans I/O: no asyncio, no sockets,
  no threads;
* stages (``plugins/``) never import asyncio, the network or signify-graph's private
  modules: a built-in stage is written exactly like a third party's;
* ``hookspecs`` imports the engine's modules for type checking only (an import cycle
  otherwise).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "signify_graph"
PLUGINS = REPO / "plugins"


def _module(path: Path) -> str:
    root = PLUGINS if PLUGINS in path.parents else REPO
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, *, type_checking: bool = True) -> Iterator[str]:
    """Absolute names of every module ``path`` imports (``type_checking=False``: leave out
    what is imported under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    skipped: set[int] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def offending(paths: list[Path], forbidden: tuple[str, ...], **options: bool) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {name}"
        for path in paths
        for name in sorted(set(imports(path, **options)))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


LAYERS = ("signify_graph.service", "signify_graph.tools", "signify_graph.cli")
CORE = sorted(PACKAGE.glob("*.py"))


def test_the_engine_core_imports_neither_the_service_nor_the_tools_nor_the_cli():
    assert CORE and offending(CORE, LAYERS) == []


def test_the_service_imports_neither_the_tools_nor_the_cli():
    forbidden = ("signify_graph.tools", "signify_graph.cli")
    assert offending(sources(PACKAGE / "service"), forbidden) == []


def test_the_tools_do_not_import_the_cli():
    assert offending(sources(PACKAGE / "tools"), ("signify_graph.cli",)) == []


@pytest.mark.parametrize("module", ["session", "protocol", "fairshare"])
def test_the_session_core_is_sans_io(module: str):
    path = PACKAGE / "service" / f"{module}.py"
    io = ("asyncio", "socket", "threading", "concurrent", "websockets", "aiohttp", "time")
    assert offending([path], io) == []


def test_stages_import_no_asyncio_no_network_and_no_private_module():
    forbidden = ("asyncio", "websockets", "aiohttp", "socket", *LAYERS)
    stages = sources(PLUGINS)
    assert stages and offending(stages, forbidden) == []
    private = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in stages
        for name in set(imports(path))
        if name.startswith("signify_graph.") and name.split(".")[1].startswith("_")
    ]
    assert private == []


def test_hookspecs_import_the_engine_for_type_checking_only():
    engine = ("signify_graph._graph", "signify_graph._host", "signify_graph._errors")
    assert offending([PACKAGE / "hookspecs.py"], engine, type_checking=False) == []


def test_the_scan_sees_relative_imports():
    """The scan itself: the driver's relative imports resolve to absolute names."""
    names = set(imports(PACKAGE / "service" / "driver.py"))
    assert {"asyncio", "signify_graph._graph", "signify_graph.service.session"} <= names


def test_every_module_and_class_reads_in_one_sitting():
    """No module over 400 lines, no class over 200 (pluggy's largest module is ~750)."""
    too_long = []
    for path in [*sources(PACKAGE), *sources(PLUGINS)]:
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 400:
            too_long.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > 200:
                    too_long.append(f"{path.relative_to(REPO)}: class {node.name}, {size} lines")
    assert too_long == []
