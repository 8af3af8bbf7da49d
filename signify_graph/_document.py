"""The skeleton of a pipeline file as pydantic models: what validates it is what the JSON
Schema (:mod:`._schema`) is derived from, so the two cannot disagree.

:class:`PipelineDocument` and :class:`NodeDocument` say which keys a file and a node may have
and what each holds; a stage's own ``params_model`` says what its parameters may be. A
pydantic error is translated here into the messages users read — where it is (the error's
location becomes the YAML node's origin, by the caller) and what would be right ("unknown key
'nodez' — did you mean 'nodes'?"). The wiring (which node feeds which port) is checked by
:mod:`._pipeline`, which needs the stages' ports; :func:`resolve_inputs` is the one place that
reads an ``inputs:`` value.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ._source import Path_

#: A node id: an identifier (it may be referred to from ``inputs``, and never as ``input``).
NodeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
#: Where a node's ports read from: one node id (the first port), a list (ports in order) or
#: a mapping port → node id. Left out, the first port reads the node above.
Inputs = NodeId | list[NodeId] | dict[str, NodeId]


class NodeDocument(BaseModel):
    """One entry of ``nodes:``."""

    model_config = ConfigDict(extra="forbid")

    id: NodeId
    stage: str
    params: dict[str, Any] | None = None
    inputs: Inputs | None = None


class PipelineDocument(BaseModel):
    """A pipeline file."""

    model_config = ConfigDict(extra="forbid", title="signify-graph pipeline")

    name: str = Field(min_length=1)
    description: str = ""
    nodes: list[NodeDocument] = Field(min_length=1)


class _Head(PipelineDocument):
    """The file with its nodes unchecked: each node is checked on its own, so one broken node
    does not hide the problems of the others."""

    nodes: list[Any] = Field(min_length=1)


#: Report a problem: (path in the document, message, whether the key is to blame).
Report = Callable[[Path_, str, bool], None]

_TOP_KEYS = list(PipelineDocument.model_fields)
_NODE_KEYS = list(NodeDocument.model_fields)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def _errors(model: type[BaseModel], value: Any) -> list[tuple[Path_, str]]:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [(tuple(error["loc"]), error["type"]) for error in exc.errors()]
    return []


def check_head(doc: Any, report: Report) -> list[dict[str, Any]]:
    """Check the file's keys, name and description; its nodes as mappings (a node that is
    not one stands as ``{}``, so its problems are found like any other's)."""
    if not isinstance(doc, dict):
        report((), "a pipeline must be a mapping with 'name', 'description' and 'nodes'", False)
        return []
    broken_nodes = False
    for loc, kind in _errors(_Head, doc):
        field = str(loc[0]) if loc else ""
        if kind == "extra_forbidden":
            report(loc, f"unknown key '{field}'{did_you_mean(field, _TOP_KEYS)}", True)
        elif field == "nodes":
            broken_nodes = True
            report(loc[:1] if kind != "missing" else (), "'nodes' must be a non-empty list", False)
        elif field == "name":
            report(loc[:1] if kind != "missing" else (), "'name' must be a non-empty string", False)
        elif field == "description":
            report(loc[:1], "'description' must be a string", False)
    if broken_nodes:
        return []
    nodes: list[dict[str, Any]] = []
    for index, node in enumerate(doc["nodes"]):
        if not isinstance(node, dict):
            report(("nodes", index), "each node must be a mapping with 'id' and 'stage'", False)
            node = {}
        nodes.append(node)
    return nodes


def check_node(where: Path_, node: dict[str, Any], report: Report) -> set[str]:
    """Check one node's keys and the shape of its values; the fields found wrong."""
    wrong: set[str] = set()
    for loc, kind in _errors(NodeDocument, node):
        field = str(loc[0]) if loc else ""
        if kind == "extra_forbidden":
            report(
                (*where, field),
                f"unknown node key '{field}'{did_you_mean(field, _NODE_KEYS)}",
                True,
            )
            continue
        if field in wrong:
            continue
        wrong.add(field)
        if field == "id":
            report((*where, "id"), "node 'id' must be an identifier (letters, digits, _)", False)
        elif field == "stage":
            at = (*where, "stage") if "stage" in node else where
            report(at, "node needs a 'stage' (a stage type name)", False)
        elif field == "params":
            report((*where, "params"), "'params' must be a mapping", False)
        elif field == "inputs":
            report(
                (*where, "inputs"),
                "'inputs' must be a node id, a list of node ids, or a mapping port: node id",
                False,
            )
    return wrong


def resolve_inputs(declared: Any, ports: Sequence[str], previous: str | None) -> dict[str, str]:
    """Port → source node of a well-formed ``inputs:`` value, as written (not yet checked
    against the ports): a node id feeds the first port, a list the ports in order, a mapping
    names them; left out, the first port reads ``previous``, the node above. Ports beyond
    ``ports`` (a list too long, a stage not known) are keyed by position."""
    if declared is None:
        sources = [] if previous is None else [previous]
    elif isinstance(declared, str):
        sources = [declared]
    elif isinstance(declared, dict):
        return {str(port): str(source) for port, source in declared.items()}
    else:
        sources = [str(source) for source in declared]
    names = [*ports, *(str(i) for i in range(len(ports), len(sources)))]
    return dict(zip(names, sources, strict=False))
