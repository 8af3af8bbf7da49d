"""Where ``eval`` scores its samples: here, one after the other (``serial``), or on Dask workers
(``--executor dask`` starts a ``LocalCluster`` of one process per usable core;
``--executor dask=tcp://host:8786`` uses the scheduler at that address and its workers).

Dask rather than Ray: the job is a plain map over independent samples, and Dask does that
with pure-Python, pip-installable packages; the same code runs on a ``LocalCluster`` (no
daemon, nothing to start first) or against ``dask scheduler`` / ``dask worker`` on many
machines. Ray brings a large native runtime and a cluster daemon for the same map.

Each sample runs in a session of its own (see :mod:`.eval`), so where it runs does not change
its result: the client ships the samples (their bytes, so workers need no shared data
folder) in chunks, each worker builds the client's validated plan once (:mod:`.dask_worker`),
and the results are put back in sample order before the report is built — the same report
as the serial run, stage latencies apart. At most a few chunks per worker are in flight, so
neither the client nor the scheduler holds a large data set in memory at once.
"""

from __future__ import annotations

import itertools
import logging
import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .._cores import cpu_cores
from .._errors import SignifyError
from .._graph import Graph
from .inputs import Item
from .progress import Progress

if TYPE_CHECKING:
    from distributed import Client

    from .eval import Runner, Scored

#: How long to wait for the scheduler to answer, and for a first worker to join it.
CONNECT_TIMEOUT_S = 10
WORKER_TIMEOUT_S = 60
#: Chunks per worker over the whole data set (load balance against per-task overhead) and
#: the largest chunk (so progress moves and a lost worker costs little).
CHUNKS_PER_WORKER = 4
MAX_CHUNK = 256
#: The nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns off glibc's
#: adaptive mmap threshold: every decoded photo is then mmapped and unmapped afresh, and eval
#: on a worker took twice the CPU time it takes here. ``None`` leaves glibc's default.
KEEP_MALLOC = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
INSTALL_HINT = "--executor dask needs Dask: pip install 'signify-graph[dask]'"


@dataclass(frozen=True, slots=True)
class ExecutorSpec:
    """``serial``, ``dask`` (a local cluster) or ``dask=ADDRESS`` (a running scheduler)."""

    kind: str = "serial"
    address: str | None = None

    def __str__(self) -> str:
        return self.kind if self.address is None else f"{self.kind}={self.address}"


def parse_executor(text: str) -> ExecutorSpec:
    """The value of ``--executor``; raises :class:`ValueError` with what is accepted."""
    kind, sep, address = text.partition("=")
    if kind == "serial" and not sep:
        return ExecutorSpec()
    if kind == "dask" and not (sep and not address.strip()):
        return ExecutorSpec("dask", address.strip() or None)
    raise ValueError(f"expected serial, dask or dask=SCHEDULER_ADDRESS, got {text!r}")


@contextmanager
def open_executor(spec: ExecutorSpec) -> Iterator[DaskPool | None]:
    """The pool ``spec`` names for the duration of the block (``None`` for serial): a local
    cluster is closed, and its worker processes ended, when the block ends."""
    if spec.kind == "serial":
        yield None
        return
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise SignifyError(INSTALL_HINT) from exc
    if spec.address is None:
        with (
            dask.config.set({KEEP_MALLOC: None}),
            LocalCluster(
                n_workers=cpu_cores(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.CRITICAL,  # a failed task is our one line, not a log
            ) as cluster,
            Client(cluster, set_as_default=False) as client,
        ):
            yield DaskPool(client, "a local Dask cluster")
        return
    try:
        client = Client(spec.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:
        raise SignifyError(f"--executor {spec}: cannot reach a Dask scheduler: {exc}") from None
    with client:
        yield DaskPool(client, f"the Dask scheduler at {spec.address}")


class DaskPool:
    """A connected Dask client, handing out a :data:`~.eval.Runner` per pipeline."""

    def __init__(self, client: Client, where: str) -> None:
        self.client, self.where = client, where

    def workers(self) -> int:
        """How many workers the scheduler has, once at least one has joined."""
        try:
            self.client.wait_for_workers(1, timeout=WORKER_TIMEOUT_S)
        except TimeoutError:
            raise SignifyError(
                f"no Dask worker joined {self.where} within {WORKER_TIMEOUT_S} s "
                "(start some: dask worker SCHEDULER_ADDRESS)"
            ) from None
        return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))

    def runner(self, graph: Graph, frames: int, mirror: bool, total: int | None) -> Runner:
        """Score samples of ``graph``'s pipeline on the workers, in chunks, in order."""

        def run(items: Iterator[Item]) -> Iterator[Scored]:
            workers = self.workers()
            size = min(MAX_CHUNK, math.ceil((total or MAX_CHUNK) / (CHUNKS_PER_WORKER * workers)))
            chunks = _chunks(items, max(1, size))
            yield from self._scored(graph, chunks, frames, mirror, total, 2 * workers)

        return run

    def _scored(
        self,
        graph: Graph,
        chunks: Iterator[tuple[int, list[Item]]],
        frames: int,
        mirror: bool,
        total: int | None,
        window: int,
    ) -> Iterator[Scored]:
        from distributed import as_completed

        from .dask_worker import GraphPlugin, score_chunk

        name = f"signify-eval-{uuid.uuid4().hex}"
        plan = replace(graph.plan, base_dir=graph.plan.base_dir.resolve())
        try:
            self.client.register_plugin(GraphPlugin(plan), name=name)
        except Exception as exc:  # a worker without signify-graph, or of another version
            message = f"the workers of {self.where} cannot take the pipeline: {exc!r}"
            raise SignifyError(message) from None
        pending: dict[Any, tuple[int, list[Item]]] = {}
        done: dict[int, list[Scored]] = {}
        progress = Progress(total, f"eval on {self.where}")
        queue = as_completed(loop=self.client.loop)

        def submit() -> None:
            for start, chunk in itertools.islice(chunks, 1):
                future = self.client.submit(
                    score_chunk, name, start, chunk, frames, mirror, pure=False
                )
                pending[future] = (start, chunk)
                queue.add(future)

        try:
            for _ in range(window):
                submit()
            following = 0
            for future in queue:
                start, chunk = pending.pop(future)
                done[start] = _result(future, chunk)
                progress.advance(len(chunk))
                submit()
                while following in done:
                    scored = done.pop(following)
                    following += len(scored)
                    yield from scored
        finally:
            progress.close()
            with suppress(Exception):  # a lost scheduler must not hide the error that lost it
                self.client.cancel(list(pending))
                self.client.unregister_worker_plugin(name)


def _chunks(items: Iterator[Item], size: int) -> Iterator[tuple[int, list[Item]]]:
    """``(index of the first sample, samples)`` of at most ``size`` samples each."""
    start = 0
    while chunk := list(itertools.islice(items, size)):
        yield start, chunk
        start += len(chunk)


def _result(future: Any, chunk: list[Item]) -> list[Scored]:
    """The chunk's results; a failure on a worker as one line naming the chunk's samples."""
    try:
        scored: list[Scored] = future.result()
    except SignifyError:
        raise
    except Exception as exc:
        first, last = chunk[0].source, chunk[-1].source
        where = f"sample {first}" if len(chunk) == 1 else f"samples {first}…{last}"
        raise SignifyError(f"{where} failed on a Dask worker: {exc!r}") from None
    return scored
