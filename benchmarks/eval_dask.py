"""``signify-graph eval`` wall time, serial against ``--executor dask``, on one data set.

Each run is the real command in a fresh process (what a researcher waits for), in three ways:

* ``serial`` — today's eval, one sample after the other;
* ``dask`` — ``--executor dask``: a LocalCluster of one worker per usable core started by the
  command itself (its start and the workers' pipeline loads are in the figure);
* ``dask=ADDR`` — against a LocalCluster of ``--workers`` workers this script keeps running
  (a standing cluster: the workers still build the pipeline once per run).

Runs of the three interleave (so drift on a shared machine hits all alike); each report is
checked to equal the serial one, stage latencies apart.

    python benchmarks/eval_dask.py                      # Roboflow test+valid photos, 3 runs
    python benchmarks/eval_dask.py --data ../shared/data/images/roboflow_asl_letters/train
    python benchmarks/eval_dask.py --pipeline pipelines/landmarks.yaml \\
        --data training/data/roboflow_train.npz --runs 5
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from signify_graph._cores import cpu_cores
from signify_graph.tools.bench import cpu_model
from signify_graph.tools.executor import KEEP_MALLOC

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "images" / "roboflow_asl_letters"


def eval_once(pipeline: str, data: Path, extra: list[str]) -> tuple[float, dict[str, Any]]:
    """Wall time of one ``signify-graph eval`` process and its report without latencies."""
    command = [sys.executable, "-m", "signify_graph.cli", "eval", pipeline, "--data", str(data)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--json", *extra], capture_output=True, text=True, check=False, cwd=REPO
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"eval failed ({' '.join(extra) or 'serial'}): {done.stderr.strip()}")
    report: dict[str, Any] = json.loads(done.stdout)
    report.pop("latency_ms")
    return seconds, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="pipelines/default.yaml")
    parser.add_argument("--data", type=Path, default=PHOTOS / "valid")
    parser.add_argument("--set", dest="overrides", action="append", default=["hands.pad=0.25"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="of the standing cluster")
    args = parser.parse_args()
    if args.data.suffix == ".npz":
        args.overrides = [o for o in args.overrides if not o.startswith("hands.")]
    sets = [a for o in args.overrides for a in ("--set", o)]

    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({KEEP_MALLOC: None}),
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
    ):
        ways = {
            "serial": sets,
            f"dask (LocalCluster, {cpu_cores()} workers, started per run)": [
                *sets,
                "--executor",
                "dask",
            ],
            f"dask=ADDR (standing LocalCluster, {args.workers} workers)": [
                *sets,
                "--executor",
                f"dask={cluster.scheduler_address}",
            ],
        }
        times: dict[str, list[float]] = {way: [] for way in ways}
        baseline: dict[str, Any] | None = None
        for _ in range(args.runs):
            for way, extra in ways.items():
                seconds, report = eval_once(args.pipeline, args.data, extra)
                baseline = baseline or report
                if report != baseline:
                    sys.exit(f"{way}: the report differs from the serial one")
                times[way].append(seconds)
    assert baseline is not None
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores ({cpu_cores()} usable), "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"data: {args.data} ({baseline['n']} samples), pipeline {args.pipeline} "
        f"{' '.join(sets)}, {args.runs} runs each; reports identical (accuracy "
        f"{baseline['accuracy']:.2%})\n"
    )
    serial = statistics.median(times["serial"])
    print("| executor | median s | min s | max s | speed-up (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for way, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"| {way} | {median:.1f} | {min(seconds):.1f} | {max(seconds):.1f} | "
            f"{serial / median:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
