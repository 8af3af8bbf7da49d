"""Landmark files through a pipeline that starts from images: they enter where the hand is found.

A researcher with a landmark set asks how *this* pipeline — its classifier, window and
smoothing, as deployed — does on it, and the served pipelines start at ``decode``. Rather than
keep a landmark twin of every pipeline file, ``eval`` and ``run`` put a ``landmarks`` node in
place of the node that finds the hand (and drop the nodes only it used): it keeps that node's
id, so everything downstream is wired exactly as the file says. MediaPipe is then never loaded.

Only a graph with one hand-finding node can be entered this way: in ``symmetric.yaml`` the
second node sees the mirror image, and a landmark file holds no MediaPipe view of that.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .._errors import SignifyError
from .._host import StageRegistry
from .._kinds import Kind
from .._pipeline import GRAPH_INPUT, NodePlan, PipelinePlan
from .._stage import Stage


def _landmark_ingress(registry: StageRegistry) -> type[Stage]:
    """The installed stage that turns a landmark message into a hand (by its ports, not its
    name: one port of kind ``landmark_message``, output ``hand``)."""
    for info in registry:
        ports = list(info.cls.inputs.values())
        if info.cls.output is Kind.HAND and [p.kind for p in ports] == [Kind.LANDMARK_MESSAGE]:
            return info.cls
    raise SignifyError("no installed stage turns landmark messages into hands (or it is disabled)")


def _ancestors(plan: PipelinePlan, node: NodePlan) -> set[str]:
    """Ids of the nodes ``node`` reads from, directly or not."""
    by_id = {n.id: n for n in plan.nodes}
    found: set[str] = set()
    todo = list(node.inputs.values())
    while todo:
        source = todo.pop()
        if source in by_id and source not in found:
            found.add(source)
            todo += by_id[source].inputs.values()
    return found


def enter_with_landmarks(
    plan: PipelinePlan, registry: StageRegistry
) -> tuple[PipelinePlan, list[str]]:
    """``plan`` fed landmark messages in place of its hand-finding node, and the ids of the
    nodes replaced (none if it already takes landmarks). Raises :class:`SignifyError` where
    that cannot be done faithfully."""
    if plan.input_kind is Kind.LANDMARK_MESSAGE:
        return plan, []
    finders = [n for n in plan.nodes if n.stage.output is Kind.HAND]
    if len(finders) != 1:
        ids = ", ".join(f"'{n.id}'" for n in finders) or "none"
        raise SignifyError(
            f"{plan.file}: a landmark file can stand in for one node that finds the hand; "
            f"this pipeline has {ids}"
        )
    finder = finders[0]
    skipped = _ancestors(plan, finder)
    for node in plan.nodes:
        if node is finder or node.id in skipped:
            continue
        for source in node.inputs.values():
            if source in skipped or source == GRAPH_INPUT:
                raise SignifyError(
                    f"{plan.file}: node '{node.id}' reads '{source}', which a landmark file "
                    f"cannot give (only '{finder.id}' can be replaced)"
                )
    ingress = _landmark_ingress(registry)
    port = next(iter(ingress.inputs))
    entry = NodePlan(
        finder.id, ingress, ingress.params_model(), {port: GRAPH_INPUT}, {}, finder.origin
    )
    replaced = [n.id for n in plan.nodes if n is finder or n.id in skipped]
    kept = [n for n in plan.nodes if n.id not in replaced]
    return replace(plan, nodes=[entry, *kept], input_kind=Kind.LANDMARK_MESSAGE), replaced


def plan_for_data(
    plan: PipelinePlan, data: Path, registry: StageRegistry
) -> tuple[PipelinePlan, str | None]:
    """The plan to feed ``data`` to, and a note for the user when nodes were replaced."""
    if data.suffix != ".npz":
        return plan, None
    entered, replaced = enter_with_landmarks(plan, registry)
    if not replaced:
        return plan, None
    names = ", ".join(f"'{node_id}'" for node_id in replaced)
    return entered, f"note: {data.name} enters '{plan.name}' as landmarks in place of {names}"
