"""The hooks a signify-graph plugin may implement.

A plugin is a module (or object) listed under the entry-point group ``signify_graph``; the
host imports it at start-up and registers it with pluggy. Mark implementations with
:data:`signify_graph.hookimpl`. Every hook is called with keyword arguments; implement only
the arguments you need.

There are two kinds of hooks:

* the registry hook :func:`signify_register_stages`, through which plugins contribute stage
  types — the built-in stages use it exactly like a third party;
* observing hooks (``signify_graph_built``, ``signify_session_*``, ``signify_item_failed``),
  which return nothing and may not change what they see. They fire on the thread that does
  the work, so keep them quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._errors import StageError
    from ._graph import Graph
    from ._host import StageRegistry

PROJECT = "signify_graph"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def signify_register_stages(registry: StageRegistry) -> None:
    """Add stage types by calling ``registry.add(StageClass)``.

    Called once per plugin, when the host builds its stage registry at start-up — before any
    pipeline is read. Registering a name that is already taken, or a class that breaks the
    stage contract, stops start-up with an error naming this plugin's distribution.

    :param registry: the registry to add stage classes to.
    """


@hookspec
def signify_graph_built(graph: Graph) -> None:
    """Observe a graph whose stages all loaded and passed their checks.

    Called right after a pipeline is compiled and before its first session opens — once per
    ``serve``, ``run``, ``eval`` or ``bench``, and not for ``validate``.

    :param graph: the compiled graph; read its ``plan`` and ``stages``, do not mutate.
    """


@hookspec
def signify_session_opened(graph: Graph, session_id: str) -> None:
    """Observe a new session (a WebSocket connection, or one input stream offline).

    Called right after every stage opened its per-session state, before the first item.

    :param graph: the graph the session runs.
    :param session_id: the session's identifier, unique within the process.
    """


@hookspec
def signify_session_closed(graph: Graph, session_id: str, items: int) -> None:
    """Observe the end of a session, after every stage closed its per-session state.

    Called once per session when it closes (the client left, or the input stream ended),
    whether or not its items succeeded.

    :param graph: the graph the session ran.
    :param session_id: the session's identifier.
    :param items: how many items the session processed.
    """


@hookspec
def signify_item_failed(graph: Graph, session_id: str, node_id: str, error: StageError) -> None:
    """Observe an item that a stage refused or failed on.

    Called after the failure was turned into a typed :class:`~signify_graph.StageError` and
    before the client is told; other items and sessions are unaffected.

    :param graph: the graph that ran the item.
    :param session_id: the session the item belonged to.
    :param node_id: the node whose stage failed.
    :param error: the typed error the client will receive.
    """
