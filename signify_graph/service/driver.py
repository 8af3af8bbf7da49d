"""The asyncio driver of one session: it moves messages and wakes tasks, nothing more.

Every decision — which frame runs, which is dropped, when to reset, to wait for a core or to
close — is the :class:`~.session.SessionCore`'s. The driver feeds it events with the time,
and does what it returns: runs a frame on the event loop or on a worker thread, sends,
counts, records, resets the stage sessions, closes the connection.

The frame deadline times a frame from the moment a worker thread starts it: it exists to catch
a stage that hangs, and a frame that waited for a free worker on a busy server has not hung.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from .._graph import Graph, GraphSession, ItemResult
from .fairshare import FairShare
from .observe import Metrics
from .peers import Peer
from .protocol import MessageParser, error_payload
from .record import SessionRecorder
from .session import (
    Accepted,
    Action,
    ApplyEdit,
    ApplyReset,
    Close,
    Defer,
    Drop,
    Send,
    SessionCore,
    SessionPolicy,
    Start,
    Undefer,
    Work,
)

log = logging.getLogger("signify_graph.session")


class Connection(Protocol):
    """What the driver needs of a WebSocket connection."""

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


def encode(payload: dict[str, Any]) -> str:
    """JSON text of a reply. orjson: ~10× faster than :mod:`json` on a reply, and it writes
    numpy numbers as numbers and non-finite floats as ``null`` (json writes ``NaN``, which no
    JSON parser in a browser reads)."""
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(payload, option=options).decode()


@dataclass(frozen=True, slots=True)
class SessionServices:
    """What every session of a service shares: worker threads, the fair share, the metrics."""

    pool: Executor
    metrics: Metrics
    share: FairShare | None = None
    #: Threads that close stage sessions (a landmarker's close can take seconds).
    closer: Executor | None = None


@dataclass(slots=True)
class _Clock:
    """When a worker thread started the frame (``None`` while it waits for one); written by
    that thread, read on the event loop."""

    started: float | None = None


class ClientSession:
    """Drives one :class:`GraphSession` from one connection's messages."""

    def __init__(
        self,
        graph: Graph,
        session_id: str,
        connection: Connection,
        services: SessionServices,
        policy: SessionPolicy,
        *,
        recorder: SessionRecorder | None = None,
        clock: Callable[[], float] = time.monotonic,
        peer: Peer | None = None,
    ) -> None:
        self.id = session_id
        self._connection = connection
        self._services = services
        self._metrics = services.metrics
        self._recorder = recorder
        self._clock = clock
        self._origin = clock()
        parser = MessageParser(graph.input_kind, graph.labels, spells=graph.spells)
        inline = graph.inline_safe
        self.core = SessionCore(
            parser, policy, now=self._origin, inline=inline, share=services.share, peer=peer
        )
        self._graph: GraphSession | None = None  # the stage sessions, from attach() on
        self._task: asyncio.Task[None] | None = None
        self._closes: list[asyncio.Task[None]] = []
        self._acks: set[asyncio.Task[None]] = set()  # of text edits, each sent by a task
        self._stage_histograms = [services.metrics.stage_seconds.labels(n) for n in graph.node_ids]

    # -- events in ------------------------------------------------------------------------
    def attach(self, graph_session: GraphSession) -> None:
        """The stage sessions are open (see :meth:`SessionCore.opened`)."""
        self._graph = graph_session
        self._act_now(self.core.opened(self._clock()))

    async def on_message(self, message: str | bytes) -> None:
        now = self._clock()
        self._metrics.messages.inc()
        recorder = self._recorder
        index = -1 if recorder is None else recorder.inbound(now - self._origin, message)
        await self._act(self.core.receive(message, now, index))

    def on_ping(self) -> None:  # websockets answered it; it counts in the rate limit
        self._act_now(self.core.ping(self._clock()))

    def _resume(self) -> None:
        """A core is free for this session's waiting extra frame (called by the fair share)."""
        self._act_now(self.core.core_free(self._clock()))

    async def watch_idle(self) -> None:
        """Close the connection once the client has been silent too long.

        A watchdog per session rather than a timeout around every receive: it costs nothing per
        message, which matters at thousands of landmark messages a second."""
        while True:
            now = self._clock()
            actions = self.core.tick(now)
            if actions:
                await self._act(actions)
                return
            left = self.core.idle_for(now)
            if left is None:
                return
            await asyncio.sleep(left)

    # -- actions out ----------------------------------------------------------------------
    async def _act(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                await send(self._connection, action, self._metrics, self.id, self._clock)
            else:
                self._do(action)

    def _act_now(self, actions: Sequence[Action]) -> None:
        """Actions from events that never answer the client (opened, core free, delivered)."""
        for action in actions:
            assert not isinstance(action, Send), action
            self._do(action)

    def _do(self, action: Action) -> None:
        metrics = self._metrics
        if isinstance(action, Start):
            self._start(action.work, action.inline)
        elif isinstance(action, Drop):
            metrics.frames_dropped.labels(action.reason).inc()
        elif isinstance(action, Accepted):
            metrics.frames_in.inc()
        elif isinstance(action, ApplyReset):
            assert self._graph is not None
            self._graph.reset(action.control)
            if self._recorder is not None:
                self._recorder.reset(action.control.target)
        elif isinstance(action, ApplyEdit):  # acknowledged with the text after it, in order
            ack = apply_edit(self._graph, self._recorder, action)
            _later(self._acks, send(self._connection, ack, metrics, self.id, self._clock))
        elif isinstance(action, Defer):
            assert self._services.share is not None
            metrics.frames_deferred.inc()
            self._services.share.wait(self, self._resume)
        elif isinstance(action, Undefer):
            if self._services.share is not None:
                self._services.share.cancel(self)
        elif isinstance(action, Close):
            self._close_connection(action)

    def _close_connection(self, action: Close) -> None:
        _count_close(self._metrics, action, self.id)
        closing: Coroutine[Any, Any, None] = self._connection.close(action.code, action.reason)
        self._closes.append(asyncio.ensure_future(closing))

    # -- frames ---------------------------------------------------------------------------
    def _start(self, work: Work, inline: bool) -> None:
        graph = self._graph
        assert graph is not None
        if self._recorder is not None:
            self._recorder.process(work.index, work.arrival_ms)
        if inline:
            # Sub-millisecond graphs (landmarks in): a thread hand-off would cost more than
            # the work, so the frame runs right here, between two socket reads.
            result = graph.process(work.payload, arrival_ms=work.arrival_ms)
            self._task = asyncio.create_task(self._finish(result, work))
            return
        clock = _Clock()

        def run() -> ItemResult:
            clock.started = self._clock()
            return graph.process(work.payload, arrival_ms=work.arrival_ms)

        submitted = self._services.pool.submit(run)
        running = asyncio.wrap_future(submitted)
        share = self._services.share
        if share is not None:
            share.started()
            # Counted until the thread is really done, even past a deadline: the core is busy.
            running.add_done_callback(lambda _: share.finished())
        self._task = asyncio.create_task(self._await_worker(submitted, running, clock, work))

    async def _await_worker(
        self,
        submitted: Future[ItemResult],
        running: asyncio.Future[ItemResult],
        clock: _Clock,
        work: Work,
    ) -> None:
        deadline = self.core.policy.deadline_s
        while not running.done():
            started, budget = clock.started, deadline
            if started is not None:
                budget -= self._clock() - started
                if budget <= 0:
                    await self._stalled(submitted)
                    return
            await asyncio.wait((running,), timeout=budget)
        await self._finish(running.result(), work)

    async def _stalled(self, submitted: Future[ItemResult]) -> None:
        log.error("frame exceeded its deadline", extra={"session": self.id})
        # Close the stage sessions on the worker thread once the hung call returns; the event
        # loop may be long gone by then, and an unclosed landmarker must not be left to the
        # garbage collector (its finaliser can deadlock).
        graph = self._graph
        if graph is not None:
            submitted.add_done_callback(lambda _: graph.close())
        await self._act(self.core.deadline_passed(self._clock()))

    async def _finish(self, result: ItemResult, work: Work) -> None:
        self._metrics.frames_processed.inc()
        for histogram, spent in zip(self._stage_histograms, result.timings_ns, strict=False):
            histogram.observe(spent / 1e9)
        failure = result.error
        error = None if failure is None else (failure.code, failure.message)
        if self._recorder is not None:
            recorded = None if error is None else {"code": error[0], "message": error[1]}
            self._recorder.result(work.index, result.output, recorded)
        try:
            await self._act(self.core.frame_finished(result.output, error, self._clock()))
        finally:
            self._act_now(self.core.frame_delivered(self._clock()))

    def stop(self) -> None:
        """The connection is gone: start no frame, not even one waiting for :meth:`attach`."""
        self._act_now(self.core.close())

    async def close(self) -> None:
        """Stop taking frames, wait for the running one, then close the stage sessions."""
        self.stop()
        try:
            if self.core.stalled:
                return  # the stage sessions are closed by the hung frame's done-callback
            while self._task is not None and not self._task.done():
                await asyncio.gather(self._task, return_exceptions=True)
            if self._graph is not None:  # None: they never opened
                await close_stages(self._graph, self._services.closer or self._services.pool)
        finally:
            if self._recorder is not None:
                self._recorder.close()


def _count_close(metrics: Metrics, action: Close, session_id: str) -> None:
    """Count why the server closes a session (and log a flooder, once)."""
    if action.cause == "flooding":
        metrics.sessions_flooding.inc()
        log.warning("closing a session that ignores rate_limited", extra={"session": session_id})
    elif action.cause == "idle":
        metrics.sessions_idle.inc()


async def close_stages(graph: GraphSession, closer: Executor) -> None:
    """Close the stage sessions on a ``closer`` thread (a landmarker's close may take a while),
    or right here once those threads are shut down (the drain timed out)."""
    try:
        closing = asyncio.get_running_loop().run_in_executor(closer, graph.close)
    except RuntimeError:  # cannot schedule new futures after shutdown
        graph.close()
    else:
        await closing


def apply_edit(
    graph: GraphSession | None, recorder: SessionRecorder | None, action: ApplyEdit
) -> Send:
    """Edit the text between frames (and record it); the acknowledgement to send, with the
    text after the edit so a client sees it even with no hand in view."""
    assert graph is not None
    edit = action.edit
    text = graph.edit(edit.edit)
    if recorder is not None:
        recorder.edit(edit.edit.action)
    ack: dict[str, Any] = {"ack": "text", "action": edit.edit.action, "text": text}
    if edit.id is not None:
        ack["id"] = edit.id
    return Send(ack)


def _later(tasks: set[asyncio.Task[None]], job: Coroutine[Any, Any, None]) -> None:
    """Run ``job`` as a task, held in ``tasks`` until done. Tasks start in the order they are
    made, so an acknowledgement made before a frame's reply is sent before it."""
    task = asyncio.ensure_future(job)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def send(
    connection: Connection,
    action: Send,
    metrics: Metrics,
    session_id: str,
    clock: Callable[[], float],
) -> None:
    """Encode and send a reply or an error, and count it; a reply JSON cannot carry becomes
    a ``stage_failed`` error, and a connection already gone is left to the receive loop."""
    if action.error is not None:
        metrics.errors.labels(action.error).inc()
    try:
        text = encode(action.payload)
    except TypeError as exc:  # a stage's reply holds something JSON cannot carry
        log.exception("a reply could not be encoded as JSON", extra={"session": session_id})
        metrics.errors.labels("stage_failed").inc()
        message = f"the reply could not be encoded as JSON: {exc}"
        text = encode(error_payload("stage_failed", message, action.payload.get("id")))
        action = Send(action.payload, "stage_failed")
    try:
        await connection.send(text)
    except Exception:  # the connection is gone; the receive loop will notice and close
        log.debug("reply not delivered", extra={"session": session_id})
        return
    if action.arrived is not None and action.error is None:
        metrics.frames_answered.inc()
        metrics.frame_seconds.observe(clock() - action.arrived)
        if log.isEnabledFor(logging.DEBUG):
            reply = action.payload
            log.debug(
                "Inference result %s %s",
                reply.get("letter"),
                reply.get("confidence"),
                extra={"session": session_id},
            )
