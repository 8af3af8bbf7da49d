"""Independent branches of a graph run at the same time, within one item.

A graph that forks into heavy stages — ``pipelines/symmetric.yaml`` runs MediaPipe on a frame
and on its mirror image — would make a client wait for both, one after the other, though
neither needs the other. MediaPipe and ONNX Runtime release the GIL, so two such calls on two
cores take the time of one (one stream of the symmetric pipeline: 10.8 → 6.1 ms for the two
MediaPipe calls). Throughput does not change — the work is the same — only one item's latency.

Graphs without two heavy nodes that are independent of each other (every shipped pipeline but
the symmetric one) keep the plain loop of :class:`GraphSession`: nothing here costs them a thing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

from ._kinds import FrameContext

#: A node's call, as the graph session holds it: (node id, bound ``process``, input slots).
Step = tuple[str, Callable[..., Any], tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class Branches:
    """Who waits for whom, computed once per graph. Node *i* lives in value slot *i + 1*."""

    upstream: tuple[frozenset[int], ...]
    downstream: tuple[tuple[int, ...], ...]
    heavy: tuple[bool, ...]


def find_branches(inputs: Sequence[tuple[int, ...]], heavy: Sequence[bool]) -> Branches | None:
    """The dependency structure, or ``None`` when no two heavy nodes could overlap.

    ``inputs`` holds each node's input slots (0 is the graph's input); ``heavy`` says which
    nodes are not inline-safe (worth a thread). Nodes must be in topological order.
    """
    upstream = tuple(frozenset(s - 1 for s in slots if s > 0) for slots in inputs)
    ancestors: list[set[int]] = []
    for direct in upstream:
        found = set(direct)
        for node in direct:
            found |= ancestors[node]
        ancestors.append(found)
    heavy_nodes = [i for i, is_heavy in enumerate(heavy) if is_heavy]
    independent = any(
        a not in ancestors[b]
        for index, a in enumerate(heavy_nodes)
        for b in heavy_nodes[index + 1 :]
    )
    if not independent:
        return None
    downstream = tuple(
        tuple(j for j, ups in enumerate(upstream) if i in ups) for i in range(len(upstream))
    )
    return Branches(upstream, downstream, tuple(heavy))


@dataclass(slots=True)
class Outcome:
    """What :func:`run_branches` did: values and timings of the nodes that finished, in node
    order up to the first that did not, and the first failure (node index, exception)."""

    values: list[Any]
    timings_ns: list[int]
    failure: tuple[int, Exception] | None


def run_branches(
    branches: Branches,
    steps: Sequence[Step],
    frame: FrameContext,
    item: Any,
    pool: ThreadPoolExecutor,
) -> Outcome:
    """Run one item, handing all but one of the heavy nodes that are ready to ``pool``.

    Every node this call started has finished when it returns, even after a failure: the next
    item of the session must not meet a stage session still busy with this one.
    """
    count = len(steps)
    values: list[Any] = [item] + [None] * count
    timings = [0] * count
    done = [False] * count
    waiting = [len(ups) for ups in branches.upstream]
    ready = [i for i in range(count) if waiting[i] == 0]
    running: dict[Future[tuple[Any, int]], int] = {}
    failure: tuple[int, Exception] | None = None

    def finish(node: int, value: Any, elapsed: int) -> None:
        values[node + 1], timings[node], done[node] = value, elapsed, True
        for later in branches.downstream[node]:
            waiting[later] -= 1
            if waiting[later] == 0:
                ready.append(later)

    while (ready and failure is None) or running:
        if failure is None and ready:
            ready.sort()  # keep to the file's order where there is a choice
            heavy = [i for i in ready if branches.heavy[i]]
            for node in heavy[1:]:
                ready.remove(node)
                running[pool.submit(_timed, steps[node], frame, values[:])] = node
            node = ready.pop(0)
            try:
                value, elapsed = _timed(steps[node], frame, values)
            except _Failed as failed:
                timings[node], failure = failed.elapsed, (node, failed.error)
                continue
            finish(node, value, elapsed)
            continue
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            node = running.pop(future)
            try:
                value, elapsed = future.result()
            except _Failed as failed:
                timings[node] = failed.elapsed
                failure = failure or (node, failed.error)
                continue
            if failure is None:
                finish(node, value, elapsed)
    finished_prefix = done.index(False) if False in done else count
    return Outcome(values[1 : finished_prefix + 1], timings[:finished_prefix], failure)


class _Failed(Exception):
    def __init__(self, error: Exception, elapsed: int) -> None:
        super().__init__(str(error))
        self.error, self.elapsed = error, elapsed


def _timed(step: Step, frame: FrameContext, values: list[Any]) -> tuple[Any, int]:
    _, process, slots = step
    args = [values[s] for s in slots]  # ``values`` is the caller's list, or a copy for a thread
    start = perf_counter_ns()
    try:
        output = process(frame, *args)
    except Exception as exc:
        raise _Failed(exc, perf_counter_ns() - start) from exc
    return output, perf_counter_ns() - start
