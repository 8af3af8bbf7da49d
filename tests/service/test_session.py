"""The session core, sans I/O: every scheduling promise of the service as a unit test with a
fake clock. Nothing here opens a socket, a thread or an event loop; each test takes
milliseconds. (A few end-to-end tests on real servers keep the driver honest.)"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from signify_graph import Control, Kind
from signify_graph.service.fairshare import FairShare
from signify_graph.service.protocol import MessageParser
from signify_graph.service.session import (
    Accepted,
    Action,
    ApplyReset,
    Close,
    Defer,
    Drop,
    RateLimiter,
    Send,
    SessionCore,
    SessionPolicy,
    Start,
    Undefer,
)

#: Generous limits, so that a test meets only the one it is about.
ROOMY = SessionPolicy(
    rate=1000, burst=1000, flood_factor=0, fair_rate=0, deadline_s=1, idle_timeout=0
)


def frame(index: int) -> str:
    return json.dumps({"type": "frame", "image": "AAAA", "id": index})


RESET = json.dumps({"type": "reset", "target": "B"})


def started(actions: list[Action]) -> list[Any]:
    """The client ids of the frames the actions start."""
    return [a.work.client_id for a in actions if isinstance(a, Start)]


def dropped(actions: list[Action]) -> list[str]:
    return [a.reason for a in actions if isinstance(a, Drop)]


def sent(actions: list[Action]) -> list[dict[str, Any]]:
    return [a.payload for a in actions if isinstance(a, Send)]


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self, seconds: float = 0.0) -> float:
        self.now += seconds
        return self.now


@dataclass
class Harness:
    """A core, a fake clock, and a stand-in for what the driver does with a worker."""

    core: SessionCore
    clock: Clock = field(default_factory=Clock)

    def send(self, message: str | bytes, after: float = 0.001) -> list[Action]:
        return self.core.receive(message, self.clock(after))

    def finish(self, reply: dict[str, Any] | None = None) -> list[Action]:
        """The running frame finishes with ``reply`` and it is sent; what happens next."""
        now = self.clock(0.01)
        answer = self.core.frame_finished({"letter": "B"} if reply is None else reply, None, now)
        return answer + self.core.frame_delivered(now)


def session(policy: SessionPolicy = ROOMY, *, opened: bool = True, **options: Any) -> Harness:
    clock = Clock()
    parser = MessageParser(Kind.ENCODED_IMAGE, ("A", "B", "C"))
    core = SessionCore(parser, policy, now=clock.now, **options)
    if opened:
        assert core.opened(clock.now) == []
    return Harness(core, clock)


# -- newest frame wins -------------------------------------------------------------------
def test_a_frame_starts_at_once_when_the_session_is_free():
    s = session()
    actions = s.send(frame(1))
    assert actions[0] == Accepted() and started(actions) == [1]


def test_while_a_frame_runs_a_newer_one_replaces_the_waiting_one_and_is_counted():
    s = session()
    s.send(frame(1))
    assert s.send(frame(2)) == [Accepted()]
    assert dropped(s.send(frame(3))) == ["superseded"]
    after = s.finish()
    assert sent(after) == [{"letter": "B", "id": 1}]
    assert started(after) == [3]  # the newest, never the replaced one


def test_the_session_stays_busy_until_the_reply_is_delivered():
    """A client that does not read its replies holds back only its own next frame."""
    s = session()
    s.send(frame(1))
    s.send(frame(2))
    answer = s.core.frame_finished({"letter": "B"}, None, s.clock())
    assert started(answer) == []  # not before the reply went out
    assert s.core.running is not None
    assert started(s.core.frame_delivered(s.clock())) == [2]


def test_a_frame_reply_carries_the_clients_id_and_its_arrival_for_the_latency_metric():
    s = session()
    arrived = s.clock.now + 0.001
    s.send(frame(7))
    (reply,) = s.core.frame_finished({"letter": "C"}, None, s.clock(0.05))
    assert reply == Send({"letter": "C", "id": 7}, arrived=pytest.approx(arrived))


def test_a_failed_frame_is_answered_with_its_error_and_id():
    s = session()
    s.send(frame(4))
    (error,) = s.core.frame_finished(None, ("stage_failed", "boom"), s.clock())
    assert error == Send(
        {"error": {"code": "stage_failed", "message": "boom"}, "id": 4}, "stage_failed"
    )


def test_a_throttled_frame_sends_nothing():
    s = session()
    s.send(frame(1))
    assert s.core.frame_finished(None, None, s.clock()) == []


def test_frames_get_strictly_later_engine_timestamps_from_their_arrival():
    s = session()
    (first,) = [a for a in s.send(frame(1), after=0.040) if isinstance(a, Start)]
    assert first.work.arrival_ms == 40 and not first.inline


# -- resets act at once ------------------------------------------------------------------
def test_a_reset_on_an_idle_session_is_applied_at_once_and_acknowledged():
    s = session()
    assert s.send(RESET) == [
        ApplyReset(Control("B")),
        Send(
            {"ack": "reset", "target": "B", "detected_word_letter": None, "target_lettr_prob": 0.0}
        ),
    ]


def test_a_reset_drops_the_waiting_frame_and_discards_the_running_frames_reply():
    s = session()
    s.send(frame(1))
    s.send(frame(2))
    actions = s.send(RESET)
    assert dropped(actions) == ["reset"]
    assert sent(actions) == [
        {"ack": "reset", "target": "B", "detected_word_letter": None, "target_lettr_prob": 0.0}
    ]
    assert not any(isinstance(a, ApplyReset) for a in actions)  # never while a frame runs
    now = s.clock()
    assert s.core.frame_finished({"letter": "A"}, None, now) == [Drop("reset")]
    assert s.core.frame_delivered(now) == [ApplyReset(Control("B"))]  # before any next frame


def test_a_frame_after_a_reset_runs_after_the_reset_is_applied():
    s = session()
    s.send(frame(1))
    s.send(RESET)
    s.send(frame(2))
    now = s.clock()
    s.core.frame_finished({"letter": "A"}, None, now)
    after = s.core.frame_delivered(now)
    assert isinstance(after[0], ApplyReset) and started(after[1:]) == [2]


def test_an_old_style_message_changing_the_target_resets_and_acks_before_its_frame():
    s = session()
    message = json.dumps({"jpeg_blob": "AAAA", "new_word_letter": "c"})
    actions = s.send(message)
    assert actions[0] == ApplyReset(Control("C")) and started(actions) == [None]
    assert sent(actions) == [
        {"ack": "reset", "target": "C", "detected_word_letter": None, "target_lettr_prob": 0.0}
    ]
    assert sent(s.send(message)) == []  # the same letter again: no reset, no ack


# -- opening while reading ----------------------------------------------------------------
def test_frames_sent_while_the_session_opens_replace_each_other_and_the_newest_starts():
    s = session(opened=False)
    assert s.send(frame(0)) == [Accepted()]
    for index in range(1, 10):
        assert dropped(s.send(frame(index), after=0.1)) == ["superseded"]
    assert started(s.core.opened(s.clock())) == [9]


def test_a_reset_sent_while_the_session_opens_is_acknowledged_and_applied_on_opening():
    s = session(opened=False)
    s.send(frame(1))
    actions = s.send(RESET)
    assert dropped(actions) == ["reset"] and sent(actions) == [
        {"ack": "reset", "target": "B", "detected_word_letter": None, "target_lettr_prob": 0.0}
    ]
    s.send(frame(2))
    opened = s.core.opened(s.clock())
    assert opened[0] == ApplyReset(Control("B")) and started(opened[1:]) == [2]


def test_a_session_closed_before_it_opened_starts_nothing():
    s = session(opened=False)
    s.send(frame(1))
    s.core.close()
    assert s.core.opened(s.clock()) == []


# -- rate limit and flood cut-off ----------------------------------------------------------
def test_messages_beyond_the_rate_are_refused_and_the_connection_stays_open():
    s = session(SessionPolicy(rate=5, burst=2, flood_factor=0, fair_rate=0))
    answers = [s.send(RESET, after=0.0) for _ in range(6)]
    codes = [p.get("error", {}).get("code") for a in answers for p in sent(a)]
    assert codes.count("rate_limited") == 4 and not any(
        isinstance(a, Close) for x in answers for a in x
    )
    assert dropped(answers[-1]) == ["rate_limited"]
    later = s.send(frame(1), after=0.5)  # the bucket refilled
    assert started(later) == [1]


def test_a_client_that_ignores_rate_limited_is_closed_with_1008_and_then_only_read():
    s = session(SessionPolicy(rate=5, burst=2, flood_factor=10, fair_rate=0))
    closes: list[Close] = []
    refused = 0
    for _ in range(400):  # all at once
        actions = s.send(RESET, after=0.0)
        refused += dropped(actions).count("rate_limited")
        closes += [a for a in actions if isinstance(a, Close)]
    assert closes == [Close(1008, "far more than 5 messages/s; slow down", "flooding")]
    assert 50 < refused < 60  # a second's worth of refusals at ten times the rate, then cut
    assert s.send(frame(1), after=5.0) == []  # being closed: read, not answered


def test_with_flood_factor_0_a_flooding_client_is_only_refused():
    s = session(SessionPolicy(rate=5, burst=2, flood_factor=0, fair_rate=0))
    answers = [s.send(RESET, after=0.0) for _ in range(400)]
    assert sum(dropped(a).count("rate_limited") for a in answers) == 398
    assert not any(isinstance(a, Close) for x in answers for a in x)
    assert sent(s.send(RESET, after=1.0)) == [
        {"ack": "reset", "target": "B", "detected_word_letter": None, "target_lettr_prob": 0.0}
    ]


def test_the_token_bucket_refills_at_its_rate_up_to_its_burst():
    bucket = RateLimiter(rate=2, burst=3, now=0.0)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow(0.5) and not bucket.allow(0.5)
    assert [bucket.allow(100.0) for _ in range(4)] == [True, True, True, False]


# -- fair share -------------------------------------------------------------------------
FAIR = SessionPolicy(rate=1000, burst=1000, flood_factor=0, fair_rate=2, idle_timeout=0)


def test_frames_within_the_fair_rate_start_at_once_even_on_a_busy_server():
    share = FairShare(cores=2)
    share.started()  # another session's frame holds the only spare core
    s = session(FAIR, share=share)
    assert started(s.send(frame(1))) == [1]


def fair_rate_used_up_on_a_busy_server() -> Harness:
    """A session that has just used its fair rate's burst (two frames a second), while
    another session's frame holds the only spare core of two."""
    share = FairShare(cores=2)
    s = session(FAIR, share=share)
    for index in range(2):
        s.send(frame(index))
        s.finish()
    share.started()
    return s


def test_an_extra_frame_on_a_busy_server_waits_for_a_free_core():
    s = fair_rate_used_up_on_a_busy_server()
    assert s.send(frame(2)) == [Accepted(), Defer()]
    assert dropped(s.send(frame(3))) == ["superseded"]  # the waiting one is replaced
    assert started(s.core.core_free(s.clock())) == [3]


def test_an_extra_frame_on_an_idle_server_starts_at_once():
    s = session(FAIR, share=FairShare(cores=2))
    starts = []
    for index in range(10):  # 5 × the fair rate, one after another
        starts += started(s.send(frame(index), after=0.1))
        s.finish()
    assert starts == list(range(10))


def test_a_waiting_frame_within_the_fair_rate_again_starts_without_waiting_longer():
    s = fair_rate_used_up_on_a_busy_server()
    s.send(frame(2))
    later = s.send(frame(3), after=0.6)  # a token came back meanwhile
    assert Undefer() in later and started(later) == [3]


def test_a_reset_stops_the_wait_for_a_core():
    s = fair_rate_used_up_on_a_busy_server()
    s.send(frame(2))
    actions = s.send(RESET)
    assert actions[:2] == [Undefer(), Drop("reset")]


def test_inline_graphs_never_wait_for_a_core():
    share = FairShare(cores=1)
    share.started()
    s = session(FAIR, share=share, inline=True)
    starts = [a for i in range(5) for a in s.send(frame(i)) if isinstance(a, Start)]
    assert len(starts) == 1 and starts[0].inline  # the others wait for it, newest-wins


def test_fair_sharing_can_be_turned_off():
    share = FairShare(cores=1)
    share.started()
    policy = SessionPolicy(rate=1000, burst=1000, flood_factor=0, fair_rate=0)
    s = session(policy, share=share)
    for index in range(5):
        assert started(s.send(frame(index))) == [index]
        s.finish()


# -- deadline, idle, close ---------------------------------------------------------------
def test_a_frame_past_its_deadline_fails_the_session_with_1011_and_later_frames_are_dropped():
    s = session(SessionPolicy(deadline_s=0.3, fair_rate=0, flood_factor=0))
    s.send(frame(1))
    actions = s.core.deadline_passed(s.clock(0.3))
    assert sent(actions) == [
        {"error": {"code": "deadline_exceeded", "message": "a stage did not finish within 0.3 s"}}
    ]
    assert actions[-1] == Close(1011, "a stage exceeded the frame deadline", "deadline")
    assert dropped(s.send(frame(2))) == ["stalled"]


def test_a_silent_session_is_closed_after_the_idle_timeout_and_a_sending_one_is_not():
    s = session(SessionPolicy(idle_timeout=0.5))
    for _ in range(8):  # a message every 0.2 s: never idle
        s.send(RESET, after=0.2)
        assert s.core.tick(s.clock()) == []
    assert s.core.idle_for(s.clock()) == pytest.approx(0.5)
    assert s.core.tick(s.clock(0.49)) == []
    assert s.core.tick(s.clock(0.01)) == [Close(1000, "no message for 0.5 s", "idle")]


def test_an_idle_timeout_of_zero_never_closes():
    s = session(SessionPolicy(idle_timeout=0))
    assert s.core.idle_for(s.clock()) is None
    assert s.core.tick(s.clock(10_000)) == []


def test_a_closing_session_drops_new_frames_and_starts_no_waiting_one():
    s = session()
    s.send(frame(1))
    s.send(frame(2))
    s.core.close()
    assert dropped(s.send(frame(3))) == ["stalled"]
    after = s.finish()
    assert started(after) == []


def test_a_bad_message_is_answered_with_its_code_and_the_session_goes_on():
    s = session()
    (error,) = s.send("{not json")
    assert error.error == "bad_json" and error.payload["error"]["code"] == "bad_json"
    assert started(s.send(frame(1))) == [1]


def test_the_policy_is_read_from_the_settings():
    from signify_graph.service.settings import load_settings

    settings = load_settings({"SIGNIFY_RATE_LIMIT": "7", "SIGNIFY_FRAME_DEADLINE_MS": "250"})
    policy = SessionPolicy.from_settings(settings)
    assert policy.rate == 7 and policy.deadline_s == 0.25
    assert policy.fair_rate == settings.fair_rate and policy.idle_timeout == settings.idle_timeout
