"""One client's session on the event loop: newest frame wins, controls act at once.

At most one frame of a session runs at a time, in the shared worker pool. While it runs, a
newer frame *replaces* the waiting one (the replaced frame is dropped and counted), so a
client that sends faster than the server can answer sees bounded latency instead of the
predecessor's ever-growing queue. A reset drops the waiting frame too and is applied before
the next frame starts — never behind queued frames, and never concurrently with a running
frame (stage state is not thread-safe, and need not be). A frame beyond the session's fair
rate waits, the same way, until a core is free for it (:mod:`._fairshare`).

The session reads its client's messages from the moment the connection opens, while its stage
sessions are still being made (a MediaPipe landmarker takes a while, longer on a busy server):
frames that arrive meanwhile replace each other too, and the newest starts once the stage
sessions are attached. Not reading them would leave them in the socket, to arrive later all
at once: seconds old, and past the rate limit.

The frame deadline times a frame from the moment a worker thread starts it: it exists to catch
a stage that hangs, and a frame that waited for a free worker on a busy server has not hung.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import orjson

from ._fairshare import FairShare
from ._graph import Graph, GraphSession, ItemResult
from ._kinds import Control
from ._observe import Metrics
from ._protocol import Frame, MessageParser, ProtocolError, Reset, error_reply
from ._record import SessionRecorder

log = logging.getLogger("signify_graph.session")

Send = Callable[[str], Awaitable[None]]


def _encode(payload: dict[str, Any]) -> str:
    """JSON text of a reply. orjson: ~10× faster than :mod:`json` on a reply, and it writes
    numpy numbers as numbers and non-finite floats as ``null`` (json writes ``NaN``, which no
    JSON parser in a browser reads)."""
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(payload, option=options).decode()


class RateLimiter:
    """Token bucket: ``rate`` messages per second with bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    @classmethod
    def per_second(cls, rate: float) -> RateLimiter:
        """``rate`` a second, with a second's worth of burst."""
        return cls(rate, max(1, round(rate)))

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class _Clock:
    """When a worker thread started the frame (``None`` while it waits for one); written by
    that thread, read on the event loop."""

    started: float | None = None


@dataclass(frozen=True, slots=True)
class _Work:
    """A frame waiting or running: its payload, arrival, recording index and client id."""

    payload: Any
    arrived: float
    index: int
    client_id: str | int | None


class ClientSession:
    """Drives one :class:`GraphSession` from one connection's messages."""

    def __init__(
        self,
        graph: Graph,
        session_id: str,
        parser: MessageParser,
        send: Send,
        pool: Executor,
        metrics: Metrics,
        *,
        rate: RateLimiter,
        deadline_s: float,
        close_connection: Callable[[int, str], Coroutine[Any, Any, None]],
        flood: RateLimiter | None = None,
        recorder: SessionRecorder | None = None,
        share: FairShare | None = None,
        fair_rate: RateLimiter | None = None,
        closer: Executor | None = None,
    ) -> None:
        self.id = session_id
        #: The stage sessions; ``None`` until :meth:`attach`.
        self._graph: GraphSession | None = None
        self._parser = parser
        self._send = send
        self._pool = pool
        self._closer = closer or pool
        self._metrics = metrics
        self._rate = rate
        self._deadline = deadline_s
        self._close_connection = close_connection
        #: Refusals beyond this rate close the connection (a client ignoring rate_limited).
        self._flood = flood
        self._flood_task: asyncio.Task[None] | None = None
        self._recorder = recorder
        self._share = share
        self._fair_rate = fair_rate
        self._deferred = False
        self._origin = time.monotonic()
        #: When the client last sent anything (for the server's idle timeout).
        self.last_message = self._origin
        self._pending: _Work | None = None
        self._pending_control: Control | None = None
        self._running: asyncio.Future[ItemResult] | None = None
        self._task: asyncio.Task[None] | None = None
        self._discard_running = False
        self._closing = False
        self.stalled = False
        self._inline = graph.inline_safe
        self._stage_histograms = [metrics.stage_seconds.labels(node) for node in graph.node_ids]

    def attach(self, graph_session: GraphSession) -> None:
        """The stage sessions are open: apply a reset that came meanwhile, start the newest
        frame. After :meth:`close` began, only keep them, for it to close."""
        self._graph = graph_session
        if self._closing:
            return
        if self._pending_control is not None:
            self._reset_graph(self._pending_control)
            self._pending_control = None
        if self._pending is not None:
            waiting, self._pending = self._pending, None
            self._start(waiting)

    # -- inbound ---------------------------------------------------------------------------
    async def on_message(self, message: str | bytes) -> None:
        now = self.last_message = time.monotonic()
        self._metrics.messages.inc()
        index = (
            -1 if self._recorder is None else self._recorder.inbound(now - self._origin, message)
        )
        if self._flood_task is not None:
            return  # being closed for flooding: read, not answered
        if not self._rate.allow(now):
            self._metrics.frames_dropped.labels("rate_limited").inc()
            if self._flood is not None and not self._flood.allow(now):
                self._metrics.sessions_flooding.inc()
                log.warning(
                    "closing a session that ignores rate_limited", extra={"session": self.id}
                )
                reason = f"far more than {self._rate.rate:g} messages/s; slow down"
                self._flood_task = asyncio.create_task(self._close_connection(1008, reason))
                return
            await self.send_error("rate_limited", "too many messages; slow down")
            return
        try:
            parsed = self._parser.parse(message)
        except ProtocolError as exc:
            await self.send_error(exc.code, exc.message, exc.client_id)
            return
        if isinstance(parsed, Reset):
            self._control(parsed.control)
            await self._send_json({"ack": "reset", "target": parsed.control.target})
            return
        assert isinstance(parsed, Frame)
        if parsed.control is not None:
            self._control(parsed.control)
        self._metrics.frames_in.inc()
        self._submit(_Work(parsed.payload, now, index, parsed.id))

    def _reset_graph(self, control: Control) -> None:
        assert self._graph is not None
        self._graph.reset(control)
        if self._recorder is not None:
            self._recorder.reset(control.target)

    def _control(self, control: Control) -> None:
        self._stop_waiting()
        if self._pending is not None:
            self._pending = None
            self._metrics.frames_dropped.labels("reset").inc()
        if self._running is not None:
            self._pending_control = control
            self._discard_running = True
        elif self._graph is None:
            self._pending_control = control  # applied by attach()
        else:
            self._reset_graph(control)

    def _submit(self, work: _Work) -> None:
        if self.stalled or self._closing:
            self._metrics.frames_dropped.labels("stalled").inc()
            return
        if self._running is not None or self._deferred or self._graph is None:
            if self._pending is not None:
                self._metrics.frames_dropped.labels("superseded").inc()
            self._pending = work
            if self._deferred and self._within_fair_rate():
                self._stop_waiting()
                self._pending = None
                self._launch(work)
            return
        self._start(work)

    # -- fair sharing (see _fairshare) -----------------------------------------------------
    def _within_fair_rate(self) -> bool:
        return self._fair_rate is None or self._fair_rate.allow(time.monotonic())

    def _stop_waiting(self) -> None:
        if self._deferred and self._share is not None:
            self._share.cancel(self)
        self._deferred = False

    def _resume(self) -> None:
        """A core is free for this session's waiting extra frame."""
        self._deferred = False
        if self._pending is not None and self._running is None and not self._closing:
            waiting, self._pending = self._pending, None
            self._launch(waiting)

    # -- processing ------------------------------------------------------------------------
    def _start(self, work: _Work) -> None:
        share = self._share
        if (
            share is not None
            and not self._inline
            and not self._within_fair_rate()
            and not share.has_room_for_extra
        ):
            self._pending = work
            self._deferred = True
            self._metrics.frames_deferred.inc()
            share.wait(self, self._resume)
            return
        self._launch(work)

    def _launch(self, work: _Work) -> None:
        graph = self._graph
        assert graph is not None
        loop = asyncio.get_running_loop()
        arrival_ms = int((work.arrived - self._origin) * 1000)
        if self._recorder is not None:
            self._recorder.process(work.index, arrival_ms)
        if self._inline:
            # Sub-millisecond graphs (landmarks in): a thread hand-off would cost more than
            # the work, so the frame runs right here, between two socket reads.
            self._running = loop.create_future()
            self._running.set_result(graph.process(work.payload, arrival_ms=arrival_ms))
            self._task = asyncio.create_task(self._finish(None, work, _Clock(time.monotonic())))
            return
        clock = _Clock()

        def run() -> ItemResult:
            clock.started = time.monotonic()
            return graph.process(work.payload, arrival_ms=arrival_ms)

        submitted = self._pool.submit(run)
        self._running = asyncio.wrap_future(submitted, loop=loop)
        if self._share is not None:
            share = self._share
            share.started()
            # Counted until the thread is really done, even past a deadline: the core is busy.
            self._running.add_done_callback(lambda _: share.finished())
        self._task = asyncio.create_task(self._finish(submitted, work, clock))

    async def _result(
        self, running: asyncio.Future[ItemResult], clock: _Clock
    ) -> ItemResult | None:
        """The frame's result, or ``None`` once it has run on its worker past the deadline."""
        while not running.done():
            started = clock.started
            budget = self._deadline
            if started is not None:
                budget -= time.monotonic() - started
                if budget <= 0:
                    return None
            await asyncio.wait((running,), timeout=budget)
        return running.result()

    async def _finish(
        self, submitted: Future[ItemResult] | None, work: _Work, clock: _Clock
    ) -> None:
        assert self._running is not None
        result = await self._result(self._running, clock)
        if result is None:
            self.stalled = True
            self._metrics.errors.labels("deadline_exceeded").inc()
            log.error("frame exceeded its deadline", extra={"session": self.id})
            await self.send_error(
                "deadline_exceeded", f"a stage did not finish within {self._deadline:.1f} s"
            )
            # Close the stage sessions on the worker thread once the hung call returns; the
            # event loop may be long gone by then, and an unclosed landmarker must not be
            # left to the garbage collector (its finaliser can deadlock).
            graph = self._graph
            if submitted is not None and graph is not None:
                submitted.add_done_callback(lambda _: graph.close())
            await self._close_connection(1011, "a stage exceeded the frame deadline")
            return
        self._metrics.frames_processed.inc()
        for histogram, spent in zip(self._stage_histograms, result.timings_ns, strict=False):
            histogram.observe(spent / 1e9)
        if self._recorder is not None:
            error = result.error
            self._recorder.result(
                work.index,
                result.output,
                None if error is None else {"code": error.code, "message": error.message},
            )
        try:
            if self._discard_running:
                self._metrics.frames_dropped.labels("reset").inc()
            else:
                await self._deliver(result, work)
        finally:
            # Only now is the session free: a client that does not read its replies holds
            # back its own next frame (which newer frames replace), never anyone else's.
            self._discard_running = False
            self._running = None
            if self._pending_control is not None:
                self._reset_graph(self._pending_control)
                self._pending_control = None
            if self._pending is not None and not self._closing:
                waiting, self._pending = self._pending, None
                self._start(waiting)

    async def _deliver(self, result: ItemResult, work: _Work) -> None:
        if result.error is not None:
            await self.send_error(result.error.code, result.error.message, work.client_id)
            return
        reply = result.output
        if reply is None:
            return
        if work.client_id is not None:
            reply = {**reply, "id": work.client_id}
        await self._send_json(reply)
        self._metrics.frames_answered.inc()
        self._metrics.frame_seconds.observe(time.monotonic() - work.arrived)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "Inference result %s %s",
                reply.get("letter"),
                reply.get("confidence"),
                extra={"session": self.id},
            )

    # -- outbound --------------------------------------------------------------------------
    async def send_error(self, code: str, message: str, client_id: str | int | None = None) -> None:
        self._metrics.errors.labels(code).inc()
        await self._send_json(error_reply(code, message, client_id))

    async def _send_json(self, payload: dict[str, Any]) -> None:
        try:
            text = _encode(payload)
        except TypeError as exc:  # a stage's reply holds something JSON cannot carry
            log.exception("a reply could not be encoded as JSON", extra={"session": self.id})
            self._metrics.errors.labels("stage_failed").inc()
            message = f"the reply could not be encoded as JSON: {exc}"
            text = _encode(error_reply("stage_failed", message, payload.get("id")))
        try:
            await self._send(text)
        except Exception:  # the connection is gone; the receive loop will notice and close
            log.debug("reply not delivered", extra={"session": self.id})

    async def close(self) -> None:
        """Stop taking frames, wait for the running one, then close the stage sessions."""
        self._closing = True
        self._stop_waiting()
        self._pending = None
        try:
            if self.stalled:
                return  # the stage sessions are closed by the hung frame's done-callback
            while self._task is not None and not self._task.done():
                await asyncio.gather(self._task, return_exceptions=True)
            if self._graph is not None:  # None: they never opened
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._closer, self._graph.close)
        finally:
            if self._recorder is not None:
                self._recorder.close()
