"""What the supervisor of ``serve --workers`` reports on its ``HEALTH_PORT``: every worker.

``/health``: the supervisor is alive, with each worker's pid and readiness and the sessions of
all of them. ``/ready``: 200 while it is not draining and at least one worker takes clients
(the kernel gives new connections only to workers that listen). ``/metrics``: every worker's
metrics, aggregated from the multiprocess folder (see :mod:`.observe`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prometheus_client.multiprocess import MultiProcessCollector

from .observe import SERVICE_NAME, liveness, multiprocess_exposition


@dataclass(slots=True)
class WorkerState:
    id: int
    pid: int = 0
    ready: bool = False


class Fleet:
    """The workers of one supervisor, as its health port tells them."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.phase = "starting"
        self.started = time.monotonic()
        self.workers: list[WorkerState] = []

    def add(self, worker: int) -> WorkerState:
        state = WorkerState(worker)
        self.workers.append(state)
        return state

    def sessions(self) -> int:
        """Open sessions of every live worker (``signify_sessions``, summed)."""
        collector = MultiProcessCollector(None, path=self.folder)  # type: ignore[no-untyped-call]
        for metric in collector.collect():  # type: ignore[no-untyped-call]
            if metric.name == "signify_sessions":
                return int(sum(sample.value for sample in metric.samples))
        return 0

    def health(self) -> dict[str, Any]:
        return {
            **liveness(self.phase, self.started, self.sessions()),
            "workers": [{"worker": w.id, "pid": w.pid, "ready": w.ready} for w in self.workers],
        }

    def readiness(self) -> tuple[int, dict[str, Any]]:
        ready = sum(w.ready for w in self.workers)
        up = self.phase == "ready" and ready > 0
        body = {
            "ready": up,
            "phase": self.phase,
            "service": SERVICE_NAME,
            "workers_ready": ready,
            "workers": len(self.workers),
        }
        return (200 if up else 503), body

    def exposition(self) -> bytes:
        return multiprocess_exposition(self.folder)
