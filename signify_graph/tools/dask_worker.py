"""The worker's side of ``eval --executor dask`` (imported only where Dask is installed).

The client registers one :class:`GraphPlugin` per evaluated pipeline, under a name unique to
that run; each worker builds the graph from the client's validated plan the first time a
chunk needs it and reuses it for every later chunk of the run, and closes it when the client
unregisters the plugin at the end — so a long-lived worker serves many runs (and pipelines,
and edited pipeline files) without keeping stale graphs.
"""

from __future__ import annotations

import threading

from distributed import Worker, WorkerPlugin, get_worker

from .._errors import SignifyError
from .._graph import Graph, build_graph
from .._host import create_host
from .._pipeline import PipelinePlan
from .eval import Scored, score
from .inputs import Item


class GraphPlugin(WorkerPlugin):  # type: ignore[misc]  # distributed's base class is untyped
    """One worker's graph of one run's pipeline, built on first use."""

    def __init__(self, plan: PipelinePlan) -> None:
        self.__setstate__({"plan": plan})

    def __getstate__(self) -> dict[str, PipelinePlan]:
        return {"plan": self.plan}  # what travels: the plan, never a graph or a lock

    def __setstate__(self, state: dict[str, PipelinePlan]) -> None:
        self.plan = state["plan"]
        self._graph: Graph | None = None
        self._lock = threading.Lock()

    def graph(self) -> Graph:
        with self._lock:  # a worker may run several threads
            if self._graph is None:
                try:
                    self._graph = build_graph(self.plan, create_host())
                except SignifyError as exc:  # PipelineInvalid does not survive pickling
                    raise SignifyError(str(exc)) from None
            return self._graph

    def teardown(self, worker: Worker) -> None:
        with self._lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None


def score_chunk(
    plugin: str, start: int, items: list[Item], frames: int, mirror: bool
) -> list[Scored]:
    """Score samples ``start``, ``start + 1``… with this worker's graph of ``plugin``'s run."""
    registered = get_worker().plugins[plugin]
    assert isinstance(registered, GraphPlugin)
    graph = registered.graph()
    try:
        return [score(graph, start + k, item, frames, mirror) for k, item in enumerate(items)]
    except SignifyError as exc:  # its subclasses' own arguments do not survive pickling
        raise SignifyError(str(exc)) from None
