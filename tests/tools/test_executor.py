"""``signify-graph eval --executor dask``: the same report as the serial run, from real Dask
workers (a two-worker ``LocalCluster``), and one clear line for every way it can fail."""

from __future__ import annotations

import argparse
import json
import logging
import os
import pty
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import numpy as np
import psutil
import pytest
from distributed import LocalCluster

from signify_graph._cores import cpu_cores
from signify_graph.cli import build_parser
from signify_graph.tools import executor
from signify_graph.tools.executor import KEEP_MALLOC, ExecutorSpec, open_executor

from ..stages.conftest import PHOTOS, PIPELINES, REPO
from .test_eval import check_consistent, run_cli

pytestmark = pytest.mark.slow

LANDMARKS = REPO / "training" / "data" / "roboflow_valid.npz"


def report_of(*argv: str) -> dict[str, Any]:
    code, out, err = run_cli("eval", *argv, "--json")
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def without_latency(report: dict[str, Any]) -> dict[str, Any]:
    """The report less its stage latencies: wall-clock figures, never the same twice."""
    if "pipelines" in report:
        return {"pipelines": [without_latency(r) for r in report["pipelines"]]}
    return {key: value for key, value in report.items() if key != "latency_ms"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two worker processes of one thread each, as ``--executor dask`` starts on two cores."""
    with (
        dask.config.set({KEEP_MALLOC: None}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as running,
    ):
        yield running


def test_two_dask_workers_give_the_serial_report_on_the_committed_photos(
    cluster: LocalCluster, classifier: Path
) -> None:
    argv = (str(PIPELINES / "default.yaml"), "--data", str(PHOTOS), "--set", "hands.pad=0.25")
    serial = report_of(*argv)
    distributed = report_of(*argv, "--executor", f"dask={cluster.scheduler_address}")
    assert serial["n"] == 75 and serial["detected"] > 60
    assert without_latency(distributed) == without_latency(serial)
    assert list(distributed["latency_ms"]) == list(serial["latency_ms"])
    check_consistent(distributed)


def test_two_dask_workers_give_the_serial_reports_of_a_landmark_file_and_its_comparison(
    cluster: LocalCluster, classifier: Path
) -> None:
    """Two pipelines on the same cluster (``--compare``), one entered as landmarks in place of
    its ``hands`` node, mirrored: every figure as the serial run gives it."""
    argv = (
        str(PIPELINES / "landmarks.yaml"),
        "--data",
        str(LANDMARKS),
        "--compare",
        str(PIPELINES / "default.yaml"),
        "--mirror",
    )
    serial = report_of(*argv)
    distributed = report_of(*argv, "--executor", f"dask={cluster.scheduler_address}")
    assert [r["n"] for r in serial["pipelines"]] == [134, 134]
    assert without_latency(distributed) == without_latency(serial)


def malloc_setting() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_executor_dask_starts_a_worker_per_core_without_the_malloc_setting_and_ends_them() -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with open_executor(ExecutorSpec("dask")) as pool:
        assert pool is not None
        workers = pool.client.scheduler_info(n_workers=-1)["workers"].values()
        assert [w["nthreads"] for w in workers] == [1] * cpu_cores()
        assert set(pool.client.run(malloc_setting).values()) == {None}
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert psutil.wait_procs(left, timeout=30)[1] == []


def test_the_shipped_worker_configuration_leaves_the_malloc_setting_out() -> None:
    """``DASK_CONFIG=deploy/dask dask worker ...``, as the README says, for remote workers."""
    code = "import dask, distributed; print(dask.config.get('distributed.nanny.pre-spawn-environ'))"
    shown = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DASK_CONFIG": str(REPO / "deploy" / "dask")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'MALLOC_TRIM_THRESHOLD_': None" in shown


def test_executor_dask_from_the_command_line_reports_as_serial_with_progress_on_a_terminal(
    classifier: Path,
) -> None:
    """The real command, its stderr a terminal (a pty): the bar counts the samples the workers
    have finished, and the JSON on stdout is the serial run's."""
    primary, secondary = pty.openpty()
    command = [sys.executable, "-m", "signify_graph.cli", "eval", str(PIPELINES / "landmarks.yaml")]
    try:
        done = subprocess.run(
            [*command, "--data", str(LANDMARKS), "--json", "--executor", "dask"],
            stdout=subprocess.PIPE,
            stderr=secondary,
            timeout=300,
            check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the pty's other end is closed: all was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0, shown
    text = shown.decode(errors="replace")
    assert "eval on a local Dask cluster" in text and "134/134" in text
    serial = report_of(str(PIPELINES / "landmarks.yaml"), "--data", str(LANDMARKS))
    assert without_latency(json.loads(done.stdout)) == without_latency(serial)


def test_a_scheduler_that_does_not_answer_is_one_line_and_a_failure(
    monkeypatch: pytest.MonkeyPatch, classifier: Path
) -> None:
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 2)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address in (f"tcp://127.0.0.1:{port}", "nonsense://somewhere"):
        code, out, err = run_cli(
            "eval",
            str(PIPELINES / "landmarks.yaml"),
            "--data",
            str(LANDMARKS),
            "--executor",
            f"dask={address}",
        )
        assert code == 1 and out == ""
        assert f"--executor dask={address}: cannot reach a Dask scheduler" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_sample_that_fails_on_a_worker_is_one_line_naming_its_chunk(
    cluster: LocalCluster, tmp_path: Path, classifier: Path
) -> None:
    """Landmarks of the wrong shape cannot be mirrored: the worker's exception comes back as
    one line that names the samples it was scoring."""
    bad = tmp_path / "flat.npz"
    np.savez(bad, X=np.zeros((10, 63), np.float32), y=np.array(list("ABCDEFGHIK")))
    code, out, err = run_cli(
        "eval",
        str(PIPELINES / "landmarks.yaml"),
        "--data",
        str(bad),
        "--mirror",
        "--executor",
        f"dask={cluster.scheduler_address}",
    )
    assert code == 1 and out == ""
    assert re.fullmatch(
        r"signify-graph: error: samples flat\.npz#(\d)…flat\.npz#(\d) failed on a Dask worker: "
        r"IndexError\('too many indices.*'\)\n",
        err,
    ), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_without_dask_installed_the_executor_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, classifier: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    code, out, err = run_cli(
        "eval", str(PIPELINES / "landmarks.yaml"), "--data", str(LANDMARKS), "--executor", "dask"
    )
    assert code == 1 and out == ""
    assert err.strip() == (
        "signify-graph: error: --executor dask needs Dask: pip install 'signify-graph[dask]'"
    )


def executor_of(*argv: str) -> ExecutorSpec:
    args: argparse.Namespace = build_parser().parse_args(["eval", "p.yaml", "--data", "d", *argv])
    spec: ExecutorSpec = args.executor
    return spec


def test_the_executor_flag_reads_serial_dask_and_dask_with_an_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert executor_of() == ExecutorSpec("serial", None)
    assert executor_of("--executor", "serial") == ExecutorSpec("serial", None)
    assert executor_of("--executor", "dask") == ExecutorSpec("dask", None)
    assert executor_of("--executor", "dask=tcp://10.0.0.5:8786") == ExecutorSpec(
        "dask", "tcp://10.0.0.5:8786"
    )
    for wrong in ("ray", "dask=", "serial=x"):
        with pytest.raises(SystemExit) as exited:
            executor_of("--executor", wrong)
        assert exited.value.code == 2
        assert "expected serial, dask or dask=SCHEDULER_ADDRESS" in capsys.readouterr().err
