"""Hostile HTTP against a real server: raw requests no HTTP client would send, and the
handshake's checks in the order that leaks nothing. Each gets a 4xx and at most one log line,
never a 500 or a traceback (issue #18, defects 6 and 7)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from signify_graph.service import http
from signify_graph.service.observe import ServiceState
from signify_graph.service.server import WEB_ROOT

from .conftest import client, receive_json, running_service
from .test_service import aget

UPGRADE = (
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
)
LONG = b"a" * 300


async def raw_status(port: int, request: bytes) -> int:
    """Send ``request`` as it is, byte for byte; the status code of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return int(line.split()[1])


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


RAW_REQUESTS = [
    (b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /health\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /" + LONG + b" HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"GET /" + LONG + b"/" + LONG + b".html HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"GET //[x/health HTTP/1.1\r\nHost: x\r\n\r\n", 404),  # urlsplit: "Invalid IPv6 URL"
    (
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nUpgrade: websocket\r\n"
        + UPGRADE
        + b"\r\n",
        400,
    ),
    (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nUpgrade: h2c\r\n\r\n", 400),
    (
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nAuthorization: Bearer s3cret\r\n"
        b"Authorization: Bearer s3cret\r\n" + UPGRADE + b"\r\n",
        400,
    ),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 200),  # and the port still answers
]


def test_raw_requests_no_client_sends_get_400_or_404_and_no_traceback(caplog):
    async def scenario() -> tuple[list[int], list[int]]:
        async with running_service(
            "pipelines/landmarks.yaml", [], token="s3cret", max_sessions=1
        ) as service:
            public = [await raw_status(service.ws_port, r) for r, _ in RAW_REQUESTS]
            health = [await raw_status(service.health_port, r) for r, _ in RAW_REQUESTS[:5]]
            return public, health

    caplog.set_level(logging.INFO)
    public, health = asyncio.run(scenario())
    assert public == [status for _, status in RAW_REQUESTS]
    assert all(400 <= status < 500 for status in health), health
    assert _tracebacks(caplog) == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert LONG.decode() not in logged  # a path is never echoed whole into the log


@settings(max_examples=300, deadline=None)
@given(
    target=st.text(max_size=300)
    | st.lists(st.sampled_from(["a" * 256, "..", "", "\x00", "[", "%00", "index.html"])).map(
        "/".join
    )
)
def test_any_request_target_is_answered_200_400_or_404(target):
    """The router's oracle: whatever the target, an answer in our shape, never an exception."""
    router = http.Router(ServiceState(), metrics=False, static=WEB_ROOT, public=True)
    path, _ = http.split_target(target)
    response = router.respond(path)
    assert response.status in (200, 400, 404)
    assert response.status == 200 or "error" in json.loads(response.body)


def _refusal(service: Any, **options: Any) -> Any:
    async def attempt() -> tuple[int, str]:
        try:
            async with client(service, **options):
                return 101, ""
        except InvalidStatus as refused:
            error = json.loads(refused.response.body or b"{}").get("error", {})
            return refused.response.status_code, error.get("code", "")

    return attempt()


def test_the_token_is_checked_before_the_server_admits_it_is_full():
    """An unauthenticated client learns nothing, not even that the server is full."""

    async def scenario() -> list[tuple[int, str]]:
        bearer = {"Authorization": "Bearer s3cret"}
        async with (
            running_service("pipelines/landmarks.yaml", [], token="s3cret", max_sessions=1) as s,
            client(s, additional_headers=bearer),
        ):
            return [
                await _refusal(s),
                await _refusal(s, additional_headers={"Authorization": "Bearer wrong"}),
                await _refusal(s, additional_headers=bearer),
            ]

    assert asyncio.run(scenario()) == [
        (401, "unauthorized"),
        (401, "unauthorized"),
        (503, "server_full"),
    ]


def test_the_bearer_scheme_is_case_insensitive_and_the_token_compared_in_constant_time(
    monkeypatch,
):
    compared: list[tuple[bytes, bytes]] = []
    real = http.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(http.hmac, "compare_digest", spy)

    async def scenario() -> list[Any]:
        async with running_service("pipelines/landmarks.yaml", [], token="s3cret") as s:
            got: list[Any] = []
            for scheme in ("bearer", "BEARER", "Bearer"):
                headers = {"Authorization": f"{scheme} s3cret"}
                async with client(s, additional_headers=headers) as ws:
                    await ws.send(json.dumps({"type": "reset", "target": None}))
                    got.append((await receive_json(ws))["ack"])
            got.append(await _refusal(s, additional_headers={"Authorization": "Basic s3cret"}))
            async with connect(f"ws://127.0.0.1:{s.ws_port}/?token=s3cret") as ws:
                await ws.send(json.dumps({"type": "reset", "target": None}))
                got.append((await receive_json(ws))["ack"])
            return got

    assert asyncio.run(scenario()) == ["reset", "reset", "reset", (401, "unauthorized"), "reset"]
    assert compared and all(b == b"s3cret" for _, b in compared)


def test_with_an_origin_allowlist_a_missing_or_foreign_origin_is_refused_with_403():
    """Browsers always send Origin; a request without one is not a browser's, so with an
    allowlist set it is refused like a foreign one (docs/PROTOCOL.md)."""

    async def scenario() -> list[tuple[int, str]]:
        async with running_service(
            "pipelines/landmarks.yaml", [], origins="https://app.example"
        ) as s:
            return [
                await _refusal(s),
                await _refusal(s, origin="https://evil.example"),
                await _refusal(s, origin="https://app.example"),
            ]

    assert asyncio.run(scenario()) == [
        (403, "forbidden_origin"),
        (403, "forbidden_origin"),
        (101, ""),
    ]


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_health_on_the_public_port_shows_no_absolute_path():
    """The WebSocket port faces the internet; HEALTH_PORT, for the operator, keeps them."""

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with running_service("pipelines/landmarks.yaml", []) as s:
            public = json.loads((await aget(s.ws_port, "/health"))[1])
            private = json.loads((await aget(s.health_port, "/health"))[1])
            return public, private

    public, private = asyncio.run(scenario())
    assert public["models"]["classify"]["model"] == "classifier.onnx"
    assert [s for s in _strings(public) if Path(s).is_absolute()] == []
    assert Path(private["models"]["classify"]["model"]).is_absolute()
    assert public["models"]["classify"]["sha256"] == private["models"]["classify"]["sha256"]
