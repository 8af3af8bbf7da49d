"""docs/PROTOCOL.md's error tables list exactly the codes the code can send, found by an AST
scan of the package and the built-in stages, and the error schema enumerates the same ones:
a code added without its documentation, or documented after it is gone, fails here."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "signify_graph", ROOT / "plugins" / "signify_stages"]
PROTOCOL = ROOT / "docs" / "PROTOCOL.md"
#: Calls whose first argument is the code of an error a client reads on the socket.
SOCKET_ERRORS = {"ProtocolError", "_error", "error_payload"}


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _text(node: ast.AST | None) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value


def _codes(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """(``socket`` or ``http``, code) for every constant code in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name, args = _name(node), node.args
            if name in SOCKET_ERRORS and args:
                yield from (("socket", code) for code in _text(args[0]))
            if name == "error" and len(args) >= 2:  # HttpResponse.error(status, code, message)
                yield from (("http", code) for code in _text(args[1]))
            for keyword in node.keywords:  # StageError(..., code="...") and InputError
                if keyword.arg == "code":
                    yield from (("socket", code) for code in _text(keyword.value))
        elif isinstance(node, ast.ClassDef):  # class InputError: code = "bad_input"
            for statement in node.body:
                target = getattr(statement, "target", None) or next(
                    iter(getattr(statement, "targets", [])), None
                )
                if isinstance(target, ast.Name) and target.id == "code":
                    value = getattr(statement, "value", None)
                    yield from (("socket", code) for code in _text(value))


def emitted() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"socket": set(), "http": set()}
    for folder in SOURCES:
        for path in folder.rglob("*.py"):
            for kind, code in _codes(ast.parse(path.read_text(), str(path))):
                found[kind].add(code)
    return found


def documented(header: str) -> set[str]:
    """The codes in the first column of the table whose header row is ``header``."""
    lines = PROTOCOL.read_text().splitlines()
    start = lines.index(header) + 2  # the header row, then the |---| row
    codes = set()
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        match = re.match(r"\| `([a-z0-9_]+)` \|", line)
        assert match, f"docs/PROTOCOL.md: a row without a code: {line}"
        codes.add(match.group(1))
    return codes


def test_the_socket_error_table_lists_every_code_a_client_can_be_sent_and_no_other():
    assert documented("| code | cause |") == emitted()["socket"]


def test_the_http_error_table_lists_every_code_an_http_answer_can_carry_and_no_other():
    assert documented("| code | status | cause |") == emitted()["http"]


def test_the_error_schema_enumerates_the_same_codes():
    schema = json.loads((ROOT / "docs" / "schemas" / "server-error.json").read_text())
    enum = schema["properties"]["error"]["properties"]["code"]["enum"]
    assert sorted(enum) == sorted(emitted()["socket"])
