"""Compiled graphs: loaded stages wired in execution order, run one item at a time per session.

:func:`build_graph` loads every stage of a validated plan (reporting load failures at the
YAML node to blame), runs the cross-stage checks, and returns a :class:`Graph`. A graph is
shared by all sessions; :meth:`Graph.open_session` gives each client its own
:class:`GraphSession` with its own stage state.

The per-item loop is deliberately small — a list of (bound method, input slots) — because
its cost is paid per stage per frame; ``benchmarks/engine_overhead.py`` keeps it honest. A graph
whose heavy stages sit on independent branches runs those at the same time instead
(:mod:`._branches`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ._branches import Branches, Step, find_branches, run_branches
from ._cores import cpu_cores
from ._errors import (
    PipelineInvalid,
    PluginError,
    Problem,
    SignifyError,
    StageConfigError,
    StageError,
)
from ._host import PluginHost, signature_problems
from ._kinds import Control, FrameContext, Kind, TextEdit
from ._load import load_stage
from ._pipeline import GRAPH_INPUT, PipelinePlan
from ._stage import Stage, StageSession, _StatelessSession

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ItemResult:
    """What one item produced: every node's value (in :attr:`Graph.node_ids` order), the time
    each stage's own call took in nanoseconds (the engine's bookkeeping between calls is not
    in it, so ``bench`` can tell the two apart), and the typed error if a stage failed."""

    values: list[Any]
    timings_ns: list[int]
    error: StageError | None = None
    failed_node: str | None = None
    timestamp_ms: int = 0

    @property
    def output(self) -> Any:
        return self.values[-1] if self.error is None else None


class Graph:
    """A pipeline whose stages are loaded. Thread-safe: stages hold only shared, read-only state."""

    def __init__(
        self,
        plan: PipelinePlan,
        stages: dict[str, Stage],
        host: PluginHost | None,
        *,
        concurrent: bool = True,
    ) -> None:
        self.plan = plan
        self.stages = stages
        self.node_ids = [node.id for node in plan.nodes]
        self._hook = host.hook if host is not None else None
        self._slots = {node_id: i + 1 for i, node_id in enumerate(self.node_ids)}
        self._slots[GRAPH_INPUT] = 0
        self.branches: Branches | None = None
        if concurrent:
            self.branches = find_branches(
                [tuple(self._slots[s] for s in node.inputs.values()) for node in plan.nodes],
                [not type(stages[node.id]).inline_safe for node in plan.nodes],
            )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def inline_safe(self) -> bool:
        """Every stage declares itself inline-safe (see :attr:`Stage.inline_safe`)."""
        return all(type(stage).inline_safe for stage in self.stages.values())

    @property
    def input_kind(self) -> Kind:
        return self.plan.input_kind

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The labels of the first stage that declares them (the classifier's), if any."""
        return next((s.labels for s in self.stages.values() if s.labels is not None), None)

    @property
    def spells(self) -> bool:
        """A node keeps the session's spelled text (outputs :attr:`Kind.SPELLING`)."""
        return bool(self.find(Kind.SPELLING))

    def find(self, kind: Kind) -> list[str]:
        """Node ids whose output is ``kind``, in execution order."""
        return [n.id for n in self.plan.nodes if n.stage.output is kind]

    def last_slot(self, kind: Kind) -> int:
        """Index (in :attr:`node_ids` and ``ItemResult.values``) of the last node whose
        output is ``kind``; the research tools read predictions from there."""
        nodes = self.find(kind)
        if not nodes:
            raise SignifyError(f"pipeline '{self.name}' has no node that outputs {kind.value}")
        return self.node_ids.index(nodes[-1])

    def open_session(self, session_id: str) -> GraphSession:
        sessions: list[StageSession] = []
        try:
            for node in self.plan.nodes:
                sessions.append(self.stages[node.id].open(session_id))
                _check_session(node.id, node.stage, sessions[-1])
        except BaseException:
            for opened in sessions:
                opened.close()
            raise
        session = GraphSession(self, session_id, sessions)
        if self._hook is not None:
            self._hook.session_opened(self, session_id)
        return session

    def _item_failed(self, session_id: str, node_id: str, error: StageError) -> None:
        if self._hook is not None:
            self._hook.item_failed(self, session_id, node_id, error)

    def _session_closed(self, session_id: str, items: int) -> None:
        if self._hook is not None:
            self._hook.session_closed(self, session_id, items)

    def branch_pool(self) -> ThreadPoolExecutor:
        """Threads for the independent branches of items (see :mod:`._branches`), made once."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=2 * cpu_cores(), thread_name_prefix="signify-branch"
                )
            return self._pool

    def close(self) -> None:
        if self._pool is not None:  # idle unless a stage hangs; then don't hang with it
            self._pool.shutdown(wait=False, cancel_futures=True)
        for stage in self.stages.values():
            stage.close()


class GraphSession:
    """One client's run of a graph: its own stage sessions, sequence and clock."""

    def __init__(self, graph: Graph, session_id: str, sessions: Sequence[StageSession]) -> None:
        self.graph = graph
        self.session_id = session_id
        self.items = 0
        self._sessions = list(sessions)
        self._last_ts = -1
        self._clock_origin = time.monotonic()
        slots = graph._slots
        self._steps: list[Step] = [
            (node.id, session.process, tuple(slots[src] for src in node.inputs.values()))
            for node, session in zip(graph.plan.nodes, self._sessions, strict=True)
        ]
        self._closed = False

    def process(self, item: Any, *, arrival_ms: int | None = None) -> ItemResult:
        """Run one item through every stage. A failing stage fails only this item.

        ``arrival_ms`` is when the item arrived, in ms since the session started; it becomes
        the frame's timestamp, bumped if needed so timestamps strictly increase.
        """
        if arrival_ms is None:
            arrival_ms = int((time.monotonic() - self._clock_origin) * 1000)
        timestamp = arrival_ms if arrival_ms > self._last_ts else self._last_ts + 1
        self._last_ts = timestamp
        self.items += 1
        frame = FrameContext(self.session_id, self.items, timestamp)
        if self.graph.branches is not None:
            return self._process_branches(frame, item)
        values: list[Any] = [item]
        timings: list[int] = []
        clock = time.perf_counter_ns
        for node_id, process, slots in self._steps:
            args = [values[s] for s in slots]
            start = clock()
            try:
                output = process(frame, *args)
            except Exception as exc:
                timings.append(clock() - start)
                error = exc if isinstance(exc, StageError) else _unexpected(node_id, exc)
                self.graph._item_failed(self.session_id, node_id, error)
                return ItemResult(values[1:], timings, error, node_id, timestamp)
            timings.append(clock() - start)
            values.append(output)
        return ItemResult(values[1:], timings, None, None, timestamp)

    def _process_branches(self, frame: FrameContext, item: Any) -> ItemResult:
        graph = self.graph
        assert graph.branches is not None
        outcome = run_branches(graph.branches, self._steps, frame, item, graph.branch_pool())
        if outcome.failure is None:
            return ItemResult(outcome.values, outcome.timings_ns, None, None, frame.timestamp_ms)
        index, exc = outcome.failure
        node_id = self._steps[index][0]
        error = exc if isinstance(exc, StageError) else _unexpected(node_id, exc)
        graph._item_failed(self.session_id, node_id, error)
        return ItemResult(outcome.values, outcome.timings_ns, error, node_id, frame.timestamp_ms)

    def reset(self, control: Control) -> None:
        """Deliver a control message to every stage of this session, at once."""
        for session in self._sessions:
            session.reset(control)

    def edit(self, edit: TextEdit) -> str | None:
        """Deliver a text edit to every stage; the text after it, from the last stage that
        keeps one (``None`` if none does)."""
        text = None
        for session in self._sessions:
            result = session.edit(edit)
            if result is not None:
                text = result
        return text

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for session in self._sessions:
            try:
                session.close()
            except Exception:
                log.exception("closing a stage session of %s failed", self.session_id)
        self.graph._session_closed(self.session_id, self.items)

    def __enter__(self) -> GraphSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Session classes whose ``process`` matched their stage's ports (checked once per class).
_CHECKED: set[tuple[type[Stage], type[StageSession]]] = set()


def _check_session(node_id: str, stage: type[Stage], session: StageSession) -> None:
    """Refuse a stage session whose ``process`` cannot take the stage's ports: the first
    session a graph opens (the service's warm-up, before it listens) says so in one line."""
    key = (stage, type(session))
    if key in _CHECKED or isinstance(session, _StatelessSession):
        return
    problems = list(signature_problems(session.process, list(stage.inputs), "session process"))
    if problems:  # open_session closes what it opened
        raise PluginError(f"stage '{stage.name}' (node '{node_id}'): {problems[0]}")
    _CHECKED.add(key)


def _unexpected(node_id: str, exc: Exception) -> StageError:
    log.error("stage %s failed: %s", node_id, exc, exc_info=exc)
    error = StageError(
        f"stage '{node_id}' failed: {type(exc).__name__}: {exc}", code="stage_failed"
    )
    error.__cause__ = exc
    return error


def build_graph(
    plan: PipelinePlan,
    host: PluginHost | None = None,
    *,
    announce: bool = True,
    concurrent: bool = True,
) -> Graph:
    """Load every stage of ``plan`` and run the cross-stage checks; raise with every problem.

    ``concurrent=False`` runs independent branches one after the other (for comparisons)."""
    stages: dict[str, Stage] = {}
    problems: list[Problem] = []
    for node in plan.nodes:
        try:
            stages[node.id] = load_stage(node.stage, node.params, node.id, plan.base_dir)
        except StageConfigError as exc:
            origin = node.param_origins.get(exc.param or "", node.origin)
            problems.append(origin.problem(f"{node.id}: {exc}"))
    if not problems:
        for node in plan.nodes:
            sources = {port: stages[src] for port, src in node.inputs.items() if src in stages}
            try:
                messages = list(stages[node.id].check_sources(sources))
            except StageConfigError as exc:
                origin = node.param_origins.get(exc.param or "", node.origin)
                problems.append(origin.problem(f"{node.id}: {exc}"))
                continue
            problems += [node.origin.problem(f"{node.id}: {message}") for message in messages]
    if problems:
        for stage in stages.values():
            stage.close()
        raise PipelineInvalid(problems)
    graph = Graph(plan, stages, host, concurrent=concurrent)
    if announce and host is not None:
        host.hook.graph_built(graph)
    return graph
