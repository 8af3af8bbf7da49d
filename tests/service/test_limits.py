"""The limits one address shares and pings, sans I/O: fake clocks, milliseconds per test.
(``test_denial`` runs the same attacks against a real server.)"""

from __future__ import annotations

from signify_graph.service.peers import Peers, client_key, peer_key
from signify_graph.service.session import Close, Drop, Send, SessionPolicy

from .test_session import ROOMY, frame, session

FIVE = SessionPolicy(rate=5, burst=2, flood_factor=10, fair_rate=0, deadline_s=1, idle_timeout=0)


def test_pings_spend_the_rate_limit_and_a_ping_flood_closes_with_1008():
    s = session(FIVE)
    actions = [s.core.ping(s.clock(0.0001)) for _ in range(60)]
    assert actions[0] == [] and actions[1] == []  # the burst
    assert [Drop("rate_limited")] in actions  # past the rate, counted, not answered
    closes = [a for step in actions for a in step if isinstance(a, Close)]
    assert len(closes) == 1 and closes[0].code == 1008
    assert s.core.ping(s.clock(0.0001)) == []  # being closed: nothing more


def test_a_ping_does_not_keep_a_session_from_being_idle():
    s = session(FIVE)
    before = s.core.last_message
    s.core.ping(s.clock(5.0))
    assert s.core.last_message == before


def test_the_sessions_of_one_address_share_its_message_rate():
    peers = Peers(max_sessions=0, rate=3, fair_rate=0)
    peer = peers.join("198.51.100.7", 100.0)
    first, second = session(ROOMY, peer=peer), session(ROOMY, peer=peer)
    answered = [first.send(frame(1)), second.send(frame(2)), first.send(frame(3))]
    assert all(not any(isinstance(a, Send) for a in step) for step in answered)
    refused = second.send(frame(4))
    assert Drop("rate_limited") in refused
    assert [a.payload["error"]["code"] for a in refused if isinstance(a, Send)] == ["rate_limited"]
    other = session(ROOMY, peer=peers.join("198.51.100.8", 100.0))
    assert Drop("rate_limited") not in other.send(frame(5))  # another address is untouched


def test_an_address_holds_at_most_its_sessions_and_is_forgotten_with_the_last():
    peers = Peers(max_sessions=2, rate=0, fair_rate=0)
    a = peers.join("203.0.113.1", 0.0)
    assert not peers.full("203.0.113.1")
    b = peers.join("203.0.113.1", 0.0)
    assert peers.full("203.0.113.1") and not peers.full("203.0.113.2")
    peers.leave(a)
    assert not peers.full("203.0.113.1")
    peers.leave(b)
    assert len(peers) == 0


def test_addresses_are_keyed_by_ipv4_and_by_ipv6_slash_64():
    assert peer_key(("127.0.0.1", 5000)) == "127.0.0.1"
    assert peer_key(("2001:db8::1", 5000, 0, 0)) == peer_key(("2001:db8::ffff:1", 1, 0, 0))
    assert peer_key(("2001:db8::1", 1, 0, 0)) != peer_key(("2001:db8:0:1::1", 1, 0, 0))
    assert peer_key(("::ffff:192.0.2.1", 1, 0, 0)) == "192.0.2.1"
    assert client_key(("10.0.0.1", 1), ["192.0.2.9, 198.51.100.3"]) == "198.51.100.3"
    assert client_key(("10.0.0.1", 1), None) == "10.0.0.1"
