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

import http
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .._errors import StartupError
from .observe import ServiceState
from .protocol import error_payload
from .settings import ServiceSettings

_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
    ``metrics`` is set, and the files of ``static`` (the demo page) where it is given."""

    def __init__(self, state: ServiceState, *, metrics: bool, static: Path | None) -> None:
        self.state = state
        self.metrics = metrics
        self.static = static

    def respond(self, path: str) -> HttpResponse:
        if path == "/health":
            return HttpResponse.json(200, self.state.health())
        if path == "/ready":
            status, body = self.state.readiness()
            return HttpResponse.json(status, body)
        if path == "/metrics" and self.metrics:
            return HttpResponse(200, self.state.metrics.exposition(), METRICS_TYPE)
        file = self._file(path)
        if file is not None:
            content_type = _CONTENT_TYPES.get(file.suffix, "text/plain")
            return HttpResponse(200, file.read_bytes(), content_type)
        return HttpResponse.error(404, "not_found", f"nothing at {path}")

    def _file(self, path: str) -> Path | None:
        if self.static is None or not self.static.is_dir():
            return None
        name = "index.html" if path == "/" else path.lstrip("/")
        file = (self.static / name).resolve()
        return file if file.is_file() and file.parent == self.static.resolve() else None


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


def handshake_refusal(
    state: ServiceState, settings: ServiceSettings, request: Request
) -> HttpResponse | None:
    """Why a WebSocket handshake is refused (not ready, full, no token), or ``None``."""
    refused = state.metrics.connections_refused
    if not state.ready:
        refused.labels("not_ready").inc()
        return HttpResponse.error(503, "not_ready", "the server is not ready")
    if state.sessions >= settings.max_sessions:
        refused.labels("full").inc()
        return HttpResponse.error(503, "server_full", f"at most {settings.max_sessions} sessions")
    if settings.token and not _authorized(settings.token, request):
        refused.labels("unauthorized").inc()
        return HttpResponse.error(401, "unauthorized", "bad or missing token")
    return None


def _authorized(token: str, request: Request) -> bool:
    if request.headers.get("Authorization", "") == f"Bearer {token}":
        return True
    return parse_qs(urlsplit(request.path).query).get("token", [""])[0] == token


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
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen on HEALTH_PORT {port}: {exc.strerror}") from exc
    return runner, runner.addresses[0][1]
