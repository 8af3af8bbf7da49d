"""Notes on ``--set`` overrides that validate but are probably not what was meant."""

from __future__ import annotations

from collections.abc import Sequence

from ._pipeline import Override, PipelinePlan


def one_node_overrides(plan: PipelinePlan, overrides: Sequence[str | Override]) -> list[str]:
    """A note for each ``--set`` that changes one node of a stage other nodes also run.

    ``--set`` addresses a node, not a stage: in a pipeline with two views (``symmetric``'s
    ``hands`` and ``hands_flipped``) ``--set hands.model=0`` changes one view and leaves the
    other as it was, which is rarely what was meant and silently skews what the graph sees.
    """
    parsed = []
    for item in overrides:
        try:
            parsed.append(item if isinstance(item, Override) else Override.parse(item))
        except ValueError:
            continue  # already reported by plan_pipeline
    stages = {node.id: node.stage for node in plan.nodes}
    set_at = {(o.node, o.path) for o in parsed}
    notes = []
    for override in parsed:
        stage = stages.get(override.node)
        others = [
            node_id
            for node_id, other in stages.items()
            if other is stage and (node_id, override.path) not in set_at
        ]
        if stage is None or not others:
            continue
        dotted = ".".join(override.path)
        notes.append(
            f"note: --set {override.node}.{dotted} changes node '{override.node}' only; "
            f"{', '.join(repr(n) for n in others)} also run{'s' if len(others) == 1 else ''} "
            f"stage '{stage.name}' "
            f"(add --set {others[0]}.{dotted}=…, or use the environment variable the "
            "pipeline reads)"
        )
    return notes
