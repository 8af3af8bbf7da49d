"""Pipeline files: parse, apply overrides, validate everything, report every problem at once.

The result is a :class:`PipelinePlan` — stage classes, validated parameters and wiring, with
the origin of every parameter — which :mod:`._graph` turns into running stages. Nothing in
here loads a model; the checks that need loaded stages run when the graph is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._builtin import pipeline_hint, pipeline_path
from ._document import check_head, check_node, did_you_mean, resolve_inputs
from ._errors import PipelineInvalid, Problem
from ._host import StageRegistry
from ._kinds import Kind
from ._load import validate_params
from ._source import Located, Origin, Path_, load_yaml, parse_scalar
from ._stage import Params, Port, Stage

#: The reserved source name of the graph's input.
GRAPH_INPUT = "input"


@dataclass(frozen=True, slots=True)
class Override:
    """One ``--set NODE.PARAM=VALUE``; ``index`` is its position on the command line."""

    node: str
    path: tuple[str, ...]
    value: Any
    text: str
    index: int

    @classmethod
    def parse(cls, text: str, index: int = 1) -> Override:
        target, sep, raw = text.partition("=")
        parts = tuple(target.strip().split("."))
        if not sep or len(parts) < 2 or not all(parts):
            raise ValueError(f"--set expects NODE.PARAM=VALUE, got {text!r}")
        return cls(parts[0], parts[1:], parse_scalar(raw.strip()), text, index)

    @property
    def origin(self) -> Origin:
        return Origin("--set", self.index, len(self.text.partition("=")[0]) + 2, "--set")


@dataclass
class NodePlan:
    """A node after validation: its stage class, parameters, wiring and where values came from."""

    id: str
    stage: type[Stage]
    params: Params
    #: Input port → source node id (or ``input``), in the stage's port order.
    inputs: dict[str, str]
    provenance: dict[str, str]
    origin: Origin
    param_origins: dict[str, Origin] = field(default_factory=dict)


@dataclass
class PipelinePlan:
    """A validated pipeline: nodes in execution order, the input kind and the output node."""

    name: str
    description: str
    file: str
    base_dir: Path
    nodes: list[NodePlan]
    input_kind: Kind
    output: str


class _Validator:
    def __init__(self, located: Located, registry: StageRegistry, base_dir: Path) -> None:
        self.doc = located
        self.registry = registry
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.override_origins: dict[Path_, Origin] = {}
        #: Nodes whose ``inputs:`` is malformed (reported once, by check_node).
        self.bad_inputs: set[int] = set()

    def at(self, path: Path_, message: str, *, key: bool = False) -> None:
        origin = self.override_origins.get(path) or self.doc.origin(path, key=key)
        if origin.source == "unset":  # the missing variable is the problem, already reported
            return
        self.problems.append(origin.problem(message))

    def report(self, path: Path_, message: str, key: bool) -> None:
        self.at(path, message, key=key)

    # -- nodes ---------------------------------------------------------------------------
    def node(self, index: int, node: dict[str, Any], seen: dict[str, int]) -> NodePlan | None:
        where: Path_ = ("nodes", index)
        wrong = check_node(where, node, self.report)
        if "inputs" in wrong:
            self.bad_inputs.add(index)
        node_id = None if "id" in wrong else node["id"]
        if node_id == GRAPH_INPUT:
            self.at((*where, "id"), f"'{GRAPH_INPUT}' is reserved for the graph's input")
        elif node_id in seen:
            self.at(
                (*where, "id"),
                f"duplicate node id '{node_id}' (first used by node {seen[node_id] + 1})",
            )
        elif node_id is not None:
            seen[node_id] = index
        if "stage" in wrong:
            return None
        stage_name = node["stage"]
        info = self.registry.get(stage_name)
        if info is None:
            self.at(
                (*where, "stage"),
                f"unknown stage '{stage_name}'{did_you_mean(stage_name, self.registry.names())}",
            )
            return None
        if "params" in wrong:
            return None
        raw_params = node.get("params") or {}
        params = self.params(info.cls, raw_params, (*where, "params"), node_id or stage_name)
        if params is None or node_id is None:
            return None
        provenance, param_origins = {}, {}
        for name in type(params).model_fields:
            path = (*where, "params", name)
            if name not in raw_params:
                provenance[name] = "default"
                continue
            nested = (o for p, o in self.override_origins.items() if p[: len(path)] == path)
            origin = next(nested, None) or self.doc.origin(path)
            param_origins[name] = origin
            provenance[name] = origin.source
        return NodePlan(
            node_id, info.cls, params, {}, provenance, self.doc.origin(where), param_origins
        )

    def params(
        self, stage: type[Stage], raw: dict[str, Any], where: Path_, node_id: str
    ) -> Params | None:
        result = validate_params(stage, raw, self.base_dir, node_id)
        if not isinstance(result, list):
            return result
        for problem in result:
            path = (*where, *problem.loc)
            message = problem.message
            source = self.doc.origin(path).source
            from_environment = source.startswith("environment")
            if problem.value and from_environment and path not in self.override_origins:
                message += f" from {source}"
            self.at(path, message, key=problem.key)
        return None

    # -- wiring --------------------------------------------------------------------------
    def wire(
        self, raw_nodes: list[dict[str, Any]], plans: list[NodePlan | None]
    ) -> tuple[list[NodePlan], Kind | None]:
        by_id = {p.id: p for p in plans if p is not None}
        input_kinds: list[Kind] = []
        previous: str | None = GRAPH_INPUT
        for index, (raw, plan) in enumerate(zip(raw_nodes, plans, strict=True)):
            declared = raw.get("inputs")
            where: Path_ = ("nodes", index, "inputs")
            if plan is None:
                previous = raw.get("id") if isinstance(raw.get("id"), str) else None
                continue
            ports = dict(plan.stage.inputs)
            malformed = index in self.bad_inputs
            sources = {} if malformed else self._sources(declared, ports, previous, where)
            for position, (port_name, source) in enumerate(sources.items()):
                port = ports[port_name]
                at: Path_ = where
                if isinstance(declared, dict):
                    at = (*where, port_name)
                elif isinstance(declared, list):
                    at = (*where, position)
                if source == GRAPH_INPUT:
                    input_kinds.append(port.kind)
                    continue
                if source not in by_id:
                    if not any(r.get("id") == source for r in raw_nodes):
                        known = list(by_id)
                        self.at(
                            at,
                            f"node '{plan.id}' input '{port_name}' names unknown node "
                            f"'{source}'{did_you_mean(source, known)}",
                        )
                    continue
                produced = by_id[source].stage.output
                if produced != port.kind:
                    self.at(
                        at if declared is not None else ("nodes", index, "stage"),
                        f"node '{plan.id}' input '{port_name}' expects {port.kind.value} but "
                        f"'{source}' produces {produced.value}",
                    )
            plan.inputs = sources
            previous = plan.id
        ordered = self._toposort([p for p in plans if p is not None], raw_nodes)
        kinds = set(input_kinds)
        if len(kinds) > 1:
            self.at(
                ("nodes",),
                "nodes read the graph input as different kinds: "
                + ", ".join(sorted(k.value for k in kinds)),
            )
        if not input_kinds and by_id and all(p is not None for p in plans):
            self.at(("nodes", 0), "no node reads the graph input")
        return ordered, (input_kinds[0] if input_kinds else None)

    def _sources(
        self, declared: Any, ports: dict[str, Port], previous: str | None, where: Path_
    ) -> dict[str, str]:
        names = list(ports)
        sources = resolve_inputs(declared, names if names else [], previous)
        if isinstance(declared, list) and len(declared) > len(names):
            self.at(
                where,
                f"{len(declared)} inputs given but the stage has {len(names)} port(s): "
                f"{', '.join(names)}",
            )
        for port_name in sources:
            if isinstance(declared, dict) and port_name not in ports:
                self.at(
                    (*where, port_name),
                    f"unknown input port '{port_name}'"
                    f"{did_you_mean(port_name, names)}; ports: {', '.join(names)}",
                    key=True,
                )
        for name in names:
            if name not in sources and not ports[name].optional:
                self.at(where, f"input port '{name}' ({ports[name].kind.value}) is not connected")
        return {name: sources[name] for name in names if name in sources}

    def _toposort(self, plans: list[NodePlan], raw_nodes: list[dict[str, Any]]) -> list[NodePlan]:
        index_of = {id(p): i for i, p in enumerate(plans)}
        by_id = {p.id: p for p in plans}
        order: list[NodePlan] = []
        state: dict[str, int] = {}

        def visit(plan: NodePlan, trail: list[str]) -> None:
            if state.get(plan.id) == 2:
                return
            if state.get(plan.id) == 1:
                cycle = [*trail[trail.index(plan.id) :], plan.id]
                raw_index = next(i for i, r in enumerate(raw_nodes) if r.get("id") == plan.id)
                self.at(("nodes", raw_index, "inputs"), "cycle: " + " → ".join(cycle))
                return
            state[plan.id] = 1
            for source in plan.inputs.values():
                if source in by_id:
                    visit(by_id[source], [*trail, plan.id])
            state[plan.id] = 2
            order.append(plan)

        for plan in sorted(plans, key=lambda p: index_of[id(p)]):
            visit(plan, [])
        return order


def apply_overrides(
    nodes: list[dict[str, Any]],
    overrides: Sequence[Override],
    problems: list[Problem],
    origins: dict[Path_, Origin],
) -> None:
    """Write each ``--set`` into its node's params; record its origin, or its problem."""
    ids = [n.get("id") for n in nodes]
    for override in overrides:
        if override.node not in ids:
            known = [i for i in ids if isinstance(i, str)]
            problems.append(
                Problem(
                    "--set",
                    override.index,
                    1,
                    f"--set names unknown node '{override.node}'"
                    f"{did_you_mean(override.node, known)}",
                )
            )
            continue
        index = ids.index(override.node)
        if nodes[index].get("params") is None:
            nodes[index]["params"] = {}
        params = nodes[index]["params"]
        if not isinstance(params, dict):
            continue
        target = params
        for depth, part in enumerate(override.path[:-1], start=1):
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                group = ".".join((override.node, *override.path[:depth]))
                problems.append(override.origin.problem(f"'{group}' is not a group of parameters"))
                break
        else:
            target[override.path[-1]] = override.value
            path: Path_ = ("nodes", index, "params", *override.path)
            origins[path] = override.origin


def _named_sources(
    raw_nodes: list[dict[str, Any]], plans: list[NodePlan | None], malformed: set[int]
) -> set[str]:
    """Node ids read by nodes that failed validation, so their sources are not 'unconnected'."""
    named: set[str] = set()
    previous: str | None = None
    for index, (raw, plan) in enumerate(zip(raw_nodes, plans, strict=True)):
        if plan is None and index not in malformed:
            named |= set(resolve_inputs(raw.get("inputs"), [], previous).values())
        previous = raw.get("id") if isinstance(raw.get("id"), str) else None
    return named


def plan_pipeline(
    file: str | os.PathLike[str],
    registry: StageRegistry,
    *,
    overrides: Sequence[str | Override] = (),
    environ: Mapping[str, str] | None = None,
    text: str | None = None,
) -> PipelinePlan:
    """Read and validate a pipeline file; raise :class:`PipelineInvalid` with every problem.

    ``file`` may also name a shipped pipeline (``default``, ``builtin:fast``).
    """
    path = pipeline_path(file) if text is None else Path(file)
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PipelineInvalid(
                [Problem(str(path), 1, 1, f"cannot read pipeline: {exc.strerror}{pipeline_hint()}")]
            ) from exc
    parsed: list[Override] = []
    for index, item in enumerate(overrides, start=1):
        if isinstance(item, Override):
            parsed.append(item)
            continue
        try:
            parsed.append(Override.parse(item, index))
        except ValueError as exc:
            problems.append(Problem("--set", index, 1, str(exc)))
    located, yaml_problems = load_yaml(text, str(path), env)
    problems += yaml_problems
    if located.value is None:
        raise PipelineInvalid(problems)
    validator = _Validator(located, registry, path.parent)
    validator.problems += problems
    raw_nodes = check_head(located.value, validator.report)
    apply_overrides(raw_nodes, parsed, validator.problems, validator.override_origins)
    seen: dict[str, int] = {}
    plans = [validator.node(i, node, seen) for i, node in enumerate(raw_nodes)]
    ordered, input_kind = validator.wire(raw_nodes, plans)
    output = ordered[-1].id if ordered else ""
    if plans and plans[-1] is not None:
        output = plans[-1].id
    used = {source for plan in ordered for source in plan.inputs.values()}
    used |= _named_sources(raw_nodes, plans, validator.bad_inputs)
    for index, plan in enumerate(plans):
        if plan is not None and plan.id != output and plan.id not in used:
            validator.at(
                ("nodes", index, "id"),
                f"the output of node '{plan.id}' is not connected "
                "(only the last node may be the graph's output)",
            )
    if validator.problems or input_kind is None:
        raise PipelineInvalid(validator.problems)
    doc = located.value
    return PipelinePlan(
        doc["name"], doc.get("description", ""), str(path), path.parent, ordered, input_kind, output
    )
