"""Health, readiness and metrics: one implementation behind every port that reports them.

Both ports answer them through one router (:mod:`.http`), reading the same
:class:`ServiceState`, so they cannot disagree.

With ``serve --workers N`` every worker process writes its metrics to files in
``PROMETHEUS_MULTIPROC_DIR`` (a folder the supervisor makes; prometheus_client's multiprocess
mode), and a scrape of any of them, or of the supervisor's ``HEALTH_PORT``, reads every
worker's: counters and histograms summed, ``signify_sessions`` the sum over live workers,
``signify_worker_sessions`` and ``signify_process_threads`` one series per worker (``pid``).
The process collector (``process_cpu_seconds``…) is per process and left out there.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector

from .._graph import Graph

SERVICE_NAME = "signify-backend"

_FAST = (0.0005, 0.001, 0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1.0)


def _os_threads() -> float:
    """Threads of this process as the OS counts them (MediaPipe's native ones included)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


def liveness(phase: str, started: float, sessions: int) -> dict[str, Any]:
    """What every ``/health`` says, a worker's or the supervisor's: alive, in which phase, for
    how long (``started`` on the monotonic clock), with how many sessions."""
    return {
        "status": "healthy",
        "service": SERVICE_NAME,
        "phase": phase,
        "uptime_s": round(time.monotonic() - started, 1),
        "sessions": sessions,
    }


def multiprocess_dir() -> str | None:
    """The folder of multiprocess metrics, when this process is one of ``serve --workers``.
    prometheus_client reads the variable when it is imported: it is set for a worker before
    the worker starts, never changed in a running process."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def multiprocess_exposition(folder: str) -> bytes:
    """The metrics of every process that wrote to ``folder``, aggregated."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per server)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.folder = multiprocess_dir()
        if self.folder is None:
            ProcessCollector(registry=self.registry)
        r = self.registry
        self.sessions = Gauge(
            "signify_sessions", "Open WebSocket sessions", registry=r, multiprocess_mode="livesum"
        )
        self.max_sessions = Gauge(
            "signify_max_sessions",
            "Sessions the service takes (SIGNIFY_MAX_SESSIONS of each worker, summed)",
            registry=r,
            multiprocess_mode="livesum",
        )
        #: Per worker, in multiprocess mode only (a single process has ``signify_sessions``).
        self.worker_sessions = (
            None
            if self.folder is None
            else Gauge(
                "signify_worker_sessions",
                "Open sessions of each worker process",
                registry=r,
                multiprocess_mode="liveall",
            )
        )
        self.connections_refused = Counter(
            "signify_connections_refused", "Handshakes refused", ["reason"], registry=r
        )
        self.sessions_idle = Counter(
            "signify_sessions_closed_idle",
            "Sessions closed after SIGNIFY_IDLE_TIMEOUT seconds without a message",
            registry=r,
        )
        self.sessions_flooding = Counter(
            "signify_sessions_closed_flooding",
            "Sessions closed for sending over SIGNIFY_FLOOD_FACTOR times the rate limit",
            registry=r,
        )
        self.messages = Counter("signify_messages_received", "Messages received", registry=r)
        self.frames_in = Counter("signify_frames_received", "Frames received", registry=r)
        self.frames_processed = Counter(
            "signify_frames_processed", "Frames run through the graph", registry=r
        )
        self.frames_answered = Counter("signify_frames_answered", "Replies sent", registry=r)
        self.frames_dropped = Counter(
            "signify_frames_dropped", "Frames dropped before processing", ["reason"], registry=r
        )
        self.frames_deferred = Counter(
            "signify_frames_deferred",
            "Frames beyond a session's fair rate held back until a core was free",
            registry=r,
        )
        self.errors = Counter("signify_errors", "Errors sent to clients", ["code"], registry=r)
        self.frame_seconds = Histogram(
            "signify_frame_seconds", "Frame arrival to reply", buckets=_FAST, registry=r
        )
        self.stage_seconds = Histogram(
            "signify_stage_seconds", "Time per stage per frame", ["node"], buckets=_FAST, registry=r
        )
        self.loop_lag = Histogram(
            "signify_event_loop_lag_seconds",
            "Event-loop lag (scheduled vs actual wake-up)",
            buckets=_FAST,
            registry=r,
        )
        self.loop_lag_max = Gauge(
            "signify_event_loop_lag_max_seconds",
            "Largest event-loop lag in the last interval",
            registry=r,
            multiprocess_mode="livemax",
        )

        self.threads = Gauge(
            "signify_process_threads",
            "OS threads of the process (native too)",
            registry=r,
            multiprocess_mode="liveall",
        )
        if self.folder is None:
            self.threads.set_function(_os_threads)
        else:  # a function is not written to the files: set it now and then instead
            self.threads.set(_os_threads())

    def count_sessions(self, change: int) -> None:
        self.sessions.inc(change)
        if self.worker_sessions is not None:
            self.worker_sessions.inc(change)

    def refresh(self) -> None:
        """Now and then: values a multiprocess scrape cannot compute when it happens."""
        if self.folder is not None:
            self.threads.set(_os_threads())

    def exposition(self) -> bytes:
        if self.folder is not None:
            return multiprocess_exposition(self.folder)
        return generate_latest(self.registry)


class Observable(Protocol):
    """What a port reporting health, readiness and metrics reads (:class:`.http.Router`):
    a service's :class:`ServiceState`, or the supervisor of its workers."""

    def health(self) -> dict[str, Any]: ...

    def readiness(self) -> tuple[int, dict[str, Any]]: ...

    def exposition(self) -> bytes: ...


class ServiceState:
    """Whether the service is starting, ready or draining, and what it serves."""

    def __init__(self, worker: int | None = None) -> None:
        self.phase = "starting"
        self.started = time.monotonic()
        self.graph: Graph | None = None
        self.sessions = 0
        self.metrics = Metrics()
        #: Which of ``serve --workers`` this process is (``None``: the only one).
        self.worker = worker

    @property
    def ready(self) -> bool:
        return self.phase == "ready"

    def identity(self) -> dict[str, Any]:
        if self.graph is None:
            return {}
        models = {node: dict(stage.identity()) for node, stage in self.graph.stages.items()}
        return {
            "pipeline": {"name": self.graph.name, "file": self.graph.plan.file},
            "models": {node: value for node, value in models.items() if value},
        }

    def health(self) -> dict[str, Any]:
        """``/health``: the process is alive (even while starting or draining)."""
        return {
            **liveness(self.phase, self.started, self.sessions),
            **self.identity(),
            **({} if self.worker is None else {"worker": self.worker, "pid": os.getpid()}),
        }

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """``/ready``: 200 once the pipeline is validated, loaded and warmed; 503 otherwise."""
        body = {"ready": self.ready, "phase": self.phase, "service": SERVICE_NAME}
        if self.worker is not None:
            body["worker"] = self.worker
        return (200 if self.ready else 503), body

    def exposition(self) -> bytes:
        return self.metrics.exposition()


async def watch_loop_lag(metrics: Metrics, interval: float = 0.1) -> None:
    """Measure how late the event loop wakes up, for as long as the service runs."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    for tick in range(1, 1 << 62):
        before = loop.time()
        await asyncio.sleep(interval)
        lag = max(0.0, loop.time() - before - interval)
        metrics.loop_lag.observe(lag)
        worst = max(worst, lag)
        if tick % 50 == 0:
            metrics.loop_lag_max.set(worst)
            metrics.refresh()
            worst = 0.0
