"""Independent branches of one item run at the same time; results and failures stay as before."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from signify_graph import (
    FrameContext,
    Graph,
    Kind,
    Port,
    Stage,
    build_graph,
    create_host,
    hookimpl,
    plan_pipeline,
)
from signify_graph._branches import find_branches

from . import stages


class MeetStage(Stage):
    """Waits until a second ``meet`` node of the same item arrives: only concurrency passes."""

    name = "meet"
    inputs: ClassVar = {"features": Port(Kind.FEATURES)}
    output = Kind.FEATURES
    barrier: ClassVar = threading.Barrier(2, timeout=5)
    finished: ClassVar[list[str]] = []

    def process(self, frame: FrameContext, value: Any) -> Any:
        self.barrier.wait()
        if value == 13:  # the left node fails at once, the right one takes its time
            if self.context.node_id == "left":
                raise RuntimeError("unlucky number")
            time.sleep(0.2)
        self.finished.append(self.context.node_id)
        return value


class Meeting:
    @hookimpl
    def signify_register_stages(self, registry: Any) -> None:
        registry.add(MeetStage)


FORK = """
name: fork
nodes:
  - {id: scaled, stage: scale}
  - {id: left, stage: meet, inputs: scaled}
  - {id: right, stage: meet, inputs: scaled}
  - {id: summed, stage: add, inputs: [left, right]}
"""


def fork_graph(tmp_path: Path, **options: Any) -> Graph:
    path = tmp_path / "fork.yaml"
    path.write_text(FORK)
    host = create_host(extra_plugins=[stages, Meeting()], entry_points=False)
    return build_graph(plan_pipeline(path, host.registry, environ={}), host, **options)


@pytest.fixture(autouse=True)
def fresh_barrier() -> None:
    MeetStage.barrier.reset()
    MeetStage.finished.clear()


def test_two_independent_nodes_of_one_item_run_at_the_same_time(tmp_path: Path) -> None:
    graph = fork_graph(tmp_path)
    with graph.open_session("a") as session:
        for value in (1, 2, 3):
            result = session.process(value)
            assert result.error is None
            assert result.output == 2 * value
            assert len(result.timings_ns) == len(graph.node_ids)
    graph.close()


def test_without_concurrency_the_same_nodes_never_meet(tmp_path: Path) -> None:
    """The control for the test above: run one after the other, the barrier times out."""
    MeetStage.barrier = threading.Barrier(2, timeout=0.2)
    try:
        graph = fork_graph(tmp_path, concurrent=False)
        assert graph.branches is None
        with graph.open_session("a") as session:
            result = session.process(1)
        assert result.error is not None and result.failed_node == "left"
        graph.close()
    finally:
        MeetStage.barrier = threading.Barrier(2, timeout=5)


def test_a_failing_branch_fails_the_item_after_the_other_branch_has_finished(
    tmp_path: Path,
) -> None:
    """The next item must not find a stage session still busy with this one."""
    graph = fork_graph(tmp_path)
    with graph.open_session("a") as session:
        failed = session.process(13)
        assert MeetStage.finished == ["right"]  # finished before process() returned
        assert failed.error is not None
        assert failed.error.code == "stage_failed"
        assert failed.failed_node == "left"
        assert "unlucky number" in failed.error.message
        assert failed.output is None
        after = session.process(4)
        assert after.error is None and after.output == 8
    graph.close()


@pytest.mark.slow
def test_the_symmetric_pipeline_gives_the_same_values_with_and_without_branches() -> None:
    """Real photos through both MediaPipe views; concurrency must not change a single value."""
    host = create_host()
    root = Path(__file__).resolve().parents[2]
    plan = plan_pipeline(root / "pipelines" / "symmetric.yaml", host.registry, environ={})
    photos = sorted((root / "tests" / "data" / "photos").glob("*/*.jpg"))[::8]
    outputs: list[list[Any]] = []
    for concurrent in (True, False):
        graph = build_graph(plan, host, concurrent=concurrent)
        assert (graph.branches is not None) is concurrent
        seen = []
        for index, photo in enumerate(photos):
            with graph.open_session(f"s{index}") as session:
                for frame in range(3):
                    result = session.process(photo.read_bytes(), arrival_ms=66 * frame)
                    assert result.error is None
                    average = result.values[graph.node_ids.index("average")]
                    seen.append(None if average is None else average.values.tolist())
        graph.close()
        outputs.append(seen)
    assert outputs[0] == outputs[1]
    assert sum(v is not None for v in outputs[0]) >= len(photos) * 3 * 0.8


def test_only_graphs_with_independent_heavy_nodes_get_branches() -> None:
    chain = [(0,), (1,), (2,)]
    assert find_branches(chain, [True, True, True]) is None
    fork = [(0,), (1,), (1,), (2, 3)]
    assert find_branches(fork, [True, True, True, True]) is not None
    assert find_branches(fork, [True, True, False, True]) is None  # one side is inline-safe
    diamond_in_a_chain = [(0,), (1,), (2,), (1, 3)]
    assert find_branches(diamond_in_a_chain, [True, True, True, True]) is None


def test_shipped_single_view_pipelines_keep_the_plain_loop() -> None:
    host = create_host()
    root = Path(__file__).resolve().parents[2] / "pipelines"
    for name in ("default", "fast", "landmarks"):
        plan = plan_pipeline(root / f"{name}.yaml", host.registry, environ={})
        graph = build_graph(plan, host)
        assert graph.branches is None, name
        graph.close()
