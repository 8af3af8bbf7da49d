"""signify-graph: real-time ASL fingerspelling recognition as a graph of plugin stages.

The public API for stage authors and embedders. Everything else is private and may change.
"""

from __future__ import annotations

from ._errors import (
    InputError,
    PipelineInvalid,
    PluginError,
    Problem,
    SignifyError,
    StageConfigError,
    StageError,
    StartupError,
)
from ._graph import Graph, GraphSession, ItemResult, build_graph
from ._host import ENTRY_POINT_GROUP, PluginHost, StageInfo, StageRegistry, create_host
from ._kinds import (
    Control,
    Features,
    FrameContext,
    Hand,
    Image,
    Kind,
    Probabilities,
    Reply,
    Spelling,
    TextEdit,
)
from ._pipeline import Override, PipelinePlan, plan_pipeline
from ._stage import LoadContext, ModelDir, ModelFile, Params, Port, Stage, StageSession
from .hookspecs import hookimpl

__all__ = [
    "ENTRY_POINT_GROUP",
    "Control",
    "Features",
    "FrameContext",
    "Graph",
    "GraphSession",
    "Hand",
    "Image",
    "InputError",
    "ItemResult",
    "Kind",
    "LoadContext",
    "ModelDir",
    "ModelFile",
    "Override",
    "Params",
    "PipelineInvalid",
    "PipelinePlan",
    "PluginError",
    "PluginHost",
    "Port",
    "Probabilities",
    "Problem",
    "Reply",
    "SignifyError",
    "Spelling",
    "Stage",
    "StageConfigError",
    "StageError",
    "StageInfo",
    "StageRegistry",
    "StageSession",
    "StartupError",
    "TextEdit",
    "build_graph",
    "create_host",
    "hookimpl",
    "load_graph",
    "plan_pipeline",
]


def load_graph(
    file: str,
    host: PluginHost | None = None,
    *,
    overrides: list[str] | None = None,
) -> Graph:
    """Validate ``file`` and load its stages: the one call a runner needs."""
    host = host if host is not None else create_host()
    plan = plan_pipeline(file, host.registry, overrides=overrides or [])
    return build_graph(plan, host)
