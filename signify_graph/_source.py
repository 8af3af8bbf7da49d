"""Reading pipeline YAML while remembering where every value came from.

``yaml.safe_load`` forgets positions, and an error message without ``FILE:LINE:COL`` makes
researchers hunt. So we compose the document with PyYAML's *safe* loader, build plain Python
values ourselves, and keep a map from each value's path (``("nodes", 2, "params", "pad")``)
to its position and origin. ``${VAR:-default}`` is substituted here, so environment values
are validated exactly like values typed into the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ._errors import Problem

Path_ = tuple[str | int, ...]

_PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: ``file``, ``environment`` (with the variable) or ``--set``.

    ``unset`` marks a placeholder whose variable is missing: that is reported once, by itself.
    """

    file: str
    line: int
    column: int
    source: str = "file"

    def problem(self, message: str) -> Problem:
        return Problem(self.file, self.line, self.column, message)


@dataclass
class Located:
    """A parsed document: its plain value, and the origin of every value and mapping key."""

    value: Any
    file: str
    values: dict[Path_, Origin] = field(default_factory=dict)
    keys: dict[Path_, Origin] = field(default_factory=dict)

    def origin(self, path: Path_, *, key: bool = False) -> Origin:
        """The origin of ``path``, or of its nearest ancestor that exists in the file."""
        table = self.keys if key else self.values
        while path not in table and path:
            if key and path in self.values:
                return self.values[path]
            path = path[:-1]
            table = self.values
        return table.get(path, Origin(self.file, 1, 1))


def substitute(text: str, environ: Mapping[str, str]) -> tuple[Any, list[str], list[str]]:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in ``text``.

    Returns the value (re-typed as a YAML scalar when the placeholder is the whole text, so
    ``${N:-5}`` is the integer 5), the variables that were read from the environment, and
    the variables that were missing without a default.
    """
    used: list[str] = []
    missing: list[str] = []

    def expand(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in environ:
            used.append(name)
            return environ[name]
        if default is None:
            missing.append(name)
            return ""
        return default

    expanded = _PLACEHOLDER.sub(expand, text)
    if _PLACEHOLDER.fullmatch(text.strip()):
        return parse_scalar(expanded), used, missing
    return expanded, used, missing


def parse_scalar(text: str) -> Any:
    """Type a string the way YAML would type a plain scalar (``0.5`` → float, ``on`` → True)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool) or value is None else text


_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_yaml(text: str, file: str, environ: Mapping[str, str]) -> tuple[Located, list[Problem]]:
    """Compose ``text`` safely and build its values with origins; never raises on bad YAML."""
    located = Located(None, file)
    problems: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(file, line, col, f"invalid YAML: {exc.problem or exc}"))
        return located, problems
    if root is None:
        problems.append(
            Problem(file, 1, 1, "the file is empty; a pipeline needs 'name' and 'nodes'")
        )
        return located, problems
    constructor = yaml.constructor.SafeConstructor()

    def build(node: yaml.Node, path: Path_) -> Any:
        origin = Origin(file, node.start_mark.line + 1, node.start_mark.column + 1)
        located.values[path] = origin
        if isinstance(node, yaml.MappingNode):
            result = merged(node, path, origin)
            explicit: set[str] = set()
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = constructor.construct_object(key_node, deep=True)
                key_origin = Origin(
                    file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
                )
                if not isinstance(key, str):
                    problems.append(key_origin.problem(f"keys must be strings, not {key!r}"))
                    continue
                if key in explicit:
                    problems.append(key_origin.problem(f"duplicate key '{key}'"))
                explicit.add(key)
                located.keys[(*path, key)] = key_origin
                result[key] = build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, index)) for index, item in enumerate(node.value)]
        value = constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            value, used, missing = substitute(value, environ)
            for name in missing:
                problems.append(
                    origin.problem(f"environment variable {name} is not set and has no default")
                )
            if missing:  # reported once, here; validation of the empty value stays quiet
                located.values[path] = Origin(origin.file, origin.line, origin.column, "unset")
            elif used:
                located.values[path] = Origin(
                    origin.file, origin.line, origin.column, "environment " + ", ".join(used)
                )
        return value

    def merged(node: yaml.MappingNode, path: Path_, origin: Origin) -> dict[Any, Any]:
        """What ``<<: *anchor`` merge keys bring in; keys written in the mapping win."""
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    mark = source.start_mark
                    problems.append(
                        Problem(file, mark.line + 1, mark.column + 1, "'<<' merges mappings only")
                    )
                    continue
                for key, value in build(source, path).items():
                    result.setdefault(key, value)  # earlier sources win, as YAML says
        located.values[path] = origin
        return result

    located.value = build(root, ())
    return located, problems
