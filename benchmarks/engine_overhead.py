"""What the engine adds per stage per item, compared with calling the stages by hand.

A chain of trivial stages (each adds a constant to a 63-float vector, the size of one hand's
features) runs N items through :meth:`GraphSession.process`, and the same items through a
hand-written loop calling the very same bound ``process`` methods with one prepared frame.
Batches of the two alternate, so drift (frequency scaling, other load) hits both alike; the
overhead of a batch is (engine time − direct time) / (items × stages).

    python benchmarks/engine_overhead.py              # N=20000, 6 stages, batches of 200
    python benchmarks/engine_overhead.py --stages 12 --items 50000 --clock wall

Prints the machine and a markdown table; exits 1 when the median overhead misses the goal.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from signify_graph import (
    FrameContext,
    Kind,
    Port,
    Stage,
    build_graph,
    create_host,
    hookimpl,
    plan_pipeline,
)
from signify_graph.tools.bench import cpu_model

GOAL_US = 20.0
CLOCKS: dict[str, Callable[[], int]] = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}


class BumpStage(Stage):
    """Add one to a feature vector: about the cheapest stage that still touches numpy."""

    name = "bump"
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.FEATURES

    def process(self, frame: FrameContext, values: Any) -> Any:
        return values + np.float32(1.0)


class EntryStage(BumpStage):
    """The same, reading the graph's input."""

    name = "bump_entry"
    inputs: ClassVar = {"message": Port(Kind.LANDMARK_MESSAGE)}


class _Plugin:
    @hookimpl
    def signify_register_stages(self, registry: Any) -> None:
        registry.add(EntryStage)
        registry.add(BumpStage)


def pipeline_text(stages: int) -> str:
    lines = ["name: overhead", "nodes:", "  - {id: s0, stage: bump_entry}"]
    lines += [f"  - {{id: s{i}, stage: bump}}" for i in range(1, stages)]
    return "\n".join(lines) + "\n"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(
    stages: int, items: int, batch: int, warmup: int, clock: Callable[[], int]
) -> dict[str, list[float]]:
    host = create_host(extra_plugins=[_Plugin()], entry_points=False)
    plan = plan_pipeline("<benchmark>", host.registry, text=pipeline_text(stages), environ={})
    graph = build_graph(plan, host)
    session = graph.open_session("bench")
    direct_session = graph.open_session("direct")
    steps = [step[1] for step in direct_session._steps]  # the same bound methods
    frame = FrameContext("direct", 1, 0)
    vector = np.linspace(0.0, 1.0, 63, dtype=np.float32)

    def engine_batch(n: int) -> None:
        process = session.process
        for _ in range(n):
            process(vector)

    def direct_batch(n: int) -> None:
        if len(steps) == 6:  # written out, as a hand-written pipeline would be
            p0, p1, p2, p3, p4, p5 = steps
            for _ in range(n):
                p5(frame, p4(frame, p3(frame, p2(frame, p1(frame, p0(frame, vector))))))
            return
        for _ in range(n):
            value = vector
            for step in steps:
                value = step(frame, value)

    def timed(run: Callable[[int], None], n: int) -> float:
        start = clock()
        run(n)
        return (clock() - start) / 1000.0  # µs

    engine_batch(warmup)
    direct_batch(warmup)
    gc.collect()
    result: dict[str, list[float]] = {"engine": [], "direct": [], "overhead": []}
    for index in range(max(1, items // batch)):
        # Alternate which goes first, so neither always runs on a warmer cache.
        if index % 2:
            direct, engine = timed(direct_batch, batch), timed(engine_batch, batch)
        else:
            engine, direct = timed(engine_batch, batch), timed(direct_batch, batch)
        result["engine"].append(engine / batch)
        result["direct"].append(direct / batch)
        result["overhead"].append((engine - direct) / (batch * stages))
    session.close()
    direct_session.close()
    graph.close()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=6, help="stages in the chain (6)")
    parser.add_argument("--items", type=int, default=20_000, help="items per method (20000)")
    parser.add_argument("--batch", type=int, default=200, help="items per timed batch (200)")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed items first (2000)")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="cpu",
        help="cpu: this thread's CPU time, robust on a shared machine (default); wall: elapsed",
    )
    args = parser.parse_args(argv)

    result = measure(args.stages, args.items, args.batch, args.warmup, CLOCKS[args.clock])
    batches = len(result["overhead"])
    print("## Engine overhead per stage per item\n")
    print(f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs")
    python = f"{platform.python_version()} ({sys.implementation.name})"
    print(f"- python {python}, numpy {np.__version__}")
    print(
        f"- {args.stages} trivial stages (63-float numpy add), {batches * args.batch} items per "
        f"method in {batches} alternating batches of {args.batch}, {args.clock} clock\n"
    )
    print("| per item | median | p90 | p99 |")
    print("|---|---:|---:|---:|")
    rows = [
        ("engine: `GraphSession.process` (µs)", result["engine"]),
        ("direct: hand-written loop (µs)", result["direct"]),
        ("**overhead per stage** (µs)", result["overhead"]),
    ]
    for label, values in rows:
        cells = [statistics.median(values), percentile(values, 90), percentile(values, 99)]
        print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    ratios = [e / d for e, d in zip(result["engine"], result["direct"], strict=True)]
    print(
        f"| ratio engine / direct | {statistics.median(ratios):.2f}× | "
        f"{percentile(ratios, 90):.2f}× | {percentile(ratios, 99):.2f}× |"
    )
    median = statistics.median(result["overhead"])
    verdict = "met" if median <= GOAL_US else "MISSED"
    print(f"\nGoal ≤ {GOAL_US:.0f} µs per stage per item: {verdict} (median {median:.2f} µs).")
    return 0 if median <= GOAL_US else 1


if __name__ == "__main__":
    sys.exit(main())
