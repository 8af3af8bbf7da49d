"""``serve --workers N``: N worker processes serving one port, kept running, drained together.

Each worker is an ordinary ``serve`` process (the same command, ``--worker-id`` added) with its
own sessions, threads and models. They share the port with ``SO_REUSEPORT``: each binds it,
and the kernel spreads new connections over their listening sockets by a hash of the
addresses. No process of ours accepts and hands off, so no process of ours is a bottleneck or
a single point of failure for the workers' sockets, and a worker is one process in every
respect (the one-process service, tested as it is). The supervisor only starts them, restarts
one that dies (with backoff), forwards SIGTERM/SIGINT, and, when ``HEALTH_PORT`` is a port of
its own, answers ``/health``, ``/ready`` and ``/metrics`` for all of them.

The supervisor holds a socket bound to the port (``SO_REUSEPORT``, never listening) for as
long as it runs: port 0 becomes one port all the workers bind, and no other program can take
the port while a worker restarts. The kernel gives connections only to listening sockets.

Worker 0 starts alone: a pipeline that fails to load fails there, with its one line, and the
supervisor exits 1 without starting the others. Each worker writes ``ready`` on its stdout
once it listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.multiprocess import mark_process_dead

from .._cores import SHARE_VARIABLE, core_share, cpu_cores
from .._errors import StartupError
from .fleet import Fleet, WorkerState
from .settings import ServiceSettings

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("signify_graph.supervisor")
#: A worker that ran this long before it died is restarted at once, not after a backoff.
HEALTHY_RUN_S = 30.0
MAX_BACKOFF_S = 30.0
_PR_SET_PDEATHSIG = 1


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT (port 0: a free one), not listening."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:  # as asyncio sets it on the workers' sockets
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def _ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass(eq=False)
class _Worker:
    state: WorkerState
    process: asyncio.subprocess.Process | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = 0.0
    failures: int = 0


class Supervisor:
    """Runs ``command`` (a ``serve`` command line) as ``count`` workers until SIGTERM."""

    def __init__(self, settings: ServiceSettings, command: Sequence[str], count: int) -> None:
        self.settings = settings
        self.command = list(command)
        self.count = count
        self.folder = tempfile.mkdtemp(prefix="signify-metrics-")
        self.fleet = Fleet(self.folder)
        self.stop = asyncio.Event()
        self._workers = [_Worker(self.fleet.add(i)) for i in range(count)]
        self._sock: socket.socket | None = None
        self._health: web.AppRunner | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def _shared_health_port(self) -> bool:
        """HEALTH_PORT is the WebSocket port: every worker answers ``/metrics`` there (all the
        workers' metrics: any of them reads the multiprocess folder)."""
        return self.settings.health_port == self.settings.port != 0

    def _argv(self, worker: int) -> list[str]:
        health = self.port if self._shared_health_port else -1
        return [
            *self.command,
            *("--port", str(self.port), "--health-port", str(health)),
            *("--workers", "1", "--worker-id", str(worker)),
        ]

    def _environment(self) -> dict[str, str]:
        share = core_share(cpu_cores(), self.count)
        return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": self.folder, SHARE_VARIABLE: str(share)}

    async def _spawn(self, worker: _Worker) -> None:
        worker.ready.clear()
        process = await asyncio.create_subprocess_exec(
            *self._argv(worker.state.id),
            env=self._environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )
        worker.process, worker.started = process, asyncio.get_running_loop().time()
        worker.state.pid, worker.state.ready = process.pid, False
        reader = asyncio.create_task(self._read_status(worker, process))
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)
        if self.stop.is_set():  # started while the supervisor began to drain
            process.send_signal(signal.SIGTERM)

    async def _read_status(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            if line.strip() == b"ready" and worker.process is process:
                worker.state.ready = True
                worker.ready.set()
                log.info("worker %d ready (pid %d)", worker.state.id, process.pid)

    async def _until(self, *waits: Awaitable[object]) -> None:
        """Wait for the first of ``waits`` or SIGTERM."""
        tasks = [asyncio.ensure_future(w) for w in (*waits, self.stop.wait())]
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _keep(self, worker: _Worker) -> None:
        """Restart ``worker`` whenever it dies, until the supervisor stops."""
        loop = asyncio.get_running_loop()
        while True:
            assert worker.process is not None
            code = await worker.process.wait()
            mark_process_dead(worker.process.pid, self.folder)  # type: ignore[no-untyped-call]
            worker.state.ready = False
            if self.stop.is_set():
                return
            ran = loop.time() - worker.started
            worker.failures = 0 if ran >= HEALTHY_RUN_S else worker.failures + 1
            delay = min(MAX_BACKOFF_S, 0.5 * 2 ** (worker.failures - 1)) if worker.failures else 0
            log.warning(
                "worker %d (pid %d) %s; restarting it in %.1f s",
                worker.state.id,
                worker.process.pid,
                _ended(code),
                delay,
            )
            await self._until(asyncio.sleep(delay))
            if self.stop.is_set():
                return
            await self._spawn(worker)

    async def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        try:
            return await self._serve()
        finally:
            if self._health is not None:
                await self._health.cleanup()
            if self._sock is not None:
                self._sock.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    async def _serve(self) -> int:
        s = self.settings
        self._sock = reserve_port(s.host, s.port)
        self.port = self._sock.getsockname()[1]
        first = self._workers[0]
        await self._spawn(first)  # first: the health app's imports can wait, a failure cannot
        health_port = 0
        if s.health_port >= 0 and not self._shared_health_port:
            from .http import Router, start_health_app

            router = Router(self.fleet, metrics=True, static=None)
            self._health, health_port = await start_health_app(router, s.host, s.health_port)
        assert first.process is not None
        await self._until(first.process.wait(), first.ready.wait())
        code = first.process.returncode
        if code is not None and not first.ready.is_set():
            if code == 1:  # the worker said why, in one line
                return 1
            raise StartupError(f"worker 0 {_ended(code)} before it was ready")
        if not self.stop.is_set():
            for worker in self._workers[1:]:
                await self._spawn(worker)
        started = [worker for worker in self._workers if worker.process is not None]
        keepers = [asyncio.create_task(self._keep(worker)) for worker in started]
        await self._until(asyncio.gather(*(w.ready.wait() for w in self._workers)))
        if not self.stop.is_set():
            self.fleet.phase = "ready"
            if self._health is not None:
                log.info(
                    "Health check endpoint available at http://%s:%d/health", s.host, health_port
                )
            log.info("Server listening on ws://%s:%d (%d workers)", s.host, self.port, self.count)
            await self.stop.wait()
        return await self._drain(keepers)

    async def _drain(self, keepers: list[asyncio.Task[None]]) -> int:
        """SIGTERM to every worker; each drains as one process does. Workers still running
        after the drain delay and timeout (and a margin) are killed: exit code 1."""
        s = self.settings
        self.fleet.phase = "draining"
        log.info("draining %d workers", self.count)
        for worker in self._workers:
            process = worker.process
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
        grace = s.drain_delay + s.drain_timeout + 10
        _, late = await asyncio.wait(keepers, timeout=grace)
        for worker in self._workers:
            if late and worker.process is not None and worker.process.returncode is None:
                log.warning("worker %d still running after %.0f s: killed", worker.state.id, grace)
                worker.process.kill()
        if late:
            await asyncio.wait(late)
        log.info("stopped")
        return 1 if late else 0


def follow_parent() -> None:
    """In a worker: receive SIGTERM (and drain) when the supervisor dies, even by SIGKILL,
    rather than keep the port from a supervisor started anew. Linux only; elsewhere a no-op."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def say_ready() -> None:
    """In a worker: tell the supervisor this worker listens (see :class:`Supervisor`)."""
    sys.stdout.write("ready\n")
    sys.stdout.flush()
