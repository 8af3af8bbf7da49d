"""Service settings, from the environment (and ``serve`` options), validated at start.

Every variable of the old service's ``.env.example`` works (``docs/MIGRATING.md``): ``PORT``
(Railway sets it), ``WEBSOCKET_PORT``, ``WEBSOCKET_HOST``, ``LOG_LEVEL``, ``HEALTH_PORT`` here; the
``MEDIAPIPE_*``, ``SLIDING_WINDOW_SIZE`` and ``THROTTLE_*`` variables are read by the pipeline
files through ``${VAR:-default}`` and validated with them. Ours are prefixed ``SIGNIFY_``.
An invalid value stops start-up with one line naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._cores import cpu_cores
from .._errors import StartupError


class ServiceSettings(BaseModel):
    """What an operator can set without touching code. See ``.env.example``."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, use_attribute_docstrings=True
    )

    pipeline: str = Field("default", validation_alias="SIGNIFY_PIPELINE")
    """The pipeline to serve: a file, or the name of a shipped one (``default``, ``fast`` …)."""
    port: int = Field(8765, ge=0, le=65535, validation_alias=AliasChoices("PORT", "WEBSOCKET_PORT"))
    """WebSocket port; also answers ``/health``, ``/ready`` and the demo page (Railway's)."""
    host: str = Field("0.0.0.0", validation_alias="WEBSOCKET_HOST")
    health_port: int = Field(8080, ge=-1, le=65535, validation_alias="HEALTH_PORT")
    """Port of the aiohttp app serving ``/health``, ``/ready`` and ``/metrics``; -1 disables."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", validation_alias="LOG_LEVEL"
    )
    log_format: Literal["text", "json"] = Field("text", validation_alias="SIGNIFY_LOG_FORMAT")
    keypoint_buffer_size: int | None = Field(
        None, ge=1, le=4096, validation_alias="KEYPOINT_BUFFER_SIZE"
    )
    """The old service's per-client keypoint buffer. Accepted and validated; the classifier's
    window now comes from the model itself, so it only triggers a notice in the log."""
    max_message_bytes: int = Field(
        2_000_000, ge=1024, le=64_000_000, validation_alias="SIGNIFY_MAX_MESSAGE_BYTES"
    )
    """Larger messages close the connection with 1009 (message too big)."""
    max_sessions: int = Field(64, ge=1, le=100_000, validation_alias="SIGNIFY_MAX_SESSIONS")
    """Further connections are refused at the handshake with HTTP 503."""
    max_sessions_per_peer: int = Field(
        8, ge=0, le=100_000, validation_alias="SIGNIFY_MAX_SESSIONS_PER_PEER"
    )
    """Sessions one client address (an IPv6 /64) may hold; further ones are refused with HTTP
    429 ``too_many_connections``. Behind a NAT or a proxy all clients share one address: raise
    it there. 0 = no limit."""
    peer_rate_limit: float = Field(
        120.0, ge=0, le=100_000, validation_alias="SIGNIFY_PEER_RATE_LIMIT"
    )
    """Messages a second of all the sessions of one address together (a second's worth of
    burst); above it they are refused with ``rate_limited``, as above the session's own rate,
    and refused faster than ``SIGNIFY_FLOOD_FACTOR`` times this a second they close the
    session that sent them (1008). The address's sessions also share one ``SIGNIFY_FAIR_RATE``
    of frames that start at once on a busy server. 0 = no limit."""
    max_messages_per_second: float = Field(
        30.0, gt=0, le=10_000, validation_alias="SIGNIFY_RATE_LIMIT"
    )
    """Per-session message rate; messages above it are answered with ``rate_limited``."""
    rate_burst: int = Field(15, ge=1, le=100_000, validation_alias="SIGNIFY_RATE_BURST")
    flood_factor: float = Field(10.0, ge=0, le=10_000, validation_alias="SIGNIFY_FLOOD_FACTOR")
    """A session refused faster than this many times ``SIGNIFY_RATE_LIMIT`` a second (a second's
    worth at once included) is closed with 1008: a client that ignores ``rate_limited`` would
    otherwise keep a core busy reading and refusing (one client sent 35,000 messages/s). 0
    never closes."""
    fair_rate: float = Field(15.0, ge=0, le=10_000, validation_alias="SIGNIFY_FAIR_RATE")
    """Frames per second of each session that always start at once. A faster session's
    further frames start only while a CPU core stays free for the others (so on an idle
    server it still gets its full rate); 0 turns this fair sharing off."""
    compression: bool = Field(False, validation_alias="SIGNIFY_COMPRESSION")
    """permessage-deflate costs ~1 ms per message on this kind of machine: off by default."""
    ping_interval: float = Field(20.0, gt=0, le=3600, validation_alias="SIGNIFY_PING_INTERVAL")
    ping_timeout: float = Field(20.0, gt=0, le=3600, validation_alias="SIGNIFY_PING_TIMEOUT")
    """A connection whose pong is this late is closed (half-open clients are cleaned up)."""
    close_timeout: float = Field(2.0, gt=0, le=600, validation_alias="SIGNIFY_CLOSE_TIMEOUT")
    """How long a closing handshake may take before the TCP connection is dropped."""
    forwarded_for: bool = Field(False, validation_alias="SIGNIFY_TRUST_FORWARDED_FOR")
    """Key the per-address limits on the last address of ``X-Forwarded-For``: set it behind
    a proxy that sets that header (Railway's does), where every connection comes from the
    proxy. Never without one: a client could then claim any address."""
    write_limit: int = Field(65_536, ge=1024, le=64_000_000, validation_alias="SIGNIFY_WRITE_LIMIT")
    """Bytes waiting to be sent to one client (past the kernel's socket buffer) above which the
    server stops reading that client and its sends wait: a client that does not read its
    replies or pongs cannot make the server buffer more for it."""
    write_timeout: float = Field(10.0, gt=0, le=600, validation_alias="SIGNIFY_WRITE_TIMEOUT")
    """A client that leaves more than ``SIGNIFY_WRITE_LIMIT`` unread for this many seconds is
    disconnected (the TCP connection is aborted; no close frame can reach it)."""
    origins: str = Field("", validation_alias="SIGNIFY_ALLOWED_ORIGINS")
    """Comma-separated ``Origin`` allowlist; empty allows any origin. When set, a handshake
    without ``Origin`` is refused too (403): browsers always send it."""
    token: str = Field("", validation_alias="SIGNIFY_AUTH_TOKEN")
    """If set, clients must send ``Authorization: Bearer <token>`` or ``?token=<token>``."""
    workers: int = Field(0, ge=0, le=256, validation_alias="SIGNIFY_WORKERS")
    """Threads running stage work; 0 = two per CPU core available (a container's CPU quota
    counts, see :func:`cpu_cores`). More threads than cores lets the OS share the cores between
    sessions instead of making a frame wait for a free thread behind a busy client."""
    processes: int = Field(0, ge=0, le=256, validation_alias="SIGNIFY_PROCESSES")
    """Worker processes sharing the WebSocket port (``serve --workers``); 0 = one per CPU core
    available (a container's CPU quota counts). 1 is one process, as before there were
    workers. Not ``SIGNIFY_WORKERS``: those are each process's stage threads."""
    frame_deadline_ms: int = Field(
        2000, ge=10, le=600_000, validation_alias="SIGNIFY_FRAME_DEADLINE_MS"
    )
    """A frame whose stages run longer than this fails with ``deadline_exceeded``; time spent
    waiting for a free worker thread does not count (a busy server is not a hung stage)."""
    idle_timeout: float = Field(300.0, ge=0, le=86_400, validation_alias="SIGNIFY_IDLE_TIMEOUT")
    """A session that sends no message for this many seconds is closed (1000): an app left open
    on another screen holds a landmarker and a place under ``SIGNIFY_MAX_SESSIONS``. 0 = never."""
    drain_timeout: float = Field(10.0, ge=0, le=600, validation_alias="SIGNIFY_DRAIN_TIMEOUT")
    """After SIGTERM, how long sessions get to finish before the process exits."""
    drain_delay: float = Field(0.0, ge=0, le=600, validation_alias="SIGNIFY_DRAIN_DELAY")
    """After SIGTERM, how long ``/ready`` answers 503 (and new sessions are refused) before
    the open sessions are closed: time for a load balancer's health checks, or Kubernetes'
    endpoints, to take the server out of rotation. It ends early once no session is open, or
    at a second SIGTERM."""
    record_dir: Path | None = Field(None, validation_alias="SIGNIFY_RECORD_DIR")
    """Record every session's inbound messages here (off when unset)."""
    memory_trim_interval: float = Field(
        60.0, ge=0, le=86_400, validation_alias="SIGNIFY_MEMORY_TRIM_INTERVAL"
    )
    """Every this many seconds, return freed heap memory to the OS (glibc's ``malloc_trim``), so
    memory that closed sessions held does not stay resident; 0 turns it off."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def allowed_origins(self) -> list[str]:
        return [o.strip() for o in self.origins.split(",") if o.strip()]

    @property
    def worker_count(self) -> int:
        return self.workers or 2 * cpu_cores()

    @property
    def process_count(self) -> int:
        return self.processes or cpu_cores()


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> ServiceSettings:
    """Settings from ``environ`` (default: the process environment) plus explicit overrides."""
    env = dict(os.environ if environ is None else environ)
    # PORT wins over WEBSOCKET_PORT (Railway injects PORT): pydantic tries aliases in order.
    # Explicit overrides (command-line options) win over the environment.
    values: dict[str, object] = {k: v for k, v in env.items() if k.isupper()}
    for name, value in overrides.items():
        if value is None:
            continue
        alias = ServiceSettings.model_fields[name].validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias or name]
        for choice in choices:
            values.pop(str(choice), None)
        values[str(choices[0])] = value
    try:
        return ServiceSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise StartupError(
            f"invalid setting {name}={first.get('input')!r}: {first['msg']}"
        ) from None
