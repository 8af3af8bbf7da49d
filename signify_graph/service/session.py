"""One client's session as a state machine, sans I/O: events in, actions out.

This is to :mod:`.driver` what websockets' ``protocol.py`` is to its asyncio connection. The
:class:`SessionCore` never imports asyncio, owns no thread and has no clock: every event
carries ``now`` (seconds on a monotonic clock), so its tests run in milliseconds with a fake
one. The driver feeds it events — a message arrived, the stage sessions opened, a frame
finished and its reply went out, a frame ran past its deadline, a core is free, the clock
ticked — and carries out the actions it returns, in order.

What it decides, and the service promises (README, "Promises the service keeps"):

* **newest frame wins** — at most one frame of a session runs; a newer frame *replaces* the
  waiting one (``Drop("superseded")``), so a client sending faster than the server answers
  sees bounded latency, never a queue;
* **resets act at once** — a reset drops the waiting frame (``Drop("reset")``), discards the
  running frame's reply, and is applied before the next frame starts: never behind queued
  frames, never while a frame runs (stage state is not thread-safe, and need not be);
* **fair share** — frames beyond the session's fair rate start only while a core stays free
  for the others (:mod:`.fairshare`); otherwise the newest waits (``Defer``);
* **rate limit and flood cut-off** — messages beyond the rate (the session's, or its address's
  shared one, :mod:`.peers`) are refused with ``rate_limited``; refused ones beyond
  ``flood_factor`` times the rate close the session with 1008, after which its messages are
  read and not answered. Pings count too: websockets answers them, so one past the rate is
  not refused but counts toward the cut-off;
* **opening while reading** — messages are taken from the first one on, while the stage
  sessions are still being made; the newest frame starts once they are open;
* **deadline** — a frame whose stages ran past the deadline fails with
  ``deadline_exceeded`` and closes the session with 1011 (the driver times the stages, not
  the wait for a worker);
* **idle close** — no message for ``idle_timeout`` seconds closes with 1000;
* **text edits between frames** — a ``text`` message (clear, delete, space) is applied at
  once, or after the running frame (whose reply stays valid: an edit is not a reset), in the
  order edits arrived; the driver acknowledges each with the text after it;
* **the older app's names** — every reply gets them (:mod:`.fieldapp`), and in word mode the
  word spelled and its probability (:mod:`.wordmode`); a reset starts or ends word mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._kinds import Control
from .fieldapp import ack_app_fields
from .limits import Budget
from .limits import RateLimiter as RateLimiter  # where it was
from .protocol import ClientId, Edit, Frame, MessageParser, ProtocolError, error_payload
from .wordmode import WordMode

if TYPE_CHECKING:
    from .fairshare import FairShare
    from .peers import Peer
    from .settings import ServiceSettings


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Every limit a session keeps, in one place; :meth:`from_settings` reads the operator's."""

    #: Messages a second (``SIGNIFY_RATE_LIMIT``) and the burst allowed above it.
    rate: float = 30.0
    burst: int = 15
    #: Refusals beyond this many times ``rate`` a second close with 1008; 0 never closes.
    flood_factor: float = 10.0
    #: Frames a second that always start at once; 0 turns fair sharing off.
    fair_rate: float = 15.0
    #: Seconds a frame's stages may take before the session is closed with 1011.
    deadline_s: float = 2.0
    #: Seconds without a message before the session is closed with 1000; 0 never closes.
    idle_timeout: float = 300.0

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> SessionPolicy:
        return cls(
            rate=settings.max_messages_per_second,
            burst=settings.rate_burst,
            flood_factor=settings.flood_factor,
            fair_rate=settings.fair_rate,
            deadline_s=settings.frame_deadline_ms / 1000,
            idle_timeout=settings.idle_timeout,
        )


@dataclass(frozen=True, slots=True)
class Work:
    """A frame waiting or running: its payload, arrival (and in ms since the session began,
    its engine timestamp), recording index and the client's id for it."""

    payload: Any
    arrived: float
    arrival_ms: int
    index: int
    client_id: ClientId


# -- actions: what the driver is asked to do, in the order returned --------------------------
@dataclass(frozen=True, slots=True)
class Send:
    """Send ``payload``. ``error`` is its error code; ``arrived`` is set on a frame's reply."""

    payload: dict[str, Any]
    error: str | None = None
    arrived: float | None = None


@dataclass(frozen=True, slots=True)
class Start:
    """Run ``work`` through the graph: on the event loop when ``inline``, else on a worker."""

    work: Work
    inline: bool


@dataclass(frozen=True, slots=True)
class Drop:
    """A frame (or a refused message) is dropped; ``reason`` labels the metric."""

    reason: str


@dataclass(frozen=True, slots=True)
class Defer:
    """Wait for a free core; the driver answers with :meth:`SessionCore.core_free`."""


@dataclass(frozen=True, slots=True)
class Undefer:
    """Stop waiting for a free core."""


@dataclass(frozen=True, slots=True)
class ApplyReset:
    """Reset the stage sessions with ``control`` (and record it)."""

    control: Control


@dataclass(frozen=True, slots=True)
class ApplyEdit:
    """Apply a text edit to the stage sessions (and record it), then acknowledge it with the
    text after it, echoing ``client_id``."""

    edit: Edit


@dataclass(frozen=True, slots=True)
class Accepted:
    """A frame was received and taken for scheduling (counted, whatever becomes of it)."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection; ``cause`` (``flooding``, ``idle``, ``deadline``) labels it."""

    code: int
    reason: str
    cause: str


Action = Send | Start | Drop | Defer | Undefer | ApplyReset | ApplyEdit | Accepted | Close


class SessionCore:
    """The scheduling state of one session. Not thread-safe: the driver's loop owns it."""

    def __init__(
        self,
        parser: MessageParser,
        policy: SessionPolicy,
        *,
        now: float,
        inline: bool = False,
        share: FairShare | None = None,
        peer: Peer | None = None,
    ) -> None:
        self.policy = policy
        self._parser = parser
        self._inline = inline
        self._share = share if policy.fair_rate > 0 else None
        self._origin = now
        #: When the client last sent anything.
        self.last_message = now
        fair = policy.fair_rate if self._share is not None else 0
        self._budget = Budget(policy.rate, policy.burst, policy.flood_factor, fair, now, peer)
        self._pending: Work | None = None
        self._pending_control: Control | None = None
        self._pending_edits: list[ApplyEdit] = []  # ≤ rate limit × deadline
        self._word = WordMode()  # the older app's word mode, read off the replies
        self._running: Work | None = None
        self._open = self._discard_running = self._deferred = False
        self._closing = False
        #: A frame ran past its deadline: the session takes no more frames.
        self.stalled = False

    @property
    def running(self) -> Work | None:  # the frame running now
        return self._running

    # -- events ---------------------------------------------------------------------------
    def receive(self, message: str | bytes, now: float, index: int = -1) -> list[Action]:
        """A message arrived (``index``: its number in the session's recording)."""
        self.last_message = now
        if self._budget.flooding:
            return []  # being closed for flooding: read, not answered
        if not self._budget.allow(now):
            return _refused(self._budget, self.policy, now, "too many messages; slow down")
        try:
            parsed = self._parser.parse(message)
        except ProtocolError as exc:
            return [_error(exc.code, exc.message, exc.client_id)]
        if isinstance(parsed, Edit):  # at once, or once the stages are free
            if self._running is None and self._open:
                return [ApplyEdit(parsed)]
            self._pending_edits.append(ApplyEdit(parsed))
            return []
        if not isinstance(parsed, Frame):
            return [*self._control(parsed.control), _ack(parsed.control)]
        # A legacy frame that changes the target is a reset too: acknowledged like any.
        control = parsed.control
        actions = [] if control is None else [*self._control(control), _ack(control)]
        arrival_ms = int((now - self._origin) * 1000)
        work = Work(parsed.payload, now, arrival_ms, index, parsed.id)
        return [*actions, Accepted(), *self._submit(work, now)]

    def ping(self, now: float) -> list[Action]:
        """A ping arrived. websockets has answered it (a pong cannot be refused): it spends a
        token, and one past the rate counts toward the flood cut-off. It is not a message
        for the idle close."""
        if self._budget.flooding or self._budget.allow(now):
            return []
        return _refused(self._budget, self.policy, now, None)

    def opened(self, now: float) -> list[Action]:
        """The stage sessions are open: apply the reset and edits that came meanwhile, start
        the newest frame. After :meth:`close` began, nothing."""
        self._open = True
        return [] if self._closing else self._resume(now)

    def core_free(self, now: float) -> list[Action]:
        """A core is free for this session's waiting extra frame."""
        self._deferred = False
        if self._pending is not None and self._running is None and not self._closing:
            waiting, self._pending = self._pending, None
            return [self._launch(waiting)]
        return []

    def frame_finished(
        self, reply: dict[str, Any] | None, error: tuple[str, str] | None, now: float
    ) -> list[Action]:
        """The running frame finished with ``reply`` or ``error`` (code, message): what to
        send. The session stays busy until :meth:`frame_delivered`, so a client that does not
        read its replies holds back its own next frame, never anyone else's."""
        work = self._running
        assert work is not None, "no frame is running"
        if self._discard_running:
            return [Drop("reset")]
        if error is not None:
            return [_error(*error, work.client_id)]
        if reply is None:
            return []
        reply = self._word.reply(reply)  # the older app's names (letter or word mode)
        if work.client_id is not None:
            reply = {**reply, "id": work.client_id}
        return [Send(reply, arrived=work.arrived)]

    def frame_delivered(self, now: float) -> list[Action]:
        """What :meth:`frame_finished` asked for was sent: the session is free again."""
        self._discard_running = False
        self._running = None
        return self._resume(now)

    def deadline_passed(self, now: float) -> list[Action]:
        """The running frame's stages ran past the deadline: tell the client, close."""
        self.stalled = True
        budget = self.policy.deadline_s
        return [
            _error("deadline_exceeded", f"a stage did not finish within {budget:.1f} s"),
            Close(1011, "a stage exceeded the frame deadline", "deadline"),
        ]

    def idle_for(self, now: float) -> float | None:
        """Seconds left before the session counts as idle (``None``: it never does)."""
        idle = self.policy.idle_timeout
        return None if idle <= 0 else idle - (now - self.last_message)

    def tick(self, now: float) -> list[Action]:
        """The clock moved on: close a session that has been silent too long."""
        left = self.idle_for(now)
        if left is None or left > 0:
            return []
        idle = self.policy.idle_timeout
        return [Close(1000, f"no message for {idle:g} s", "idle")]

    def close(self) -> list[Action]:
        """The connection is closing: take no more frames."""
        self._closing = True
        self._pending = None
        return self._stop_waiting()

    # -- scheduling -----------------------------------------------------------------------
    def _resume(self, now: float) -> list[Action]:
        """The stages are free: what waited for them (the reset, the edits), then the newest
        frame unless the session is closing."""
        actions = _waiting(self._pending_control, self._pending_edits)
        self._pending_control, self._pending_edits = None, []
        if self._pending is not None and not self._closing:
            waiting, self._pending = self._pending, None
            actions += self._start(waiting, now)
        return actions

    def _control(self, control: Control) -> list[Action]:
        self._word.start(control.word)  # later replies are the reset's: the running one is not
        actions = self._stop_waiting()
        if self._pending is not None:
            self._pending = None
            actions.append(Drop("reset"))
        if self._running is not None:
            self._pending_control = control
            self._discard_running = True
        elif not self._open:
            self._pending_control = control  # applied by opened()
        else:
            actions.append(ApplyReset(control))
        return actions

    def _submit(self, work: Work, now: float) -> list[Action]:
        if self.stalled or self._closing:
            return [Drop("stalled")]
        if self._running is None and not self._deferred and self._open:
            return self._start(work, now)
        actions: list[Action] = []
        if self._pending is not None:
            actions.append(Drop("superseded"))
        self._pending = work
        if self._deferred and self._budget.fair(now):
            actions += self._stop_waiting()
            self._pending = None
            actions.append(self._launch(work))
        return actions

    def _start(self, work: Work, now: float) -> list[Action]:
        share = self._share
        if (
            share is not None
            and not self._inline
            and not self._budget.fair(now)
            and not share.has_room_for_extra
        ):
            self._pending = work
            self._deferred = True
            return [Defer()]
        return [self._launch(work)]

    def _launch(self, work: Work) -> Start:
        self._running = work
        return Start(work, self._inline)

    def _stop_waiting(self) -> list[Action]:
        if not self._deferred:
            return []
        self._deferred = False
        return [Undefer()]


def _waiting(control: Control | None, edits: list[ApplyEdit]) -> list[Action]:
    """The reset and the edits that waited for the stages, the reset first: an edit that came
    before the reset met an empty text either way, so only the edits' own order matters."""
    return [*([] if control is None else [ApplyReset(control)]), *edits]


def _ack(control: Control) -> Send:
    """A reset's acknowledgement; in word mode it names the word (and the target is null)."""
    ack: dict[str, Any] = {"ack": "reset", "target": control.target}
    if control.word is not None:
        ack["word"] = control.word
    return Send({**ack, **ack_app_fields(control.word)})


def _refused(budget: Budget, policy: SessionPolicy, now: float, answer: str | None) -> list[Action]:
    """A message (answered with ``answer``) or a ping was refused; past the flood cut-off, the
    session is closed instead."""
    passed = budget.flooded(now)
    if passed is not None:
        reason = f"far more than {policy.rate:g} messages/s; slow down"
        if passed == "address":
            reason = "far more messages than one address may send; slow down"
        return [Drop("rate_limited"), Close(1008, reason, "flooding")]
    return (
        [Drop("rate_limited")]
        if answer is None
        else [Drop("rate_limited"), _error("rate_limited", answer)]
    )


def _error(code: str, message: str, client_id: ClientId = None) -> Send:
    return Send(error_payload(code, message, client_id), error=code)
