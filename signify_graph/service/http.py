"""Plain HTTP, routed once: ``/health``, ``/ready``, ``/metrics`` and the demo page's files.

:class:`Router` knows nothing of sockets: it turns a path into an :class:`HttpResponse`, and
each port's server only translates that. The WebSocket port answers through websockets'
``process_request`` (Railway health-checks only the port it injects, and the demo page is
served from there); ``HEALTH_PORT`` is an aiohttp app with one catch-all route. aiohttp stays
for that port because it answers from the first moment, while the pipeline still loads and
before the WebSocket port listens, and as an ordinary HTTP server (any method, keep-alive);
websockets' HTTP side exists for handshakes and answers one GET per connection.
"""

from __future__ import annotations

import hmac
import http
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .._errors import StartupError
from .observe import Observable, ServiceState
from .protocol import error_payload
from .settings import ServiceSettings

log = logging.getLogger("signify_graph.server")
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The headers the handshake reads: a request with two of one is ambiguous, refused with 400.
_SINGLE_HEADERS = ("Upgrade", "Authorization", "Origin")
#: No file system takes a longer file name; such a path is not looked up.
_NAME_MAX = 255


def split_target(target: str) -> tuple[str, str]:
    """The path and query of a request target. Not :func:`urllib.parse.urlsplit`, which
    reads ``//[x`` as a host and raises ``ValueError`` ("Invalid IPv6 URL")."""
    path, _, query = target.partition("#")[0].partition("?")
    return path, query


def shown(path: str, limit: int = 64) -> str:
    """``path`` as a message or a log line may quote it: escaped, and cut short."""
    text = ascii(path)[1:-1]
    return text if len(text) <= limit else text[:limit] + "..."


def _without_paths(value: Any) -> Any:
    """``value`` with every absolute path cut to its file name: what ``/health`` shows on the
    public port, which need not tell the internet how the machine is laid out."""
    if isinstance(value, dict):
        return {key: _without_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_paths(item) for item in value]
    if isinstance(value, str) and os.path.isabs(value):
        return Path(value).name
    return value


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str

    @classmethod
    def json(cls, status: int, payload: dict[str, Any]) -> HttpResponse:
        return cls(status, json.dumps(payload).encode(), "application/json")

    @classmethod
    def error(cls, status: int, code: str, message: str) -> HttpResponse:
        """An HTTP error in the shape every client error has (:func:`.error_payload`)."""
        return cls.json(status, error_payload(code, message))


class Router:
    """What a port answers to a GET of ``path``: health and readiness always, metrics where
    ``metrics`` is set, and the files of ``static`` (the demo page) where it is given.
    A ``public`` port's ``/health`` shows file names, not absolute paths."""

    def __init__(
        self, state: Observable, *, metrics: bool, static: Path | None, public: bool = False
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.static = static
        self.public = public

    def respond(self, path: str) -> HttpResponse:
        if not path.isprintable():  # a NUL byte, a line feed: no path of ours, nor a file's
            log.info("refused a request for a path with a control character: %s", shown(path))
            return HttpResponse.error(400, "bad_request", "the path holds a control character")
        if path == "/health":
            health = self.state.health()
            return HttpResponse.json(200, _without_paths(health) if self.public else health)
        if path == "/ready":
            status, body = self.state.readiness()
            return HttpResponse.json(status, body)
        if path == "/metrics" and self.metrics:
            return HttpResponse(200, self.state.exposition(), METRICS_TYPE)
        file = self._file(path)
        if file is not None:
            content_type = _CONTENT_TYPES.get(file.suffix, "text/plain")
            return HttpResponse(200, file.read_bytes(), content_type)
        return HttpResponse.error(404, "not_found", f"nothing at {shown(path)}")

    def _file(self, path: str) -> Path | None:
        if self.static is None or not self.static.is_dir():
            return None
        name = "index.html" if path == "/" else path.lstrip("/")
        if any(len(part.encode(errors="surrogateescape")) > _NAME_MAX for part in name.split("/")):
            return None  # the file system would say ENAMETOOLONG
        try:
            file = (self.static / name).resolve()
            found = file.is_file() and file.parent == self.static.resolve()
        except (OSError, ValueError):  # whatever else the file system refuses: not ours
            return None
        return file if found else None


def to_websockets(response: HttpResponse) -> Response:
    """The response as websockets' ``process_request`` returns it."""
    headers = Headers(
        [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
        ]
    )
    status = response.status
    return Response(status, http.HTTPStatus(status).phrase, headers, response.body)


def answer(
    router: Router, state: ServiceState, settings: ServiceSettings, request: Request
) -> HttpResponse | None:
    """What the WebSocket port answers a request: plain HTTP is routed, a handshake goes on
    (``None``) unless it is refused (:func:`handshake_refusal`)."""
    twice = next((name for name in _SINGLE_HEADERS if len(request.headers.get_all(name)) > 1), "")
    if twice:
        state.metrics.connections_refused.labels("bad_request").inc()
        log.info("refused a request with two %s headers", twice)
        return HttpResponse.error(400, "bad_request", f"two {twice} headers")
    if "websocket" not in request.headers.get("Upgrade", "").lower():
        return router.respond(split_target(request.path)[0])
    return handshake_refusal(state, settings, request)


def handshake_refusal(
    state: ServiceState, settings: ServiceSettings, request: Request
) -> HttpResponse | None:
    """Why a WebSocket handshake is refused, or ``None``. Who may connect is settled before
    anything about the server is told: a stranger learns neither that it is full nor that it
    is starting. Browsers always send ``Origin``, so with an allowlist a request without one
    is refused like a foreign one."""
    refused = state.metrics.connections_refused
    allowed = settings.allowed_origins
    if allowed and request.headers.get("Origin") not in allowed:
        refused.labels("origin").inc()
        return HttpResponse.error(403, "forbidden_origin", "this Origin may not connect")
    if settings.token and not _authorized(settings.token, request):
        refused.labels("unauthorized").inc()
        return HttpResponse.error(401, "unauthorized", "bad or missing token")
    if not state.ready:
        refused.labels("not_ready").inc()
        return HttpResponse.error(503, "not_ready", "the server is not ready")
    if state.sessions >= settings.max_sessions:
        refused.labels("full").inc()
        return HttpResponse.error(503, "server_full", f"at most {settings.max_sessions} sessions")
    return None


def _authorized(token: str, request: Request) -> bool:
    """``Authorization: Bearer <token>`` (the scheme in any case, as RFC 9110 has it) or
    ``?token=<token>``, compared in constant time, as bytes (``compare_digest`` refuses
    non-ASCII text). websockets decodes header values as ISO-8859-1: encoded back, they are
    the bytes the client sent."""
    expected = token.encode()
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode("latin-1", "replace"), expected
    ):
        return True
    given = parse_qs(split_target(request.path)[1]).get("token", [""])[0]
    return hmac.compare_digest(given.encode(errors="surrogatepass"), expected)


class _OneLineForMalformed(logging.Filter):
    """aiohttp logs a request it cannot parse (a NUL byte in the path…) as an error with a
    traceback: bad input, which earns one line at INFO. Its other errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            first = str(exc.message).strip().splitlines()
            record.msg, record.args = (
                "refused a malformed request: %s",
                (shown(first[0] if first else ""),),
            )
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_health_log = logging.getLogger("signify_graph.health")
_health_log.addFilter(_OneLineForMalformed())


async def start_health_app(router: Router, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``router`` on ``host:port`` with aiohttp; the runner, and the port it got."""

    async def answer(request: web.Request) -> web.Response:
        response = router.respond(request.path)
        return web.Response(
            status=response.status,
            body=response.body,
            headers={"Content-Type": response.content_type, "Cache-Control": "no-store"},
        )

    app = web.Application()
    app.router.add_get("/{path:.*}", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, logger=_health_log)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen on HEALTH_PORT {port}: {exc.strerror}") from exc
    return runner, runner.addresses[0][1]
